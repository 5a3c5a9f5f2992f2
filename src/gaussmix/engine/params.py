"""Parameters of a Gaussian mixture and the outcome of an EM run."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
    settled : bool
        Stopped by a ``settle`` rule (see :func:`gaussmix.engine.em.run_em`)
        before converging: usable as it is, and resumable to convergence.
    """

    params: MixtureParams
    lower_bound: float
    lower_bounds: list = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False
    settled: bool = False
