"""Spherical covariance: each component has one variance shared by all features."""

from __future__ import annotations

import numpy as np

from .diag import DiagCovariance


class SphericalCovariance(DiagCovariance):
    """Each component k has a single variance, ``covariances_[k]`` a scalar.

    A diagonal model whose variances are equal across features, so it reuses the
    diagonal kernels and only changes the parameter layout and the M-step.
    """

    name = "spherical"

    def covariance_shape(self, n_components, n_features):
        return (n_components,)

    def n_parameters(self, n_components, n_features):
        return n_components

    def log_det_cholesky(self, precisions_chol, n_features):
        return n_features * np.log(precisions_chol)

    def _feature_precisions(self, precisions_chol, n_features):
        return np.repeat((precisions_chol**2)[:, None], n_features, axis=1)

    def m_step(self, nk, first, second, prepared, means_shifted, reg_covar):
        means, variances = self._variances(nk, first, second, reg_covar)
        return means, variances.mean(axis=1)

    def from_pooled(self, pooled_covariance, n_components):
        return np.full(n_components, np.trace(pooled_covariance) / pooled_covariance.shape[0])
