"""The covariance_type names, grouped for messages and model searches."""

from __future__ import annotations

SKLEARN_NAMES = ("full", "tied", "diag", "spherical")
# mclust's order: spherical, diagonal, ellipsoidal; within each, by parameter count.
MCLUST_NAMES = tuple("EII VII EEI VEI EVI VVI EEE VEE EVE VVE EEV VEV EVV VVV".split())
UNIVARIATE_NAMES = ("E", "V")
