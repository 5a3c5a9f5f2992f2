"""The bundled data sets: Old Faithful, and scikit-learn's through load_dataset."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn import datasets

from gaussmix.datasets import DATASET_NAMES, FAITHFUL_UNITS, load_dataset, load_faithful

# shared/ lies beside the repository root, in development and in CI alike.
REFERENCE_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "faithful.csv"


def test_shape_names_and_dtype():
    X, names = load_faithful()
    assert X.shape == (272, 2)
    assert X.dtype == np.float64
    assert names == ["eruptions", "waiting"]
    assert set(FAITHFUL_UNITS) == set(names)


def test_values_are_plausible():
    """Eruptions last 1.6-5.1 minutes, waits are 43-96 minutes (Azzalini and Bowman)."""
    X, _ = load_faithful()
    assert np.all(np.isfinite(X))
    eruptions, waiting = X.T
    assert 1.5 < eruptions.min() and eruptions.max() < 5.2
    assert 40 < waiting.min() and waiting.max() < 100
    # The well-known bimodality: both short and long eruptions are common.
    assert 60 < np.sum(eruptions < 3) < 120
    assert np.corrcoef(eruptions, waiting)[0, 1] > 0.85


@pytest.mark.skipif(not REFERENCE_CSV.exists(), reason=f"{REFERENCE_CSV} is not available")
def test_values_equal_the_reference_csv():
    with REFERENCE_CSV.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], [row for row in rows[1:] if row]
    X, names = load_faithful()
    # The reference may carry an index column (as R writes it): keep the named ones.
    columns = [header.index(name) for name in names]
    expected = np.array([[float(row[c]) for c in columns] for row in body])
    np.testing.assert_array_equal(X, expected)


# ----------------------------------------------------------------------------- load_dataset
SKLEARN_LOADERS = {
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
}


def test_faithful_dataset_is_the_shipped_csv():
    X, names = load_faithful()
    dataset = load_dataset("faithful")
    np.testing.assert_array_equal(dataset.X, X)
    assert dataset.feature_names == names
    assert dataset.units == FAITHFUL_UNITS
    assert dataset.target is None and dataset.target_names is None
    assert dataset.name == "faithful"
    assert "Old Faithful" in dataset.description and "\n" not in dataset.description


@pytest.mark.parametrize("name", sorted(SKLEARN_LOADERS))
def test_sklearn_datasets_match_their_loaders(name):
    bunch = getattr(datasets, SKLEARN_LOADERS[name])()
    dataset = load_dataset(name)
    assert dataset.name == name
    assert dataset.X.dtype == np.float64
    np.testing.assert_array_equal(dataset.X, bunch.data)
    np.testing.assert_array_equal(dataset.target, bunch.target)
    assert dataset.target.dtype.kind == "i"
    assert dataset.target_names == list(bunch.target_names)
    assert dataset.description and "\n" not in dataset.description
    # Each of scikit-learn's names is ours, with its unit in brackets where we
    # know the unit, and with underscores for spaces.
    assert len(dataset.feature_names) == len(bunch.feature_names)
    for ours, theirs in zip(dataset.feature_names, bunch.feature_names):
        unit = dataset.units.get(ours)
        written = f"{ours} ({unit})" if unit else ours
        assert written.replace(" ", "_") == theirs.replace(" ", "_")
        assert "_" not in ours


def test_iris_units_are_centimetres():
    dataset = load_dataset("iris")
    assert dataset.feature_names == ["sepal length", "sepal width", "petal length", "petal width"]
    assert dataset.units == dict.fromkeys(dataset.feature_names, "cm")


def test_unknown_dataset_lists_the_names():
    with pytest.raises(ValueError, match="unknown data set 'irises'") as excinfo:
        load_dataset("irises")
    for name in DATASET_NAMES:
        assert name in str(excinfo.value)
