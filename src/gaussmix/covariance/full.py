"""Full covariance: each component has its own unconstrained covariance matrix."""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from ._base import (
    LOG_2PI,
    Prepared,
    as_float_array,
    check_shape,
    check_symmetric_positive_definite,
    flip,
)


def _lower_cholesky(matrix: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor of ``matrix``, or None where it is not positive definite."""
    try:
        factor = np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(factor)) or np.any(np.diagonal(factor) <= 0.0):
        return None
    return factor


def _upper_inverse_transpose(lower: np.ndarray) -> np.ndarray:
    """``inv(lower).T`` of a lower-triangular matrix: the precision's upper Cholesky factor."""
    eye = np.eye(lower.shape[0], dtype=lower.dtype)
    return solve_triangular(lower, eye, lower=True).T


def _covariance_cholesky(precision_chol: np.ndarray) -> np.ndarray:
    """``inv(P).T`` of an upper-triangular precision factor P: the covariance's lower factor."""
    eye = np.eye(precision_chol.shape[0], dtype=precision_chol.dtype)
    return solve_triangular(precision_chol, eye, lower=False).T


class FullCovariance:
    """Each component k has a full ``(n_features, n_features)`` covariance.

    The precision factor ``P_k`` is upper triangular with ``P_k P_k^T = inv(Sigma_k)``
    (scikit-learn's convention). The E-step multiplies a chunk by all factors side
    by side (``Xc @ [P_1 ... P_K]``), one GEMM for every component. The statistics
    are kept in each component's whitened frame around its current mean
    (``y = (x - mu_k) P_k``), so the new covariance never comes from the difference
    of two large numbers, however far the data lie from the origin.
    """

    name = "full"
    shared_covariance = False

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features, n_features)

    def n_parameters(self, n_components, n_features):
        return n_components * n_features * (n_features + 1) // 2

    def precisions_cholesky(self, covariances):
        n_components, n_features, _ = covariances.shape
        precisions_chol = np.empty_like(covariances)
        singular = np.zeros(n_components, dtype=bool)
        for k in range(n_components):
            lower = _lower_cholesky(covariances[k])
            if lower is None:
                singular[k] = True
                precisions_chol[k] = np.eye(n_features)
            else:
                precisions_chol[k] = _upper_inverse_transpose(lower)
        return precisions_chol, singular

    def precisions_cholesky_from_precisions(self, precisions):
        # P P^T = Lambda with P upper triangular: Cholesky of the reversed matrix, reversed.
        return np.stack([flip(np.linalg.cholesky(flip(p))) for p in precisions])

    def precisions_from_cholesky(self, precisions_chol):
        return np.matmul(precisions_chol, np.swapaxes(precisions_chol, -1, -2))

    def covariances_from_cholesky(self, precisions_chol):
        lower = np.stack([_covariance_cholesky(p) for p in precisions_chol])
        return np.matmul(lower, np.swapaxes(lower, -1, -2))

    def log_det_cholesky(self, precisions_chol, n_features):
        return np.sum(np.log(np.diagonal(precisions_chol, axis1=-2, axis2=-1)), axis=-1)

    def check_precisions(self, precisions, n_components, n_features):
        precisions = as_float_array(precisions, "precisions_init")
        check_shape(precisions, (n_components, n_features, n_features), "precisions_init")
        check_symmetric_positive_definite(precisions, "full precision")
        return precisions

    def prepare(self, means_shifted, precisions_chol, dtype):
        n_components, n_features = means_shifted.shape
        stacked = precisions_chol.transpose(1, 0, 2).reshape(n_features, n_components * n_features)
        bias = np.einsum("kd,kde->ke", means_shifted, precisions_chol).reshape(-1)
        log_norm = self.log_det_cholesky(precisions_chol, n_features) - 0.5 * n_features * LOG_2PI
        # The covariance factor L_k = inv(P_k)^T maps whitened statistics back.
        covariance_chol = np.stack([_covariance_cholesky(p) for p in precisions_chol])
        return Prepared(
            log_norm=log_norm.astype(dtype),
            arrays={
                "stacked": np.ascontiguousarray(stacked, dtype=dtype),
                "bias": bias.astype(dtype),
                "covariance_chol": covariance_chol,
            },
        )

    def workspace(self, n_rows, n_components, n_features, dtype):
        width = n_components * n_features
        return {
            "whitened": np.empty((n_rows, width), dtype=dtype),
            "scratch": np.empty((n_rows, width), dtype=dtype),
            "log_prob": np.empty((n_rows, n_components), dtype=dtype),
        }

    def log_gaussian_prob(self, Xc, prepared, work):
        n_rows = Xc.shape[0]
        n_components = prepared.log_norm.shape[0]
        whitened = work["whitened"][:n_rows]
        np.matmul(Xc, prepared.arrays["stacked"], out=whitened)
        whitened -= prepared.arrays["bias"]
        squared = work["scratch"][:n_rows]
        np.square(whitened, out=squared)
        log_prob = work["log_prob"][:n_rows]
        np.sum(squared.reshape(n_rows, n_components, -1), axis=2, out=log_prob)
        log_prob *= -0.5
        log_prob += prepared.log_norm
        return log_prob

    def moments(self, Xc, resp_weighted, sample_weight, prepared, work):
        # Relies on log_gaussian_prob having left this chunk's whitened rows in `work`.
        n_rows, n_components = resp_weighted.shape
        whitened = work["whitened"][:n_rows].reshape(n_rows, n_components, -1)
        weighted = work["scratch"][:n_rows].reshape(n_rows, n_components, -1)
        np.multiply(whitened, resp_weighted[:, :, None], out=weighted)
        first = weighted.sum(axis=0)
        second = np.matmul(whitened.transpose(1, 2, 0), weighted.transpose(1, 0, 2))
        return first, second

    def m_step(self, nk, first, second, prepared, means_shifted, reg_covar):
        covariance_chol = prepared.arrays["covariance_chol"]
        step = np.einsum("kde,ke->kd", covariance_chol, first) / nk[:, None]
        scatter = np.matmul(
            np.matmul(covariance_chol, second), np.swapaxes(covariance_chol, -1, -2)
        )
        covariances = scatter / nk[:, None, None] - step[:, :, None] * step[:, None, :]
        covariances = 0.5 * (covariances + np.swapaxes(covariances, -1, -2))
        n_features = covariances.shape[-1]
        covariances[:, np.arange(n_features), np.arange(n_features)] += reg_covar
        return means_shifted + step, covariances

    def from_pooled(self, pooled_covariance, n_components):
        return np.repeat(pooled_covariance[None], n_components, axis=0)

    def replace_components(self, covariances, source, components):
        covariances = covariances.copy()
        covariances[components] = source[components]
        return covariances

    def sample(self, rng, means, covariances, counts):
        return np.vstack(
            [
                rng.multivariate_normal(mean, covariance, int(count))
                for mean, covariance, count in zip(means, covariances, counts)
            ]
        )
