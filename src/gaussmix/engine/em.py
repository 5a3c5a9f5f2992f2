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
    converged = False
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
    return EMResult(
        params=params,
        lower_bound=lower_bound,
        lower_bounds=lower_bounds,
        n_iter=n_iter,
        converged=converged,
    )
