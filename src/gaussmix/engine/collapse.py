"""What happens when a component collapses: re-seed it, freeze it, or explain why not."""

from __future__ import annotations

import operator
import os
import sys
import warnings
from dataclasses import replace

import numpy as np

from .params import MixtureParams
from .passes import score_rows


class CollapseWarning(UserWarning):
    """A component collapsed (empty or singular) and was re-seeded or frozen."""


class CollapseError(ValueError):
    """A component collapsed and no re-seeding can give it a valid covariance."""


def _describe_floor(reg_covar) -> str:
    """``reg_covar`` for a message: the number, or the range of per-feature floors."""
    floors = np.atleast_1d(np.asarray(reg_covar, dtype=np.float64))
    if floors.size == 1 or np.all(floors == floors[0]):
        return f"{floors[0]:g}"
    return f"{floors.min():g} to {floors.max():g} by feature"


def pooled_covariance(backend, centre, reg_covar):
    """The weighted covariance of all rows plus ``reg_covar`` on the diagonal."""

    def chunk_fn(XcT, sample_weight, rows, work):
        weighted = XcT if sample_weight is None else XcT * sample_weight
        return (weighted @ XcT.T).astype(np.float64)

    scatter = backend.reduce(chunk_fn, lambda n_rows: None, centre, operator.add, dtype=np.float64)
    covariance = scatter / backend.total_weight
    covariance[np.diag_indices_from(covariance)] += reg_covar
    return covariance


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def warn_from_user_code(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first frame outside gaussmix (the user's call)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        _PACKAGE_DIR + os.sep
    ):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _describe(components, causes):
    return ", ".join(f"{k} ({causes[k]})" for k in components)


class CollapseHandler:
    """Re-seeds collapsed components on the worst-explained samples, a bounded number of times.

    A component is collapsed when it is empty (it holds less than a thousandth of
    an average sample's weight) or when its covariance is not positive definite.
    Each time, the component's mean moves to the sample with the lowest
    log-density under the healthy components, its covariance becomes the pooled
    data covariance, and its weight that of one average sample; a
    :class:`CollapseWarning` names it. Once ``2 * n_components`` component
    re-seeds are spent (or a collapse involves more components than remain), an
    empty component keeps its last valid mean and covariance with a vanishing
    weight (the data support fewer components), and a singular one raises
    :class:`CollapseError` naming the component, the cause and the remedy.
    """

    def __init__(self, backend, model, centre, reg_covar, n_components):
        self.backend = backend
        self.model = model
        self.centre = centre
        self.reg_covar = reg_covar
        self._floor_text = _describe_floor(reg_covar)
        self.budget = 2 * n_components
        self.frozen: set[int] = set()
        self._pooled = None

    def resolve(self, params, params_old, empty, singular, n_iter):
        """Return repaired parameters and whether any component was re-seeded."""
        # count_nonzero: a quarter of .any()'s cost, paid every EM iteration.
        if not self.frozen and not np.count_nonzero(empty) and not np.count_nonzero(singular):
            return params, False
        if singular.any() and self.model.shared_covariance:
            raise CollapseError(
                f"The shared ('{self.model.name}') covariance became singular at iteration "
                f"{n_iter}: the data lie on a lower-dimensional set (a constant feature or "
                f"duplicated points). Increase reg_covar (now {self._floor_text}), drop "
                "constant features, or standardise X."
            )
        if self.model.shared_covariance:
            singular = np.zeros_like(empty)
        # Components frozen earlier stay empty by design: keep them frozen, silently,
        # and spend neither budget nor an error on them.
        still_frozen = np.array([k in self.frozen for k in range(empty.size)]) & empty & ~singular
        if still_frozen.any():
            params = self._freeze(params, params_old, np.flatnonzero(still_frozen))
        collapsed = np.flatnonzero((empty | singular) & ~still_frozen)
        if collapsed.size == 0:
            return params, False
        causes = {int(k): "singular covariance" if singular[k] else "empty" for k in collapsed}
        if collapsed.size <= self.budget:
            self.budget -= collapsed.size
            repaired = self._reseed(params, collapsed)
            warn_from_user_code(
                f"Component(s) {_describe(collapsed, causes)} collapsed at iteration "
                f"{n_iter}; re-seeded on the worst-explained samples. If this repeats, "
                "reduce n_components, increase reg_covar or standardise X.",
                CollapseWarning,
            )
            return repaired, True
        if singular.any() or params_old is None:
            k = int(collapsed[0])
            raise CollapseError(
                f"Component {k} collapsed ({causes[k]}) at iteration {n_iter} and re-seeding "
                "did not help: the data cannot support this many components with this "
                f"regularisation. Reduce n_components, increase reg_covar (now "
                f"{self._floor_text}), drop constant or duplicated features, or standardise X."
            )
        return self._freeze(params, params_old, collapsed), False

    def _singular_cause(self) -> str:
        """Why the pooled covariance is singular, judged from it rather than assumed."""
        pooled = self._pooled
        if not np.isfinite(pooled).all():
            return (
                "its entries overflow: X's values are too large for the arithmetic; rescale "
                "X, for example standardise it"
            )
        floors = np.broadcast_to(np.asarray(self.reg_covar, dtype=np.float64), pooled.shape[:1])
        variances = np.diagonal(pooled) - floors
        constant = np.flatnonzero(variances <= 0)
        if constant.size:
            shown = ", ".join(map(str, constant[:5].tolist()))
            if constant.size == 1:
                return f"feature {shown} is constant: drop it"
            more = " and more" if constant.size > 5 else ""
            return f"features {shown}{more} are constant: drop them"
        return (
            "its features are linearly dependent, or its variances are too small for "
            "the floor to lift; drop redundant features or standardise X"
        )

    def _freeze(self, params, params_old, collapsed):
        new = [int(k) for k in collapsed if int(k) not in self.frozen]
        if new:
            warn_from_user_code(
                f"Component(s) {new} stay empty: the data support fewer than "
                f"{params.weights.size} components. They keep their last mean and "
                "covariance with a vanishing weight; consider a smaller n_components.",
                CollapseWarning,
            )
            self.frozen.update(new)
        means = params.means.copy()
        means[collapsed] = params_old.means[collapsed]
        covariances = self.model.replace_components(
            params.covariances, params_old.covariances, collapsed
        )
        precisions_chol, _ = self.model.precisions_cholesky(covariances)
        return replace(
            params, means=means, covariances=covariances, precisions_cholesky=precisions_chol
        )

    def _reseed(self, params, collapsed):
        model, backend = self.model, self.backend
        n_components = params.weights.size
        if self._pooled is None:
            self._pooled = pooled_covariance(backend, self.centre, self.reg_covar)
        healthy = np.setdiff1d(np.arange(n_components), collapsed)
        if healthy.size:
            reference = params
            weights = np.zeros(n_components)
            weights[healthy] = params.weights[healthy] / params.weights[healthy].sum()
            # Collapsed components get a valid placeholder so the E-step stays finite.
            placeholder = model.replace_components(
                params.covariances, model.from_pooled(self._pooled, n_components), collapsed
            )
            reference = replace(
                params,
                weights=weights,
                covariances=placeholder,
                precisions_cholesky=model.precisions_cholesky(placeholder)[0],
            )
        else:
            pooled = model.from_pooled(self._pooled, n_components)
            reference = MixtureParams(
                weights=np.full(n_components, 1.0 / n_components),
                means=np.tile(self.centre, (n_components, 1)),
                covariances=pooled,
                precisions_cholesky=model.precisions_cholesky(pooled)[0],
            )
        scores = score_rows(backend, model, reference, self.centre)
        if backend.sample_weight is not None:
            scores = np.where(backend.sample_weight > 0, scores, np.inf)
        means = params.means.copy()
        means[collapsed] = _distinct_worst_rows(backend, scores, collapsed.size)
        covariances = model.replace_components(
            params.covariances, model.from_pooled(self._pooled, n_components), collapsed
        )
        precisions_chol, singular = model.precisions_cholesky(covariances)
        if singular.any():
            which = np.flatnonzero(singular).tolist()
            raise CollapseError(
                f"Component(s) {which} cannot be re-seeded: the pooled covariance of X is "
                f"singular ({self._singular_cause()}). Increase reg_covar (now "
                f"{self._floor_text})."
            )
        weights = params.weights.copy()
        weights[collapsed] = 1.0 / backend.n_samples
        return MixtureParams(
            weights=weights / weights.sum(),
            means=means,
            covariances=covariances,
            precisions_cholesky=precisions_chol,
        )


def _distinct_worst_rows(backend, scores, n_rows):
    """The ``n_rows`` lowest-scoring rows, skipping repeats of rows already taken.

    Re-seeding two components on copies of one point would leave them identical
    forever; where the data hold fewer distinct points, repeats fill the rest.
    """
    candidates = np.argsort(scores, kind="stable")[: max(100, 20 * n_rows)]
    rows = backend.take(candidates)
    chosen: list[int] = []
    for i, row in enumerate(rows):
        if all(not np.array_equal(row, rows[j]) for j in chosen):
            chosen.append(i)
            if len(chosen) == n_rows:
                break
    chosen += [i for i in range(len(rows)) if i not in chosen][: n_rows - len(chosen)]
    return rows[chosen]
