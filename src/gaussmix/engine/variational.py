"""Variational Bayes for Gaussian mixtures: the inference behind ``BayesianGaussianMixture``.

Bishop (2006), *Pattern Recognition and Machine Learning*, section 10.2, and Blei
& Jordan (2006), "Variational inference for Dirichlet process mixtures", with
scikit-learn's normalisations (``sklearn/mixture/_bayesian_mixture.py``), so that
the same start gives scikit-learn's numbers. The variational posterior is

- weights: a Dirichlet ``Dir(alpha_k)`` (``'dirichlet_distribution'``), or the
  Beta distributions ``Beta(a_k, b_k)`` of a truncated stick-breaking process
  (``'dirichlet_process'``), ``weight_concentration``;
- means: ``mu_k | Lambda_k ~ N(m_k, (beta_k Lambda_k)^-1)``, ``mean_precision``
  ``beta_k`` and ``means`` ``m_k``;
- precisions: Wishart ``W(nu_k, W_k)``, ``degrees_of_freedom`` ``nu_k``, stored
  as ``covariances = (nu_k W_k)^-1`` (the inverse of the expected precision,
  scikit-learn's normalisation) and the upper Cholesky factor ``P_k`` of
  ``E[Lambda_k] = nu_k W_k``.

**The E-step is EM's chunk kernel.** Under this posterior,

    E[log pi_k N(x | mu_k, Lambda_k^-1)] = c_k + log det P_k - D/2 log(2 pi)
                                          - 1/2 |P_k' (x - m_k)|^2
    c_k = E[log pi_k] + 1/2 (E[log |Lambda_k|] - 2 log det P_k) - D / (2 beta_k)
        = E[log pi_k] + 1/2 (D log 2 + sum_i psi((nu_k - i) / 2) - D log nu_k - D / beta_k)

which is the plug-in log-density of the means and ``P_k`` with ``c_k`` in place
of ``log pi_k``: :class:`VariationalParams` carry ``c_k`` as
``kernel_log_weights`` and every pass and kernel runs unchanged.

**The update** (:meth:`VariationalBayes.update`) is the posterior's
hyper-parameters from the same ``nk, first, second`` statistics:
``beta_k = beta_0 + n_k``, ``m_k = (beta_0 m_0 + n_k xbar_k) / beta_k``,
``nu_k = nu_0 + n_k`` and

    nu_k covariances_k = Psi_0 + W_k + n_k reg_covar I
                         + beta_0 n_k / beta_k (xbar_k - m_0)(xbar_k - m_0)'

in the covariance model's scatter form (matrices, diagonals or the per-feature
trace). Models whose covariance is shared (EEE or 'tied', EEI, EII) follow
scikit-learn's 'tied': ``nu = nu_0 + n / K`` and the scatter and between terms
summed over components and divided by ``K``, the Wishart counted ``K`` times in
the bound. The normalisers of the diagonal and spherical families are the
Wishart's over ``D`` features, as scikit-learn computes them.

**The bound** (:meth:`VariationalBayes.bound`) is scikit-learn's ELBO, with its
constants dropped: after the update (the optimal posterior of the parameters
given the responsibilities ``r``),

    ELBO = -sum_i w_i sum_k r_ik log r_ik - log normalisers (Wishart, weights)
           - D/2 sum_k log beta_k.

The responsibilities' entropy comes from the statistics, with no extra pass:
``log r_ik = kernel_ik - log p_i``, and the kernel is linear in the statistics,
so ``sum_i w_i sum_k r_ik kernel_ik`` is a closed form of ``nk, first, second``
and ``sum_i w_i log p_i`` is the E-step's ``log_likelihood``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, gammaln

from ..covariance import CovarianceModel
from ..covariance._base import LOG_2PI
from .collapse import CollapseError
from .params import MixtureParams
from .passes import COUNT_FLOOR
from .stats import SufficientStatistics

WEIGHT_PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")

#: A component is kept (counted by ``effective_n_components_``, kept by
#: ``to_gaussian_mixture``) when it explains more than this share of the training weight.
EFFECTIVE_WEIGHT = 0.01

#: Covariance models with a closed-form conjugate variational posterior, by name:
#: (family, covariance shared by all components).
VARIATIONAL_MODELS = {
    "full": ("ellipsoidal", False),
    "tied": ("ellipsoidal", True),
    "diag": ("diagonal", False),
    "spherical": ("spherical", False),
    "EII": ("spherical", True),
    "VII": ("spherical", False),
    "EEI": ("diagonal", True),
    "VVI": ("diagonal", False),
    "EEE": ("ellipsoidal", True),
    "VVV": ("ellipsoidal", False),
    "E": ("spherical", True),
    "V": ("spherical", False),
}


def variational_family(covariance_type: str) -> tuple[str, bool]:
    """``(family, shared)`` of a covariance model that variational Bayes supports.

    Parameters
    ----------
    covariance_type : str

    Returns
    -------
    family : {'ellipsoidal', 'diagonal', 'spherical'}
        The form of the covariance prior and of the scatters.
    shared : bool
        Whether one covariance is shared by all components.

    Raises
    ------
    ValueError
        For the mclust models whose variational posterior has no closed form
        (their constraints tie volume, shape or orientation across components).
    """
    try:
        return VARIATIONAL_MODELS[covariance_type]
    except KeyError:
        raise ValueError(
            f"covariance_type={covariance_type!r} has no closed-form conjugate variational "
            "posterior (its constraint ties the volume, shape or orientation of the "
            "components); BayesianGaussianMixture fits "
            f"{', '.join(map(repr, VARIATIONAL_MODELS))}."
        ) from None


@dataclass(frozen=True, eq=False)
class VariationalPrior:
    """Hyper-parameters of the prior, validated (scikit-learn's names without ``_prior``).

    Attributes
    ----------
    weight_prior_type : {'dirichlet_process', 'dirichlet_distribution'}
    weight_concentration : float
        ``alpha_0 > 0``: the Dirichlet's concentration, or the stick-breaking
        Beta(1, alpha_0)'s.
    mean_precision : float
        ``beta_0 > 0``.
    mean : ndarray of shape (n_features,)
        ``m_0``, in the data's coordinates.
    degrees_of_freedom : float
        ``nu_0 > n_features - 1``.
    covariance : float or ndarray
        ``Psi_0``, the Wishart's inverse scale, in the family's form: a
        ``(n_features, n_features)`` matrix (ellipsoidal), one variance per
        feature (diagonal) or one number (spherical).
    """

    weight_prior_type: str
    weight_concentration: float
    mean_precision: float
    mean: np.ndarray
    degrees_of_freedom: float
    covariance: float | np.ndarray


@dataclass(frozen=True)
class VariationalParams(MixtureParams):
    """A variational posterior, as mixture parameters the chunk kernels run on.

    ``weights``, ``means``, ``covariances`` and ``precisions_cholesky`` are
    scikit-learn's ``weights_`` (the expected weights), ``means_``,
    ``covariances_`` (``(nu_k W_k)^-1``) and ``precisions_cholesky_``.

    Attributes
    ----------
    weight_concentration : ndarray of shape (n_components,) or (2, n_components)
        ``alpha_k``, or the stick-breaking ``(a_k, b_k)``.
    mean_precision : ndarray of shape (n_components,)
        ``beta_k``.
    degrees_of_freedom : ndarray of shape (n_components,)
        ``nu_k`` (equal entries for a shared covariance).
    kernel_log_weights : ndarray of shape (n_components,)
        What the kernels add to each component's plug-in log-density (see the
        module's docstring); read by :func:`gaussmix.engine.passes.kernel_inputs`.
    largest_precision : ndarray of shape (n_components,)
        An upper bound on the largest eigenvalue of ``E[Lambda_k]`` (its trace,
        or its largest diagonal entry), read by
        :func:`gaussmix.engine.passes.kernel_dtype`: the covariance prior makes
        ``covariances`` wide along the directions between clusters, where the
        Mahalanobis distance to the data's centre no longer bounds the rounding
        of the statistics in float32.
    """

    weight_concentration: np.ndarray | None = None
    mean_precision: np.ndarray | None = None
    degrees_of_freedom: np.ndarray | None = None
    kernel_log_weights: np.ndarray | None = None
    largest_precision: np.ndarray | None = None


# ------------------------------------------------------------------ weights
def expected_log_weights(weight_prior_type: str, concentration: np.ndarray) -> np.ndarray:
    """``E[log pi_k]`` under the Dirichlet, or under the stick-breaking Betas."""
    if weight_prior_type == "dirichlet_process":
        a, b = concentration
        digamma_sum = digamma(a + b)
        # Stick k is what the sticks before it left: sum_{j<k} E[log(1 - v_j)].
        left = np.concatenate([[0.0], np.cumsum(digamma(b) - digamma_sum)[:-1]])
        return digamma(a) - digamma_sum + left
    return digamma(concentration) - digamma(np.sum(concentration))


def expected_weights(weight_prior_type: str, concentration: np.ndarray) -> np.ndarray:
    """The posterior-mean weights, normalised (scikit-learn's ``weights_``)."""
    if weight_prior_type == "dirichlet_process":
        a, b = concentration
        total = a + b
        weights = a / total * np.concatenate([[1.0], np.cumprod(b / total)[:-1]])
        return weights / weights.sum()
    return concentration / np.sum(concentration)


def data_shares(weight_prior_type: str, concentration, prior_concentration: float) -> np.ndarray:
    """Each component's share of the training weight, ``n_k / n``, read from the posterior.

    ``n_k`` (the expected number of samples of component k) is ``a_k - 1`` under
    the stick-breaking Betas and ``alpha_k - alpha_0`` under the Dirichlet: the
    posterior's weights without the prior's pseudo-counts (under the Dirichlet
    process an unused component keeps an expected weight near ``1 / n``).

    Parameters
    ----------
    weight_prior_type : {'dirichlet_process', 'dirichlet_distribution'}
    concentration : array-like of shape (n_components,) or (2, n_components)
        ``weight_concentration_`` (the pair ``(a, b)`` for the Dirichlet process).
    prior_concentration : float
        ``alpha_0`` (``weight_concentration_prior_``).

    Returns
    -------
    ndarray of shape (n_components,)
        Non-negative, summing to 1.
    """
    if weight_prior_type == "dirichlet_process":
        counts = np.asarray(concentration[0], dtype=np.float64) - 1.0
    else:
        counts = np.asarray(concentration, dtype=np.float64) - prior_concentration
    counts = np.maximum(counts, 0.0)
    return counts / counts.sum()


def _log_weight_normaliser(weight_prior_type: str, concentration: np.ndarray) -> float:
    if weight_prior_type == "dirichlet_process":
        a, b = concentration
        return -float(np.sum(betaln(a, b)))
    return float(gammaln(np.sum(concentration)) - np.sum(gammaln(concentration)))


def _log_wishart_normaliser(dof: np.ndarray, log_det_scale_chol: np.ndarray, n_features: int):
    """``log B(W, nu)`` per component, without its ``log pi`` term (as scikit-learn)."""
    return -(
        dof * log_det_scale_chol
        + dof * n_features * 0.5 * np.log(2.0)
        + np.sum(gammaln(0.5 * (dof - np.arange(n_features)[:, None])), axis=0)
    )


def variational_params(
    model: CovarianceModel,
    weight_prior_type: str,
    weight_concentration,
    mean_precision,
    means,
    degrees_of_freedom,
    covariances,
    precisions_cholesky,
) -> VariationalParams:
    """The :class:`VariationalParams` of a posterior given by its hyper-parameters.

    What :meth:`VariationalBayes.update` builds, and what a fitted estimator
    rebuilds from its attributes to predict or to continue (warm start).

    Parameters
    ----------
    model : CovarianceModel
    weight_prior_type : {'dirichlet_process', 'dirichlet_distribution'}
    weight_concentration : array-like of shape (n_components,) or (2, n_components)
    mean_precision : array-like of shape (n_components,)
    means : array-like of shape (n_components, n_features)
        In the data's coordinates.
    degrees_of_freedom : float or array-like of shape (n_components,)
    covariances, precisions_cholesky : array-like
        ``covariances_`` and ``precisions_cholesky_`` in the model's storage.

    Returns
    -------
    VariationalParams
    """
    concentration = np.asarray(weight_concentration, dtype=np.float64)
    mean_precision = np.asarray(mean_precision, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    n_components, n_features = means.shape
    dof = np.broadcast_to(np.asarray(degrees_of_freedom, dtype=np.float64), (n_components,)).copy()
    expected_log_det = n_features * np.log(2.0) + np.sum(
        digamma(0.5 * (dof - np.arange(n_features)[:, None])), axis=0
    )
    kernel_log_weights = expected_log_weights(weight_prior_type, concentration) + 0.5 * (
        expected_log_det - n_features * np.log(dof) - n_features / mean_precision
    )
    chol = np.asarray(precisions_cholesky, dtype=np.float64)
    if model.shared_covariance:
        # One matrix factor: the trace of P P' for every component.
        largest = np.full(n_components, np.sum(chol**2))
    elif chol.ndim == 3:
        largest = np.sum(chol**2, axis=(1, 2))
    else:
        # Diagonal or spherical: the largest precision itself.
        largest = (chol**2).reshape(n_components, -1).max(axis=1)
    return VariationalParams(
        weights=expected_weights(weight_prior_type, concentration),
        means=means,
        covariances=np.asarray(covariances, dtype=np.float64),
        precisions_cholesky=chol,
        weight_concentration=concentration,
        mean_precision=mean_precision,
        degrees_of_freedom=dof,
        kernel_log_weights=kernel_log_weights,
        largest_precision=largest,
    )


# ------------------------------------------------------------------ inference
class VariationalBayes:
    """Variational Bayes as an :class:`~gaussmix.engine.inference.Inference`.

    Parameters
    ----------
    model : CovarianceModel
        One of :data:`VARIATIONAL_MODELS`.
    centre : ndarray of shape (n_features,)
        The shift the statistics were accumulated around.
    reg_covar : float or ndarray of shape (n_features,)
        Added to the scatters as ``n_k * reg_covar`` on the diagonal, as scikit-learn.
    prior : VariationalPrior
    """

    def __init__(self, model: CovarianceModel, centre, reg_covar, prior: VariationalPrior):
        self.model = model
        self.family, self.shared = variational_family(model.name)
        self.centre = np.asarray(centre, dtype=np.float64)
        self.reg_covar = reg_covar
        self.prior = prior

    # -------------------------------------------------------------- the update
    def update(self, stats: SufficientStatistics, params=None):
        """The posterior's hyper-parameters from merged statistics.

        Parameters
        ----------
        stats : SufficientStatistics
            Accumulated around ``centre``.
        params : VariationalParams or None
            Not used: the update depends on the statistics alone.

        Returns
        -------
        params : VariationalParams
        singular : ndarray of bool
            All False: a covariance that is not positive definite raises.

        Raises
        ------
        CollapseError
            When a covariance is not positive definite (a covariance prior too
            small for the arithmetic).
        """
        prior, model = self.prior, self.model
        nk = stats.nk + COUNT_FLOOR
        n_components = nk.size
        sample_means = stats.first / nk[:, None]
        prior_mean = np.asarray(prior.mean, dtype=np.float64) - self.centre
        mean_precision = prior.mean_precision + nk
        means = (prior.mean_precision * prior_mean + nk[:, None] * sample_means) / mean_precision[
            :, None
        ]
        offsets = sample_means - prior_mean
        between_weight = nk * prior.mean_precision / mean_precision
        scatters = model.scatters(nk, sample_means, stats.second, self.reg_covar)

        if self.family == "ellipsoidal":
            if self.shared:
                between = (between_weight[:, None] * offsets).T @ offsets
                scale = prior.covariance + (scatters + between) / n_components
            else:
                between = between_weight[:, None, None] * offsets[:, :, None] * offsets[:, None, :]
                scale = prior.covariance + scatters + between
        elif self.family == "diagonal":
            per_component = scatters + between_weight[:, None] * offsets**2
            if self.shared:
                per_component = np.broadcast_to(
                    per_component.sum(axis=0) / n_components, per_component.shape
                )
            scale = prior.covariance + per_component
        else:
            per_component = scatters + between_weight * np.mean(offsets**2, axis=1)
            if self.shared:
                per_component = np.full(n_components, per_component.sum() / n_components)
            scale = prior.covariance + per_component

        if self.shared:
            dof = np.full(n_components, prior.degrees_of_freedom + nk.sum() / n_components)
        else:
            dof = prior.degrees_of_freedom + nk
        if scale.ndim == 2 and self.family == "ellipsoidal":
            covariances = scale / dof[0]
        else:
            covariances = scale / dof.reshape(-1, *([1] * (scale.ndim - 1)))
        precisions_chol, singular = model.precisions_cholesky(covariances)
        if singular.any():
            which = np.flatnonzero(singular).tolist()
            raise CollapseError(
                f"The variational covariance of component(s) {which} is not positive "
                "definite: covariance_prior is too small against the data's scale for the "
                "arithmetic. Standardise X, or pass a larger covariance_prior or reg_covar."
            )

        if prior.weight_prior_type == "dirichlet_process":
            # b_k: the prior's concentration plus the weight of every later component.
            later = np.concatenate([np.cumsum(nk[::-1])[-2::-1], [0.0]])
            concentration = np.stack([1.0 + nk, prior.weight_concentration + later])
        else:
            concentration = prior.weight_concentration + nk
        params = variational_params(
            model,
            prior.weight_prior_type,
            concentration,
            mean_precision,
            means + self.centre,
            dof,
            covariances,
            precisions_chol,
        )
        return params, np.zeros(n_components, dtype=bool)

    # -------------------------------------------------------------- the bound
    def bound(self, stats: SufficientStatistics, before, after) -> float:
        """The ELBO, as scikit-learn computes it (constants dropped), after one iteration.

        Parameters
        ----------
        stats : SufficientStatistics
            The E-step's statistics under ``before``.
        before, after : VariationalParams
            The posterior of the E-step and the updated one.

        Returns
        -------
        float
        """
        n_features = after.means.shape[1]
        entropy = stats.log_likelihood - self.expected_kernel_sum(stats, before)
        log_det = np.broadcast_to(
            self.model.log_det_cholesky(after.precisions_cholesky, n_features),
            after.degrees_of_freedom.shape,
        )
        # The factor of the Wishart scale W_k, not of nu_k W_k.
        log_det_scale = log_det - 0.5 * n_features * np.log(after.degrees_of_freedom)
        log_wishart = np.sum(
            _log_wishart_normaliser(after.degrees_of_freedom, log_det_scale, n_features)
        )
        log_weights = _log_weight_normaliser(
            self.prior.weight_prior_type, after.weight_concentration
        )
        return float(
            entropy
            - log_wishart
            - log_weights
            - 0.5 * n_features * np.sum(np.log(after.mean_precision))
        )

    def expected_kernel_sum(self, stats: SufficientStatistics, params) -> float:
        """``sum_i w_i sum_k r_ik kernel_ik(params)`` from the statistics alone.

        ``kernel_ik = c_k + log det P_k - D/2 log(2 pi) - 1/2 |P_k'(x_i - m_k)|^2``
        is what the chunk kernels computed for the E-step that gave ``stats``;
        its responsibility-weighted sum is linear in ``nk, first, second``. The
        quadratic part is taken around each component's sample mean (a scatter
        and one offset), which keeps it accurate for components far from the centre.
        """
        model = self.model
        nk = stats.nk
        floored = nk + COUNT_FLOOR
        n_features = stats.first.shape[1]
        chol = params.precisions_cholesky
        sample_means = stats.first / floored[:, None]
        means = params.means - self.centre
        scatters = model.scatters(floored, sample_means, stats.second, 0.0)
        precisions = model.precisions_from_cholesky(chol)
        trace = float(np.sum(precisions * scatters))
        if self.family == "spherical":
            trace *= n_features  # spherical scatters are traces per feature
        # sum_i r_ik |P'(x_i - m_k)|^2 = tr(Lambda_k W_k) + n_k |P'(xbar_k - m_k)|^2,
        # exactly, with the floored count's share of m_k taken back out.
        quadratic = trace + float(
            np.sum(floored * self._whitened_norms(chol, sample_means - means))
            - np.sum((floored - nk) * self._whitened_norms(chol, means))
        )
        log_det = np.broadcast_to(model.log_det_cholesky(chol, n_features), nk.shape)
        constants = params.kernel_log_weights + log_det - 0.5 * n_features * LOG_2PI
        return float(np.dot(nk, constants)) - 0.5 * quadratic

    def _whitened_norms(self, chol: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """``|P_k' v_k|^2`` per component, for the model's storage of ``P``."""
        if chol.ndim == 3:
            whitened = np.einsum("kji,kj->ki", chol, vectors)
        elif chol.ndim == 2 and self.family == "ellipsoidal":
            whitened = vectors @ chol
        elif chol.ndim == 2:
            whitened = chol * vectors
        else:
            whitened = chol[:, None] * vectors
        return np.sum(whitened**2, axis=1)

    def collapsed(self, stats, backend) -> np.ndarray:
        """None: variational Bayes lets the prior keep components the data leave empty."""
        return np.zeros(stats.nk.shape, dtype=bool)
