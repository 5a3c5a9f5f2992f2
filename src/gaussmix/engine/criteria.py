"""Information criteria and the detection of spurious maxima, as pure functions.

Criteria come in two sign conventions:

``"scikit-learn"`` (default)
    ``-2 log L + penalty``: lower is better. ``bic = -2 log L + p log n``,
    ``aic = -2 log L + 2 p``.
``"mclust"``
    R mclust's ``2 log L - p log n``: higher is better; the negative of the
    scikit-learn value.

ICL (Biernacki, Celeux & Govaert 2000, as mclust computes it) is BIC penalised
by the entropy of the hard (MAP) classification: in mclust's sign
``BIC + 2 sum_i sum_k c_ik log z_ik`` with ``c_ik = 1`` for the most probable
component of row ``i``; in scikit-learn's sign its negative.
"""

from __future__ import annotations

import math

import numpy as np

CONVENTIONS = ("scikit-learn", "mclust")


def _signed(value: float, convention: str) -> float:
    if convention == "scikit-learn":
        return float(value)
    if convention == "mclust":
        return -float(value)
    raise ValueError(
        f"Unknown criterion convention {convention!r}; use 'scikit-learn' (lower is "
        "better) or 'mclust' (higher is better)."
    )


def bic(log_likelihood: float, n_parameters: int, n_samples: float, convention="scikit-learn"):
    """Bayesian information criterion.

    Parameters
    ----------
    log_likelihood : float
        Total (not mean) log-likelihood of the data.
    n_parameters : int
        Free parameters of the model.
    n_samples : float
        Number of samples (the total weight for weighted data).
    convention : {'scikit-learn', 'mclust'}, default='scikit-learn'

    Returns
    -------
    float
    """
    return _signed(-2.0 * log_likelihood + n_parameters * math.log(n_samples), convention)


def aic(log_likelihood: float, n_parameters: int, convention="scikit-learn"):
    """Akaike information criterion (see :func:`bic` for the arguments)."""
    return _signed(-2.0 * log_likelihood + 2.0 * n_parameters, convention)


def classification_entropy(log_resp: np.ndarray) -> float:
    """``-sum_i log z_i,map(i)``: minus the log-probability of every row's MAP component.

    Parameters
    ----------
    log_resp : ndarray of shape (n_samples, n_components)
        Log-responsibilities.

    Returns
    -------
    float
        Non-negative; zero when every row is classified with certainty.
    """
    return float(-np.sum(np.max(log_resp, axis=1), dtype=np.float64))


def icl(
    log_likelihood: float,
    n_parameters: int,
    n_samples: float,
    log_resp: np.ndarray,
    convention="scikit-learn",
):
    """Integrated completed likelihood: BIC plus twice the classification entropy.

    Parameters
    ----------
    log_likelihood, n_parameters, n_samples : as in :func:`bic`
    log_resp : ndarray of shape (n_samples, n_components)
        Log-responsibilities of the same data.
    convention : {'scikit-learn', 'mclust'}, default='scikit-learn'

    Returns
    -------
    float
    """
    value = bic(log_likelihood, n_parameters, n_samples) + 2.0 * classification_entropy(log_resp)
    return _signed(value, convention)


def component_covariance_matrices(
    covariances: np.ndarray, covariance_type: str | None, n_components: int, n_features: int
):
    """Every component's full covariance matrix, from any model's storage.

    Parameters
    ----------
    covariances : ndarray
        A fitted ``covariances_``: ``(K, D, D)`` (one full matrix each),
        ``(D, D)`` (one shared matrix), ``(K, D)`` (diagonals) or ``(K,)`` (one
        variance each).
    covariance_type : str or None
        The model's name, which decides between ``(K, D)`` and ``(D, D)`` when
        ``K == D``. None reads the storage from the shape alone (for mixtures
        of a type gaussmix does not register) and refuses that ambiguous case.
    n_components, n_features : int

    Returns
    -------
    ndarray of shape (n_components, n_features, n_features)
    """
    covariances = np.asarray(covariances, dtype=np.float64)
    K, D = n_components, n_features
    if covariance_type is not None:
        from ..covariance import get_covariance_model

        model = get_covariance_model(covariance_type)
        shape = tuple(model.covariance_shape(K, D))
        if covariances.shape != shape:
            raise ValueError(
                f"covariances of shape {covariances.shape} do not fit a {covariance_type!r} "
                f"model of {K} components and {D} features ({shape})."
            )
        # Storage independent of the number of components: one shared matrix.
        shared = shape == tuple(model.covariance_shape(K + 1, D))
    else:
        shape = covariances.shape
        if shape not in {(K, D, D), (D, D), (K, D), (K,)}:
            raise ValueError(
                f"covariances_ has shape {shape}, which fits none of the storage shapes for "
                f"{K} components and {D} features: ({K}, {D}, {D}), ({D}, {D}), ({K}, {D}) "
                f"or ({K},)."
            )
        if shape == (D, D) == (K, D) and D > 1:
            raise ValueError(
                f"covariances_ of shape {shape} is ambiguous with {K} components and {D} "
                "features: it may be one shared matrix or one diagonal per component. Give "
                "the model a covariance_type registered in gaussmix.covariance."
                "COVARIANCE_MODELS, or store full (K, D, D) covariances."
            )
        shared = shape == (D, D) and shape != (K, D)
    if shared:
        return np.broadcast_to(covariances, (K, D, D)).copy()
    if covariances.ndim == 3:
        return covariances.copy()
    if covariances.ndim == 2:
        return covariances[:, :, None] * np.eye(D)
    return covariances[:, None, None] * np.eye(D)


def degeneracy(
    covariances: np.ndarray,
    counts: np.ndarray,
    data_covariance: np.ndarray,
    reg_covar: float | np.ndarray,
):
    """How close each component is to a degenerate (spurious) fit.

    A spurious maximum shrinks a component's variance in some direction to the
    regularisation floor (typically around repeated values of discretised
    data), or gives a component too few points for its parameters; its
    likelihood then grows without meaning.

    Parameters
    ----------
    covariances : ndarray of shape (n_components, n_features, n_features)
        Fitted covariances, ``reg_covar`` included.
    counts : ndarray of shape (n_components,)
        Effective number of points of each component (sum of responsibilities
        times sample weights).
    data_covariance : ndarray of shape (n_features, n_features)
        Covariance of the whole data set: the scale variances are measured against.
    reg_covar : float or ndarray of shape (n_features,)
        The regularisation that was added to the diagonal of every covariance
        (one value, or one per feature).

    Returns
    -------
    variance_ratio : ndarray of shape (n_components,)
        Smallest ratio, over directions ``v``, of the component's own variance
        ``v' (Sigma_k - diag(reg_covar)) v`` to the data's ``v' Sigma v``: 0 when a
        component is flat in some direction, about 1 for a component as wide as
        the data.
    counts : ndarray of shape (n_components,)
        The effective counts, as given.
    """
    n_features = data_covariance.shape[0]
    floor = np.diag(np.broadcast_to(np.asarray(reg_covar, dtype=np.float64), (n_features,)))
    # Regularise the reference so that constant features do not make it singular.
    least = 1e-12 * np.trace(data_covariance) * np.eye(n_features)
    scale = data_covariance + np.maximum(floor, least)
    lower = np.linalg.cholesky(scale)
    inverse_lower = np.linalg.inv(lower)
    ratios = np.empty(covariances.shape[0])
    for k, covariance in enumerate(covariances):
        own = covariance - floor
        relative = inverse_lower @ own @ inverse_lower.T
        ratios[k] = np.linalg.eigvalsh(0.5 * (relative + relative.T))[0]
    return np.maximum(ratios, 0.0), np.asarray(counts, dtype=np.float64)
