"""Equal-volume spherical models: EII, and the univariate E and V.

Storage: ``covariances_`` has shape ``(n_components,)``, one variance per
component, as scikit-learn's ``'spherical'`` (mclust's VII); for EII and E all
entries are equal. The scatter form is the per-feature scatter
``s_k = tr(W_k) / n_features``.

E and V are mclust's names for one feature: E is EII, V is VII, and both refuse
data with more features, naming the models to use instead.
"""

from __future__ import annotations

import numpy as np

from ._constrained import ConstrainedModel
from ._names import MCLUST_NAMES
from .spherical import SphericalCovariance


def equal_variance(counts: np.ndarray, scatters: np.ndarray) -> np.ndarray:
    """EII: ``sigma^2 = sum_k s_k / sum_k n_k`` for every component."""
    return np.full(counts.shape, scatters.sum() / counts.sum())


class EqualSphericalCovariance(ConstrainedModel, SphericalCovariance):
    """EII: ``Sigma_k = lambda I`` with one ``lambda`` for all components.

    ``covariances_`` has shape ``(n_components,)`` with equal entries.
    """

    name = "EII"

    def n_parameters(self, n_components, n_features):
        return 1

    def covariances_from_scatter(self, counts, scatters):
        return equal_variance(counts, scatters)

    def with_shared_parts(self, kept, replacements):
        return np.full(replacements.shape[0], kept[0])


def _univariate_only(name: str, n_features: int, instead: str) -> None:
    if n_features != 1:
        raise ValueError(
            f"covariance_type={name!r} is mclust's model for one feature, but X has "
            f"{n_features} features. For several features use {instead} or another of "
            f"{', '.join(MCLUST_NAMES)}."
        )


class UnivariateEqualVariance(EqualSphericalCovariance):
    """E: one feature, one variance shared by all components (EII on one feature)."""

    name = "E"

    def check_n_features(self, n_features):
        _univariate_only(self.name, n_features, "'EII' (equal spherical)")


class UnivariateVariableVariance(SphericalCovariance):
    """V: one feature, a variance per component (VII, i.e. 'spherical', on one feature)."""

    name = "V"

    def check_n_features(self, n_features):
        _univariate_only(self.name, n_features, "'VII' (variable spherical)")
