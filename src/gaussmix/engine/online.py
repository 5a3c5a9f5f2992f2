"""Online (stepwise) EM: running sufficient statistics moved towards each batch's.

Cappe & Moulines (2009), "On-line expectation-maximization algorithm for latent
data models". The E-step of batch ``t`` under the current parameters gives its
statistics ``s_t``; the running statistics move towards them,

    s <- (1 - g_t) s + g_t s_t / w_t,        g_t = (t + t0) ** -kappa,

``w_t`` the batch's total weight, and the M-step of ``s`` gives the next
parameters. Statistics are kept *per unit weight* (``nk`` are fractions summing
to one), so a batch enters by its step, whatever its size or total weight. With
``kappa`` in (0.5, 1] the steps sum to infinity and their squares do not, the
conditions under which the running statistics converge to a fixed point of EM.

Batch 0 of a stream has nothing to be averaged with: its statistics are taken
whole (step 1), and from the same parameters that is exactly one batch-EM
iteration. A model fitted by batch EM can be batch 0 instead: its rows are gone,
but the statistics its parameters imply (:func:`implied_statistics`) are an M-step's
fixed point. The statistics are moments about a centre fixed for the whole stream
(a moment about one point cannot be averaged with one about another).

Every covariance model keeps its own statistics (``first``, ``second``; see
``moments`` in :mod:`gaussmix.covariance`); all are sums over rows, so they are
averaged the same way, and only their M-steps differ.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..covariance import CovarianceModel
from .criteria import component_covariance_matrices
from .estep import chunk_statistics
from .params import MixtureParams
from .passes import e_step_statistics, empty_components, kernel_inputs, m_step
from .stats import SufficientStatistics, merge_statistics


def step_size(t: int, kappa: float, t0: float) -> float:
    """The weight given to batch ``t`` of a stream: ``(t + t0) ** -kappa``, and 1 for ``t = 0``.

    Parameters
    ----------
    t : int
        Index of the batch in its stream: 0 for the batch that starts the running
        statistics, 1 for the next, and so on.
    kappa : float
        Decay exponent, in (0.5, 1]: steps that sum to infinity while their squares
        do not (Robbins-Monro conditions).
    t0 : float
        Offset, >= 0: larger values make the early steps smaller.

    Returns
    -------
    float
        In (0, 1]. Batch 0 has no running statistics to be averaged with, so it
        replaces them (step 1); for ``t >= 1``, ``t + t0 >= 1`` keeps the step at
        most 1.
    """
    if t < 0:
        raise ValueError(f"The batch index t must be >= 0, got {t}.")
    if t == 0:
        return 1.0
    return math.pow(t + t0, -kappa)


def per_unit_weight(stats: SufficientStatistics) -> SufficientStatistics:
    """``stats`` divided by their total weight: ``nk`` become fractions summing to one.

    Parameters
    ----------
    stats : SufficientStatistics
        Statistics with a positive ``total_weight``.

    Returns
    -------
    SufficientStatistics
        With ``total_weight == 1`` and ``log_likelihood`` the weighted mean.
    """
    return at_weight(stats, 1.0)


def at_weight(stats: SufficientStatistics, total_weight: float) -> SufficientStatistics:
    """``stats`` rescaled to the total weight ``total_weight``.

    Statistics per unit weight are rescaled before an M-step: the M-step's count
    floor and emptiness threshold, and a conjugate prior's strength, are meant for
    counts of rows, not for fractions.

    Parameters
    ----------
    stats : SufficientStatistics
    total_weight : float
        The total weight wanted, > 0.

    Returns
    -------
    SufficientStatistics
    """
    scale = float(total_weight) / stats.total_weight
    return SufficientStatistics(
        total_weight=float(total_weight),
        log_likelihood=stats.log_likelihood * scale,
        nk=stats.nk * scale,
        first=stats.first * scale,
        second=stats.second * scale,
    )


def blend_statistics(
    running: SufficientStatistics | None, batch: SufficientStatistics, step: float
) -> SufficientStatistics:
    """The stepwise-EM update ``(1 - step) * running + step * batch / batch.total_weight``.

    Parameters
    ----------
    running : SufficientStatistics or None
        The running statistics, per unit weight (``total_weight == 1``); None
        before the first batch, when ``step`` must be 1.
    batch : SufficientStatistics
        A batch's statistics as summed over its rows (any positive total weight).
    step : float
        In (0, 1].

    Returns
    -------
    SufficientStatistics
        New running statistics, per unit weight. Every field is blended,
        ``log_likelihood`` too (a running mean log-likelihood).
    """
    if not 0.0 < step <= 1.0:
        raise ValueError(f"The step must be in (0, 1], got {step}.")
    if batch.total_weight <= 0.0:
        raise ValueError("The batch's total weight is zero: it carries no statistics.")
    batch = per_unit_weight(batch)
    if running is None:
        if step != 1.0:
            raise ValueError("The first batch of a stream is taken whole: its step must be 1.")
        return batch
    keep = 1.0 - step
    return SufficientStatistics(
        total_weight=1.0,
        log_likelihood=keep * running.log_likelihood + step * batch.log_likelihood,
        nk=keep * running.nk + step * batch.nk,
        first=keep * running.first + step * batch.first,
        second=keep * running.second + step * batch.second,
    )


def implied_statistics(
    model: CovarianceModel,
    params: MixtureParams,
    centre: np.ndarray,
    reg_covar,
    log_likelihood: float = 0.0,
) -> SufficientStatistics:
    """The statistics per unit weight that a fitted mixture implies, about ``centre``.

    What the rows of an infinite sample of the mixture would give with each row
    assigned to its own component: ``nk = weights``, and the model's moments of
    points of mean ``mu_k`` and covariance ``Sigma_k - reg_covar`` (the scatter
    before the floor, which the next M-step adds again). They let online EM
    continue a model fitted by batch EM, whose rows are gone: their M-step gives
    the fitted parameters back (a fixed point, for every covariance model, since
    the fitted covariances already satisfy the model's constraints).

    The moments are those of ``2 * n_features`` points per component, at
    ``mu_k +- sqrt(n_features * lambda_j) v_j`` for the eigenpairs of
    ``Sigma_k - reg_covar`` (negative eigenvalues, from a floor a constrained
    model spread unevenly, clipped to zero), run through the model's own
    ``moments`` kernel: whatever form a model's statistics take, they come out
    in it.

    Parameters
    ----------
    model : CovarianceModel
    params : MixtureParams
        Fitted parameters, ``weights`` summing to one.
    centre : ndarray of shape (n_features,)
    reg_covar : float or ndarray of shape (n_features,)
        The floor the fitted covariances include.
    log_likelihood : float, default=0.0
        Stored as the statistics' mean log-likelihood (the fit's bound, say).

    Returns
    -------
    SufficientStatistics
        Per unit weight (``total_weight == 1``).
    """
    n_components, n_features = params.means.shape
    covariances = component_covariance_matrices(
        params.covariances, model.name, n_components, n_features
    )
    floors = np.broadcast_to(np.asarray(reg_covar, dtype=np.float64), (n_features,))
    prepared = kernel_inputs(model, params, centre, np.float64)
    n_points = 2 * n_features
    work = model.workspace(n_points, n_components, n_features, np.float64)
    total = None
    for k in range(n_components):
        scatter = covariances[k] - np.diag(floors)
        eigenvalues, eigenvectors = np.linalg.eigh(0.5 * (scatter + scatter.T))
        spread = eigenvectors * np.sqrt(n_features * np.clip(eigenvalues, 0.0, None))
        offset = params.means[k] - centre
        XcT = np.ascontiguousarray(
            np.concatenate([offset[:, None] + spread, offset[:, None] - spread], axis=1)
        )
        resp = np.zeros((n_components, n_points))
        resp[k] = 1.0
        sample_weight = np.full(n_points, params.weights[k] / n_points)
        stats = chunk_statistics(model, XcT, sample_weight, prepared, work, resp=resp)
        total = stats if total is None else merge_statistics(total, stats)
    total = per_unit_weight(total)
    return SufficientStatistics(
        total_weight=1.0,
        log_likelihood=float(log_likelihood),
        nk=total.nk,
        first=total.first,
        second=total.second,
    )


class OnlineStep(NamedTuple):
    """Outcome of :func:`stepwise_em_step`.

    Attributes
    ----------
    params : MixtureParams
        The M-step's parameters, before any collapse handling.
    running : SufficientStatistics
        The new running statistics, per unit weight.
    lower_bound : float
        The batch's weighted mean log-likelihood under the parameters the step
        started from.
    empty : ndarray of bool
        Components that the running statistics, seen at the batch's weight, leave
        empty (as :func:`gaussmix.engine.passes.empty_components`).
    singular : ndarray of bool
        Covariance blocks whose Cholesky factorisation failed.
    """

    params: MixtureParams
    running: SufficientStatistics
    lower_bound: float
    empty: np.ndarray
    singular: np.ndarray


def stepwise_em_step(
    backend,
    model: CovarianceModel,
    params: MixtureParams,
    centre: np.ndarray,
    running: SufficientStatistics | None,
    step: float,
    reg_covar,
    prior=None,
) -> OnlineStep:
    """One step of online EM on the batch that ``backend`` holds.

    The E-step on the batch under ``params`` (one pass,
    :func:`gaussmix.engine.passes.e_step_statistics`), the running statistics
    blended towards the batch's by ``step`` (:func:`blend_statistics`), and the
    model's M-step (:func:`gaussmix.engine.passes.m_step`) on them.

    The M-step sees the running statistics rescaled to the batch's total weight:
    with step 1 it is then exactly batch EM's M-step on this batch, and the count
    floor, the emptiness threshold and a prior weigh as they would against one
    batch of data.

    Parameters
    ----------
    backend : InMemoryBackend or another backend with ``reduce``
        The batch.
    model : CovarianceModel
    params : MixtureParams
        The current parameters.
    centre : ndarray of shape (n_features,)
        The stream's centre, the point ``running``'s moments are taken about.
    running : SufficientStatistics or None
        The running statistics per unit weight, or None for the stream's first batch.
    step : float
        The batch's step, :func:`step_size`.
    reg_covar : float or ndarray of shape (n_features,)
    prior : ConjugatePrior, optional

    Returns
    -------
    OnlineStep
    """
    batch = e_step_statistics(backend, model, params, centre)
    running = blend_statistics(running, batch, step)
    scaled = at_weight(running, batch.total_weight)
    new_params, singular = m_step(
        model, scaled, centre, reg_covar, prior, previous=params.covariances
    )
    return OnlineStep(
        params=new_params,
        running=running,
        lower_bound=batch.log_likelihood / batch.total_weight,
        empty=empty_components(scaled, backend),
        singular=singular,
    )
