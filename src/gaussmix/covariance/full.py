"""Full covariance: each component has its own unconstrained covariance matrix."""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from ._base import (
    ExpandedFeatures,
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


class FullCovariance(ExpandedFeatures):
    """Each component k has a full ``(n_features, n_features)`` covariance.

    The precision factor ``P_k`` is upper triangular with ``P_k P_k^T = inv(Sigma_k)``
    (scikit-learn's convention). The quadratic features are the products
    ``x_i x_j (i <= j)`` of the centred rows (see :class:`ExpandedFeatures`):
    about half the flops of whitening the chunk once per component, and no
    n x K x D temporary. Rows are centred on the data mean first, so the
    moments do not cancel for data far from the origin.
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

    def n_quadratic(self, n_features):
        return n_features * (n_features + 1) // 2

    def fill_quadratic(self, XcT, out):
        n_features = XcT.shape[0]
        offset = 0
        for i in range(n_features):
            # Row-wise products over contiguous samples vectorise well.
            width = n_features - i
            np.multiply(XcT[i], XcT[i:], out=out[offset : offset + width])
            offset += width

    def expansion(self, means_shifted, precisions_chol):
        rows, cols = np.triu_indices(means_shifted.shape[1])
        precisions = self.precisions_from_cholesky(precisions_chol)
        # x' L x = sum_i L_ii x_i^2 + 2 sum_{i<j} L_ij x_i x_j over the packed upper triangle.
        quadratic = precisions[:, rows, cols] * np.where(rows == cols, -0.5, -1.0)
        linear = np.einsum("kde,ke->kd", precisions, means_shifted)
        constant = -0.5 * np.einsum("kd,kd->k", means_shifted, linear)
        return quadratic, linear, constant

    def m_step(self, nk, first, second, reg_covar, previous=None):
        n_components, n_features = first.shape
        rows, cols = np.triu_indices(n_features)
        scatter = np.empty((n_components, n_features, n_features))
        scatter[:, rows, cols] = second
        scatter[:, cols, rows] = second
        means = first / nk[:, None]
        covariances = scatter / nk[:, None, None] - means[:, :, None] * means[:, None, :]
        covariances[:, np.arange(n_features), np.arange(n_features)] += reg_covar
        return means, covariances

    def scatters(self, nk, means, second, reg_covar=0.0):
        """``W_k + n_k * reg_covar * I``, shape (n_components, n_features, n_features)."""
        n_components, n_features = means.shape
        rows, cols = np.triu_indices(n_features)
        scatters = np.empty((n_components, n_features, n_features))
        scatters[:, rows, cols] = second
        scatters[:, cols, rows] = second
        scatters -= nk[:, None, None] * means[:, :, None] * means[:, None, :]
        scatters[:, np.arange(n_features), np.arange(n_features)] += nk[:, None] * reg_covar
        return scatters

    def covariances_from_scatter(self, counts, scatters):
        return scatters / counts[:, None, None]

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
