"""Estimators to model files and back: ``GaussianMixture.save`` and ``gaussmix.load``.

The file layer (:mod:`gaussmix.data.model_file`) reads and writes plain arrays and
metadata; this module is the only place that knows which estimator classes a file
may hold and how to rebuild one, so no layer below the estimators imports them.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from ..data.model_file import (
    FITTED_ARRAYS,
    FITTED_SCALARS,
    ModelFileError,
    StoredModel,
    read_model_file,
    write_model_file,
)
from .gaussian_mixture import GaussianMixture

#: The estimator classes a model file may hold, by the class name the file gives.
#: Only classes listed here are ever instantiated.
ESTIMATOR_CLASSES = {"GaussianMixture": GaussianMixture}


def save_model(estimator, path) -> None:
    """Save a fitted estimator to ``path`` as a gaussmix model file.

    The file is first written to a temporary file in the same folder, flushed to
    disk, then renamed onto ``path``: an existing file at ``path`` is replaced
    only by a complete one, and a failure leaves neither a partial file nor the
    temporary one. ``labels_`` (one label per training row) is not saved.

    Parameters
    ----------
    estimator : GaussianMixture
        A fitted estimator.
    path : str or os.PathLike
        The file to write (no suffix is added; ``.gaussmix`` is a good one).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When ``estimator`` is not fitted.
    TypeError
        When ``estimator`` is not of a class model files hold, or a parameter is
        neither a JSON value, a numeric array nor a ``RandomState``.
    ValueError
        When the fitted attributes are inconsistent or not finite.
    OSError
        When the file cannot be written (its ``filename`` is ``path``).

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.estimators.persistence import load_model, save_model
    >>> X = np.array([[1.0, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> save_model(gm, "two-clusters.gaussmix")  # doctest: +SKIP
    >>> load_model("two-clusters.gaussmix").predict([[0, 0], [12, 3]])  # doctest: +SKIP
    array([1, 0])
    """
    class_name = type(estimator).__name__
    if ESTIMATOR_CLASSES.get(class_name) is not type(estimator):
        raise TypeError(
            f"Model files hold {', '.join(ESTIMATOR_CLASSES)} estimators, not "
            f"{type(estimator).__module__}.{type(estimator).__qualname__}."
        )
    check_is_fitted(estimator)
    fitted = {name: getattr(estimator, name) for name in FITTED_SCALARS}
    if hasattr(estimator, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(name) for name in estimator.feature_names_in_]
    # What the lab records of a model it saves in the data's units (OPTIONAL_FITTED).
    for name in ("fitted_covariance_type_", "fitted_n_parameters_"):
        if hasattr(estimator, name):
            fitted[name] = getattr(estimator, name)
    for name in ("standardisation_mean_", "standardisation_scale_"):
        if hasattr(estimator, name):
            fitted[name] = [float(value) for value in getattr(estimator, name)]
    arrays = {name: np.asarray(getattr(estimator, name)) for name in FITTED_ARRAYS}
    stored = StoredModel(class_name, estimator.get_params(deep=False), fitted, arrays)
    write_model_file(path, stored)


def load_model(path):
    """Load an estimator saved by :func:`save_model` (what :func:`gaussmix.load` does).

    Parameters
    ----------
    path : str or os.PathLike
        A gaussmix model file.

    Returns
    -------
    estimator : GaussianMixture
        The fitted estimator, with the saved parameters and fitted attributes
        (bit for bit, in the saved dtype); ``labels_`` is not restored.

    Raises
    ------
    ModelFileError
        (a ValueError) naming the file and the problem: those of
        :func:`gaussmix.data.model_file.read_model_file`, an estimator class or a
        parameter this gaussmix does not know, an invalid parameter value.
    OSError
        When the file cannot be opened, with ``filename`` set.
    """
    stored = read_model_file(path)
    estimator_class = ESTIMATOR_CLASSES.get(stored.estimator)
    if estimator_class is None:
        raise ModelFileError(
            path,
            f"unknown estimator {stored.estimator!r}: this gaussmix loads "
            f"{', '.join(ESTIMATOR_CLASSES)}. Upgrade gaussmix if a newer version wrote the file.",
        )
    # Parameters a file lacks (written before they existed) keep their defaults.
    unknown = sorted(set(stored.params) - set(estimator_class().get_params(deep=False)))
    if unknown:
        raise ModelFileError(
            path,
            f"{'parameter' if len(unknown) == 1 else 'parameters'} {', '.join(unknown)} "
            f"unknown to this gaussmix's "
            f"{estimator_class.__name__} (written by gaussmix {stored.gaussmix_version}): "
            "upgrade gaussmix.",
        )
    try:
        estimator = estimator_class(**stored.params)
        estimator._validate_params()
    except (ValueError, TypeError, InvalidParameterError) as exc:
        raise ModelFileError(path, str(exc)) from None
    for name, value in stored.fitted.items():
        if name == "feature_names_in_":
            value = np.asarray(value, dtype=object)
        elif name in ("standardisation_mean_", "standardisation_scale_"):
            value = np.asarray(value, dtype=np.float64)
        setattr(estimator, name, value)
    for name, array in stored.arrays.items():
        setattr(estimator, name, array)
    return estimator
