"""The E-step on one chunk of rows: log-densities, responsibilities, statistics.

These are pure functions of their array arguments; ``work`` is scratch memory
owned by the caller and reused from chunk to chunk so that the hot loop
allocates nothing of size ``n_rows x n_components x n_features``.
"""

from __future__ import annotations

import functools

import numpy as np

from ..covariance import CovarianceModel, Prepared
from ..covariance._base import Axis
from .stats import SufficientStatistics


@functools.lru_cache(maxsize=8)
def _log_floor(dtype) -> float:
    # exp() of this is about sqrt(tiny): products of such responsibilities with
    # data stay normal numbers (subnormal arithmetic is very slow).
    return 0.5 * float(np.log(np.finfo(dtype).tiny))


def normalize_in_place(weighted_log_prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exponentiate weighted log-probabilities relative to each row's maximum, in place.

    Parameters
    ----------
    weighted_log_prob : ndarray of shape (n_components, n_rows)
        Overwritten with ``exp(weighted_log_prob - row_max)``: the
        responsibilities times ``row_sum``.

    Returns
    -------
    log_prob_norm : ndarray of shape (n_rows,)
        ``logsumexp`` of each row: the log-density of the row under the mixture.
    row_sum : ndarray of shape (n_rows,)
        What each row must be divided by to give the responsibilities.
    """
    # The ufuncs' own reductions: the ndarray methods add a Python layer per call,
    # as much as the arithmetic on a few hundred rows.
    components = int(Axis.components)
    row_max = np.maximum.reduce(weighted_log_prob, axis=components)
    weighted_log_prob -= row_max
    # exp() of values whose result underflows takes a slow path (about 8x slower in
    # float64), and subnormal responsibilities slow every product that follows.
    # Responsibilities below ~1e-154 (float64) or ~1e-19 (float32) do not matter.
    np.maximum(weighted_log_prob, _log_floor(weighted_log_prob.dtype), out=weighted_log_prob)
    np.exp(weighted_log_prob, out=weighted_log_prob)
    row_sum = np.add.reduce(weighted_log_prob, axis=components)
    return row_max + np.log(row_sum), row_sum


def log_prob_resp(
    model: CovarianceModel,
    XcT: np.ndarray,
    prepared: Prepared,
    work: dict,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log-density and log-responsibilities (fresh arrays, rows first).

    Returns
    -------
    log_prob_norm : ndarray of shape (n_rows,)
    log_resp : ndarray of shape (n_rows, n_components)
    """
    weighted = model.weighted_log_prob(XcT, prepared, work).copy()
    weighted[list(prepared.absent)] = -np.inf
    row_max = weighted.max(axis=Axis.components)
    with np.errstate(under="ignore"):
        log_prob_norm = row_max + np.log(np.exp(weighted - row_max).sum(axis=Axis.components))
        weighted -= log_prob_norm
    return log_prob_norm, weighted.T


def chunk_statistics(
    model: CovarianceModel,
    XcT: np.ndarray,
    sample_weight: np.ndarray | None,
    prepared: Prepared,
    work: dict,
    resp: np.ndarray | None = None,
) -> SufficientStatistics:
    """E-step and sufficient statistics of one chunk in a single pass.

    Parameters
    ----------
    model : CovarianceModel
    XcT : ndarray of shape (n_features, n_rows)
        The chunk's rows minus the data centre, transposed.
    sample_weight : ndarray of shape (n_rows,) or None
        None means unit weights.
    prepared : Prepared
        The current parameters in kernel form (``model.prepare``).
    work : dict
        Scratch buffers from ``model.workspace``.
    resp : ndarray of shape (n_components, n_rows), optional
        Given responsibilities (initialisation). When None they are computed
        from the parameters (the E-step) and the log-likelihood is recorded.

    Returns
    -------
    SufficientStatistics
    """
    weighted = model.weighted_log_prob(XcT, prepared, work)
    if resp is None:
        # No np.errstate needed (it costs as much as a small chunk's exp): the floor
        # in normalize_in_place keeps every value normal, so nothing underflows.
        log_prob_norm, row_sum = normalize_in_place(weighted)
        resp = weighted
        # Normalisation and sample weights in one pass over the responsibilities.
        if sample_weight is None:
            log_likelihood = float(np.add.reduce(log_prob_norm, dtype=np.float64))
            np.reciprocal(row_sum, out=row_sum)
        else:
            log_likelihood = float(np.dot(sample_weight, log_prob_norm))
            np.divide(sample_weight, row_sum, out=row_sum)
        resp *= row_sum
    else:
        log_likelihood = 0.0
        if sample_weight is not None:
            resp = resp * sample_weight
    if sample_weight is None:
        total_weight = float(XcT.shape[1])
    else:
        total_weight = float(sample_weight.sum(dtype=np.float64))
    nk, first, second = model.moments(XcT, resp, sample_weight, prepared, work)
    # No copy of statistics already in float64: at thousands of features `second`
    # holds millions of entries per chunk.
    return SufficientStatistics(
        total_weight=total_weight,
        log_likelihood=log_likelihood,
        nk=np.asarray(nk, dtype=np.float64),
        first=np.asarray(first, dtype=np.float64),
        second=np.asarray(second, dtype=np.float64),
    )
