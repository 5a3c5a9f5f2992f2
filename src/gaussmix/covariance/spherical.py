"""Spherical covariance: each component has one variance shared by all features."""

from __future__ import annotations

import numpy as np

from ._base import resolved_difference
from .diag import DiagCovariance


def _spherical_floor(reg_covar):
    """A scalar, or the mean of per-feature floors: ``tr(diag(reg_covar)) / D``."""
    return float(np.mean(reg_covar))


class SphericalCovariance(DiagCovariance):
    """Each component k has a single variance, ``covariances_[k]`` a scalar.

    Shares the diagonal model's parameter handling; its only quadratic feature
    is the squared norm of each centred row.
    """

    name = "spherical"

    def covariance_shape(self, n_components, n_features):
        return (n_components,)

    def n_parameters(self, n_components, n_features):
        return n_components

    def log_det_cholesky(self, precisions_chol, n_features):
        return n_features * np.log(precisions_chol)

    def n_quadratic(self, n_features):
        return 1

    def fill_quadratic(self, XcT, out):
        np.einsum("ij,ij->j", XcT, XcT, out=out[0])

    def expansion(self, means_shifted, precisions_chol):
        precisions = precisions_chol**2
        constant = -0.5 * precisions * np.sum(means_shifted**2, axis=1)
        return -0.5 * precisions[:, None], means_shifted * precisions[:, None], constant

    def m_step(self, nk, first, second, reg_covar, previous=None):
        n_features = first.shape[1]
        means = first / nk[:, None]
        spread = resolved_difference(second[:, 0] / nk, np.sum(means**2, axis=1))
        return means, spread / n_features + _spherical_floor(reg_covar)

    def scatters(self, nk, means, second, reg_covar=0.0):
        """Per-feature scatter ``tr(W_k) / n_features + n_k * reg_covar``, shape (n_components,)."""
        n_features = means.shape[1]
        spread = resolved_difference(second[:, 0], nk * np.sum(means**2, axis=1))
        return spread / n_features + nk * _spherical_floor(reg_covar)

    def covariances_from_scatter(self, counts, scatters):
        return scatters / counts

    def from_pooled(self, pooled_covariance, n_components):
        return np.full(n_components, np.trace(pooled_covariance) / pooled_covariance.shape[0])
