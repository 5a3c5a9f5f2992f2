"""The E-step on one chunk of rows: log-densities, responsibilities, statistics.

These are pure functions of their array arguments; ``work`` is scratch memory
owned by the caller and reused from chunk to chunk so that the hot loop
allocates nothing of size ``n_rows x n_components x n_features``.
"""

from __future__ import annotations

import numpy as np

from .covariance import CovarianceModel, Prepared
from .covariance._base import Axis
from .stats import SufficientStatistics


def weighted_log_prob(
    model: CovarianceModel,
    Xc: np.ndarray,
    prepared: Prepared,
    log_weights: np.ndarray,
    work: dict,
) -> np.ndarray:
    """``log pi_k + log N(x | mu_k, Sigma_k)`` for each row and component.

    Parameters
    ----------
    model : CovarianceModel
    Xc : ndarray of shape (n_rows, n_features)
        Rows minus the data centre the parameters were prepared around.
    prepared : Prepared
        ``model.prepare(means - centre, precisions_chol, dtype)``.
    log_weights : ndarray of shape (n_components,)
    work : dict
        ``model.workspace(...)`` with at least ``n_rows`` rows.

    Returns
    -------
    ndarray of shape (n_rows, n_components)
        A view into ``work``, valid until its next use.
    """
    log_prob = model.log_gaussian_prob(Xc, prepared, work)
    log_prob += log_weights
    return log_prob


def normalize_in_place(weighted_log_prob: np.ndarray) -> np.ndarray:
    """Turn weighted log-probabilities into responsibilities, in place.

    Parameters
    ----------
    weighted_log_prob : ndarray of shape (n_rows, n_components)
        Overwritten with the responsibilities ``exp(log_resp)``.

    Returns
    -------
    log_prob_norm : ndarray of shape (n_rows,)
        ``logsumexp`` of each row: the log-density of the row under the mixture.
    """
    row_max = weighted_log_prob.max(axis=Axis.components)
    weighted_log_prob -= row_max[:, None]
    np.exp(weighted_log_prob, out=weighted_log_prob)
    row_sum = weighted_log_prob.sum(axis=Axis.components)
    weighted_log_prob /= row_sum[:, None]
    return row_max + np.log(row_sum)


def log_prob_resp(
    model: CovarianceModel,
    Xc: np.ndarray,
    prepared: Prepared,
    log_weights: np.ndarray,
    work: dict,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row log-density and log-responsibilities (fresh arrays).

    Returns
    -------
    log_prob_norm : ndarray of shape (n_rows,)
    log_resp : ndarray of shape (n_rows, n_components)
    """
    weighted = weighted_log_prob(model, Xc, prepared, log_weights, work).copy()
    row_max = weighted.max(axis=Axis.components)
    with np.errstate(under="ignore"):
        log_prob_norm = row_max + np.log(
            np.exp(weighted - row_max[:, None]).sum(axis=Axis.components)
        )
        weighted -= log_prob_norm[:, None]
    return log_prob_norm, weighted


def chunk_statistics(
    model: CovarianceModel,
    Xc: np.ndarray,
    sample_weight: np.ndarray | None,
    prepared: Prepared,
    log_weights: np.ndarray,
    work: dict,
    resp: np.ndarray | None = None,
) -> SufficientStatistics:
    """E-step and sufficient statistics of one chunk in a single pass.

    Parameters
    ----------
    model : CovarianceModel
    Xc : ndarray of shape (n_rows, n_features)
        The chunk's rows minus the data centre.
    sample_weight : ndarray of shape (n_rows,) or None
        None means unit weights.
    prepared : Prepared
        The current parameters in kernel form.
    log_weights : ndarray of shape (n_components,)
    work : dict
        Scratch buffers from ``model.workspace``.
    resp : ndarray of shape (n_rows, n_components), optional
        Given responsibilities (initialisation). When None they are computed
        from the parameters (the E-step) and the log-likelihood is recorded.

    Returns
    -------
    SufficientStatistics
    """
    weighted = weighted_log_prob(model, Xc, prepared, log_weights, work)
    if resp is None:
        with np.errstate(under="ignore"):
            log_prob_norm = normalize_in_place(weighted)
        resp = weighted
        if sample_weight is None:
            log_likelihood = float(log_prob_norm.sum(dtype=np.float64))
        else:
            log_likelihood = float(np.dot(sample_weight, log_prob_norm))
    else:
        log_likelihood = 0.0
    if sample_weight is not None:
        resp = resp * sample_weight[:, None]
        total_weight = float(sample_weight.sum(dtype=np.float64))
    else:
        total_weight = float(Xc.shape[0])
    nk = resp.sum(axis=Axis.samples, dtype=np.float64)
    first, second = model.moments(Xc, resp, sample_weight, prepared, work)
    return SufficientStatistics(
        total_weight=total_weight,
        log_likelihood=log_likelihood,
        nk=nk,
        first=first.astype(np.float64),
        second=second.astype(np.float64),
    )
