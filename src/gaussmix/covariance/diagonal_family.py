"""Axis-aligned (diagonal) eigen-decomposition models: EEI, VEI, EVI.

``Sigma_k = lambda_k B_k`` with ``B_k`` diagonal, ``|B_k| = 1``. Storage:
``covariances_`` has shape ``(n_components, n_features)``, the diagonals, as
scikit-learn's ``'diag'`` (mclust's VVI). The scatter form is the diagonals
``s_k = diag(W_k)``, which is all these models' estimates depend on.

- EEI: one diagonal matrix for all components (closed form).
- VEI: shared shape ``B``, a volume per component (alternating updates).
- EVI: shared volume, a shape per component (closed form).
"""

from __future__ import annotations

import numpy as np

from ._constrained import ConstrainedModel
from ._decomposition import (
    INNER_MAX_ITER,
    INNER_TOL,
    alternate,
    geometric_mean,
    numerically_singular,
    positive_geometric_mean,
    singular_vector,
    zero_where,
)
from .diag import DiagCovariance


def equal_diagonal(counts: np.ndarray, scatters: np.ndarray) -> np.ndarray:
    """EEI: ``Sigma = sum_k diag(W_k) / sum_k n_k`` for every component."""
    shared = scatters.sum(axis=0) / counts.sum()
    return np.repeat(shared[None], counts.size, axis=0)


def equal_volume_diagonal(counts: np.ndarray, scatters: np.ndarray) -> np.ndarray:
    """EVI: ``B_k = s_k / |s_k|^(1/d)``, ``lambda = sum_k |s_k|^(1/d) / n``."""
    volumes = geometric_mean(scatters)
    degenerate = numerically_singular(scatters)
    volume = volumes[~degenerate].sum() / counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        covariances = volume * scatters / volumes[:, None]
    return zero_where(covariances, degenerate)


def variable_volume_diagonal(
    counts: np.ndarray,
    scatters: np.ndarray,
    tol: float = INNER_TOL,
    max_iter: int = INNER_MAX_ITER,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """VEI: alternate the shared shape ``B`` and the volumes ``lambda_k`` (see :func:`alternate`).

    ``B = normalised sum_k s_k / lambda_k`` and ``lambda_k = tr(W_k B^-1) / (d n_k)``.
    ``start``: a diagonal proportional to the ``B`` to start from (the previous
    EM iteration's).
    """
    n_features = scatters.shape[1]
    totals = scatters.sum(axis=1)
    active_scatters = scatters[totals > 0.0]
    denominators = n_features * counts

    def pool(volumes):
        return (active_scatters / volumes[:, None]).sum(axis=0)

    def normalise(pooled):
        return None if singular_vector(pooled) else pooled / positive_geometric_mean(pooled)

    def update_volumes(shape):
        return (scatters / shape).sum(axis=1) / denominators

    result = alternate(
        counts, totals, n_features, pool, normalise, update_volumes, start, tol, max_iter
    )
    if result is None:
        return np.zeros_like(scatters)
    shape, volumes = result
    return volumes[:, None] * shape[None]


def _previous_shape(previous, scatters):
    """VEI: the sum of the previous rows ``lambda_k B``, proportional to the previous ``B``."""
    if previous is None:
        return None
    previous = np.asarray(previous, dtype=np.float64)
    if previous.shape != scatters.shape or not np.all(np.isfinite(previous)):
        return None
    return previous.sum(axis=0)


class EqualDiagonalCovariance(ConstrainedModel, DiagCovariance):
    """EEI: one diagonal covariance ``lambda B`` for all components.

    ``covariances_`` has shape ``(n_components, n_features)`` with equal rows.
    """

    name = "EEI"

    def n_parameters(self, n_components, n_features):
        return n_features

    def covariances_from_scatter(self, counts, scatters):
        return equal_diagonal(counts, scatters)

    def with_shared_parts(self, kept, replacements):
        return np.repeat(kept[:1], replacements.shape[0], axis=0)


class VariableVolumeDiagonalCovariance(ConstrainedModel, DiagCovariance):
    """VEI: ``Sigma_k = lambda_k B``, one diagonal shape for all, a volume per component.

    ``covariances_`` has shape ``(n_components, n_features)``; the rows are
    proportional to each other.
    """

    name = "VEI"
    warm_starts = True

    def n_parameters(self, n_components, n_features):
        return n_components + n_features - 1

    def covariances_from_scatter(self, counts, scatters, previous=None):
        return variable_volume_diagonal(counts, scatters, start=_previous_shape(previous, scatters))

    def with_shared_parts(self, kept, replacements):
        shape = kept[0] / geometric_mean(kept[0])
        volumes = (replacements / shape).mean(axis=1)
        return volumes[:, None] * shape[None]


class EqualVolumeDiagonalCovariance(ConstrainedModel, DiagCovariance):
    """EVI: ``Sigma_k = lambda B_k``, one volume for all, a diagonal shape per component.

    ``covariances_`` has shape ``(n_components, n_features)``; the rows have
    equal products.
    """

    name = "EVI"

    def n_parameters(self, n_components, n_features):
        return 1 + n_components * (n_features - 1)

    def covariances_from_scatter(self, counts, scatters):
        return equal_volume_diagonal(counts, scatters)

    def with_shared_parts(self, kept, replacements):
        volume = geometric_mean(kept[0])
        return volume * replacements / geometric_mean(replacements)[:, None]
