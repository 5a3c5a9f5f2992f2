"""Diagonal covariance: each component has its own variance per feature."""

from __future__ import annotations

import numpy as np

from ._base import LOG_2PI, Prepared, as_float_array, check_shape


class DiagCovariance:
    """Each component k has a variance per feature, ``covariances_[k]`` of shape (n_features,).

    The squared Mahalanobis distance expands into one GEMM on the chunk's
    ``[Xc**2, Xc]`` against all components' ``[-p/2, mu p]`` columns; the
    statistics are one GEMM of the weighted responsibilities against the same
    ``[Xc**2, Xc]`` block, around the data centre.
    """

    name = "diag"
    shared_covariance = False

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

    def _feature_precisions(self, precisions_chol, n_features):
        return precisions_chol**2

    def prepare(self, means_shifted, precisions_chol, dtype):
        n_components, n_features = means_shifted.shape
        precisions = self._feature_precisions(precisions_chol, n_features)
        coefficients = np.vstack([-0.5 * precisions.T, (means_shifted * precisions).T])
        log_norm = self.log_det_cholesky(precisions_chol, n_features) - 0.5 * n_features * LOG_2PI
        constant = log_norm - 0.5 * np.sum(means_shifted**2 * precisions, axis=1)
        return Prepared(
            log_norm=log_norm.astype(dtype),
            arrays={
                "coefficients": np.ascontiguousarray(coefficients, dtype=dtype),
                "constant": constant.astype(dtype),
            },
        )

    def workspace(self, n_rows, n_components, n_features, dtype):
        return {
            "powers": np.empty((n_rows, 2 * n_features), dtype=dtype),
            "log_prob": np.empty((n_rows, n_components), dtype=dtype),
        }

    def log_gaussian_prob(self, Xc, prepared, work):
        n_rows, n_features = Xc.shape
        powers = work["powers"][:n_rows]
        np.square(Xc, out=powers[:, :n_features])
        powers[:, n_features:] = Xc
        log_prob = work["log_prob"][:n_rows]
        np.matmul(powers, prepared.arrays["coefficients"], out=log_prob)
        log_prob += prepared.arrays["constant"]
        return log_prob

    def moments(self, Xc, resp_weighted, sample_weight, prepared, work):
        # Relies on log_gaussian_prob having left this chunk's [Xc**2, Xc] in `work`.
        n_rows, n_features = Xc.shape
        sums = resp_weighted.T @ work["powers"][:n_rows]
        return sums[:, n_features:], sums[:, :n_features]

    def _variances(self, nk, first, second, reg_covar):
        means = first / nk[:, None]
        # Rounding can push E[x^2] - mu^2 below zero (float32 especially): clamp first.
        variances = np.maximum(second / nk[:, None] - means**2, 0.0)
        return means, variances + reg_covar

    def m_step(self, nk, first, second, prepared, means_shifted, reg_covar):
        return self._variances(nk, first, second, reg_covar)

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
