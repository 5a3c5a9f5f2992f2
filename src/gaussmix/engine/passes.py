"""Whole-data passes built from the chunk kernels: E-step statistics, scoring, M-step.

Each function takes a backend (anything with ``reduce``, ``map``, ``dtype`` and
``n_features``), a covariance model and parameters; none keeps state.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np

from ..covariance import CovarianceModel
from .estep import chunk_statistics, log_prob_resp
from .params import MixtureParams
from .prior import posterior_mode
from .stats import merge_statistics

# A component holding less than this fraction of an average sample's weight is empty.
EMPTY_FRACTION = 1e-3

# Added to every component's count before dividing by it, as scikit-learn does
# (10 * eps). Always float64's eps: the M-step runs in float64, and float32's eps
# here would shift E[x x'] against mu mu' by a relative 1e-9 per count, which for
# tight clusters far from the data centre is larger than their covariance.
COUNT_FLOOR = 10.0 * np.finfo(np.float64).eps


_TINY = np.finfo(np.float64).tiny


def kernel_inputs(model: CovarianceModel, params: MixtureParams, centre: np.ndarray, dtype):
    """The parameters in the form the chunk kernels use.

    The kernels add a constant per component to ``log N(x | mu_k, Sigma_k)``:
    ``log(weights)``, or the ``kernel_log_weights`` that parameters carry when
    they are not a plug-in mixture's (the variational E-step's expectations,
    :class:`~gaussmix.engine.variational.VariationalParams`).
    """
    log_weights = getattr(params, "kernel_log_weights", None)
    if log_weights is None:
        # A zero weight would put -inf in a GEMM operand, and BLAS kernels that multiply
        # padding by it raise invalid-value flags: floor at the smallest normal number.
        log_weights = np.log(np.maximum(params.weights, _TINY))
    prepared = model.prepare(params.means - centre, params.precisions_cholesky, log_weights, dtype)
    if np.minimum.reduce(params.weights) > 0.0:
        return prepared
    return prepared._replace(absent=tuple(np.flatnonzero(params.weights <= 0.0).tolist()))


# The expanded-feature kernels (and the tied one) lose about eps * d^2 in a
# log-density and relatively in a covariance, d the Mahalanobis distance from the
# data centre to a component's mean. Past this loss float32 is not enough.
MAX_PRECISION_LOSS = 1e-3


def kernel_dtype(model: CovarianceModel, params: MixtureParams, centre, dtype) -> np.dtype:
    """The dtype to run the chunk kernels in for ``params``: the data's, unless too coarse.

    float32 data whose components lie many of their standard deviations away
    from the data centre (tight clusters far apart) are computed in float64,
    chunk by chunk, without copying ``X``; fitted attributes stay float32.

    Parameters that carry ``largest_precision`` (a bound on each component's
    largest precision eigenvalue; variational posteriors, whose prior stretches
    the covariances along the directions between clusters) are also judged by
    the Euclidean distance times it: the statistics lose ``eps |x|^2`` in every
    direction, the narrowest included.
    """
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return dtype
    n_components, n_features = params.means.shape
    prepared = model.prepare(
        params.means - centre, params.precisions_cholesky, np.zeros(n_components), np.float64
    )
    work = model.workspace(1, n_components, n_features, np.float64)
    at_centre = model.weighted_log_prob(np.zeros((n_features, 1)), prepared, work)[:, 0]
    distance_sq = 2.0 * (prepared.log_norm - at_centre)
    largest_precision = getattr(params, "largest_precision", None)
    if largest_precision is not None:
        euclidean_sq = np.sum((params.means - centre) ** 2, axis=1)
        distance_sq = np.maximum(distance_sq, largest_precision * euclidean_sq)
    if np.finfo(dtype).eps * max(float(distance_sq.max()), 1.0) > MAX_PRECISION_LOSS:
        return np.dtype(np.float64)
    return dtype


def workspace_bytes_per_row(model: CovarianceModel, n_components, n_features, dtype) -> int:
    """Scratch bytes a chunk needs per row: the model's workspace plus the centred rows."""
    work = model.workspace(1, n_components, n_features, dtype)
    return sum(buffer.nbytes for buffer in work.values()) + np.dtype(dtype).itemsize * n_features


def _make_work(model, n_components, n_features, dtype):
    return partial(model.workspace, n_components=n_components, n_features=n_features, dtype=dtype)


def _kernel_setup(backend, model, params: MixtureParams, centre, dtype=None):
    """The kernels' dtype, prepared arrays and scratch factory for a pass under ``params``."""
    n_components, n_features = params.means.shape
    if dtype is None:
        dtype = kernel_dtype(model, params, centre, backend.dtype)
    prepared = kernel_inputs(model, params, centre, dtype)
    return dtype, prepared, _make_work(model, n_components, n_features, dtype)


def e_step_statistics(backend, model, params: MixtureParams, centre):
    """One pass: the E-step under ``params`` and the statistics it implies."""
    dtype, prepared, make_work = _kernel_setup(backend, model, params, centre)

    def chunk_fn(XcT, sample_weight, rows, work):
        return chunk_statistics(model, XcT, sample_weight, prepared, work)

    return backend.reduce(chunk_fn, make_work, centre, merge_statistics, dtype=dtype)


def score_rows(backend, model, params: MixtureParams, centre, *, with_resp=False):
    """Per-row log-density (and log-responsibilities) under ``params``, in the data's dtype."""
    dtype, prepared, make_work = _kernel_setup(backend, model, params, centre)

    def chunk_fn(XcT, sample_weight, rows, work):
        log_prob_norm, log_resp = log_prob_resp(model, XcT, prepared, work)
        if with_resp:
            return np.concatenate([log_prob_norm[:, None], log_resp], axis=1)
        return log_prob_norm

    result = backend.map(chunk_fn, make_work, centre, dtype=dtype).astype(backend.dtype, copy=False)
    if with_resp:
        return result[:, 0], result[:, 1:]
    return result


def likelihood_and_entropy(backend, model, params: MixtureParams, centre):
    """Weighted sums of the rows' log-densities and of their largest log-responsibilities.

    What the criteria need (log-likelihood, and ICL's classification entropy) in
    one reduction, for data too large to hold the per-row results.

    Returns
    -------
    log_likelihood : float
        ``sum_i w_i log p(x_i)``.
    log_resp_max : float
        ``sum_i w_i max_k log z_ik``.
    """
    dtype, prepared, make_work = _kernel_setup(backend, model, params, centre)

    def chunk_fn(XcT, sample_weight, rows, work):
        log_prob_norm, log_resp = log_prob_resp(model, XcT, prepared, work)
        best = log_resp.max(axis=1)
        if sample_weight is None:
            return np.array([log_prob_norm.sum(dtype=np.float64), best.sum(dtype=np.float64)])
        return np.array([np.dot(sample_weight, log_prob_norm), np.dot(sample_weight, best)])

    sums = backend.reduce(chunk_fn, make_work, centre, np.add, dtype=dtype)
    return float(sums[0]), float(sums[1])


def label_rows(backend, model, params: MixtureParams, centre):
    """Most probable component of each row under ``params`` (no N x K array kept)."""
    dtype, prepared, make_work = _kernel_setup(backend, model, params, centre)

    def chunk_fn(XcT, sample_weight, rows, work):
        weighted = model.weighted_log_prob(XcT, prepared, work)
        weighted[list(prepared.absent)] = -np.inf
        return weighted.argmax(axis=0)

    return backend.map(chunk_fn, make_work, centre, dtype=dtype)


def m_step(model, stats, centre, reg_covar, prior=None, previous=None):
    """New parameters from merged statistics.

    With a :class:`~gaussmix.engine.prior.ConjugatePrior`, the means and covariances
    are its posterior mode (:func:`gaussmix.engine.prior.posterior_mode`); the weights
    stay ``n_k / n`` (mclust puts no prior on them).

    ``previous`` (the covariances the statistics were computed with) lets
    models with iterative M-steps start from them.

    Returns
    -------
    params : MixtureParams
    singular : ndarray of bool
        Covariance blocks whose Cholesky factorisation failed.
    """
    nk = stats.nk + COUNT_FLOOR
    if prior is None:
        means_shifted, covariances = model.m_step(
            nk, stats.first, stats.second, reg_covar, previous=previous
        )
    else:
        means_shifted, covariances = posterior_mode(
            model, nk, stats.first, stats.second, prior, centre, reg_covar
        )
    precisions_chol, singular = model.precisions_cholesky(covariances)
    params = MixtureParams(
        weights=nk / np.add.reduce(nk),
        means=means_shifted + centre,
        covariances=covariances,
        precisions_cholesky=precisions_chol,
    )
    return params, singular


def initial_statistics(backend, model, assignment, centre, n_components):
    """One pass: the statistics of initial responsibilities (an ``Assignment``)."""
    n_features = backend.n_features
    identity = model.from_pooled(np.eye(n_features), n_components)
    reference = MixtureParams(
        weights=np.full(n_components, 1.0 / n_components),
        means=np.tile(centre, (n_components, 1)),
        covariances=identity,
        precisions_cholesky=model.precisions_cholesky(identity)[0],
    )
    # The start is one pass, run in float64 whatever the data: until the components'
    # spreads are known, kernel_dtype cannot tell whether float32 would be enough.
    dtype, prepared, make_work = _kernel_setup(backend, model, reference, centre, np.float64)

    def chunk_fn(XcT, sample_weight, rows, work):
        resp = assignment.chunk(rows, n_components, dtype, XcT=XcT, centre=centre)
        return chunk_statistics(model, XcT, sample_weight, prepared, work, resp=resp)

    return backend.reduce(chunk_fn, make_work, centre, merge_statistics, dtype=dtype)


def initial_params(backend, model, assignment, centre, n_components, reg_covar, prior=None):
    """Parameters from initial responsibilities, and the empty and singular masks.

    ``prior`` (a :class:`~gaussmix.engine.prior.ConjugatePrior` or None) makes this first
    M-step a posterior mode too.
    """
    stats = initial_statistics(backend, model, assignment, centre, n_components)
    params, singular = m_step(model, stats, centre, reg_covar, prior)
    # As scikit-learn, the first weights are n_k / n_samples: they sum to one only
    # when every row is assigned (not for k-means++ or random_from_data seeds), which
    # shifts the first lower bound but nothing after the first M-step.
    params = replace(params, weights=(stats.nk + COUNT_FLOOR) / stats.total_weight)
    return params, empty_components(stats, backend), singular


def empty_components(stats, backend):
    """Components whose weight is below ``EMPTY_FRACTION`` of an average sample's."""
    return stats.nk < EMPTY_FRACTION * backend.total_weight / backend.n_samples
