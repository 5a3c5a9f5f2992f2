"""Tied covariance: all components share one full covariance matrix."""

from __future__ import annotations

import numpy as np

from ._base import (
    LOG_2PI,
    Prepared,
    as_float_array,
    check_shape,
    check_symmetric_positive_definite,
)
from .full import FullCovariance


class TiedCovariance:
    """All components share one ``(n_features, n_features)`` covariance.

    The chunk is whitened once (``Y = Xc P``, one D x D GEMM), then
    ``|y - mu_k P|^2`` expands into ``|y|^2 - 2 y . (mu_k P) + |mu_k P|^2``: one thin
    GEMM against the K whitened means instead of K whitenings.
    """

    name = "tied"
    shared_covariance = True
    _full = FullCovariance()

    def covariance_shape(self, n_components, n_features):
        return (n_features, n_features)

    def n_parameters(self, n_components, n_features):
        return n_features * (n_features + 1) // 2

    def precisions_cholesky(self, covariances):
        precisions_chol, singular = self._full.precisions_cholesky(covariances[None])
        return precisions_chol[0], singular

    def precisions_cholesky_from_precisions(self, precisions):
        return self._full.precisions_cholesky_from_precisions(precisions[None])[0]

    def precisions_from_cholesky(self, precisions_chol):
        return precisions_chol @ precisions_chol.T

    def covariances_from_cholesky(self, precisions_chol):
        return self._full.covariances_from_cholesky(precisions_chol[None])[0]

    def log_det_cholesky(self, precisions_chol, n_features):
        return np.sum(np.log(np.diagonal(precisions_chol)))

    def check_precisions(self, precisions, n_components, n_features):
        precisions = as_float_array(precisions, "precisions_init")
        check_shape(precisions, (n_features, n_features), "precisions_init")
        check_symmetric_positive_definite(precisions, "tied precision")
        return precisions

    def prepare(self, means_shifted, precisions_chol, dtype):
        n_components, n_features = means_shifted.shape
        whitened_means = means_shifted @ precisions_chol
        log_det = self.log_det_cholesky(precisions_chol, n_features)
        log_norm = np.full(n_components, log_det - 0.5 * n_features * LOG_2PI)
        constant = log_norm - 0.5 * np.sum(whitened_means**2, axis=1)
        return Prepared(
            log_norm=log_norm.astype(dtype),
            arrays={
                "precisions_chol": np.ascontiguousarray(precisions_chol, dtype=dtype),
                "whitened_means_t": np.ascontiguousarray(whitened_means.T, dtype=dtype),
                "constant": constant.astype(dtype),
            },
        )

    def workspace(self, n_rows, n_components, n_features, dtype):
        return {
            "whitened": np.empty((n_rows, n_features), dtype=dtype),
            "half_norms": np.empty(n_rows, dtype=dtype),
            "log_prob": np.empty((n_rows, n_components), dtype=dtype),
        }

    def log_gaussian_prob(self, Xc, prepared, work):
        n_rows = Xc.shape[0]
        whitened = work["whitened"][:n_rows]
        np.matmul(Xc, prepared.arrays["precisions_chol"], out=whitened)
        half_norms = work["half_norms"][:n_rows]
        np.einsum("ij,ij->i", whitened, whitened, out=half_norms)
        half_norms *= -0.5
        log_prob = work["log_prob"][:n_rows]
        np.matmul(whitened, prepared.arrays["whitened_means_t"], out=log_prob)
        log_prob += prepared.arrays["constant"]
        log_prob += half_norms[:, None]
        return log_prob

    def moments(self, Xc, resp_weighted, sample_weight, prepared, work):
        first = resp_weighted.T @ Xc
        weighted_rows = Xc if sample_weight is None else Xc * sample_weight[:, None]
        second = Xc.T @ weighted_rows
        return first, second

    def m_step(self, nk, first, second, prepared, means_shifted, reg_covar):
        means = first / nk[:, None]
        between = (means * nk[:, None]).T @ means
        covariance = (second - between) / nk.sum()
        covariance = 0.5 * (covariance + covariance.T)
        covariance[np.diag_indices_from(covariance)] += reg_covar
        return means, covariance

    def from_pooled(self, pooled_covariance, n_components):
        return pooled_covariance.copy()

    def replace_components(self, covariances, source, components):
        return covariances

    def sample(self, rng, means, covariances, counts):
        return np.vstack(
            [
                rng.multivariate_normal(mean, covariances, int(count))
                for mean, count in zip(means, counts)
            ]
        )
