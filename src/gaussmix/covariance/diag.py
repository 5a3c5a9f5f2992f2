"""Diagonal covariance: each component has its own variance per feature."""

from __future__ import annotations

import numpy as np

from ._base import as_float_array, check_shape, resolved_difference
from ._kernels import ChunkKernels, ExpandedFeatureKernel


class DiagCovariance(ChunkKernels):
    """Each component k has a variance per feature, ``covariances_[k]`` of shape (n_features,).

    The quadratic features are the squares of the centred rows (see
    :class:`~gaussmix.covariance._kernels.ExpandedFeatureKernel`): ``2 D + 1``
    scratch per row, one GEMM for all components.
    """

    name = "diag"
    shared_covariance = False
    kernels = (ExpandedFeatureKernel(),)

    def check_n_features(self, n_features):
        """A diagonal covariance fits any number of features."""

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features)

    def n_parameters(self, n_components, n_features):
        return n_components * n_features

    def precisions_cholesky(self, covariances):
        positive = np.isfinite(covariances) & (covariances > 0.0)
        singular = ~positive.reshape(covariances.shape[0], -1).all(axis=1)
        safe = np.where(positive, covariances, 1.0)
        return 1.0 / np.sqrt(safe), singular

    def precisions_cholesky_from_precisions(self, precisions):
        return np.sqrt(precisions)

    def precisions_from_cholesky(self, precisions_chol):
        return precisions_chol**2

    def covariances_from_cholesky(self, precisions_chol):
        return 1.0 / precisions_chol**2

    def log_det_cholesky(self, precisions_chol, n_features):
        return np.sum(np.log(precisions_chol), axis=1)

    def check_precisions(self, precisions, n_components, n_features):
        precisions = as_float_array(precisions, "precisions_init")
        check_shape(precisions, self.covariance_shape(n_components, n_features), "precisions_init")
        if np.any(precisions <= 0.0):
            raise ValueError(
                f"'{self.name} precision' should be positive: every entry of "
                "precisions_init must be > 0 (precisions are inverse variances)."
            )
        return precisions

    def n_quadratic(self, n_features):
        return n_features

    def quadratic_calls(self, n_features):
        return 1

    def fill_quadratic(self, XcT, out):
        np.square(XcT, out=out)

    def expansion(self, means_shifted, precisions_chol):
        precisions = precisions_chol**2
        constant = -0.5 * np.sum(means_shifted**2 * precisions, axis=1)
        return -0.5 * precisions, means_shifted * precisions, constant

    def m_step(self, nk, first, second, reg_covar, previous=None):
        means = first / nk[:, None]
        variances = resolved_difference(second / nk[:, None], means**2)
        return means, variances + reg_covar

    def scatters(self, nk, means, second, reg_covar=0.0):
        """Diagonals of ``W_k + n_k * reg_covar * I``, shape (n_components, n_features)."""
        return resolved_difference(second, nk[:, None] * means**2) + nk[:, None] * reg_covar

    def covariances_from_scatter(self, counts, scatters):
        return scatters / counts[:, None]

    def from_pooled(self, pooled_covariance, n_components):
        return np.repeat(np.diag(pooled_covariance)[None], n_components, axis=0)

    def replace_components(self, covariances, source, components):
        covariances = covariances.copy()
        covariances[components] = source[components]
        return covariances

    def sample(self, rng, means, covariances, counts):
        n_features = means.shape[1]
        return np.vstack(
            [
                mean + rng.standard_normal(size=(int(count), n_features)) * np.sqrt(covariance)
                for mean, covariance, count in zip(means, covariances, counts)
            ]
        )
