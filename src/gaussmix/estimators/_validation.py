"""Checks of user input that scikit-learn's validators do not cover."""

from __future__ import annotations

import numpy as np

from ..covariance._base import as_float_array, check_shape


def check_finite(X: np.ndarray, what: str = "X") -> None:
    """Refuse NaN and infinity with a hint about missing values."""
    if not np.isfinite(X).all():
        n_nan = int(np.isnan(X).sum())
        n_inf = int(np.isinf(X).sum())
        raise ValueError(
            f"Input {what} contains NaN ({n_nan} values) or infinity ({n_inf} values). "
            "gaussmix does not support missing values yet: impute them (for example with "
            "sklearn.impute.SimpleImputer) or drop those rows before fitting."
        )


def check_sample_weight(
    sample_weight, n_samples: int, dtype, *, normalize: bool = False
) -> np.ndarray | None:
    """Validate ``sample_weight``: one finite, non-negative number per row, not all zero.

    The checks run in float64, before any conversion to ``dtype``.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,), scalar or None
    n_samples : int
    dtype : numpy dtype
        The dtype of the returned weights.
    normalize : bool, default=False
        Rescale the weights to mean one. A fit depends only on relative weights;
        rescaling keeps tiny or huge weights away from the floors and the range
        limits of ``dtype``.

    Returns
    -------
    ndarray of shape (n_samples,) in ``dtype``, or None when ``sample_weight`` is None.
    """
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight)
    if weights.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight must be numeric, got an array of dtype {weights.dtype}.")
    if weights.ndim == 0:
        weights = np.full(n_samples, weights)
    if weights.ndim != 1 or weights.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight has shape {weights.shape}, expected ({n_samples},): "
            "one weight per row of X."
        )
    weights = weights.astype(np.float64)
    if not np.isfinite(weights).all():
        raise ValueError("sample_weight contains NaN or infinity: weights must be finite.")
    if (weights < 0).any():
        raise ValueError(
            f"sample_weight has {int((weights < 0).sum())} negative values: weights must be >= 0."
        )
    if weights.sum() <= 0:
        raise ValueError(
            "sample_weight is zero for every sample: at least one sample needs a positive weight."
        )
    if normalize:
        weights = weights / weights.mean()
    return weights.astype(dtype)


def check_weights(weights, n_components: int) -> np.ndarray:
    """Validate ``weights_init``: shape (n_components,), in [0, 1], summing to 1."""
    weights = as_float_array(weights, "weights_init")
    check_shape(weights, (n_components,), "weights_init")
    if weights.min() < 0.0 or weights.max() > 1.0:
        raise ValueError(
            "The parameter 'weights_init' should be in the range [0, 1], but got "
            f"max value {weights.max():.5f}, min value {weights.min():.5f}."
        )
    if not np.isclose(weights.sum(), 1.0, rtol=0.0, atol=1e-8):
        raise ValueError(
            "The parameter 'weights_init' should be normalized, but got "
            f"sum(weights_init) = {weights.sum():.5f}."
        )
    return weights


def check_means(means, n_components: int, n_features: int) -> np.ndarray:
    """Validate ``means_init``: finite, shape (n_components, n_features)."""
    means = as_float_array(means, "means_init")
    check_shape(means, (n_components, n_features), "means_init")
    return means


def check_reg_covar(reg_covar, n_features: int):
    """``reg_covar`` as one non-negative float or a float64 array of one per feature.

    Parameters
    ----------
    reg_covar : float or array-like of shape (n_features,)
    n_features : int

    Returns
    -------
    float or ndarray of shape (n_features,)
    """
    if np.ndim(reg_covar) == 0:
        return float(reg_covar)
    floors = np.asarray(reg_covar, dtype=np.float64)
    if floors.shape != (n_features,):
        raise ValueError(
            f"reg_covar has shape {floors.shape}; pass one number or one value per "
            f"feature, shape ({n_features},)."
        )
    if not np.all(np.isfinite(floors)) or np.any(floors < 0):
        raise ValueError(
            "reg_covar must be finite and non-negative in every feature: "
            f"got {floors.min():g} to {floors.max():g}."
        )
    return floors
