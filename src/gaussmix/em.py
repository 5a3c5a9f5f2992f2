"""The EM loop, written once for every covariance model and every backend.

A backend supplies ``reduce`` (fold a chunk function over row chunks) and
``map``; a covariance model supplies the chunk kernels and the M-step. One EM
iteration is one pass over the data: each chunk's E-step feeds its sufficient
statistics while it is still in cache, and the merged statistics give the next
parameters.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from .covariance import CovarianceModel
from .estep import chunk_statistics, log_prob_resp
from .stats import merge_statistics

# A component holding less than this fraction of an average sample's weight is empty.
EMPTY_FRACTION = 1e-3


class CollapseWarning(UserWarning):
    """A component collapsed (empty or singular) and was re-seeded or frozen."""


class CollapseError(ValueError):
    """A component collapsed and no re-seeding can give it a valid covariance."""


@dataclass(frozen=True)
class MixtureParams:
    """Parameters of a Gaussian mixture, in float64.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray, shape set by the covariance model
    precisions_cholesky : ndarray, same shape as ``covariances``
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray


@dataclass(frozen=True)
class EMResult:
    """Outcome of one EM run from one start.

    Attributes
    ----------
    params : MixtureParams
    lower_bound : float
        Weighted mean log-likelihood at the last E-step.
    lower_bounds : list of float
        ``lower_bound`` after every iteration.
    n_iter : int
    converged : bool
    """

    params: MixtureParams
    lower_bound: float
    lower_bounds: list = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False


def kernel_inputs(model: CovarianceModel, params: MixtureParams, centre: np.ndarray, dtype):
    """The parameters in the form the chunk kernels use."""
    with np.errstate(divide="ignore"):
        log_weights = np.log(params.weights)
    return model.prepare(params.means - centre, params.precisions_cholesky, log_weights, dtype)


def _make_work(model, n_components, n_features, dtype):
    return partial(model.workspace, n_components=n_components, n_features=n_features, dtype=dtype)


def e_step_statistics(backend, model, params: MixtureParams, centre):
    """One pass: the E-step under ``params`` and the statistics it implies."""
    n_components, n_features = params.means.shape
    prepared = kernel_inputs(model, params, centre, backend.dtype)

    def chunk_fn(XcT, sample_weight, rows, work):
        return chunk_statistics(model, XcT, sample_weight, prepared, work)

    stats = backend.reduce(
        chunk_fn,
        _make_work(model, n_components, n_features, backend.dtype),
        centre,
        merge_statistics,
    )
    return stats, prepared


def score_rows(backend, model, params: MixtureParams, centre, *, with_resp=False):
    """Per-row log-density (and log-responsibilities) under ``params``."""
    n_components, n_features = params.means.shape
    prepared = kernel_inputs(model, params, centre, backend.dtype)

    def chunk_fn(XcT, sample_weight, rows, work):
        log_prob_norm, log_resp = log_prob_resp(model, XcT, prepared, work)
        if with_resp:
            return np.concatenate([log_prob_norm[:, None], log_resp], axis=1)
        return log_prob_norm

    result = backend.map(
        chunk_fn, _make_work(model, n_components, n_features, backend.dtype), centre
    )
    if with_resp:
        return result[:, 0], result[:, 1:]
    return result


def m_step(model, stats, prepared, params_old_means, centre, reg_covar, eps):
    """New parameters from merged statistics.

    Returns
    -------
    params : MixtureParams
    singular : ndarray of bool
        Covariance blocks whose Cholesky factorisation failed.
    """
    nk = stats.nk + 10.0 * eps
    means_shifted, covariances = model.m_step(
        nk, stats.first, stats.second, prepared, params_old_means - centre, reg_covar
    )
    precisions_chol, singular = model.precisions_cholesky(covariances)
    params = MixtureParams(
        weights=nk / nk.sum(),
        means=means_shifted + centre,
        covariances=covariances,
        precisions_cholesky=precisions_chol,
    )
    return params, singular


def initial_params(backend, model, assignment, centre, n_components, reg_covar):
    """Parameters from initial responsibilities, and the empty and singular masks."""
    n_features = backend.n_features
    identity = model.from_pooled(np.eye(n_features), n_components)
    reference = MixtureParams(
        weights=np.full(n_components, 1.0 / n_components),
        means=np.tile(centre, (n_components, 1)),
        covariances=identity,
        precisions_cholesky=model.precisions_cholesky(identity)[0],
    )
    prepared = kernel_inputs(model, reference, centre, backend.dtype)

    def chunk_fn(XcT, sample_weight, rows, work):
        resp = assignment.chunk(rows, n_components, backend.dtype)
        return chunk_statistics(model, XcT, sample_weight, prepared, work, resp=resp)

    stats = backend.reduce(
        chunk_fn,
        _make_work(model, n_components, n_features, backend.dtype),
        centre,
        merge_statistics,
    )
    params, singular = m_step(
        model, stats, prepared, reference.means, centre, reg_covar, np.finfo(backend.dtype).eps
    )
    return params, _empty(stats, backend), singular


def _empty(stats, backend):
    return stats.nk < EMPTY_FRACTION * backend.total_weight / backend.n_samples


def pooled_covariance(backend, centre, reg_covar):
    """The weighted covariance of all rows plus ``reg_covar`` on the diagonal."""

    def chunk_fn(XcT, sample_weight, rows, work):
        weighted = XcT if sample_weight is None else XcT * sample_weight
        return (weighted @ XcT.T).astype(np.float64)

    scatter = backend.reduce(chunk_fn, lambda n_rows: None, centre, operator.add)
    covariance = scatter / backend.total_weight
    covariance[np.diag_indices_from(covariance)] += reg_covar
    return covariance


def _describe(components, causes):
    return ", ".join(f"{k} ({causes[k]})" for k in components)


class CollapseHandler:
    """Re-seeds collapsed components on the worst-explained samples, a bounded number of times.

    A component is collapsed when it is empty (it holds less than a thousandth of
    an average sample's weight) or when its covariance is not positive definite.
    Each time, the component's mean moves to the sample with the lowest
    log-density under the healthy components, its covariance becomes the pooled
    data covariance, and its weight that of one average sample; a
    :class:`CollapseWarning` names it. Once ``2 * n_components`` re-seeds are
    spent, an empty component keeps its last valid mean and covariance with a
    vanishing weight (the data support fewer components), and a singular one
    raises :class:`CollapseError` naming the component, the cause and the remedy.
    """

    def __init__(self, backend, model, centre, reg_covar, n_components):
        self.backend = backend
        self.model = model
        self.centre = centre
        self.reg_covar = reg_covar
        self.budget = 2 * n_components
        self.frozen: set[int] = set()
        self._pooled = None

    def resolve(self, params, params_old, empty, singular, n_iter):
        """Return repaired parameters and whether any component was re-seeded."""
        if singular.any() and self.model.shared_covariance:
            raise CollapseError(
                f"The shared ('{self.model.name}') covariance became singular at iteration "
                f"{n_iter}: the data lie on a lower-dimensional set (a constant feature or "
                f"duplicated points). Increase reg_covar (now {self.reg_covar:g}), drop "
                "constant features, or standardise X."
            )
        if self.model.shared_covariance:
            singular = np.zeros_like(empty)
        collapsed = np.flatnonzero(empty | singular)
        if collapsed.size == 0:
            return params, False
        causes = {int(k): "singular covariance" if singular[k] else "empty" for k in collapsed}
        if collapsed.size <= self.budget:
            self.budget -= collapsed.size
            repaired = self._reseed(params, collapsed)
            warnings.warn(
                f"Component(s) {_describe(collapsed, causes)} collapsed at iteration "
                f"{n_iter}; re-seeded on the worst-explained samples. If this repeats, "
                "reduce n_components, increase reg_covar or standardise X.",
                CollapseWarning,
                stacklevel=4,
            )
            return repaired, True
        if singular.any() or params_old is None:
            k = int(collapsed[0])
            raise CollapseError(
                f"Component {k} collapsed ({causes[k]}) at iteration {n_iter} and re-seeding "
                "did not help: the data cannot support this many components with this "
                f"regularisation. Reduce n_components, increase reg_covar (now "
                f"{self.reg_covar:g}), drop constant or duplicated features, or standardise X."
            )
        return self._freeze(params, params_old, collapsed), False

    def _freeze(self, params, params_old, collapsed):
        new = [int(k) for k in collapsed if int(k) not in self.frozen]
        if new:
            warnings.warn(
                f"Component(s) {new} stay empty: the data support fewer than "
                f"{params.weights.size} components. They keep their last mean and "
                "covariance with a vanishing weight; consider a smaller n_components.",
                CollapseWarning,
                stacklevel=4,
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
            raise CollapseError(
                f"Component(s) {np.flatnonzero(singular).tolist()} cannot be re-seeded: the "
                "pooled covariance of X is singular (a constant feature or all rows equal). "
                f"Increase reg_covar (now {self.reg_covar:g}) or drop constant features."
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


def run_em(
    backend,
    model: CovarianceModel,
    params: MixtureParams,
    *,
    centre: np.ndarray,
    tol: float,
    max_iter: int,
    reg_covar: float,
    lower_bound: float = -np.inf,
    on_iteration: Callable | None = None,
    collapse: CollapseHandler | None = None,
) -> EMResult:
    """Iterate EM from ``params`` until the mean log-likelihood changes by less than ``tol``.

    Parameters
    ----------
    backend : InMemoryBackend or another backend with ``reduce``/``map``
    model : CovarianceModel
    params : MixtureParams
        The start.
    centre : ndarray of shape (n_features,)
        Shift subtracted from every row before any arithmetic.
    tol, max_iter, reg_covar : as in :class:`gaussmix.GaussianMixture`
    lower_bound : float
        The lower bound of the start (``-inf`` for a fresh start).
    on_iteration : callable, optional
        ``on_iteration(n_iter, lower_bound, change)`` after every iteration.
    collapse : CollapseHandler, optional

    Returns
    -------
    EMResult
    """
    n_components = params.weights.size
    if collapse is None:
        collapse = CollapseHandler(backend, model, centre, reg_covar, n_components)
    eps = np.finfo(backend.dtype).eps
    lower_bounds = []
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        previous = lower_bound
        stats, prepared = e_step_statistics(backend, model, params, centre)
        lower_bound = stats.log_likelihood / stats.total_weight
        new_params, singular = m_step(model, stats, prepared, params.means, centre, reg_covar, eps)
        new_params, reseeded = collapse.resolve(
            new_params, params, _empty(stats, backend), singular, n_iter
        )
        params = new_params
        lower_bounds.append(lower_bound)
        change = lower_bound - previous
        if on_iteration is not None:
            on_iteration(n_iter, lower_bound, change)
        if not reseeded and abs(change) < tol:
            converged = True
            break
    return EMResult(
        params=params,
        lower_bound=lower_bound,
        lower_bounds=lower_bounds,
        n_iter=n_iter,
        converged=converged,
    )
