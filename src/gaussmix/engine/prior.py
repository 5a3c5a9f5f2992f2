"""Conjugate-prior regularisation: mclust's default prior and posterior-mode M-steps.

Fraley & Raftery (2007), "Bayesian regularization for normal mixture
estimation and model-based clustering", J. Classification 24:155-181, replace
the maximum-likelihood M-step by the posterior mode under a conjugate prior:

- means: ``mu_k | Sigma_k ~ N(mu_p, Sigma_k / kappa)`` (no mean prior when the
  shrinkage ``kappa`` is 0);
- covariances: an inverse Wishart ``IW(nu_p, Lambda_p)`` for the ellipsoidal
  models, an inverse gamma ``IG(nu_p / 2, zeta_p^2 / 2)`` on each variance for
  the diagonal models and on the single variance for the spherical ones; one
  such density per component for models whose covariances vary, one in all for
  EII, EEI, EEE (and E), whose covariance is shared.

The M-step stays each model's constrained estimator
(:meth:`~gaussmix.covariance.CovarianceModel.covariances_from_scatter`): the
posterior mode is that estimator on prior-augmented counts and scatters,

    mean_k    = (n_k xbar_k + kappa mu_p) / (n_k + kappa)
    scatter_k = W_k + n_k reg_covar I + kappa n_k / (n_k + kappa) (xbar_k - mu_p)(...)' + L
    count_k   = n_k + [kappa > 0] + c

with ``(c, L)`` the prior's exponent and scale in the model's scatter form:
``(nu_p + d + 1, Lambda_p)`` (ellipsoidal), ``(nu_p + 2, zeta_p^2 I)``
(diagonal), ``((nu_p + 2) / d, zeta_p^2 / d)`` (spherical, per-feature trace
form); for a shared covariance ``c`` and ``L`` are spread over the ``K``
components (``c / K``, ``L / K``) so they enter once. Because the estimator
minimises ``sum_k count_k log|S_k| + tr(scatter_k S_k^-1)`` exactly under the
model's constraint, this is the exact posterior mode of :func:`log_prior` plus
the complete-data log-likelihood, for every model. For EII, VII, EEI, VVI, EEE,
VVV, E and V it is Fraley & Raftery's closed form and mclust's ``ms*p``/``me*p``
Fortran (e.g. VVV: ``Sigma_k = (Lambda_p + B_k + W_k) / (nu_p + n_k + d + 2)``;
EEE: ``(Lambda_p + sum_k B_k + W) / (nu_p + n + K + d + 1)``).

Where gaussmix differs from mclust:

- VEI, EVI, EEV, VEV: mclust's Fortran (``msveip``, ``meeevp``, ``msvevp``)
  augments the scatters as above but uses ad-hoc counts (VEI: ``d n_k + nu_p +
  3``; EEV: ``n + nu_p + d + 2`` in all; VEV: no count augmentation) that are
  not the mode of one prior. gaussmix uses the per-component rule above, the
  exact mode of :func:`log_prior`, so EM with a prior never decreases the log
  posterior.
- VEE, EVE, VVE, EVV: mclust has no prior version ("model is not available
  with prior"); gaussmix applies the same rule.

``reg_covar`` enters as without a prior, as ``n_k * reg_covar`` on the diagonal
of each component's scatter, before the prior terms. Criteria (BIC, AIC, ICL)
are computed as mclust does for a prior fit: from the log-likelihood at the
posterior mode (the log prior is not added) and the model's usual parameter
count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real

import numpy as np

PRIOR_KEYS = ("shrinkage", "mean", "dof", "scale")

# mclust's defaultPrior: shrinkage 0.01 unless given.
DEFAULT_SHRINKAGE = 0.01

# Model families by covariance_type name (the registry's objects carry these names).
_SPHERICAL = frozenset({"spherical", "EII", "VII", "E", "V"})
_DIAGONAL = frozenset({"diag", "EEI", "VEI", "EVI", "VVI"})
_SHARED = frozenset({"EII", "E", "EEI", "tied", "EEE"})


@dataclass(frozen=True, eq=False)
class ConjugatePrior:
    """Hyperparameters of the conjugate prior, as mclust's ``priorControl`` gives them.

    Parameters
    ----------
    shrinkage : float
        ``kappa_p >= 0``: the prior on each mean is ``N(mean, Sigma_k / shrinkage)``;
        0 puts no prior on the means.
    mean : ndarray of shape (n_features,)
        ``mu_p``, in the data's coordinates.
    dof : float
        ``nu_p > 0``, the degrees of freedom of the inverse Wishart (ellipsoidal
        models) or inverse gamma (diagonal, spherical models).
    scale : float or ndarray
        ``Lambda_p``: a symmetric positive-definite ``(n_features, n_features)``
        matrix for the ellipsoidal models, a positive scalar ``zeta_p^2`` (or one
        per feature, shape ``(n_features,)``) for the diagonal and spherical
        ones. A prior of one form serves the others: a matrix gives a diagonal
        model its diagonal and a spherical model its mean diagonal entry; a
        scalar or vector gives an ellipsoidal model ``scale * I`` or ``diag(scale)``.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix.engine.prior import ConjugatePrior
    >>> prior = ConjugatePrior(shrinkage=0.01, mean=np.zeros(2), dof=4.0, scale=np.eye(2))
    >>> prior.dof
    4.0
    """

    shrinkage: float
    mean: np.ndarray
    dof: float
    scale: float | np.ndarray

    def as_dict(self) -> dict:
        """The four hyperparameters as a dict (arrays as lists), e.g. for JSON.

        Returns
        -------
        dict
        """
        scale = np.asarray(self.scale, dtype=np.float64)
        return {
            "shrinkage": float(self.shrinkage),
            "mean": np.asarray(self.mean, dtype=np.float64).tolist(),
            "dof": float(self.dof),
            "scale": float(scale) if scale.ndim == 0 else scale.tolist(),
        }


# ------------------------------------------------------------------ default prior
def _weighted_mean_variance(X: np.ndarray, sample_weight):
    """Column means and covariance with R's ``n - 1`` denominator (frequency weights)."""
    X = np.asarray(X, dtype=np.float64)
    if sample_weight is None:
        weights = np.ones(X.shape[0])
    else:
        weights = np.asarray(sample_weight, dtype=np.float64)
        weights = weights * (X.shape[0] / weights.sum())
    total = weights.sum()
    mean = weights @ X / total
    centred = X - mean
    covariance = (centred * weights[:, None]).T @ centred / max(total - 1.0, 1.0)
    return mean, covariance


def default_prior(
    X, n_components: int, covariance_type: str, sample_weight=None, **overrides
) -> ConjugatePrior:
    """mclust's ``defaultPrior(data, G, modelName, ...)``.

    As in mclust's R source (``defaultPrior`` in ``R/mclust.R``):

    - ``shrinkage = 0.01``; ``mean`` = the column means;
    - E, V (one feature): ``dof = 3``, ``scale = var(X) / G^2``;
    - spherical and diagonal models: ``dof = d + 2``,
      ``scale = (1/G)^(2/d) * sum_j var(X_j) / d`` (a scalar);
    - ellipsoidal models: ``dof = d + 2``, ``scale = (1/G)^(2/d) * cov(X)`` when
      ``n > d``, else ``(1/G)^(2/d) * diag(var(X_j))``;

    variances with R's ``n - 1`` denominator. Any of the four hyperparameters
    given in ``overrides`` replaces its default (mclust's ``priorControl(...)``).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int
    covariance_type : str
        A name of ``gaussmix.covariance.COVARIANCE_MODELS``.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows for the mean and variances (mclust has none).
    **overrides
        ``shrinkage``, ``mean``, ``dof`` or ``scale``.

    Returns
    -------
    ConjugatePrior

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix.engine.prior import default_prior
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    >>> prior = default_prior(X, n_components=2, covariance_type="VVV")
    >>> prior.dof, prior.scale.diagonal()
    (4.0, array([0.66666667, 0.66666667]))
    """
    unknown = sorted(set(overrides) - set(PRIOR_KEYS))
    if unknown:
        raise ValueError(
            f"Unknown prior key(s) {', '.join(map(repr, unknown))}: a prior dict takes "
            f"{', '.join(map(repr, PRIOR_KEYS))}."
        )
    X = np.asarray(X, dtype=np.float64)
    n_samples, n_features = X.shape
    mean, covariance = _weighted_mean_variance(X, sample_weight)
    variances = np.diagonal(covariance).copy()
    if covariance_type in ("E", "V"):
        dof = 3.0
        scale = float(variances.sum()) / n_components**2
    else:
        dof = n_features + 2.0
        factor = (1.0 / n_components) ** (2.0 / n_features)
        if covariance_type in _SPHERICAL or covariance_type in _DIAGONAL:
            scale = factor * float(variances.sum()) / n_features
        elif n_samples > n_features:
            scale = factor * covariance
        else:
            scale = factor * np.diag(variances)
    values = {"shrinkage": DEFAULT_SHRINKAGE, "mean": mean, "dof": dof, "scale": scale}
    values.update(overrides)
    return check_prior(ConjugatePrior(**values), n_features)


# ------------------------------------------------------------------ validation
def check_prior(prior: ConjugatePrior, n_features: int) -> ConjugatePrior:
    """Validate a prior's hyperparameters against ``n_features``; return them in float64.

    Parameters
    ----------
    prior : ConjugatePrior
    n_features : int

    Returns
    -------
    ConjugatePrior

    Raises
    ------
    ValueError
        Naming the hyperparameter that is out of range or of the wrong shape.
    """
    shrinkage = _finite_scalar(prior.shrinkage, "shrinkage")
    if shrinkage < 0.0:
        raise ValueError(
            f"prior 'shrinkage' must be >= 0 (0 puts no prior on the means), got {shrinkage:g}."
        )
    dof = _finite_scalar(prior.dof, "dof")
    if dof <= 0.0:
        raise ValueError(f"prior 'dof' must be > 0, got {dof:g}.")
    mean = _finite_array(prior.mean, "mean")
    if mean.shape != (n_features,):
        raise ValueError(
            f"prior 'mean' must have shape ({n_features},), one entry per feature, "
            f"got {mean.shape}."
        )
    scale = _finite_array(prior.scale, "scale")
    if scale.ndim == 0 or scale.shape == (n_features,):
        if np.any(scale <= 0.0):
            raise ValueError("prior 'scale' must be positive (a variance or one per feature).")
    elif scale.shape == (n_features, n_features):
        if not np.allclose(scale, scale.T) or np.linalg.eigvalsh(scale)[0] <= 0.0:
            raise ValueError("prior 'scale' matrix must be symmetric positive definite.")
        scale = 0.5 * (scale + scale.T)
    else:
        raise ValueError(
            f"prior 'scale' must be a positive number, one per feature ({n_features},) or a "
            f"({n_features}, {n_features}) matrix, got shape {scale.shape}."
        )
    return ConjugatePrior(
        shrinkage=shrinkage, mean=mean, dof=dof, scale=float(scale) if scale.ndim == 0 else scale
    )


def _finite_scalar(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.number)):
        raise ValueError(f"prior '{name}' must be a number, got {value!r}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"prior '{name}' must be finite, got {value!r}.")
    return value


def _finite_array(value, name: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"prior '{name}' must be numbers, got {value!r}.") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"prior '{name}' contains NaN or infinity.")
    return array


def resolve_prior(prior, X, n_components: int, covariance_type: str, sample_weight=None):
    """The estimator's ``prior`` parameter as a validated :class:`ConjugatePrior` (or None).

    Parameters
    ----------
    prior : None, 'default', dict or ConjugatePrior
        None: plain EM. 'default': :func:`default_prior`. A dict with some of
        the keys ``shrinkage``, ``mean``, ``dof``, ``scale``: those replace the
        defaults (mclust's ``priorControl``). A ConjugatePrior: used as given.
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    covariance_type : str
    sample_weight : ndarray of shape (n_samples,), default=None

    Returns
    -------
    ConjugatePrior or None
    """
    if prior is None:
        return None
    if isinstance(prior, ConjugatePrior):
        return check_prior(prior, np.shape(X)[1])
    if isinstance(prior, str) and prior == "default":
        return default_prior(X, n_components, covariance_type, sample_weight)
    if isinstance(prior, Mapping):
        return default_prior(X, n_components, covariance_type, sample_weight, **dict(prior))
    raise TypeError(
        f"prior must be None, 'default', a dict with keys among {', '.join(PRIOR_KEYS)}, "
        f"or a gaussmix.engine.prior.ConjugatePrior; got {prior!r}."
    )


# ------------------------------------------------------------------ posterior mode
def _family(name: str) -> str:
    if name in _SPHERICAL:
        return "spherical"
    if name in _DIAGONAL:
        return "diagonal"
    return "ellipsoidal"


def prior_terms(prior: ConjugatePrior, covariance_type: str, n_features: int):
    """The covariance prior's exponent ``c`` and scale ``L`` in the model's scatter form.

    Returns
    -------
    exponent : float
        The log-prior is ``-c/2 log|Sigma_k| - tr(Sigma_k^-1 L_full) / 2`` per
        covariance block (see :func:`log_prior`).
    scale : float or ndarray
        ``L`` as the model's scatters hold it: a matrix (ellipsoidal), a vector
        of diagonal entries (diagonal) or ``zeta^2 / d`` (spherical, a scalar).
    """
    family = _family(covariance_type)
    scale = np.asarray(prior.scale, dtype=np.float64)
    if family == "ellipsoidal":
        if scale.ndim < 2:
            scale = np.diag(np.broadcast_to(scale, (n_features,)).astype(np.float64))
        return prior.dof + n_features + 1.0, scale
    if scale.ndim == 2:
        scale = np.diagonal(scale).copy()
    if family == "diagonal":
        return prior.dof + 2.0, np.broadcast_to(scale, (n_features,)).astype(np.float64)
    zeta_sq = float(scale.mean())
    return (prior.dof + 2.0) / n_features, zeta_sq / n_features


def posterior_mode(model, nk, first, second, prior: ConjugatePrior, centre, reg_covar):
    """Posterior-mode means (relative to ``centre``) and covariances from merged statistics.

    Parameters
    ----------
    model : CovarianceModel
    nk, first, second : ndarray
        Merged statistics, accumulated around ``centre`` (``nk`` already floored).
    prior : ConjugatePrior
        Validated hyperparameters, ``mean`` in the data's coordinates.
    centre : ndarray of shape (n_features,)
    reg_covar : float

    Returns
    -------
    means : ndarray of shape (n_components, n_features)
        Relative to ``centre``.
    covariances : ndarray
        In the model's storage.
    """
    n_components, n_features = first.shape
    sample_means = first / nk[:, None]
    scatters = model.scatters(nk, sample_means, second, reg_covar)
    kappa = prior.shrinkage
    prior_mean = np.asarray(prior.mean, dtype=np.float64) - centre
    offsets = sample_means - prior_mean
    between_weight = kappa * nk / (kappa + nk)
    means = (nk[:, None] * sample_means + kappa * prior_mean) / (nk + kappa)[:, None]

    family = _family(model.name)
    shared = model.name in _SHARED
    exponent, scale = prior_terms(prior, model.name, n_features)
    if family == "ellipsoidal":
        between = between_weight[:, None, None] * offsets[:, :, None] * offsets[:, None, :]
        if scatters.ndim == 2:  # one pooled scatter: the prior's scale enters once
            scatters = scatters + between.sum(axis=0) + scale
        else:
            scatters = scatters + between + (scale / n_components if shared else scale)
    elif family == "diagonal":
        between = between_weight[:, None] * offsets**2
        scatters = scatters + between + (scale / n_components if shared else scale)
    else:
        between = between_weight * np.sum(offsets**2, axis=1) / n_features
        scatters = scatters + between + (scale / n_components if shared else scale)
    mean_count = 1.0 if kappa > 0.0 else 0.0
    counts = nk + mean_count + (exponent / n_components if shared else exponent)
    return means, model.covariances_from_scatter(counts, scatters)


def log_prior(prior: ConjugatePrior, covariance_type: str, means, covariances) -> float:
    """Log-density of the prior at mixture parameters, up to an additive constant.

    ``sum_k [-1/2 log|Sigma_k| - kappa/2 (mu_k - mu_p)' Sigma_k^-1 (mu_k - mu_p)]``
    (when ``kappa > 0``) plus ``-c/2 log|Sigma| - tr(Sigma^-1 L) / 2`` once for a
    shared covariance (EII, EEI, EEE, E) or per component otherwise, with ``c``
    and ``L`` as in :func:`prior_terms` (``L`` as a full matrix). For VVV and EEE
    this is the normal-inverse-Wishart density, for VVI and EEI the product of
    normal-inverse-gamma densities, for VII and EII the normal-inverse-gamma on the
    variance. EM with the posterior-mode M-step never decreases
    ``log-likelihood + log_prior``.

    Parameters
    ----------
    prior : ConjugatePrior
    covariance_type : str
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray
        In the model's storage (``covariances_``).

    Returns
    -------
    float
    """
    from .criteria import component_covariance_matrices

    means = np.asarray(means, dtype=np.float64)
    n_components, n_features = means.shape
    matrices = component_covariance_matrices(covariances, covariance_type, n_components, n_features)
    _, log_dets = np.linalg.slogdet(matrices)
    precisions = np.linalg.inv(matrices)
    exponent, scale = prior_terms(prior, covariance_type, n_features)
    scale = np.asarray(scale, dtype=np.float64)
    scale_matrix = scale if scale.ndim == 2 else np.diag(np.broadcast_to(scale, (n_features,)))
    covariance_terms = -0.5 * exponent * log_dets - 0.5 * np.einsum(
        "kij,ji->k", precisions, scale_matrix
    )
    total = covariance_terms[0] if covariance_type in _SHARED else covariance_terms.sum()
    if prior.shrinkage > 0.0:
        offsets = means - np.asarray(prior.mean, dtype=np.float64)
        quadratic = np.einsum("ki,kij,kj->k", offsets, precisions, offsets)
        total += np.sum(-0.5 * log_dets - 0.5 * prior.shrinkage * quadratic)
    return float(total)
