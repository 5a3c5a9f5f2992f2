"""What every constrained (mclust) model does the same way: its M-step and re-seeding.

A constrained model declares its scatter form and its estimator
``covariances_from_scatter``; the M-step is then means from ``first / nk`` and
that estimator on the regularised scatters. Re-seeding or freezing a
component must not break the constraint that ties it to the others: a
replaced component keeps the parts it shares with the kept components and
takes only its free parts from the replacement (see ``with_shared_parts``).
"""

from __future__ import annotations

import numpy as np


class ConstrainedModel:
    """Mixin: M-step through ``covariances_from_scatter``, constraint-keeping replacement.

    A subclass implements ``with_shared_parts(kept, replacements)``: covariances
    for ``replacements`` (stacked in the model's storage) that share the
    volume, shape or orientation that the model ties across components with
    ``kept``, and otherwise are the model's estimate from each replacement
    taken as a scatter with a count of one.

    Regularisation enters before the constraint: the estimator sees
    ``W_k + n_k * reg_covar * I``, the scatter of the empirical covariance plus
    ``reg_covar`` on its diagonal. The scikit-learn-named models compute the
    same quantity, so nested models agree where their constraints coincide.
    """

    # Models whose estimator iterates from a start and can take the previous
    # iteration's covariances as that start (``covariances_from_scatter(...,
    # previous=...)``).
    warm_starts = False

    def m_step(self, nk, first, second, reg_covar, previous=None):
        means = first / nk[:, None]
        scatters = self.scatters(nk, means, second, reg_covar)
        if self.warm_starts and previous is not None:
            return means, self.covariances_from_scatter(nk, scatters, previous=previous)
        return means, self.covariances_from_scatter(nk, scatters)

    def replace_components(self, covariances, source, components):
        covariances = np.array(covariances, dtype=np.float64, copy=True)
        components = np.asarray(components, dtype=np.intp)
        if components.size == 0:
            return covariances
        kept = np.setdiff1d(np.arange(covariances.shape[0]), components)
        # Shared parts are read from a kept component with a valid covariance: one
        # that is singular (about to be re-seeded itself) has none to share.
        kept = kept[_positive_definite(covariances[kept])]
        replacements = np.asarray(source, dtype=np.float64)[components]
        if kept.size == 0:
            covariances[components] = self.covariances_from_scatter(
                np.ones(components.size), replacements
            )
        else:
            covariances[components] = self.with_shared_parts(covariances[kept], replacements)
        return covariances


def _positive_definite(covariances: np.ndarray) -> np.ndarray:
    """Which blocks of a stack of covariances (scalars, diagonals or matrices) are valid."""
    flat = covariances.reshape(covariances.shape[0], int(np.prod(covariances.shape[1:])))
    valid = np.all(np.isfinite(flat), axis=1)
    if covariances.ndim == 3:
        safe = np.where(valid[:, None, None], covariances, np.eye(covariances.shape[-1]))
        return valid & (np.linalg.eigvalsh(safe)[:, 0] > 0.0)
    return valid & np.all(flat > 0.0, axis=1)
