"""The EM loop, written once for every covariance model and every backend.

A backend supplies ``reduce`` (fold a chunk function over row chunks) and
``map``; a covariance model supplies the chunk kernels and the M-step; an
inference object (:mod:`gaussmix.engine.inference`) says what the statistics
mean: maximum likelihood, posterior mode or variational Bayes. One EM
iteration is one pass over the data: each chunk's E-step feeds its sufficient
statistics while it is still in cache, and the merged statistics give the next
parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..covariance import CovarianceModel
from .collapse import CollapseHandler
from .inference import Inference, MaximumLikelihood
from .params import EMResult, MixtureParams
from .passes import e_step_statistics


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
    prior=None,
    inference: Inference | None = None,
    settle: Callable | None = None,
) -> EMResult:
    """Iterate EM from ``params`` until the monitored bound changes by less than ``tol``.

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
    prior : ConjugatePrior, optional
        Posterior-mode M-steps under this prior (see :mod:`gaussmix.engine.prior`);
        the lower bound stays the mean log-likelihood, as mclust monitors it.
    inference : Inference, optional
        What the statistics mean (see :mod:`gaussmix.engine.inference`): the
        update and the bound. Default: maximum likelihood (posterior mode under
        ``prior``), whose bound is the weighted mean log-likelihood. Give either
        ``prior`` or ``inference``, not both.
    settle : callable, optional
        ``settle(lower_bounds)`` after every iteration without a re-seeded
        component; when it returns True the run stops unconverged and is marked
        ``settled`` (e.g. :func:`aitken_settled`: close enough to its limit for
        ranking). Continuing from the result with ``lower_bound`` is the run that
        would have gone on uninterrupted.

    Returns
    -------
    EMResult
    """
    if inference is None:
        inference = MaximumLikelihood(model, centre, reg_covar, prior)
    elif prior is not None:
        raise ValueError("run_em takes a prior or an inference object, not both.")
    n_components = params.weights.size
    if collapse is None:
        collapse = CollapseHandler(backend, model, centre, reg_covar, n_components)
    lower_bounds = []
    converged = settled = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        previous = lower_bound
        stats = e_step_statistics(backend, model, params, centre)
        new_params, singular = inference.update(stats, params)
        lower_bound = inference.bound(stats, params, new_params)
        new_params, reseeded = collapse.resolve(
            new_params, params, inference.collapsed(stats, backend), singular, n_iter
        )
        params = new_params
        lower_bounds.append(lower_bound)
        change = lower_bound - previous
        if on_iteration is not None:
            on_iteration(n_iter, lower_bound, change)
        if not reseeded and abs(change) < tol:
            converged = True
            break
        if settle is not None and not reseeded and settle(lower_bounds):
            settled = True
            break
    return EMResult(
        params=params,
        lower_bound=lower_bound,
        lower_bounds=lower_bounds,
        n_iter=n_iter,
        converged=converged,
        settled=settled,
    )


def aitken_remaining(lower_bounds) -> float:
    """The bound's projected remaining gain from Aitken's acceleration of its last three values.

    EM converges linearly near a maximum: successive changes shrink by a rate
    ``a = d_k / d_{k-1}``, so the bound's limit is about ``l_k + d_k a / (1 - a)``
    beyond its last value ``l_k`` (Böhning et al. 1994; McNicholas et al. 2010).

    Parameters
    ----------
    lower_bounds : sequence of float
        The bound after every iteration so far.

    Returns
    -------
    float
        ``inf`` where the rate cannot be estimated: fewer than three values, a
        change that is not an increase, or a rate of one or more.
    """
    if len(lower_bounds) < 3:
        return np.inf
    before = lower_bounds[-2] - lower_bounds[-3]
    last = lower_bounds[-1] - lower_bounds[-2]
    if last == 0.0:
        return 0.0
    if before <= 0.0 or last < 0.0:
        return np.inf
    rate = last / before
    if rate >= 1.0:
        return np.inf
    return last * rate / (1.0 - rate)


def aitken_settled(gain: float, change: float) -> Callable:
    """A ``settle`` rule for :func:`run_em`: the run is close to its limit.

    The last change must be below ``change`` and Aitken's projected remaining
    gain below ``gain``, at two successive iterations. Neither alone is safe: EM
    crossing a saddle slows down (changes shrinking at a steady rate, a small
    projection) before it speeds up towards a higher maximum, and the change cap
    keeps such runs going until they are slow in absolute terms too. No local
    rule sees every plateau: a run creeping towards a degenerate maximum (a
    component shrinking onto repeated values) can settle before it gets there.

    Parameters
    ----------
    gain, change : float
        In the bound's units (mean log-likelihood per sample).

    Returns
    -------
    callable
    """

    def settled(lower_bounds):
        return (
            len(lower_bounds) >= 4
            and abs(lower_bounds[-1] - lower_bounds[-2]) < change
            and abs(lower_bounds[-2] - lower_bounds[-3]) < change
            and aitken_remaining(lower_bounds) < gain
            and aitken_remaining(lower_bounds[:-1]) < gain
        )

    return settled
