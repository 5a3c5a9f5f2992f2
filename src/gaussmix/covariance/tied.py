"""Tied covariance: all components share one full covariance matrix."""

from __future__ import annotations

import numpy as np

from ._base import (
    Prepared,
    as_float_array,
    check_shape,
    check_symmetric_positive_definite,
    flat_buffers,
    scratch,
)
from ._kernels import ChunkKernels, Cost, log_norm
from .full import FullCovariance, diagonals


class SharedWhiteningKernel:
    """Chunk kernels for one covariance shared by all components.

    The chunk is whitened once (``Y = Xc P``, one D x D GEMM), then
    ``|y - mu_k P|^2`` expands into ``|y|^2 - 2 y . (mu_k P) + |mu_k P|^2``: one thin
    GEMM against the K whitened means instead of K whitenings. The statistics
    are ``sum_i w_i x_i x_i'`` (one D x D GEMM for all components) and
    ``sum_i r_ik x_i``. Scratch of ``2 D + K + 2`` per row at any number of
    features.
    """

    name = "shared-whitening"

    def cost(self, model, n_components, n_features):
        return Cost(
            gemm_flops=4.0 * n_features**2 + 4.0 * n_components * n_features,
            gemm_width=n_features,
            streamed=4.0 * n_features,
            scratch=3 * n_features + n_components + 2,
            calls=12,
            chunk_streamed=float(n_features**2),
        )

    def prepare(self, model, means_shifted, precisions_chol, log_weights, dtype):
        n_components, n_features = means_shifted.shape
        whitened_means = means_shifted @ precisions_chol
        norm = np.full(n_components, log_norm(model, precisions_chol, n_features))
        constant = norm - 0.5 * np.sum(whitened_means**2, axis=1) + log_weights
        # Coefficients of [y, 1, -|y|^2 / 2] with y = P' xc, one GEMM for everything.
        coefficients = np.empty((n_components, n_features + 2), dtype=dtype)
        coefficients[:, :n_features] = whitened_means
        coefficients[:, -2] = constant
        coefficients[:, -1] = 1.0
        return Prepared(
            log_norm=norm.astype(dtype),
            arrays={
                "precisions_chol_t": np.ascontiguousarray(precisions_chol.T, dtype=dtype),
                "coefficients": coefficients,
            },
            kernel=self,
        )

    def workspace(self, model, n_rows, n_components, n_features, dtype):
        return flat_buffers(
            dtype,
            whitened=(n_features + 2) * n_rows,
            log_prob=n_components * n_rows,
            weighted_rows=n_features * n_rows,
        )

    def weighted_log_prob(self, model, XcT, prepared, work):
        n_features, n_rows = XcT.shape
        whitened = scratch(work, "whitened", (n_features + 2, n_rows))
        np.dot(prepared.arrays["precisions_chol_t"], XcT, out=whitened[:n_features])
        np.einsum("ij,ij->j", whitened[:n_features], whitened[:n_features], out=whitened[-1])
        whitened[-1] *= -0.5
        whitened[-2] = 1.0
        log_prob = scratch(work, "log_prob", (prepared.log_norm.size, n_rows))
        np.dot(prepared.arrays["coefficients"], whitened, out=log_prob)
        return log_prob

    def moments(self, model, XcT, resp_weighted, sample_weight, prepared, work):
        first = np.dot(resp_weighted, XcT.T)
        weighted_rows = XcT
        if sample_weight is not None:
            weighted_rows = scratch(work, "weighted_rows", XcT.shape)
            np.multiply(XcT, sample_weight, out=weighted_rows)
        second = np.dot(weighted_rows, XcT.T)
        return resp_weighted.sum(axis=1, dtype=np.float64), first, second


class TiedCovariance(ChunkKernels):
    """All components share one ``(n_features, n_features)`` covariance.

    Its chunk kernels whiten the chunk once for all components
    (:class:`SharedWhiteningKernel`).
    """

    name = "tied"
    shared_covariance = True
    kernels = (SharedWhiteningKernel(),)
    _full = FullCovariance()

    def covariance_shape(self, n_components, n_features):
        return (n_features, n_features)

    def n_parameters(self, n_components, n_features):
        return n_features * (n_features + 1) // 2

    def check_n_features(self, n_features):
        """The shared covariance fits any number of features."""

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

    def m_step(self, nk, first, second, reg_covar, previous=None):
        means = first / nk[:, None]
        between = (means * nk[:, None]).T @ means
        covariance = (second - between) / nk.sum()
        covariance = 0.5 * (covariance + covariance.T)
        diagonals(covariance)[...] += reg_covar
        return means, covariance

    def scatters(self, nk, means, second, reg_covar=0.0):
        """The pooled ``sum_k W_k + n * reg_covar * I``, shape (n_features, n_features)."""
        scatter = second - (means * nk[:, None]).T @ means
        scatter = 0.5 * (scatter + scatter.T)
        diagonals(scatter)[...] += nk.sum() * reg_covar
        return scatter

    def covariances_from_scatter(self, counts, scatters):
        """The shared covariance from the pooled scatter (see :meth:`scatters`)."""
        return scatters / counts.sum()

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
