"""Data sets shipped with gaussmix.

``faithful.csv`` is the Old Faithful geyser data: 272 eruptions with their
duration and the waiting time to the next one, both in minutes. Public-domain
data from Azzalini, A. and Bowman, A. W. (1990), "A look at some data on the
Old Faithful geyser", Applied Statistics 39, 357-365, as distributed with R's
``datasets`` package.

:func:`load_dataset` loads it, or one of scikit-learn's bundled sets ("iris",
"wine", "breast_cancer"), as a :class:`Dataset` with feature names, units and
true labels where they exist.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from importlib import resources

import numpy as np

FAITHFUL_UNITS = {"eruptions": "min", "waiting": "min"}


def load_faithful():
    """Load the Old Faithful geyser data.

    Returns
    -------
    X : ndarray of shape (272, 2)
        Eruption duration and waiting time to the next eruption, in minutes.
    feature_names : list of str
        ``["eruptions", "waiting"]``.
    """
    text = resources.files(__package__).joinpath("data", "faithful.csv").read_text()
    rows = list(csv.reader(text.splitlines()))
    feature_names = rows[0]
    X = np.array([[float(value) for value in row] for row in rows[1:]])
    return X, feature_names


#: Names accepted by :func:`load_dataset`.
DATASET_NAMES = ("faithful", "iris", "wine", "breast_cancer")

# scikit-learn writes a unit into the feature name, as in "sepal length (cm)".
_NAME_WITH_UNIT = re.compile(r"^(?P<name>.+?) \((?P<unit>[^()]+)\)$")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A bundled data set, ready to label plot axes with.

    Attributes
    ----------
    name : str
        The name :func:`load_dataset` was given.
    X : ndarray of shape (n_rows, n_features), float64
    feature_names : list of str
        Names without units, in words ("sepal length", "malic acid").
    target : ndarray of shape (n_rows,), int, or None
        True class labels (0, 1, ...), where the data set has them.
    target_names : list of str or None
        The name of each class label.
    units : dict of str to str
        Unit of each feature whose unit is known ("cm"); features with an
        unknown unit are absent, so ``units.get(name)`` is None for them.
    description : str
        One line saying what the data is.
    """

    name: str
    X: np.ndarray
    feature_names: list[str]
    target: np.ndarray | None
    target_names: list[str] | None
    units: dict[str, str]
    description: str


def load_dataset(name: str) -> Dataset:
    """Load a bundled data set by name.

    Feature names are made to read well as axis labels: scikit-learn's
    ``"sepal length (cm)"`` becomes the name ``"sepal length"`` with unit
    ``"cm"``, and the wine data's ``"malic_acid"`` becomes ``"malic acid"``;
    the columns keep scikit-learn's order and values.

    Parameters
    ----------
    name : {"faithful", "iris", "wine", "breast_cancer"}
        ``"faithful"``: the Old Faithful geyser data shipped with gaussmix (no
        labels). The others: scikit-learn's bundled loaders
        (``sklearn.datasets.load_iris``, ``load_wine``, ``load_breast_cancer``),
        with their class labels.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        ``name`` is not one of the bundled data sets.
    """
    if name == "faithful":
        X, feature_names = load_faithful()
        return Dataset(
            name=name,
            X=X,
            feature_names=feature_names,
            target=None,
            target_names=None,
            units={feature: FAITHFUL_UNITS[feature] for feature in feature_names},
            description=(
                f"Old Faithful geyser: duration of {X.shape[0]} eruptions and the waiting "
                "time to the next (Azzalini and Bowman 1990)"
            ),
        )
    if name not in DATASET_NAMES:
        raise ValueError(
            f"unknown data set {name!r}; the bundled ones are {', '.join(DATASET_NAMES)}."
        )

    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    feature_names, units = [], {}
    for sklearn_name in bunch.feature_names:
        match = _NAME_WITH_UNIT.match(sklearn_name)
        feature = match["name"] if match else sklearn_name.replace("_", " ")
        if match:
            units[feature] = match["unit"]
        feature_names.append(feature)
    X = np.asarray(bunch.data, dtype=np.float64)
    target_names = [str(label) for label in bunch.target_names]
    descriptions = {
        "iris": f"Fisher's iris flowers: 4 measurements of {X.shape[0]} flowers of 3 species",
        "wine": f"Wines of 3 cultivars from one region of Italy: {X.shape[1]} chemical "
        f"measurements of {X.shape[0]} wines",
        "breast_cancer": f"Wisconsin diagnostic breast cancer: {X.shape[1]} features of cell "
        f"nuclei in {X.shape[0]} biopsies, malignant or benign",
    }
    return Dataset(
        name=name,
        X=X,
        feature_names=feature_names,
        target=np.asarray(bunch.target, dtype=np.int64),
        target_names=target_names,
        units=units,
        description=descriptions[name],
    )


__all__ = ["DATASET_NAMES", "FAITHFUL_UNITS", "Dataset", "load_dataset", "load_faithful"]
