"""``GaussianMixture``: a drop-in for ``sklearn.mixture.GaussianMixture``."""

from __future__ import annotations

import copy
import logging
import sys
import time
import warnings
from contextlib import contextmanager
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..backends import float_dtype, is_dask_collection, is_out_of_core, make_backend
from ..covariance import COVARIANCE_MODELS, get_covariance_model
from ..engine import criteria
from ..engine.collapse import CollapseError, CollapseHandler, CollapseWarning, warn_from_user_code
from ..engine.em import aitken_settled, run_em
from ..engine.missing import (
    MissingValues,
    condition_params,
    conditional_moments,
    marginal_params,
)
from ..engine.params import EMResult, MixtureParams
from ..engine.passes import (
    initial_params,
    label_rows,
    likelihood_and_entropy,
    score_rows,
    workspace_bytes_per_row,
)
from ..engine.prior import ConjugatePrior, resolve_prior
from ..starts import initial_assignment, sampled_assignment
from ._validation import (
    check_means,
    check_reg_covar,
    check_sample_weight,
    check_weights,
    empty_rows,
    has_missing,
    plural,
    validated_X,
)

logger = logging.getLogger("gaussmix")


class _StartState(NamedTuple):
    """One start of a screened fit: its run so far and its collapse bookkeeping.

    A start that collapsed beyond repair keeps its error and no result.
    """

    result: EMResult | None
    budget: int
    frozen: frozenset
    finished: bool
    error: CollapseError | None = None


def _failed_start(error):
    return _StartState(None, 0, frozenset(), True, error)


class Screen(NamedTuple):
    """Short runs of every start before the best one is run to convergence.

    Biernacki, Celeux & Govaert (2003), "Choosing starting values for the EM
    algorithm": a few iterations tell the promising starts from the others.
    """

    tol: float = 1e-3
    # Measured on Old Faithful, iris, wine and diabetes: 5 iterations pick the same
    # models as 25 (and as running every start), with 1.1-1.9x less time in all.
    max_iter: int = 5
    #: Starts run to convergence whatever their short runs show (mclust's start).
    always: tuple = ()
    #: The kept starts stop settled (``aitken_settled``) once Aitken's projection of
    #: the bound's remaining gain is below ``settle_gain`` and its changes below
    #: ``settle_change`` (mean log-likelihood per sample; a zero gain: run to
    #: ``tol``). They are then usable for ranking, and resumed to ``tol`` by
    #: ``_finish_starts``. The model search sets both.
    settle_gain: float = 0.0
    settle_change: float = 0.0


def _backend(X, sample_weight, model, n_components):
    """The backend for ``X`` with chunks sized for ``model``'s scratch per row."""
    dtype = np.float64 if X.dtype not in (np.float32, np.float64) else X.dtype
    bytes_per_row = workspace_bytes_per_row(model, n_components, X.shape[1], dtype)
    return make_backend(X, sample_weight, bytes_per_row=bytes_per_row)


class _Engine(NamedTuple):
    """What a fit's passes run on: complete data, or incomplete data and its start.

    For complete data every field is the plain one. With missing values the EM
    passes run ``MissingValues(model)`` over ``X``, while the start (k-means or
    another ``init_params``) and the collapse handler's re-seeding, which need
    complete rows, run the model over a copy of ``X`` whose missing values are
    the columns' (weighted) means.
    """

    backend: object
    model: object
    start_X: object
    start_backend: object
    centre: np.ndarray


def _mean_imputed(X, sample_weight):
    """``X`` with each missing value replaced by its column's weighted mean of observed values."""
    observed = ~np.isnan(X)
    weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    totals = np.where(observed, X, 0.0).T @ weights
    means = totals / (observed.T @ weights)
    return np.where(observed, X, means.astype(X.dtype))


@contextmanager
def _opened(engine):
    """Open the engine's backends; the start's is the fit's own when nothing is missing.

    A backend is entered once: entering the same one twice would start a second
    thread pool, and its exit would then run twice (the Dask backend's cannot).
    """
    with engine.backend:
        if engine.start_backend is engine.backend:
            yield
        else:
            with engine.start_backend:
                yield


def _engine(X, sample_weight, model, n_components):
    """The backends, EM model and centre for ``X`` (see :class:`_Engine`)."""
    backend = _backend(X, sample_weight, model, n_components)
    if not has_missing(X):
        return _Engine(backend, model, X, backend, backend.centre())
    start_X = _mean_imputed(X, sample_weight)
    start_backend = _backend(start_X, sample_weight, model, n_components)
    return _Engine(backend, MissingValues(model), start_X, start_backend, start_backend.centre())


def _streamed(X) -> bool:
    """Whether ``X`` is not held in memory (read block by block, or on Dask).

    Such fits start from a seeded sample of rows (:mod:`gaussmix.starts.sampled`)
    and keep no per-row attribute (``labels_``).
    """
    return is_out_of_core(X) or is_dask_collection(X)


def _best_finished(starts):
    # The highest bound among finished (or settled) runs; ties go to the earlier
    # start, as GaussianMixture's own comparison of starts does.
    best = None
    for state in starts:
        if state.result is None or not (state.finished or state.result.settled):
            continue
        if best is None or state.result.lower_bound > best.lower_bound:
            best = state.result
    if best is None:
        raise next(state.error for state in starts if state.error is not None)
    _warn_failed_starts([state.error for state in starts], len(starts))
    return best


def _warn_failed_starts(errors, n_starts):
    """Say which starts collapsed beyond repair and were left out of the fit."""
    failed = [index for index, error in enumerate(errors) if error is not None]
    if failed:
        warn_from_user_code(
            f"{plural(len(failed), 'start')} of {n_starts} ({', '.join(map(str, failed))}) "
            f"collapsed beyond repair and {'was' if len(failed) == 1 else 'were'} left out; "
            f"the model is the best of the others. First: {errors[failed[0]]}",
            CollapseWarning,
        )


@contextmanager
def _verbose_logging(verbose):
    """Let a verbose fit's INFO records through.

    The ``"gaussmix"`` logger is lowered to INFO for the fit (unless the user set it
    lower). Records go to the handlers the application configured; when there
    are none, to stdout, as scikit-learn's ``verbose`` prints.
    """
    if not verbose:
        yield
        return
    previous_level = logger.level
    if previous_level == logging.NOTSET or previous_level > logging.INFO:
        logger.setLevel(logging.INFO)
    handler = None
    if not logger.hasHandlers():
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    try:
        yield
    finally:
        if handler is not None:
            logger.removeHandler(handler)
        logger.setLevel(previous_level)


class GaussianMixture(DensityMixin, ClusterMixin, BaseEstimator):
    """Gaussian mixture model fitted by expectation-maximisation.

    The same parameters, attributes and methods as
    :class:`sklearn.mixture.GaussianMixture`, giving the same numbers from the
    same start, computed in one fused, chunked pass per iteration. Beyond
    scikit-learn: ``sample_weight`` in ``fit``, ``fit_predict`` and ``score``;
    float32 input is fitted in float32 (with float64 kernels where float32
    cannot resolve components far from the data's mean); collapsed components
    are re-seeded instead of ending the fit (see Notes).

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : str, default='full'
        Form of the covariance matrices. scikit-learn's 'full', 'tied', 'diag'
        and 'spherical', or one of R mclust's eigen-decomposition models
        ``Sigma_k = lambda_k D_k A_k D_k'`` (volume, shape, orientation each
        Equal across components, Variable, or the Identity): 'EII', 'VII',
        'EEI', 'VEI', 'EVI', 'VVI', 'EEE', 'VEE', 'EVE', 'VVE', 'EEV', 'VEV',
        'EVV', 'VVV'; for one feature also 'E' and 'V'. 'spherical' is 'VII',
        'diag' 'VVI', 'tied' 'EEE' and 'full' 'VVV', with identical results.
        ``covariances_`` is stored as for the scikit-learn model of the same
        family (see ``gaussmix.covariance``), its constraint holding exactly.
    tol : float, default=1e-3
        EM stops when the mean log-likelihood changes by less than ``tol``.
    reg_covar : float or array-like of shape (n_features,), default=1e-6
        Added to the diagonal of every covariance, keeping them positive definite:
        one number for every feature (scikit-learn's meaning), or one per feature
        (a gaussmix extension; :class:`GaussianMixtureIC` passes floors relative
        to each feature's variance this way). Spherical models add the mean of
        per-feature values.
    max_iter : int, default=100
        Maximum number of EM iterations per start.
    n_init : int, default=1
        Number of starts; the one with the highest final lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hc'}, default='kmeans'
        How the initial responsibilities are drawn. ``'hc'`` is mclust's start:
        model-based hierarchical clustering (deterministic; on a random subset of
        2000 rows for larger data), see :mod:`gaussmix.starts.hierarchical`; on
        one feature, as mclust's ``mclustBIC``, quantile classes instead of a tree
        (:func:`gaussmix.starts.assignment.quantile_classes`, mclust's ``qclass``).
    weights_init : array-like of shape (n_components,), default=None
        Initial weights; drawn by ``init_params`` when None.
    means_init : array-like of shape (n_components, n_features), default=None
        Initial means; drawn by ``init_params`` when None.
    precisions_init : array-like, default=None
        Initial precision matrices (inverse covariances), shaped like
        ``precisions_`` for ``covariance_type``.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation and of :meth:`sample`.
    warm_start : bool, default=False
        Start from the last fit's parameters (``n_init`` is then ignored).
    verbose : int, default=0
        1 logs each start, 2 also every ``verbose_interval`` iterations with
        timings, through the ``"gaussmix"`` logger (printed to stdout when the
        logger is not configured).
    verbose_interval : int, default=10
        Iterations between progress messages.
    prior : None, 'default', dict or ConjugatePrior, default=None
        Conjugate-prior regularisation (Fraley & Raftery 2007, as R mclust's
        ``prior=priorControl()``): the M-step becomes the posterior mode, so
        duplicated points or components with fewer points than features no
        longer drive a covariance singular. None is plain EM. ``'default'`` is
        mclust's ``defaultPrior`` computed from ``X``; a dict with some of the
        keys ``'shrinkage'``, ``'mean'``, ``'dof'``, ``'scale'`` replaces those
        defaults; a :class:`gaussmix.engine.prior.ConjugatePrior` is used as given. See
        :mod:`gaussmix.engine.prior` for the formulas per model. ``reg_covar`` is still
        added to each component's scatter first. ``lower_bound_`` and the
        criteria stay log-likelihoods at the fitted (posterior-mode) parameters,
        as mclust computes BIC for a prior fit.
    learning_decay : float in (0.5, 1], default=0.7
        Online EM (:meth:`partial_fit`) only: the exponent ``kappa`` of the step size
        ``(t + learning_offset) ** -kappa`` given to batch ``t`` (batch ``t = 0``,
        the first batch or a model fitted by :meth:`fit`, is taken whole; the
        first update is ``t = 1``; Cappe & Moulines
        2009; the names of scikit-learn's ``LatentDirichletAllocation``).
    learning_offset : float, default=10.0
        Online EM only: ``t0`` in the step size above; larger values slow the
        first steps.
    empty_rows : {'error', 'drop'}, default='error'
        What ``fit`` does with rows of ``X`` that have no observed value (every
        entry NaN): refuse them, or leave them out with a warning that counts
        them. See Notes on missing values.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        (n_components, n_features, n_features) for 'full', (n_features, n_features)
        for 'tied', (n_components, n_features) for 'diag', (n_components,) for
        'spherical'.
    precisions_ : ndarray
        Inverses of ``covariances_``, same shape.
    precisions_cholesky_ : ndarray
        Upper Cholesky factors ``P`` with ``P @ P.T == precisions_``, same shape.
    converged_ : bool
        Always False after :meth:`partial_fit`: a stream has no end to converge at.
    n_iter_ : int
        Iterations of the best start; :meth:`partial_fit` adds one per batch.
    lower_bound_ : float
        Weighted mean log-likelihood of the training data at the last E-step of
        the best start. After :meth:`partial_fit`: the last batch's, under the
        parameters before its update.
    lower_bounds_ : list of float
        ``lower_bound_`` after each iteration of the best start.
    labels_ : ndarray of shape (n_samples,)
        Most probable component of each training sample under the fitted model
        (what ``fit_predict`` returns; gaussmix also has scikit-learn's clustering
        mixin, while its estimator type stays "DensityEstimator" as scikit-learn's).
        Absent when ``X`` was read block by block (a memory map or array-like
        larger than 64 MiB, or a Dask array: see Notes): it would be an N-sized
        array; use :meth:`predict`. After :meth:`partial_fit`: the last batch's components.
    prior_ : ConjugatePrior or None
        The prior the fit used, resolved from ``prior`` (None for plain EM).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Present when ``X`` had string column names.

    Notes
    -----
    Data larger than memory: ``fit``, ``predict``, ``predict_proba``,
    ``score_samples`` and ``score`` accept a ``numpy.memmap`` and any array-like
    with ``shape``, ``dtype`` and row slicing (h5py and zarr datasets,
    :class:`gaussmix.data.streaming.ParquetRows`), read chunk by chunk: memory is
    bounded by the chunk budget, not by the number of rows. Such inputs up to
    64 MiB (``GAUSSMIX_LOAD_BYTES``) are read whole and fitted exactly as arrays;
    larger ones are validated block by block and start from a seeded sample of
    50,000 rows (:mod:`gaussmix.starts.sampled`: k-means on the sample, then
    three Lloyd passes over all rows). Dask arrays and DataFrames are fitted by
    a map-reduce of each EM pass over their blocks on the active scheduler
    (:mod:`gaussmix.backends.dask`), and ``predict``, ``predict_proba`` and
    ``score_samples`` on them return lazy Dask arrays. ``prior='default'`` is
    refused for both (its defaults need all of ``X``).

    Missing values: ``fit``, ``predict``, ``predict_proba``, ``score_samples``,
    ``score``, ``bic``, ``aic`` and ``icl`` accept NaN in in-memory arrays, for
    every covariance model (Ghahramani & Jordan 1994; see
    :mod:`gaussmix.engine.missing`). The E-step scores each row by each
    component's marginal over the row's observed features; the M-step uses the
    conditional expectations of the missing values and of their second moments.
    The start (``init_params``) is drawn from a copy of ``X`` whose missing values
    are the columns' means, and so are the rows that collapsed components are
    re-seeded on. ``lower_bound_``, ``score`` and the criteria use the
    observed-data log-likelihood; in BIC ``n`` stays the number of rows (the
    penalty counts parameters, not observed values), as for complete data.
    Infinity is still refused, as are columns with no observed value; rows with
    none are refused or dropped (``empty_rows``). Memory maps, files read block
    by block, Dask input, ``partial_fit`` and the variational
    ``BayesianGaussianMixture`` refuse NaN. Data without NaN take the
    complete-data path unchanged. :meth:`impute`, :meth:`marginal` and
    :meth:`condition` use the same conditional Gaussians.

    A component *collapses* when it becomes empty (less than a thousandth of an
    average sample's weight) or its covariance is not positive definite.
    scikit-learn stops with "ill-defined empirical covariance"; gaussmix moves
    the component onto the worst-explained sample with the pooled data
    covariance and warns with :class:`gaussmix.CollapseWarning`, for up to
    ``2 * n_components`` component re-seeds per start. After that an empty component keeps
    its last parameters with a vanishing weight, and a singular one raises
    :class:`gaussmix.CollapseError` naming the component, the cause and the remedy.
    With ``n_init > 1`` such a start is left out (a :class:`gaussmix.CollapseWarning`
    names it) and the model is the best of the others; the fit raises only when
    every start does.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> gm.means_
    array([[10.,  2.],
           [ 1.,  2.]])
    >>> gm.predict([[0, 0], [12, 3]])
    array([1, 0])
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        # The registry's keys, in its order (a set would list them shuffled in errors).
        "covariance_type": [StrOptions(COVARIANCE_MODELS.keys())],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left"), "array-like"],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "random", "random_from_data", "k-means++", "hc"})],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "prior": [None, StrOptions({"default"}), dict, ConjugatePrior],
        "learning_decay": [Interval(Real, 0.5, 1.0, closed="right")],
        "learning_offset": [Interval(Real, 0.0, None, closed="left")],
        "empty_rows": [StrOptions({"error", "drop"})],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        prior=None,
        learning_decay=0.7,
        learning_offset=10.0,
        empty_rows="error",
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.prior = prior
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.empty_rows = empty_rows

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Missing values are modelled (see Notes), for in-memory arrays.
        tags.input_tags.allow_nan = True
        return tags

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_weight=None):
        """Estimate the parameters with the EM algorithm.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, one row per sample.
        y : Ignored
            Present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample; it multiplies the sample's
            contribution to every statistic and to the log-likelihood. Integer
            weights are equivalent to repeating rows.

        Returns
        -------
        self : GaussianMixture
            The fitted estimator.
        """
        self._fit(X, sample_weight)
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the model with one batch of samples by online (stepwise) EM.

        Cappe & Moulines (2009): each call runs one E-step on the batch and moves
        running averages of the sufficient statistics towards the batch's by the
        step ``(t + learning_offset) ** -learning_decay``; the M-step then gives
        the parameters. The first call (on an unfitted model) starts from its
        batch as :meth:`fit` would; a call after :meth:`fit` continues from the
        fitted model. Batches must keep the number of features and the dtype
        family (float32 or float64) of the first.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One batch of samples.
        y : Ignored
            Present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GaussianMixture
        """
        from .online import partial_fit

        partial_fit(self, X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit the model and return the most probable component of each training sample.

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

    def _fit(self, X, sample_weight, assignments=None):
        # `assignments`: precomputed starts, one per init, for GaussianMixtureIC, which
        # draws them once per n_components and shares them across covariance types.
        self._validate_params()
        X = validated_X(
            self, X, fit=True, allow_nan=True, allow_empty_rows=self.empty_rows == "drop"
        )
        X, sample_weight = self._without_empty_rows(X, sample_weight)
        n_samples, n_features = X.shape
        if n_samples < self.n_components:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {n_samples}: pass more samples or "
                "fewer components."
            )
        dtype = float_dtype(X.dtype)
        sample_weight = check_sample_weight(sample_weight, n_samples, dtype, normalize=True)
        if sample_weight is not None and np.count_nonzero(sample_weight) < self.n_components:
            raise ValueError(
                f"Only {np.count_nonzero(sample_weight)} samples have a positive weight, "
                f"fewer than n_components = {self.n_components}."
            )
        model = get_covariance_model(self.covariance_type)
        model.check_n_features(n_features)
        reg_covar = check_reg_covar(self.reg_covar, n_features)
        inits = self._checked_inits(model, n_features)
        streamed = _streamed(X)
        if streamed and isinstance(self.prior, (str, dict)):
            raise ValueError(
                f"prior={self.prior!r} computes its defaults from the whole of X, which is "
                "read block by block here: compute them on a sample, "
                "prior=gaussmix.engine.prior.default_prior(X_sample, n_components, "
                "covariance_type), and pass that ConjugatePrior."
            )
        engine = _engine(X, sample_weight, model, self.n_components)
        # A default prior is computed from the data: from the start's (mean-imputed) copy.
        prior = resolve_prior(
            self.prior, engine.start_X, self.n_components, self.covariance_type, sample_weight
        )

        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        random_state = check_random_state(self.random_state)
        backend, em_model, centre = engine.backend, engine.model, engine.centre

        best = None
        # Set by the model search (GaussianMixtureIC) only: short runs of every start.
        screen = getattr(self, "_screen", None)
        if n_init == 1 or self.max_iter == 0:
            screen = None
        starts = []
        errors = []
        self._screened_starts = None
        # EM iterations of every start together (the work, where n_iter_ is the result's).
        self._iterations_run = 0
        with _verbose_logging(self.verbose), _opened(engine):
            for init in range(n_init):
                started = time.perf_counter()
                if self.verbose:
                    logger.info("Initialization %d", init)
                collapse = CollapseHandler(
                    engine.start_backend, model, centre, reg_covar, self.n_components
                )
                try:
                    if do_init:
                        drawn = None if assignments is None else assignments[init]
                        params = self._initial_params(
                            engine.start_X,
                            sample_weight,
                            engine.start_backend,
                            model,
                            centre,
                            inits,
                            random_state,
                            collapse,
                            drawn,
                            prior,
                        )
                        lower_bound = -np.inf
                    else:
                        params = self._fitted_params()
                        lower_bound = self.lower_bound_
                    if self.max_iter == 0:
                        # As scikit-learn: no E-step, so no bound; the last start is kept.
                        result = EMResult(params=params, lower_bound=-np.inf)
                    else:
                        result = run_em(
                            backend,
                            em_model,
                            params,
                            centre=centre,
                            tol=self.tol if screen is None else screen.tol,
                            max_iter=self.max_iter
                            if screen is None
                            else min(self.max_iter, screen.max_iter),
                            reg_covar=reg_covar,
                            lower_bound=lower_bound,
                            on_iteration=self._progress_reporter(),
                            collapse=collapse,
                            prior=prior,
                        )
                except CollapseError as error:
                    # One start beyond repair does not sink the others (the model search
                    # runs mclust's start beside k-means draws); only all of them do.
                    if n_init == 1:
                        raise
                    errors.append(error)
                    if screen is not None:
                        starts.append(_failed_start(error))
                    continue
                errors.append(None)
                if self.max_iter > 0:
                    if screen is not None:
                        starts.append(self._start_state(result, collapse))
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
                self._iterations_run += result.n_iter
                if screen is None and (
                    best is None or result.lower_bound > best.lower_bound or self.max_iter == 0
                ):
                    best = result
            if screen is not None:
                # Only the start ahead after the short runs is run to convergence now;
                # the others can be finished later (_finish_starts) and are then
                # exactly the runs that an unscreened fit makes.
                alive = [i for i, state in enumerate(starts) if state.result is not None]
                if not alive:
                    raise errors[0]
                ahead = max(alive, key=lambda i: starts[i].result.lower_bound)
                kept = sorted({ahead, *(i for i in screen.always if i in alive)})
                settle = (
                    aitken_settled(screen.settle_gain, screen.settle_change)
                    if screen.settle_gain > 0
                    else None
                )
                self._continue_starts(starts, kept, engine, model, prior, settle=settle)
                best = _best_finished(starts)
                self._screened_starts = starts
            elif best is None:
                raise errors[0]
            else:
                _warn_failed_starts(errors, n_init)
            # Labels from the final parameters, as scikit-learn's fit_predict gives;
            # not for data read block by block, where they would be an N-sized array.
            labels = None if streamed else label_rows(backend, em_model, best.params, centre)

        if not best.converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=3,
            )
        self._store(best, model, dtype)
        if labels is None:
            self.__dict__.pop("labels_", None)
        else:
            self.labels_ = labels
        self.prior_ = prior

    def _without_empty_rows(self, X, sample_weight):
        """``X`` and ``sample_weight`` without rows that have no observed value (``'drop'``)."""
        if self.empty_rows != "drop" or not has_missing(X):
            return X, sample_weight
        empty = empty_rows(X)
        if empty.size == 0:
            return X, sample_weight
        warnings.warn(
            f"{empty.size} of {X.shape[0]} rows of X have no observed value (every value "
            "NaN) and were left out of the fit (empty_rows='drop').",
            UserWarning,
            stacklevel=4,
        )
        kept = np.setdiff1d(np.arange(X.shape[0]), empty)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)[kept]
        return X[kept], sample_weight

    def _checked_inits(self, model, n_features):
        return {
            "weights": None
            if self.weights_init is None
            else check_weights(self.weights_init, self.n_components),
            "means": None
            if self.means_init is None
            else check_means(self.means_init, self.n_components, n_features),
            "precisions": None
            if self.precisions_init is None
            else model.check_precisions(self.precisions_init, self.n_components, n_features),
        }

    def _initial_params(
        self,
        X,
        sample_weight,
        backend,
        model,
        centre,
        inits,
        random_state,
        collapse,
        assignment=None,
        prior=None,
    ):
        n_components = self.n_components
        drawn = None
        empty = singular = np.zeros(n_components, dtype=bool)
        if any(value is None for value in inits.values()):
            if assignment is None and _streamed(X):
                assignment = sampled_assignment(
                    backend, centre, n_components, self.init_params, random_state, sample_weight
                )
            elif assignment is None:
                assignment = initial_assignment(
                    X, n_components, self.init_params, random_state, sample_weight
                )
            reg_covar = check_reg_covar(self.reg_covar, X.shape[1])
            drawn, empty, singular = initial_params(
                backend, model, assignment, centre, n_components, reg_covar, prior
            )
        weights = drawn.weights if inits["weights"] is None else inits["weights"]
        means = drawn.means if inits["means"] is None else inits["means"]
        if inits["precisions"] is None:
            covariances, precisions_chol = drawn.covariances, drawn.precisions_cholesky
        else:
            precisions_chol = model.precisions_cholesky_from_precisions(inits["precisions"])
            covariances = model.covariances_from_cholesky(precisions_chol)
            singular = np.zeros_like(singular)
        if inits["weights"] is not None or inits["means"] is not None:
            # The user placed the components: do not move them for the draw's empties.
            empty = np.zeros_like(empty)
        params = MixtureParams(weights, means, covariances, precisions_chol)
        params, _ = collapse.resolve(params, None, empty, singular, 0)
        return params

    def _start_state(self, result, collapse):
        finished = result.n_iter >= self.max_iter or (
            result.converged
            and len(result.lower_bounds) > 1
            and abs(result.lower_bounds[-1] - result.lower_bounds[-2]) < self.tol
        )
        return _StartState(result, collapse.budget, frozenset(collapse.frozen), finished)

    def _continue_starts(self, starts, indices, engine, model, prior, settle=None):
        """Run the starts at ``indices`` on from where their short runs stopped.

        EM is deterministic, so a run continued from its last parameters, bound
        and collapse budget is the run it would have been uninterrupted. With a
        ``settle`` rule (see :func:`run_em`) a run may stop settled and stays
        unfinished: a later call continues it to ``tol``.
        """
        centre = engine.centre
        reg_covar = check_reg_covar(self.reg_covar, centre.shape[0])
        for index in indices:
            state = starts[index]
            if state.finished:
                continue
            collapse = CollapseHandler(
                engine.start_backend, model, centre, reg_covar, self.n_components
            )
            collapse.budget = state.budget
            collapse.frozen = set(state.frozen)
            head = state.result
            try:
                tail = run_em(
                    engine.backend,
                    engine.model,
                    head.params,
                    centre=centre,
                    tol=self.tol,
                    max_iter=self.max_iter - head.n_iter,
                    reg_covar=reg_covar,
                    lower_bound=head.lower_bound,
                    collapse=collapse,
                    prior=prior,
                    settle=settle,
                )
            except CollapseError as error:
                starts[index] = _failed_start(error)
                continue
            self._iterations_run = getattr(self, "_iterations_run", 0) + tail.n_iter
            whole = EMResult(
                params=tail.params,
                lower_bound=tail.lower_bound,
                lower_bounds=[*head.lower_bounds, *tail.lower_bounds],
                n_iter=head.n_iter + tail.n_iter,
                converged=tail.converged,
                settled=tail.settled,
            )
            starts[index] = _StartState(
                whole, collapse.budget, frozenset(collapse.frozen), not tail.settled
            )

    def _unfinished_starts(self) -> int:
        """How many starts a screened fit has left short (0 for an ordinary fit)."""
        starts = getattr(self, "_screened_starts", None)
        return 0 if not starts else sum(not state.finished for state in starts)

    def _settled(self) -> bool:
        """Whether a start of a screened fit stopped settled, short of ``tol``."""
        starts = getattr(self, "_screened_starts", None) or ()
        # A settled run is never finished: resuming it gives a new, unsettled result.
        return any(state.result is not None and state.result.settled for state in starts)

    def _finish_starts(self, X, sample_weight=None):
        """Run every start a screened fit left short to convergence; keep the best.

        Afterwards the model is exactly what the same fit without screening gives.
        """
        if not self._unfinished_starts():
            return self
        starts = self._screened_starts
        model = get_covariance_model(self.covariance_type)
        X, sample_weight = self._without_empty_rows(X, sample_weight)
        engine = _engine(X, sample_weight, model, self.n_components)
        with warnings.catch_warnings(), _opened(engine):
            warnings.simplefilter("ignore", CollapseWarning)
            self._continue_starts(starts, range(len(starts)), engine, model, self.prior_)
            best = _best_finished(starts)
            if not _streamed(X):
                self.labels_ = label_rows(engine.backend, engine.model, best.params, engine.centre)
        self._store(best, model, float_dtype(X.dtype))
        return self

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

    def _store(self, result: EMResult, model, dtype):
        params = result.params
        self.weights_ = params.weights.astype(dtype)
        self.means_ = params.means.astype(dtype)
        self.covariances_ = params.covariances.astype(dtype)
        self.precisions_cholesky_ = params.precisions_cholesky.astype(dtype)
        self.precisions_ = model.precisions_from_cholesky(params.precisions_cholesky).astype(dtype)
        self.converged_ = bool(result.converged)
        self.n_iter_ = int(result.n_iter)
        self.lower_bound_ = float(result.lower_bound)
        self.lower_bounds_ = [float(value) for value in result.lower_bounds]

    def _fitted_params(self) -> MixtureParams:
        return MixtureParams(
            weights=np.asarray(self.weights_, dtype=np.float64),
            means=np.asarray(self.means_, dtype=np.float64),
            covariances=np.asarray(self.covariances_, dtype=np.float64),
            precisions_cholesky=np.asarray(self.precisions_cholesky_, dtype=np.float64),
        )

    # --------------------------------------------------------------- inference
    def _checked_X(self, X):
        check_is_fitted(self)
        return validated_X(self, X, fit=False, allow_nan=True)

    def _inference_backend(self, X, model, sample_weight=None):
        return _backend(X, sample_weight, model, self.n_components)

    def _inference_pass(self, X, pass_fn, sample_weight=None, **kwargs):
        """Run a whole-data pass (``gaussmix.engine.passes``) over ``X`` with fitted parameters."""
        params = self._fitted_params()
        model = get_covariance_model(self.covariance_type)
        # Shift rows by the mixture's mean so far-from-origin data keep their digits.
        centre = params.weights @ params.means
        with self._inference_backend(X, model, sample_weight) as backend:
            if has_missing(X):
                model = MissingValues(model)
            return pass_fn(backend, model, params, centre, **kwargs)

    def _lazy(self, X, method, n_columns=None, dtype=np.float64):
        """``method`` applied block by block to a Dask collection, as a lazy Dask array.

        Nothing is computed here (unknown block lengths stay unknown); only the
        number of features is checked. The blocks are computed with a copy of
        the fitted model taken now, so a refit before ``compute()`` does not
        change the result.
        """
        from ..backends.dask import as_dask_array, lazy_rows

        check_is_fitted(self)
        X = as_dask_array(X, known_chunks=False)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        snapshot = copy.deepcopy(self)
        # The blocks arrive as arrays (a DataFrame's columns were checked above by
        # count); labels_ is the training data's, not needed to predict.
        for attribute in ("feature_names_in_", "labels_", "_online_state"):
            snapshot.__dict__.pop(attribute, None)
        return lazy_rows(X, getattr(snapshot, method), n_columns, dtype)

    def score_samples(self, X):
        """Log-density of each sample under the mixture.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            A lazy Dask array for Dask input.
        """
        if is_dask_collection(X):
            return self._lazy(X, "score_samples", dtype=self.means_.dtype)
        return self._inference_pass(self._checked_X(X), score_rows)

    def score(self, X, y=None, sample_weight=None):
        """Weighted mean log-likelihood of ``X`` under the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        log_likelihood : float
        """
        X = self._checked_X(X)
        weights = check_sample_weight(sample_weight, X.shape[0], np.float64)
        if _streamed(X):
            # One reduction: no per-row array for data read block by block.
            total, _ = self._inference_pass(X, likelihood_and_entropy, sample_weight=weights)
            return total / (X.shape[0] if weights is None else float(weights.sum()))
        log_prob = self._inference_pass(X, score_rows)
        return float(np.average(log_prob, weights=weights))

    def predict(self, X):
        """Most probable component of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            A lazy Dask array for Dask input.
        """
        if is_dask_collection(X):
            return self._lazy(X, "predict", dtype=np.int64)
        return self._inference_pass(self._checked_X(X), label_rows)

    def predict_proba(self, X):
        """Posterior probability of each component for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            A lazy Dask array for Dask input.
        """
        if is_dask_collection(X):
            return self._lazy(X, "predict_proba", self.n_components, dtype=self.means_.dtype)
        _, log_resp = self._inference_pass(self._checked_X(X), score_rows, with_resp=True)
        return np.exp(log_resp)

    def sample(self, n_samples=1):
        """Draw samples from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Component of each sample.
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
        y = np.concatenate(
            [np.full(int(count), k, dtype=np.int64) for k, count in enumerate(counts)]
        )
        return X, y

    # ------------------------------------------------------- missing values
    def impute(self, X, *, sample=False, random_state=None):
        """Fill the missing values (NaN) of ``X`` from the fitted mixture.

        Each row's missing block is replaced by its conditional mean given the
        row's observed values under the mixture, ``sum_k p(k | x_o) E[x_m | x_o, k]``
        (the best guess in squared error), or, with ``sample=True``, by a draw
        from that conditional mixture (a component drawn from ``p(k | x_o)``, then
        its conditional Gaussian): repeated with different seeds, draws give
        multiple imputations that keep the data's spread. Observed values are kept.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Every row needs at least one observed value.
        sample : bool, default=False
        random_state : int, RandomState instance or None, default=None
            Seed of the draws (``sample=True`` only).

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features)
        """
        X = self._checked_X(X)
        if not has_missing(X):
            return X.copy()
        rng = check_random_state(random_state) if sample else None
        model = get_covariance_model(self.covariance_type)
        filled, _, _ = conditional_moments(X, self._fitted_params(), model, rng=rng)
        return filled.astype(X.dtype, copy=False)

    def _feature_indices(self, features, what="features"):
        """Indices of ``features`` (integers, or names when fitted with column names)."""
        check_is_fitted(self)
        n_features = self.n_features_in_
        values = np.atleast_1d(np.asarray(features))
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"{what} must be a non-empty list of feature indices or names.")
        names = getattr(self, "feature_names_in_", None)
        if values.dtype.kind in "US" or values.dtype == object:
            if names is None:
                raise ValueError(
                    f"{what} names {values.tolist()} given, but the model was fitted "
                    "without column names: pass feature indices."
                )
            lookup = {str(name): j for j, name in enumerate(names)}
            unknown = [str(v) for v in values if str(v) not in lookup]
            if unknown:
                raise ValueError(f"{what}: unknown feature name(s) {unknown}.")
            indices = np.array([lookup[str(v)] for v in values], dtype=np.intp)
        elif values.dtype.kind in "iu":
            indices = values.astype(np.intp)
            bad = indices[(indices < 0) | (indices >= n_features)]
            if bad.size:
                raise ValueError(
                    f"{what}: index {bad.tolist()} out of range for a model of "
                    f"{n_features} features (0 to {n_features - 1})."
                )
        else:
            raise ValueError(f"{what} must be integer indices or feature names.")
        if np.unique(indices).size != indices.size:
            raise ValueError(f"{what}: feature(s) listed twice in {values.tolist()}.")
        return indices

    def _submodel(self, params, features):
        """A fitted GaussianMixture over ``features`` from full-covariance ``params``."""
        model = get_covariance_model(self.covariance_type)
        stored = np.asarray(self.covariances_)
        covariances = params.covariances
        if model.shared_covariance:
            covariance_type, covariances = "tied", covariances[0]
        elif stored.ndim == 1:
            covariance_type, covariances = "spherical", covariances[:, 0, 0]
        elif stored.ndim == 2:
            covariance_type = "diag"
            covariances = np.diagonal(covariances, axis1=1, axis2=2).copy()
        else:
            covariance_type = "full"
        reg_covar = self.reg_covar
        if np.ndim(reg_covar):
            reg_covar = np.asarray(reg_covar, dtype=np.float64)[features]
        sub = GaussianMixture(
            n_components=self.n_components,
            covariance_type=covariance_type,
            tol=self.tol,
            reg_covar=reg_covar,
            max_iter=self.max_iter,
            random_state=self.random_state,
        )
        sub_model = get_covariance_model(covariance_type)
        precisions_chol, _ = sub_model.precisions_cholesky(covariances)
        dtype = np.asarray(self.means_).dtype
        result = EMResult(
            params=MixtureParams(params.weights, params.means, covariances, precisions_chol),
            lower_bound=float("nan"),
            converged=True,
        )
        sub._store(result, sub_model, dtype)
        sub.n_features_in_ = int(features.size)
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            sub.feature_names_in_ = np.asarray(names)[features]
        sub.prior_ = None
        return sub

    def marginal(self, features):
        """The mixture's marginal distribution over ``features``.

        The same weights, each component's mean and covariance restricted to
        ``features`` (in the order given).

        Parameters
        ----------
        features : array-like of int or str
            Feature indices, or names when the model was fitted with column names.

        Returns
        -------
        GaussianMixture
            Fitted (``weights_``, ``means_``, ``covariances_``, ``precisions_``...),
            usable for ``predict``, ``score_samples``, ``sample`` and ``save``;
            ``covariance_type`` is the storage family of this model's ('full' for
            the constrained full-matrix models, whose constraints a marginal need
            not keep). ``lower_bound_`` is NaN: it was not fitted to data.
        """
        indices = self._feature_indices(features)
        params = marginal_params(
            get_covariance_model(self.covariance_type), self._fitted_params(), indices
        )
        return self._submodel(params, indices)

    def condition(self, features, values):
        """The mixture of the other features given ``X[:, features] = values``.

        Each component's Gaussian conditional, ``mu_r + S_rf inv(S_ff) (v - mu_f)``
        and ``S_rr - S_rf inv(S_ff) S_fr``, with weights proportional to
        ``pi_k N(v | mu_kf, S_kff)``.

        Parameters
        ----------
        features : array-like of int or str
            The features whose values are known (not all of them).
        values : array-like of shape (len(features),)
            Their values, in the order of ``features``.

        Returns
        -------
        GaussianMixture
            Fitted, over the remaining features in their original order (see
            :meth:`marginal` for its attributes and ``covariance_type``).
        """
        indices = self._feature_indices(features)
        if indices.size == self.n_features_in_:
            raise ValueError(
                "features lists every feature: nothing is left to condition. Leave at "
                "least one feature out."
            )
        try:
            values = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("values must be numbers, one per feature in features.") from None
        if values.shape != (indices.size,):
            raise ValueError(
                f"values has shape {values.shape}, expected ({indices.size},): one value "
                "per feature in features."
            )
        if not np.isfinite(values).all():
            raise ValueError("values must be finite numbers (no NaN or infinity).")
        params = condition_params(
            get_covariance_model(self.covariance_type), self._fitted_params(), indices, values
        )
        remaining = np.setdiff1d(np.arange(self.n_features_in_), indices)
        return self._submodel(params, remaining)

    # --------------------------------------------------------------- criteria
    def _n_parameters(self):
        """Number of free parameters of the fitted model."""
        n_components, n_features = self.means_.shape
        model = get_covariance_model(self.covariance_type)
        return int(
            model.n_parameters(n_components, n_features)
            + n_components * n_features
            + n_components
            - 1
        )

    def _log_likelihood_and_weight(self, X):
        X = self._checked_X(X)
        if _streamed(X):
            total, _ = self._inference_pass(X, likelihood_and_entropy)
            return total, X.shape[0]
        return float(np.sum(self._inference_pass(X, score_rows), dtype=np.float64)), X.shape[0]

    def bic(self, X, *, convention="scikit-learn"):
        """Bayesian information criterion on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        convention : {'scikit-learn', 'mclust'}, default='scikit-learn'
            ``'scikit-learn'``: ``-2 log L + p log n``, lower is better;
            ``'mclust'``: R mclust's ``2 log L - p log n``, higher is better.

        Returns
        -------
        bic : float
        """
        log_likelihood, n_samples = self._log_likelihood_and_weight(X)
        return criteria.bic(log_likelihood, self._n_parameters(), n_samples, convention)

    def aic(self, X, *, convention="scikit-learn"):
        """Akaike information criterion on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        convention : {'scikit-learn', 'mclust'}, default='scikit-learn'
            ``'scikit-learn'``: ``-2 log L + 2 p``, lower is better; ``'mclust'``:
            its negative, higher is better.

        Returns
        -------
        aic : float
        """
        log_likelihood, _ = self._log_likelihood_and_weight(X)
        return criteria.aic(log_likelihood, self._n_parameters(), convention)

    def icl(self, X, *, convention="scikit-learn"):
        """Integrated completed likelihood on ``X`` (Biernacki, Celeux & Govaert 2000).

        BIC plus twice the entropy of the most probable classification, as R mclust
        computes it: it prefers models whose components are well separated.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        convention : {'scikit-learn', 'mclust'}, default='scikit-learn'
            ``'scikit-learn'``: ``bic(X) - 2 sum_i log z_i,map``, lower is better;
            ``'mclust'``: mclust's ``BIC + 2 sum_i log z_i,map``, higher is better.

        Returns
        -------
        icl : float
        """
        X = self._checked_X(X)
        log_prob, log_resp = self._inference_pass(X, score_rows, with_resp=True)
        log_likelihood = float(np.sum(log_prob, dtype=np.float64))
        return criteria.icl(log_likelihood, self._n_parameters(), X.shape[0], log_resp, convention)

    # --------------------------------------------------------------- model files
    def save(self, path):
        """Write the fitted model to ``path`` in gaussmix's model file format.

        The file is a ZIP of NumPy arrays plus JSON metadata (see
        ``docs/model-format.md``); it is written to a temporary name and moved into
        place. Read it back with :func:`gaussmix.load`.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        self : GaussianMixture
        """
        from .persistence import save_model

        save_model(self, path)
        return self
