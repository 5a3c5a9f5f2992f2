"""Sufficient statistics of a Gaussian mixture: accumulated per chunk, merged by addition."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SufficientStatistics:
    """Weighted sums over a set of rows, all in float64.

    Attributes
    ----------
    total_weight : float
        Sum of the sample weights of the rows.
    log_likelihood : float
        Sum of ``sample_weight * log p(x)`` under the parameters of the E-step
        (0 when the statistics come from given responsibilities).
    nk : ndarray of shape (n_components,)
        Sum of the weighted responsibilities per component.
    first : ndarray
        The covariance model's first-moment statistic (see its ``moments``).
    second : ndarray
        The covariance model's second-moment statistic.
    """

    total_weight: float
    log_likelihood: float
    nk: np.ndarray
    first: np.ndarray
    second: np.ndarray


def merge_statistics(a: SufficientStatistics, b: SufficientStatistics) -> SufficientStatistics:
    """Statistics of the union of two disjoint sets of rows.

    Parameters
    ----------
    a, b : SufficientStatistics
        Statistics computed with the same parameters on disjoint rows.

    Returns
    -------
    SufficientStatistics
        Their element-wise sum.
    """
    return SufficientStatistics(
        total_weight=a.total_weight + b.total_weight,
        log_likelihood=a.log_likelihood + b.log_likelihood,
        nk=a.nk + b.nk,
        first=a.first + b.first,
        second=a.second + b.second,
    )
