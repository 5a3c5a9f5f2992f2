"""What one EM iteration estimates: the seam between the EM loop and its kind of inference.

The EM loop (:func:`gaussmix.engine.em.run_em`) is written once. Every iteration
it runs the E-step pass over the data with the chunk kernels, under the current
parameters, and hands the merged sufficient statistics to an *inference*
object, which says what they mean:

``update(stats, params) -> (params, singular)``
    the next parameters from the statistics (the M-step);
``bound(stats, before, after) -> float``
    the quantity EM monitors for convergence and n_init's choice of start;
``collapsed(stats, backend) -> ndarray of bool``
    components to hand to the collapse handler as empty.

What the kernels see of the parameters is the parameters themselves: the
chunk kernels add ``log(weights)`` to each component's log-density, or the
``kernel_log_weights`` that parameters carry when the E-step needs other
per-component constants (:mod:`gaussmix.engine.variational`). So maximum
likelihood, posterior mode (a conjugate prior) and variational Bayes share the
loop, the passes, the kernels and the backends, and differ here only.

- :class:`MaximumLikelihood`: EM's M-step (or the posterior mode under a
  :class:`~gaussmix.engine.prior.ConjugatePrior`), bound the weighted mean
  log-likelihood; what :class:`gaussmix.GaussianMixture` runs.
- :class:`~gaussmix.engine.variational.VariationalBayes`: the variational
  posterior's hyper-parameters, bound the ELBO; what
  :class:`gaussmix.BayesianGaussianMixture` runs.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..covariance import CovarianceModel
from .params import MixtureParams
from .passes import empty_components, m_step
from .stats import SufficientStatistics


class Inference(Protocol):
    """What the EM loop asks of a kind of inference (see the module's docstring)."""

    def update(
        self, stats: SufficientStatistics, params: MixtureParams | None
    ) -> tuple[MixtureParams, np.ndarray]:
        """The next parameters from merged statistics, and a mask of singular components.

        ``params`` are the parameters the statistics were computed under (None
        for statistics of initial responsibilities).
        """
        ...

    def bound(
        self, stats: SufficientStatistics, before: MixtureParams, after: MixtureParams
    ) -> float:
        """The monitored bound after an iteration: E-step under ``before``, update to ``after``."""
        ...

    def collapsed(self, stats: SufficientStatistics, backend) -> np.ndarray:
        """Components the collapse handler should treat as empty."""
        ...


class MaximumLikelihood:
    """Maximum-likelihood EM, or posterior-mode EM under a conjugate prior.

    Parameters
    ----------
    model : CovarianceModel
    centre : ndarray of shape (n_features,)
        The shift the statistics were accumulated around.
    reg_covar : float or ndarray of shape (n_features,)
    prior : ConjugatePrior, optional
        Posterior-mode M-steps (see :mod:`gaussmix.engine.prior`); the bound stays
        the mean log-likelihood, as mclust monitors it.
    """

    def __init__(self, model: CovarianceModel, centre, reg_covar, prior=None):
        self.model = model
        self.centre = centre
        self.reg_covar = reg_covar
        self.prior = prior

    def update(self, stats, params):
        """EM's M-step (:func:`gaussmix.engine.passes.m_step`)."""
        previous = None if params is None else params.covariances
        return m_step(self.model, stats, self.centre, self.reg_covar, self.prior, previous=previous)

    def bound(self, stats, before, after):
        """The weighted mean log-likelihood under ``before`` (the E-step's parameters)."""
        return stats.log_likelihood / stats.total_weight

    def collapsed(self, stats, backend):
        """Components below a thousandth of an average sample's weight."""
        return empty_components(stats, backend)
