"""``BayesianGaussianMixture``: a drop-in for ``sklearn.mixture.BayesianGaussianMixture``."""

from __future__ import annotations

import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..backends import float_dtype
from ..covariance import COVARIANCE_MODELS, get_covariance_model
from ..covariance._base import _cholesky_succeeds, as_float_array
from ..engine.collapse import pooled_covariance
from ..engine.em import run_em
from ..engine.params import EMResult
from ..engine.passes import initial_statistics, label_rows, score_rows
from ..engine.variational import (
    EFFECTIVE_WEIGHT,
    WEIGHT_PRIOR_TYPES,
    VariationalBayes,
    VariationalPrior,
    data_shares,
    variational_family,
    variational_params,
)
from ..starts import initial_assignment, sampled_assignment
from ._validation import check_reg_covar, check_sample_weight, validated_X
from .gaussian_mixture import GaussianMixture, _backend, _streamed, _verbose_logging, logger


class BayesianGaussianMixture(DensityMixin, ClusterMixin, BaseEstimator):
    """Variational Bayesian estimation of a Gaussian mixture.

    The same parameters, attributes and methods as
    :class:`sklearn.mixture.BayesianGaussianMixture`, giving the same numbers from
    the same start, on gaussmix's engine: one fused, chunked pass over the data per
    iteration, whose E-step is :class:`GaussianMixture`'s kernel with the
    variational expectations as its per-component constants (see
    :mod:`gaussmix.engine.variational`). The prior on the weights (a Dirichlet
    distribution, or a Dirichlet process by stick-breaking) lets the fit switch off
    the components the data do not need: fit with more ``n_components`` than you
    expect and read ``effective_n_components_``.

    Beyond scikit-learn: ``sample_weight`` in ``fit``, ``fit_predict`` and
    ``score`` (frequency weights); float32 input fitted in float32 (with float64
    kernels where float32 cannot resolve the components, as
    :class:`GaussianMixture`); ``init_params='hc'``; mclust's names for the models
    whose variational posterior has a closed form; ``effective_n_components_``;
    :meth:`to_gaussian_mixture`; :meth:`save` and :func:`gaussmix.load`.

    Parameters
    ----------
    n_components : int, default=1
        The largest number of components; the fit may leave some with (almost) no weight.
    covariance_type : str, default='full'
        scikit-learn's 'full', 'tied', 'diag', 'spherical', or the mclust models
        whose conjugate posterior has a closed form: 'VVV' (= 'full'), 'EEE'
        (= 'tied'), 'VVI' (= 'diag'), 'VII' (= 'spherical'), 'EEI' (one diagonal
        covariance for all components), 'EII' (one variance for all), and, for one
        feature, 'V' and 'E'. The other mclust models are refused.
    tol : float, default=1e-3
        The fit stops when the lower bound (the ELBO) changes by less than ``tol``.
    reg_covar : float or array-like of shape (n_features,), default=1e-6
        Added to the diagonal of every component's sample covariance.
    max_iter : int, default=100
    n_init : int, default=1
        Number of starts; the one with the highest final lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hc'}, default='kmeans'
        How the initial responsibilities are drawn (see :class:`GaussianMixture`).
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, \
default='dirichlet_process'
        The prior on the weights: a Dirichlet process (stick-breaking, truncated
        at ``n_components``) or a Dirichlet distribution.
    weight_concentration_prior : float > 0, default=None
        The concentration ``alpha_0``: small values put the weight on few
        components. None: ``1 / n_components``.
    mean_precision_prior : float > 0, default=None
        ``beta_0``: how far the means may move from ``mean_prior``. None: 1.
    mean_prior : array-like of shape (n_features,), default=None
        ``m_0``. None: the (weighted) mean of ``X``.
    degrees_of_freedom_prior : float > n_features - 1, default=None
        ``nu_0`` of the Wishart prior on the precisions. None: ``n_features``.
    covariance_prior : float or array-like, default=None
        ``Psi_0``, the prior on the covariances: a ``(n_features, n_features)``
        symmetric positive-definite matrix ('full', 'tied', 'VVV', 'EEE'), one
        positive variance per feature ('diag', 'VVI', 'EEI') or one positive number
        ('spherical', 'VII', 'EII', 'V', 'E'). None: the (weighted) covariance of
        ``X`` with the ``n - 1`` denominator, in that form.
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
        Continue from the last fit's posterior (``n_init`` is then ignored).
    verbose : int, default=0
    verbose_interval : int, default=10

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Expected weights under the posterior.
    weight_concentration_ : ndarray of shape (n_components,) or tuple of two
        The Dirichlet's parameters, or the stick-breaking Betas' ``(a_k, b_k)``.
    mean_precision_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    degrees_of_freedom_ : ndarray of shape (n_components,) or float ('tied', 'EEE')
    covariances_ : ndarray
        ``(nu_k W_k)^-1``, the inverse of the expected precision, stored as for
        :class:`GaussianMixture`.
    precisions_ : ndarray
    precisions_cholesky_ : ndarray
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        The ELBO (scikit-learn's, constants dropped) of the best start.
    lower_bounds_ : list of float
    labels_ : ndarray of shape (n_samples,)
        Most probable component of each training sample (absent when ``X`` was
        read block by block).
    weight_concentration_prior_, mean_precision_prior_, mean_prior_, \
degrees_of_freedom_prior_, covariance_prior_
        The priors the fit used.
    effective_n_components_ : int
        Components that explain more than
        ``gaussmix.engine.variational.EFFECTIVE_WEIGHT`` (1%) of the
        training weight: ``n_k / n``, with ``n_k`` the expected number of samples of
        component k, read from ``weight_concentration_``. (``weights_`` also holds
        the prior's pseudo-counts: under the Dirichlet process an unused component
        keeps a weight near ``1 / n``.)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    ``sample_weight`` are frequency weights: a weight of 2 counts a row twice. The
    posterior depends on their scale (unlike a :class:`GaussianMixture` fit): weights
    that sum to 1 make the data worth one sample against the prior.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import BayesianGaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [4, 2], [12, 4], [10, 7]])
    >>> bgm = BayesianGaussianMixture(n_components=2, random_state=42).fit(X)
    >>> bgm.means_.round(2)
    array([[2.5 , 2.29],
           [8.46, 4.52]])
    >>> bgm.predict([[0, 0], [9, 3]])
    array([0, 1])
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        # Every registry name, so that the mclust models without a closed form are
        # refused by variational_family with the reason, not as unknown names.
        "covariance_type": [StrOptions(COVARIANCE_MODELS.keys())],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left"), "array-like"],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "random", "random_from_data", "k-means++", "hc"})],
        "weight_concentration_prior_type": [StrOptions(set(WEIGHT_PRIOR_TYPES))],
        "weight_concentration_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "mean_precision_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "mean_prior": [None, "array-like"],
        "degrees_of_freedom_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "covariance_prior": [None, "array-like", Interval(Real, 0.0, None, closed="neither")],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_weight=None):
        """Estimate the variational posterior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative frequency weights (see Notes).

        Returns
        -------
        self : BayesianGaussianMixture
        """
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most probable component of each training sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        self._fit(X, sample_weight)
        if not hasattr(self, "labels_"):
            return self.predict(X)
        return self.labels_

    def _fit(self, X, sample_weight):
        self._validate_params()
        X = validated_X(self, X, fit=True)
        n_samples, n_features = X.shape
        if n_samples < self.n_components:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {n_samples}: pass more samples or "
                "fewer components."
            )
        # The mclust models without a closed-form posterior are refused here, with the reason.
        variational_family(self.covariance_type)
        model = get_covariance_model(self.covariance_type)
        model.check_n_features(n_features)
        dtype = float_dtype(X.dtype)
        # Frequency weights, kept at their scale: the posterior counts them.
        sample_weight = check_sample_weight(sample_weight, n_samples, dtype)
        if sample_weight is not None and np.count_nonzero(sample_weight) < self.n_components:
            raise ValueError(
                f"Only {np.count_nonzero(sample_weight)} samples have a positive weight, "
                f"fewer than n_components = {self.n_components}."
            )
        reg_covar = check_reg_covar(self.reg_covar, n_features)
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        random_state = check_random_state(self.random_state)
        streamed = _streamed(X)
        backend = _backend(X, sample_weight, model, self.n_components)
        best = None
        with _verbose_logging(self.verbose), backend:
            centre = backend.centre()
            prior = self._checked_prior(backend, centre, n_features)
            inference = VariationalBayes(model, centre, reg_covar, prior)
            for init in range(n_init):
                started = time.perf_counter()
                if self.verbose:
                    logger.info("Initialization %d", init)
                if do_init:
                    params = self._start(
                        X, sample_weight, backend, model, centre, inference, random_state
                    )
                    lower_bound = -np.inf
                else:
                    params = self._posterior()
                    lower_bound = self.lower_bound_
                if self.max_iter == 0:
                    # As scikit-learn: no E-step, so no bound; the last start is kept.
                    result = EMResult(params=params, lower_bound=-np.inf)
                else:
                    result = run_em(
                        backend,
                        model,
                        params,
                        centre=centre,
                        tol=self.tol,
                        max_iter=self.max_iter,
                        reg_covar=reg_covar,
                        lower_bound=lower_bound,
                        on_iteration=self._progress_reporter(),
                        inference=inference,
                    )
                    self._log_end(result, started)
                if best is None or result.lower_bound > best.lower_bound or self.max_iter == 0:
                    best = result
            labels = None if streamed else label_rows(backend, model, best.params, centre)

        if not best.converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=3,
            )
        self._store(best, prior, dtype)
        if labels is None:
            self.__dict__.pop("labels_", None)
        else:
            self.labels_ = labels

    def _start(self, X, sample_weight, backend, model, centre, inference, random_state):
        """The first posterior: the update from ``init_params``'s responsibilities.

        A method of its own so that the start's per-row labels are freed before EM.
        """
        if _streamed(X):
            assignment = sampled_assignment(
                backend, centre, self.n_components, self.init_params, random_state, sample_weight
            )
        else:
            assignment = initial_assignment(
                X, self.n_components, self.init_params, random_state, sample_weight
            )
        stats = initial_statistics(backend, model, assignment, centre, self.n_components)
        params, _ = inference.update(stats)
        return params

    def _checked_prior(self, backend, centre, n_features) -> VariationalPrior:
        """The priors, each validated with a message naming its parameter, or its default."""
        family, _ = variational_family(self.covariance_type)
        if self.mean_prior is None:
            mean = np.asarray(centre, dtype=np.float64)
        else:
            mean = as_float_array(self.mean_prior, "mean_prior")
            if mean.shape != (n_features,):
                raise ValueError(
                    f"The parameter 'mean_prior' should have the shape of ({n_features},), "
                    f"one entry per feature, but got {mean.shape}."
                )
        if self.degrees_of_freedom_prior is None:
            dof = n_features
        elif self.degrees_of_freedom_prior > n_features - 1.0:
            dof = self.degrees_of_freedom_prior
        else:
            raise ValueError(
                "The parameter 'degrees_of_freedom_prior' should be greater than "
                f"{n_features - 1}, but got {self.degrees_of_freedom_prior:.3f}."
            )
        if self.covariance_prior is None:
            covariance = _default_covariance_prior(backend, centre, family)
        else:
            covariance = _checked_covariance_prior(
                self.covariance_prior, family, self.covariance_type, n_features
            )
        return VariationalPrior(
            weight_prior_type=self.weight_concentration_prior_type,
            weight_concentration=(
                1.0 / self.n_components
                if self.weight_concentration_prior is None
                else self.weight_concentration_prior
            ),
            mean_precision=1.0 if self.mean_precision_prior is None else self.mean_precision_prior,
            mean=mean,
            degrees_of_freedom=dof,
            covariance=covariance,
        )

    def _progress_reporter(self):
        if self.verbose < 1:
            return None
        state = {"last": time.perf_counter()}

        def report(n_iter, lower_bound, change):
            if n_iter % self.verbose_interval:
                return
            if self.verbose == 1:
                logger.info("  Iteration %d", n_iter)
            else:
                now = time.perf_counter()
                logger.info(
                    "  Iteration %d\t time lapse %.5fs\t ll change %.5f",
                    n_iter,
                    now - state["last"],
                    change,
                )
                state["last"] = now

        return report

    def _log_end(self, result, started):
        status = "converged" if result.converged else "did not converge"
        if self.verbose == 1:
            logger.info("Initialization %s.", status)
        elif self.verbose >= 2:
            logger.info(
                "Initialization %s. time lapse %.5fs\t lower bound %.5f.",
                status,
                time.perf_counter() - started,
                result.lower_bound,
            )

    def _store(self, result: EMResult, prior: VariationalPrior, dtype):
        params = result.params
        if self.weight_concentration_prior_type == "dirichlet_process":
            a, b = params.weight_concentration
            self.weight_concentration_ = (a.astype(dtype), b.astype(dtype))
        else:
            self.weight_concentration_ = params.weight_concentration.astype(dtype)
        self.mean_precision_ = params.mean_precision.astype(dtype)
        self.means_ = params.means.astype(dtype)
        if self._shared_matrix():
            # One shared matrix, one degrees of freedom: a number, as scikit-learn's 'tied'.
            self.degrees_of_freedom_ = np.dtype(dtype).type(params.degrees_of_freedom[0])
        else:
            self.degrees_of_freedom_ = params.degrees_of_freedom.astype(dtype)
        model = get_covariance_model(self.covariance_type)
        self.covariances_ = params.covariances.astype(dtype)
        self.precisions_cholesky_ = params.precisions_cholesky.astype(dtype)
        self.precisions_ = model.precisions_from_cholesky(params.precisions_cholesky).astype(dtype)
        self.weights_ = params.weights.astype(dtype)
        self.converged_ = bool(result.converged)
        self.n_iter_ = int(result.n_iter)
        self.lower_bound_ = float(result.lower_bound)
        self.lower_bounds_ = [float(value) for value in result.lower_bounds]
        self.weight_concentration_prior_ = prior.weight_concentration
        self.mean_precision_prior_ = prior.mean_precision
        self.mean_prior_ = np.asarray(prior.mean).astype(dtype)
        self.degrees_of_freedom_prior_ = prior.degrees_of_freedom
        covariance = np.asarray(prior.covariance, dtype=np.float64)
        self.covariance_prior_ = float(covariance) if covariance.ndim == 0 else covariance

    def _shared_matrix(self) -> bool:
        """Whether the covariances are one shared matrix ('tied', 'EEE')."""
        return variational_family(self.covariance_type) == ("ellipsoidal", True)

    def _posterior(self):
        """The fitted posterior as the engine's :class:`VariationalParams`."""
        concentration = self.weight_concentration_
        if self.weight_concentration_prior_type == "dirichlet_process":
            concentration = np.stack([np.asarray(part) for part in concentration])
        return variational_params(
            get_covariance_model(self.covariance_type),
            self.weight_concentration_prior_type,
            concentration,
            self.mean_precision_,
            self.means_,
            self.degrees_of_freedom_,
            self.covariances_,
            self.precisions_cholesky_,
        )

    # --------------------------------------------------------------- inference
    def _checked_X(self, X):
        check_is_fitted(self)
        return validated_X(self, X, fit=False)

    def _inference_pass(self, X, pass_fn, **kwargs):
        params = self._posterior()
        model = get_covariance_model(self.covariance_type)
        # Shift rows by the mixture's mean so far-from-origin data keep their digits.
        centre = params.weights @ params.means
        with _backend(X, None, model, self.n_components) as backend:
            return pass_fn(backend, model, params, centre, **kwargs)

    def score_samples(self, X):
        """Log of the variational E-step's normaliser per sample (scikit-learn's score_samples).

        ``logsumexp_k (E[log pi_k] + E[log N(x | mu_k, Lambda_k^-1)])``: the
        expectations of the log-weights and log-densities under the posterior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
        """
        return self._inference_pass(self._checked_X(X), score_rows)

    def score(self, X, y=None, sample_weight=None):
        """Weighted mean of :meth:`score_samples` over ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        X = self._checked_X(X)
        log_prob = self._inference_pass(X, score_rows)
        weights = check_sample_weight(sample_weight, X.shape[0], np.float64)
        return float(np.average(log_prob, weights=weights))

    def predict(self, X):
        """Most probable component of each sample under the variational E-step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self._inference_pass(self._checked_X(X), label_rows)

    def predict_proba(self, X):
        """Responsibilities of the components for each sample (the variational E-step).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
        """
        _, log_resp = self._inference_pass(self._checked_X(X), score_rows, with_resp=True)
        return np.exp(log_resp)

    def sample(self, n_samples=1):
        """Draw samples from the mixture of the expected weights, means and ``covariances_``.

        Parameters
        ----------
        n_samples : int, default=1

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples!r}. The sampling requires at "
                "least one sample."
            )
        model = get_covariance_model(self.covariance_type)
        rng = check_random_state(self.random_state)
        weights = np.asarray(self.weights_, dtype=np.float64)
        counts = rng.multinomial(n_samples, weights / weights.sum())
        X = model.sample(
            rng,
            np.asarray(self.means_, dtype=np.float64),
            np.asarray(self.covariances_, dtype=np.float64),
            counts,
        )
        y = np.repeat(np.arange(counts.size), counts)
        return X, y

    # --------------------------------------------------------------- pruning
    @property
    def effective_n_components_(self) -> int:
        """Components explaining more than ``EFFECTIVE_WEIGHT`` of the training weight."""
        return int(np.count_nonzero(self._data_shares() > EFFECTIVE_WEIGHT))

    def _data_shares(self) -> np.ndarray:
        """``n_k / n``: each component's share of the training weight, from the posterior."""
        check_is_fitted(self)
        return data_shares(
            self.weight_concentration_prior_type,
            self.weight_concentration_,
            self.weight_concentration_prior_,
        )

    def to_gaussian_mixture(self, min_weight=EFFECTIVE_WEIGHT):
        """The fitted mixture without its unused components, as a :class:`GaussianMixture`.

        Keeps the components that explain more than ``min_weight`` of the training
        weight (those counted by ``effective_n_components_`` by default), with their
        expected weights (renormalised), means and ``covariances_``: the plug-in
        mixture of the posterior's expectations. Its ``predict`` and
        ``score_samples`` are a Gaussian mixture's (they leave out the
        variational terms, which matter only where components overlap), and it
        can be saved and used wherever a :class:`GaussianMixture` is.

        Parameters
        ----------
        min_weight : float, default=EFFECTIVE_WEIGHT (0.01)
            The smallest share of the training weight a kept component explains;
            the largest component is always kept.

        Returns
        -------
        GaussianMixture
            Fitted (``lower_bound_`` is ``-inf`` and ``lower_bounds_`` empty: it
            was not fitted by EM).
        """
        check_is_fitted(self)
        shares = self._data_shares()
        kept = np.flatnonzero(shares > min_weight)
        if kept.size == 0:
            kept = np.array([int(np.argmax(shares))])
        mixture = GaussianMixture(
            n_components=int(kept.size),
            covariance_type=self.covariance_type,
            tol=self.tol,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            n_init=self.n_init,
            init_params=self.init_params,
            random_state=self.random_state,
            verbose=self.verbose,
            verbose_interval=self.verbose_interval,
        )
        weights = np.asarray(self.weights_, dtype=np.float64)[kept]
        dtype = self.means_.dtype
        mixture.weights_ = (weights / weights.sum()).astype(dtype)
        mixture.means_ = self.means_[kept].copy()
        for name in ("covariances_", "precisions_", "precisions_cholesky_"):
            array = getattr(self, name)
            setattr(mixture, name, array.copy() if self._shared_matrix() else array[kept].copy())
        mixture.converged_ = self.converged_
        mixture.n_iter_ = self.n_iter_
        mixture.lower_bound_ = -np.inf
        mixture.lower_bounds_ = []
        mixture.n_features_in_ = self.n_features_in_
        if hasattr(self, "feature_names_in_"):
            mixture.feature_names_in_ = self.feature_names_in_.copy()
        mixture.prior_ = None
        return mixture

    # --------------------------------------------------------------- model files
    def save(self, path):
        """Write the fitted model to ``path`` in gaussmix's model file format.

        Read it back with :func:`gaussmix.load`.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        self : BayesianGaussianMixture
        """
        from .persistence import save_model

        save_model(self, path)
        return self


def _default_covariance_prior(backend, centre, family):
    """The weighted covariance of ``X`` with the ``n - 1`` denominator, in the family's form."""
    total = backend.total_weight
    if total <= 1.0:
        raise ValueError(
            f"sample_weight sums to {total:g}: the default covariance_prior (the data's "
            "covariance with the n - 1 denominator) needs a total weight above 1. Frequency "
            "weights count samples; pass covariance_prior, or weights on the scale of counts."
        )
    covariance = pooled_covariance(backend, centre, 0.0) * (total / (total - 1.0))
    if family == "ellipsoidal":
        return covariance
    variances = np.diagonal(covariance).copy()
    return variances if family == "diagonal" else float(variances.mean())


def _checked_covariance_prior(value, family, covariance_type, n_features):
    """A user's ``covariance_prior`` in the family's form, or a ValueError naming it."""
    prior = as_float_array(value, "covariance_prior")
    expected = {
        "ellipsoidal": ((n_features, n_features), "a symmetric positive-definite matrix"),
        "diagonal": ((n_features,), "one positive variance per feature"),
        "spherical": ((), "one positive number"),
    }
    shape, what = expected[family]
    if prior.shape != shape:
        raise ValueError(
            f"The parameter 'covariance_prior' should be {what} of shape {shape} for "
            f"covariance_type={covariance_type!r}, but got shape {prior.shape}."
        )
    if family == "ellipsoidal":
        if not np.allclose(prior, prior.T) or not _cholesky_succeeds(prior):
            raise ValueError(
                f"The parameter 'covariance_prior' should be symmetric positive definite for "
                f"covariance_type={covariance_type!r}."
            )
        return 0.5 * (prior + prior.T)
    if np.any(prior <= 0.0):
        raise ValueError(
            f"The parameter 'covariance_prior' should be positive for "
            f"covariance_type={covariance_type!r}, but got minimum {float(prior.min()):g}."
        )
    return float(prior) if family == "spherical" else prior
