"""Estimators to model files and back: ``save`` methods and ``gaussmix.load``.

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
    VARIATIONAL_ARRAYS,
    VARIATIONAL_PRIOR_ARRAYS,
    VARIATIONAL_SCALARS,
    ModelFileError,
    StoredModel,
    read_model_file,
    write_model_file,
)
from .bayesian_mixture import BayesianGaussianMixture
from .gaussian_mixture import GaussianMixture

#: The estimator classes a model file may hold, by the class name the file gives.
#: Only classes listed here are ever instantiated.
ESTIMATOR_CLASSES = {
    "GaussianMixture": GaussianMixture,
    "BayesianGaussianMixture": BayesianGaussianMixture,
}
#: The model kind (``gaussmix.data.model_file.KIND_VERSIONS``) each class is saved as.
ESTIMATOR_KINDS = {"GaussianMixture": "mixture", "BayesianGaussianMixture": "variational"}


def save_model(estimator, path) -> None:
    """Save a fitted estimator to ``path`` as a gaussmix model file.

    The file is first written to a temporary file in the same folder, flushed to
    disk, then renamed onto ``path``: an existing file at ``path`` is replaced
    only by a complete one, and a failure leaves neither a partial file nor the
    temporary one. ``labels_`` (one label per training row) is not saved.

    Parameters
    ----------
    estimator : GaussianMixture or BayesianGaussianMixture
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
    kind = ESTIMATOR_KINDS[class_name]
    if kind == "variational":
        # The stick-breaking (a, b) pair is one (2, n_components) array in the file.
        for name in VARIATIONAL_ARRAYS:
            arrays[name] = np.asarray(getattr(estimator, name), dtype=arrays["means_"].dtype)
        for name in VARIATIONAL_PRIOR_ARRAYS:
            arrays[name] = np.asarray(getattr(estimator, name), dtype=np.float64)
        for name in VARIATIONAL_SCALARS:
            fitted[name] = float(getattr(estimator, name))
    stored = StoredModel(class_name, estimator.get_params(deep=False), fitted, arrays, kind=kind)
    write_model_file(path, stored)


def load_model(path):
    """Load an estimator saved by :func:`save_model` (what :func:`gaussmix.load` does).

    Parameters
    ----------
    path : str or os.PathLike
        A gaussmix model file.

    Returns
    -------
    estimator : GaussianMixture or BayesianGaussianMixture
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
    if stored.kind != ESTIMATOR_KINDS[stored.estimator]:
        raise ModelFileError(
            path,
            f"a {stored.estimator} is saved as a model of kind "
            f"{ESTIMATOR_KINDS[stored.estimator]!r}, but the file holds kind {stored.kind!r}.",
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
    if stored.kind == "variational":
        _restore_variational(estimator)
    return estimator


def _restore_variational(estimator) -> None:
    """The file's variational arrays back in the forms scikit-learn's attributes have."""
    if estimator.weight_concentration_prior_type == "dirichlet_process":
        first, second = estimator.weight_concentration_
        estimator.weight_concentration_ = (first, second)
    if np.ndim(estimator.degrees_of_freedom_) == 0:
        estimator.degrees_of_freedom_ = estimator.degrees_of_freedom_[()]
    estimator.mean_prior_ = estimator.mean_prior_.astype(estimator.means_.dtype)
    if np.ndim(estimator.covariance_prior_) == 0:
        estimator.covariance_prior_ = float(estimator.covariance_prior_)
