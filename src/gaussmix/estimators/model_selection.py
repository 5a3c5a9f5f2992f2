"""``GaussianMixtureIC``: choose the number of components and the covariance model."""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Iterable
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed, parallel_config
from sklearn.base import BaseEstimator, ClusterMixin, DensityMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..backends import is_dask_collection
from ..covariance import MCLUST_NAMES, UNIVARIATE_NAMES, get_covariance_model
from ..engine import criteria
from ..engine.collapse import CollapseError, CollapseWarning, pooled_covariance
from ..engine.passes import likelihood_and_entropy, score_rows
from ..engine.prior import ConjugatePrior
from ..starts import Assignment, hc_assignments, initial_assignment, same_partition
from ..starts.sampled import SAMPLE_ROWS, sample_rows
from ._validation import check_sample_weight, has_missing, plural, validated_X
from .gaussian_mixture import GaussianMixture, Screen, _backend, _streamed

RESULT_COLUMNS = (
    "n_components",
    "covariance_type",
    "bic",
    "aic",
    "icl",
    "log_likelihood",
    "n_parameters",
    "converged",
    "n_iter",
    "min_variance_ratio",
    "min_component_points",
    "spurious",
    "reason",
    "all_starts",
)


#: Candidates within this much of the best criterion value have all their starts run
#: to convergence; the others only the start that leads after short runs (see
#: ``screen_starts``).
SCREEN_MARGIN = 10.0
#: With a subsample, candidates within this much of the best criterion value on the
#: subsample are refitted on all rows: a BIC difference above 10 is "very strong"
#: evidence (Kass & Raftery 1995), and on more rows it only grows.
REFIT_MARGIN = 10.0
#: A screened candidate's leading starts stop once Aitken's projection of the
#: criterion's remaining improvement is below this (BIC units, 2 log-likelihood
#: units per unit) and their changes are slow; the candidates in reach of the best
#: are then run on to ``tol``, so only candidates that cannot win stop early.
#: Measured on Old Faithful, iris, wine and diabetes: 0.1 makes the same choices
#: as 1 with 1.0-1.7x the time.
SETTLE_CRITERION = 1.0
#: ... and their changes below this (mean log-likelihood per sample): a saddle slows
#: EM down with a small Aitken projection before it climbs on (mclust's diabetes,
#: VVV with 3 components: changes down to 3.7e-4, then 36 more).
SETTLE_CHANGE = 1e-4
#: A settled candidate is in reach of the best up to this much further than
#: ``SCREEN_MARGIN``: Aitken's projection is an estimate (on standardised Old
#: Faithful, 3 'full' stopped 1.16 short of its converged criterion).
SETTLE_SLACK = 5.0 * SETTLE_CRITERION

#: Data up to this many rows and features are searched in one process by
#: :func:`search_n_jobs`: each worker process imports scikit-learn again before
#: its first candidate (2-3 s on a 2-core machine), more than the workers save on
#: such data. The lab's search on a 2-core machine, seconds in one process against
#: two: Old Faithful (204 x 2) 4.8-5.3 against 6.9-7.2; mclust's diabetes (109 x 3)
#: 5.7-5.9 against 7.0-7.4; iris (112 x 4) the same either way; wine (133 x 13)
#: 29.6 against 21.8.
SMALL_SEARCH_ROWS = 500
SMALL_SEARCH_FEATURES = 4


def search_n_jobs(n_samples, n_features) -> int:
    """The ``n_jobs`` for a model search of data of this shape: 1 for small data, else -1.

    Starting worker processes pays off only when the search takes longer than
    starting them: data of at most ``SMALL_SEARCH_ROWS`` rows and
    ``SMALL_SEARCH_FEATURES`` features are searched in this process, anything
    larger in one process per CPU. What ``gaussmix lab`` and ``gaussmix fit`` use
    when ``--jobs`` is not given.

    Parameters
    ----------
    n_samples, n_features : int
        The shape of the data the candidates are fitted on.

    Returns
    -------
    n_jobs : int
        1 or -1 (joblib's one process per CPU).
    """
    if n_samples <= SMALL_SEARCH_ROWS and n_features <= SMALL_SEARCH_FEATURES:
        return 1
    return -1


REFIT_COLUMNS = ("bic", "aic", "icl", "log_likelihood", "n_iter", "converged", "spurious")


class SpuriousFitWarning(UserWarning):
    """A candidate model is a degenerate (spurious) maximum of the likelihood."""


def _candidate_fit(template, X, sample_weight, assignments, screen=None):
    """Fit one candidate from precomputed starts; returns the estimator or the error."""
    estimator = clone(template)
    estimator._screen = screen
    with warnings.catch_warnings():
        # Convergence is recorded in the results table and summarised once.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", CollapseWarning)
        try:
            estimator._fit(X, sample_weight, assignments=assignments)
        except (CollapseError, ValueError, np.linalg.LinAlgError) as exc:
            return None, f"fit failed: {exc}"
    return estimator, ""


def _unfitted_row(n_components, covariance_type, reason):
    """A candidate's row of ``results_`` before (or without) a fit: NaN criteria."""
    row = dict.fromkeys(RESULT_COLUMNS, np.nan)
    row.update(n_components=n_components, covariance_type=covariance_type, reason=reason)
    row.update(converged=False, spurious=False, n_iter=0, n_parameters=0, all_starts=True)
    return row


def _take_rows(X, rows):
    """Rows ``rows`` (sorted) of an in-memory, out-of-core or Dask ``X`` as an ndarray."""
    if isinstance(X, np.ndarray) and not isinstance(X, np.memmap):
        return X[rows]
    if hasattr(X, "compute"):
        return np.asarray(X[rows].compute())
    with _backend(X, None, get_covariance_model("VVV"), 1) as backend:
        return backend.take(rows).astype(backend.dtype, copy=False)


def _on_cluster(X) -> bool:
    """Whether ``X`` is a Dask collection and a ``distributed.Client`` is active."""
    if not is_dask_collection(X):
        return False
    from ..backends.dask import active_client

    return active_client() is not None


def _data_covariance(X, weights):
    """The weighted covariance of ``X`` as ``np.cov(X, aweights=weights)`` computes it.

    Data read block by block get the same (unbiased, weighted) estimate from one
    pass of the backend instead of a copy.
    """
    if not _streamed(X):
        X = _complete(X, weights)
        if weights is None:
            weights = np.ones(X.shape[0])
        return np.atleast_2d(np.cov(X, rowvar=False, aweights=weights))
    with _backend(X, weights, get_covariance_model("VVV"), 1) as backend:
        centre = backend.centre()
        scatter = pooled_covariance(backend, centre, 0.0) * backend.total_weight
        if weights is None:
            denominator = backend.total_weight - 1.0
        else:
            denominator = backend.total_weight - float(np.dot(weights, weights)) / float(
                backend.total_weight
            )
    return scatter / denominator


def _complete(X, weights):
    """``X``, or with missing values a copy filled with its columns' means.

    What the starts, the covariance floors and the degeneracy check's data
    covariance are computed from, as :class:`GaussianMixture` draws its start.
    """
    if not has_missing(X):
        return X
    from .gaussian_mixture import _mean_imputed

    return _mean_imputed(X, weights)


def _draw_starts(X, n_components, n_init, init_params, seed, sample_weight):
    # The same draws GaussianMixture(random_state=seed, n_init=n_init) makes, done once
    # per number of components and shared by every covariance type.
    X = _complete(X, sample_weight)
    random_state = check_random_state(seed)
    return [
        initial_assignment(X, n_components, init_params, random_state, sample_weight)
        for _ in range(n_init)
    ]


def _progress_lines(results, grid):
    """One line on stderr per finished candidate: progress where no bar can be drawn."""
    started = time.perf_counter()
    for done, ((n_components, name), result) in enumerate(zip(grid, results), start=1):
        print(
            f"gaussmix: candidate {done}/{len(grid)} ({n_components} {name}) done, "
            f"{time.perf_counter() - started:.1f} s elapsed",
            file=sys.stderr,
            flush=True,
        )
        yield result


def _distinct(assignments):
    """The starts, each partition once: EM from a repeated one repeats its result."""
    kept = []
    for assignment in assignments:
        if not any(same_partition(assignment, other) for other in kept):
            kept.append(assignment)
    return kept


class GaussianMixtureIC(DensityMixin, ClusterMixin, BaseEstimator):
    """Gaussian mixture with the number of components and covariance model chosen by BIC.

    Fits every combination of ``n_components`` and ``covariance_types``, each
    converged tightly from several starts, scores it by an information criterion
    on the training data, and keeps the best. Candidates that are degenerate
    (spurious) maxima are marked in :attr:`results_`, reported by a
    :class:`SpuriousFitWarning` and, by default, not chosen, as R mclust does
    with singular fits.

    Parameters
    ----------
    n_components : int or iterable of int, default=range(1, 10)
        Numbers of components to try; an int ``n`` means ``1..n``.
    covariance_types : str or iterable of str, default='mclust'
        Covariance models to try: names of ``gaussmix.covariance.COVARIANCE_MODELS``,
        or ``'mclust'`` (mclust's 14 models, EII to VVV, as R's ``Mclust``
        searches; ``E`` and ``V`` for data with one feature) or ``'scikit-learn'``
        (spherical, diag, tied, full).
    criterion : {'bic', 'aic', 'icl'}, default='bic'
        Criterion to minimise (scikit-learn's sign: lower is better).
    n_init : int, default=5
        Starts drawn by ``init_params`` per number of components, shared by every
        covariance model; each candidate keeps the start that reaches the highest
        likelihood. Starts that partition the rows identically are run once.
    tol : float, default=1e-6
        EM convergence threshold on the mean log-likelihood. Tighter than
        GaussianMixture's 1e-3, which can stop EM several BIC points short and
        mis-rank candidates.
    max_iter : int, default=1000
        EM iterations per start.
    reg_covar : float, default=1e-6
        The covariance floor, added to the diagonal of every covariance; its
        unit is set by ``reg_covar_scale``.
    reg_covar_scale : {'variance', 'absolute'}, default='variance'
        ``'variance'``: feature ``j`` gets ``reg_covar`` times its own variance
        in the searched data (weighted, ``1/N``; a constant feature gets the
        mean of the others), so the floor and the choice do not depend on the
        data's units: a feature measured in metres or in kilometres is
        regularised alike, and a feature whose whole variance is below
        ``reg_covar`` (e.g. ``1e-7``) is not flattened onto the floor.
        ``'absolute'``: ``reg_covar`` itself in every feature, scikit-learn's
        meaning. The floors used are in :attr:`reg_covar_`; every candidate
        (``best_estimator_`` too) is a :class:`GaussianMixture` with these
        floors as its ``reg_covar``.
    init_params : str, default='kmeans'
        How starts are drawn (as in :class:`GaussianMixture`).
    random_state : int, RandomState instance or None, default=None
        Seed of the starts; every candidate with the same number of components
        starts from the same draws.
    screen_starts : bool, default=True
        Run every start of a candidate for a few iterations (up to 5, or until
        the mean log-likelihood changes by less than 1e-3), then only the one
        ahead, and mclust's start, on (Biernacki, Celeux & Govaert 2003) until
        they converge or settle: their changes are below 1e-4 and Aitken's
        projection of the criterion's remaining improvement is below
        ``SETTLE_CRITERION`` (1) at two successive iterations. Candidates that
        end within ``SCREEN_MARGIN`` (10) of the best criterion value (15 for
        settled ones) then have every start run to ``tol``, so the chosen model
        and its neighbours are exactly what ``screen_starts=False`` (every start
        of every candidate to ``tol``) gives, at a fraction of the iterations.
        The others keep their screened values in :attr:`results_`: a
        criterion within about 1 of its converged value, ``converged`` False
        where the start settled, ``all_starts`` False.
    hc_start : bool, default=True
        Add mclust's start (``init_params='hc'``: model-based hierarchical
        clustering, one tree for all numbers of components) to every candidate's
        starts, so that no candidate ends below what R's ``Mclust`` reaches from
        its own start, and none below the ``n_init`` draws alone.
    exclude_spurious : bool, default=True
        Never choose a candidate flagged as spurious.
    singular_tol : float, default=1e-5
        A candidate is spurious when a component's own variance in some direction
        (``reg_covar`` removed) is below ``singular_tol`` times the data's
        variance in that direction. Independently of ``singular_tol``, a
        candidate of two or more components is also spurious when a component
        has fewer than ``D + 1`` effective points (sum of its responsibilities)
        in a model where each component has covariance parameters of its own (a
        volume, a shape or an orientation: every mclust model but EII, EEI and
        EEE, and scikit-learn's spherical, diag and full): with ``D`` or fewer
        points its own scatter is singular, so its own parameters are fitted to
        the few directions its rows span and it hugs them (on standardised
        breast-cancer data, a VEE component of 8 rows in 30 dimensions has a
        training mean log-likelihood of 0.13 and a held-out one of -1.89). In
        models whose components share their whole covariance, a component only
        places a mean and is flagged when it is empty.
    max_search_samples : int or None, default=50_000
        On more rows than this, the candidates are fitted and ranked on a seeded
        subsample of this many rows (drawn with ``random_state``); then the best
        candidate and every other one within ``REFIT_MARGIN`` (10) of its
        criterion on the subsample are refitted on all rows, starting from their
        subsample fits, and the best of those on all rows is chosen. ``results_``
        holds the subsample's table, ``refit_results_`` the refits'. None searches
        on all rows.
    n_jobs : int, default=None
        Candidates fitted in parallel (joblib); None means 1.
    progress : bool or {'bar', 'log'}, default=False
        Report the candidates as they finish: ``'bar'`` a progress bar (tqdm),
        ``'log'`` one line per candidate on stderr; True picks the bar when
        stderr is a terminal and lines otherwise.
    prior : None, 'default', dict or ConjugatePrior, default=None
        Conjugate-prior regularisation of every candidate (see
        :class:`GaussianMixture`); ``'default'`` and a dict are resolved per
        candidate, as mclust's ``defaultPrior`` depends on the model and the
        number of components. Criteria are computed from the log-likelihood at
        the posterior mode, as mclust does.

    Missing values (NaN, in-memory arrays) are modelled by every candidate (see
    :class:`GaussianMixture`). The criteria then use the observed-data
    log-likelihood (each row's density over its observed features), and ``n``
    in BIC stays the number of rows (the total weight): BIC compares models
    fitted to the same observed values, its penalty counting parameters per
    row as for complete data. Starts, covariance floors and the degeneracy
    check's data covariance come from a copy of X filled with its columns' means.

    Attributes
    ----------
    best_estimator_ : GaussianMixture
        The chosen model, fitted on the whole training data.
    best_index_ : int
        Its row in :attr:`results_`.
    best_n_components_ : int
    best_covariance_type_ : str
    results_ : dict of list
        One entry per candidate (``pandas.DataFrame(results_)`` gives a table):
        ``n_components``, ``covariance_type``, ``bic``, ``aic``, ``icl``
        (scikit-learn sign; NaN for failed fits), ``log_likelihood`` (total),
        ``n_parameters``, ``converged``, ``n_iter``, ``min_variance_ratio``,
        ``min_component_points``, ``spurious``, ``reason`` (why a candidate is
        spurious or failed; empty otherwise) and ``all_starts`` (False where
        screening ran only the leading starts to convergence: that candidate's
        criterion may be a little worse than with every start).
    estimators_ : list of GaussianMixture or None
        The fitted candidates, aligned with :attr:`results_` (None where a fit failed).
    n_search_samples_ : int
        The rows the candidates were fitted and ranked on (all of them, or
        ``max_search_samples``).
    refit_results_ : dict of list or None
        With a subsample: the candidates refitted on all rows (``index`` into
        :attr:`results_`, ``n_components``, ``covariance_type``, ``bic``, ``aic``,
        ``icl``, ``log_likelihood``, ``spurious``), criteria on all rows.
    weights_, means_, covariances_, precisions_, precisions_cholesky_, converged_, \
n_iter_, lower_bound_, labels_
        The chosen model's attributes.
    reg_covar_ : ndarray of shape (n_features_in_,)
        The covariance floor of each feature, as added to the candidates'
        covariances (see ``reg_covar_scale``).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Present when ``X`` had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixtureIC
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(-4, 1, (200, 2)), rng.normal(4, 1, (200, 2))])
    >>> selector = GaussianMixtureIC(n_components=range(1, 5), random_state=0).fit(X)
    >>> selector.best_n_components_
    2
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), Iterable],
        "covariance_types": [str, Iterable],
        "criterion": [StrOptions({"bic", "aic", "icl"})],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar_scale": [StrOptions({"variance", "absolute"})],
        "init_params": [StrOptions({"kmeans", "random", "random_from_data", "k-means++", "hc"})],
        "random_state": ["random_state"],
        "hc_start": ["boolean"],
        "screen_starts": ["boolean"],
        "exclude_spurious": ["boolean"],
        "singular_tol": [Interval(Real, 0.0, None, closed="left")],
        "max_search_samples": [Interval(Integral, 2, None, closed="left"), None],
        "n_jobs": [Integral, None],
        "progress": ["boolean", StrOptions({"bar", "log"})],
        "prior": [None, StrOptions({"default"}), dict, ConjugatePrior],
    }

    def __init__(
        self,
        n_components=range(1, 10),
        covariance_types="mclust",
        criterion="bic",
        *,
        n_init=5,
        tol=1e-6,
        max_iter=1000,
        reg_covar=1e-6,
        reg_covar_scale="variance",
        init_params="kmeans",
        random_state=None,
        hc_start=True,
        screen_starts=True,
        exclude_spurious=True,
        singular_tol=1e-5,
        max_search_samples=50_000,
        n_jobs=None,
        progress=False,
        prior=None,
    ):
        self.n_components = n_components
        self.covariance_types = covariance_types
        self.criterion = criterion
        self.n_init = n_init
        self.tol = tol
        self.max_iter = max_iter
        self.reg_covar = reg_covar
        self.reg_covar_scale = reg_covar_scale
        self.init_params = init_params
        self.random_state = random_state
        self.hc_start = hc_start
        self.screen_starts = screen_starts
        self.exclude_spurious = exclude_spurious
        self.singular_tol = singular_tol
        self.max_search_samples = max_search_samples
        self.n_jobs = n_jobs
        self.progress = progress
        self.prior = prior

    # ------------------------------------------------------------------ grid
    def _grid(self, n_features):
        if isinstance(self.n_components, Integral):
            counts = list(range(1, int(self.n_components) + 1))
        else:
            counts = [int(value) for value in self.n_components]
            if not counts or any(value < 1 for value in counts):
                raise ValueError(
                    f"n_components must be positive integers, got {list(self.n_components)!r}."
                )
        types = self.covariance_types
        if types == "mclust":
            # On one feature the 14 models reduce to E (equal) and V (variable variance).
            types = UNIVARIATE_NAMES if n_features == 1 else MCLUST_NAMES
        elif types == "scikit-learn":
            types = ("spherical", "diag", "tied", "full")
        types = [types] if isinstance(types, str) else list(types)
        if not types:
            raise ValueError("covariance_types is empty: name at least one covariance model.")
        for name in types:
            get_covariance_model(name)  # raises, listing the valid names
        return sorted(set(counts)), list(dict.fromkeys(types))

    def _template(self, n_components, covariance_type, seed, n_starts):
        return GaussianMixture(
            n_components=n_components,
            covariance_type=covariance_type,
            tol=self.tol,
            reg_covar=self.reg_covar_,
            max_iter=self.max_iter,
            n_init=n_starts,
            init_params=self.init_params,
            random_state=seed,
            prior=self.prior,
        )

    def _floors(self, X, weights):
        """Each feature's covariance floor for the searched rows (``reg_covar_scale``)."""
        n_features = X.shape[1]
        if self.reg_covar_scale == "absolute":
            return np.full(n_features, float(self.reg_covar))
        X = _complete(X, weights)
        variances = np.average(
            (X - np.average(X, axis=0, weights=weights)) ** 2, axis=0, weights=weights
        ).astype(np.float64)
        varying = variances > 0
        # A constant feature has no scale of its own: it borrows the others' mean.
        fallback = variances[varying].mean() if varying.any() else 1.0
        return self.reg_covar * np.where(varying, variances, fallback)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_weight=None):
        """Fit every candidate and choose the best by ``criterion``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to every candidate's fit; criteria use the weighted
            log-likelihood and the total weight as the number of samples.

        Returns
        -------
        self : GaussianMixtureIC
        """
        self._validate_params()
        X = validated_X(self, X, fit=True, allow_nan=True)
        if _on_cluster(X):
            # Dask input with a distributed client: the candidates run on the cluster
            # too (joblib's Dask backend), as the refit on all rows does.
            with parallel_config(backend="dask"):
                return self._search(X, sample_weight)
        return self._search(X, sample_weight)

    def _search(self, X, sample_weight):
        counts, types = self._grid(X.shape[1])
        n_samples = X.shape[0]
        if counts[0] > n_samples:
            raise ValueError(
                f"Every n_components tried ({counts}) exceeds the {n_samples} samples: "
                "pass more samples or fewer components."
            )
        counts = [k for k in counts if k <= n_samples]
        # Criteria count the total weight as the number of samples (integer weights are
        # repeated rows); the fits get the weights rescaled to mean one.
        total_weights = check_sample_weight(sample_weight, n_samples, np.float64)
        sample_weight = check_sample_weight(sample_weight, n_samples, X.dtype, normalize=True)
        # An int seed makes each candidate reproducible as a plain GaussianMixture.
        seed = (
            self.random_state
            if isinstance(self.random_state, Integral)
            else int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        )
        everything = (X, total_weights, sample_weight)
        streamed = _streamed(X)
        max_search_samples = self.max_search_samples
        if streamed and max_search_samples is None:
            # Data read block by block are always searched on a sample: every
            # candidate's starts and passes would otherwise read them all.
            max_search_samples = SAMPLE_ROWS
        if max_search_samples is not None and n_samples > max_search_samples:
            # The same rows whether X is in memory, read block by block or on Dask.
            rows = sample_rows(n_samples, max_search_samples, check_random_state(seed))
            X = _take_rows(X, rows)
            total_weights = None if total_weights is None else total_weights[rows]
            sample_weight = check_sample_weight(
                None if sample_weight is None else sample_weight[rows],
                rows.size,
                X.dtype,
                normalize=True,
            )
        self.n_search_samples_ = X.shape[0]
        self.reg_covar_ = self._floors(X, total_weights)

        parallel = Parallel(n_jobs=self.n_jobs)
        starts = dict(
            zip(
                counts,
                parallel(
                    delayed(_draw_starts)(
                        X, k, 1 if k == 1 else self.n_init, self.init_params, seed, sample_weight
                    )
                    for k in counts
                ),
            )
        )
        hc_labels = {}
        if self.hc_start:
            uniform = sample_weight is None or np.all(sample_weight == sample_weight[0])
            hc_labels = hc_assignments(
                _complete(X, sample_weight),
                counts,
                check_random_state(seed),
                None if uniform else sample_weight,
            )
            for k in counts:
                starts[k] = [*starts[k], Assignment(labels=hc_labels[k], resp=None)]
        # The draws come first: ties between starts go to the earlier one.
        starts = {k: _distinct(assignments) for k, assignments in starts.items()}
        # The criteria count the total weight as the number of samples; the fits'
        # bound is the mean log-likelihood per (mean-one weighted) sample.
        total_weight = X.shape[0] if total_weights is None else float(np.sum(total_weights))
        # mclust's start is always run to convergence, never screened away.
        screens = {
            k: Screen(
                always=tuple(
                    i
                    for i, assignment in enumerate(starts[k])
                    if self.hc_start
                    and same_partition(assignment, Assignment(labels=hc_labels[k], resp=None))
                ),
                settle_gain=SETTLE_CRITERION / (2.0 * total_weight),
                settle_change=SETTLE_CHANGE,
            )
            if self.screen_starts
            else None
            for k in counts
        }
        grid = [(k, name) for name in types for k in counts]
        # Results come back in grid order as they finish, so the bar counts finished fits.
        fits = Parallel(n_jobs=self.n_jobs, return_as="generator")(
            delayed(_candidate_fit)(
                self._template(k, name, seed, len(starts[k])),
                X,
                sample_weight,
                starts[k],
                screens[k],
            )
            for k, name in grid
        )
        fits = list(self._progress(fits, grid))
        self._record(X, total_weights, grid, fits)
        self._finish_contenders(X, total_weights, sample_weight)
        self._choose()
        self.refit_results_ = None
        if self.n_search_samples_ < n_samples:
            self._refit_on_all_rows(*everything, seed)
        return self

    def _progress(self, results, grid):
        mode = self.progress
        if not mode:
            return results
        if mode == "bar" or (mode is True and sys.stderr.isatty()):
            try:
                from tqdm.auto import tqdm
            except ImportError:  # pragma: no cover - tqdm comes with the plot extra
                return results
            return tqdm(
                results, total=len(grid), desc="fitting candidates", unit="model", leave=False
            )
        return _progress_lines(results, grid)

    def _record(self, X, sample_weight, grid, fits):
        weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        data_covariance = _data_covariance(X, weights)
        results = {column: [] for column in RESULT_COLUMNS}
        self.estimators_ = []
        for (n_components, name), (estimator, error) in zip(grid, fits):
            row = _unfitted_row(n_components, name, error)
            if estimator is not None:
                row.update(self._criteria(estimator, X, weights, data_covariance))
            if estimator is not None and hasattr(self, "feature_names_in_"):
                # Candidates were fitted on the validated array; keep the column names.
                estimator.feature_names_in_ = self.feature_names_in_
            for column in RESULT_COLUMNS:
                results[column].append(row[column])
            self.estimators_.append(estimator)
        self.results_ = results

    def _criteria(self, estimator, X, weights, data_covariance):
        """A fitted candidate's row of :attr:`results_` on ``X`` (weights per row)."""
        n_components, n_features = estimator.means_.shape
        name = estimator.covariance_type
        total_weight = float(np.sum(weights, dtype=np.float64))
        n_parameters = estimator._n_parameters()
        if _streamed(X):
            # Sums over the rows, never the rows' N x K results.
            log_likelihood, log_resp_max = estimator._inference_pass(
                X, likelihood_and_entropy, sample_weight=weights
            )
            entropy = -log_resp_max
        else:
            # Log-densities and responsibilities in one pass over the data.
            log_prob, log_resp = estimator._inference_pass(X, score_rows, with_resp=True)
            log_likelihood = float(np.dot(weights, log_prob))
            entropy = float(-np.dot(weights, log_resp.max(axis=1)))
        bic = criteria.bic(log_likelihood, n_parameters, total_weight)
        ratio, points = criteria.degeneracy(
            criteria.component_covariance_matrices(
                estimator.covariances_, name, n_components, n_features
            ),
            estimator.weights_ * total_weight,
            data_covariance,
            estimator.reg_covar,
        )
        reason = self._spurious_reason(ratio, points, name, n_components, n_features)
        return dict(
            bic=bic,
            aic=criteria.aic(log_likelihood, n_parameters),
            icl=bic + 2.0 * entropy,
            log_likelihood=log_likelihood,
            n_parameters=n_parameters,
            converged=estimator.converged_,
            n_iter=estimator.n_iter_,
            min_variance_ratio=float(ratio.min()),
            min_component_points=float(points.min()),
            spurious=bool(reason),
            reason=reason,
            all_starts=not estimator._unfinished_starts(),
        )

    def _finish_contenders(self, X, total_weights, sample_weight):
        """Run every start of the candidates that may win, as an exhaustive search does.

        Screened candidates ran only their most promising start, until it
        converged or settled. Those within ``SCREEN_MARGIN`` of the best eligible
        criterion value (``SCREEN_MARGIN + SETTLE_SLACK`` for settled ones) get
        every start run to ``tol`` (which can only improve them), until every
        candidate in reach of the best is what the exhaustive search would give.
        """
        weights = np.ones(X.shape[0]) if total_weights is None else total_weights
        data_covariance = _data_covariance(X, total_weights)
        while True:
            values, eligible = self._eligible_values()
            if not eligible.any():
                return
            reach = values[eligible].min() + SCREEN_MARGIN
            contenders = [
                index
                for index in np.flatnonzero(np.isfinite(values) & (values <= reach + SETTLE_SLACK))
                if self.estimators_[index]._unfinished_starts()
                and (values[index] <= reach or self.estimators_[index]._settled())
            ]
            if not contenders:
                return
            for index in contenders:
                estimator = self.estimators_[index]
                try:
                    estimator._finish_starts(X, sample_weight)
                except (CollapseError, ValueError, np.linalg.LinAlgError) as exc:
                    # The exhaustive search's fit of this candidate fails the same way.
                    self._mark_failed(index, f"fit failed: {exc}")
                    continue
                row = self._criteria(estimator, X, weights, data_covariance)
                for column, value in row.items():
                    self.results_[column][index] = value

    def _mark_failed(self, index, reason):
        """Record candidate ``index`` as a failed fit, as :meth:`_record` does."""
        row = _unfitted_row(
            self.results_["n_components"][index], self.results_["covariance_type"][index], reason
        )
        for column in RESULT_COLUMNS:
            self.results_[column][index] = row[column]
        self.estimators_[index] = None

    def _refit_on_all_rows(self, X, total_weights, sample_weight, seed):
        """Refit the subsample's best candidates on all rows; keep the best of them."""
        values, eligible = self._eligible_values()
        close = np.flatnonzero(eligible & (values <= values[self.best_index_] + REFIT_MARGIN))
        weights = np.ones(X.shape[0]) if total_weights is None else total_weights
        data_covariance = _data_covariance(X, total_weights)
        refits = {"index": [], "n_components": [], "covariance_type": []}
        refits.update({column: [] for column in REFIT_COLUMNS})
        best, best_value = None, np.inf
        for index in sorted(close, key=lambda i: values[i]):
            start = self.estimators_[index]
            refit = clone(start).set_params(
                n_init=1,
                weights_init=start.weights_,
                means_init=start.means_,
                precisions_init=start.precisions_,
                random_state=seed,
            )
            fitted, _ = _candidate_fit(refit, X, sample_weight, None)
            if fitted is None:
                continue
            row = self._criteria(fitted, X, weights, data_covariance)
            refits["index"].append(int(index))
            refits["n_components"].append(int(start.n_components))
            refits["covariance_type"].append(start.covariance_type)
            for column in REFIT_COLUMNS:
                refits[column].append(row[column])
            if (not row["spurious"] or not self.exclude_spurious) and row[
                self.criterion
            ] < best_value:
                best, best_value = (int(index), fitted), row[self.criterion]
        self.refit_results_ = refits
        if best is not None:
            if hasattr(self, "feature_names_in_"):
                best[1].feature_names_in_ = self.feature_names_in_
            self._adopt(*best)

    def _spurious_reason(self, ratio, points, name, n_components, n_features):
        reasons = []
        flat = np.flatnonzero(ratio < self.singular_tol)
        if flat.size:
            reasons.append(
                f"component {int(flat[0])} has variance at the reg_covar floor in some "
                f"direction ({ratio[flat[0]]:.1e} of the data's)"
            )
        # A component with D or fewer effective points has a singular scatter: its
        # data span at most D - 1 directions, so whatever its own covariance
        # parameters (a volume, a shape, an orientation) are fitted to, they are
        # fitted to that subspace alone, and the spread in the missing directions
        # comes only from what it shares with other components. Its likelihood then
        # rewards hugging a handful of rows (a VEE component of 8 rows in 30
        # dimensions: train mean log-likelihood 0.13, held-out -1.89). Models with
        # no covariance parameters of their own per component (EII, EEI, EEE, tied)
        # only place a mean, which one point determines.
        model = get_covariance_model(name)
        own_covariance = model.n_parameters(2, n_features) - model.n_parameters(1, n_features)
        needed = n_features + 1 if own_covariance else 1
        few = np.flatnonzero(points < needed)
        if n_components > 1 and few.size:
            k = int(few[0])
            if own_covariance:
                reasons.append(
                    f"component {k} has {points[k]:.2f} effective points, fewer than the "
                    f"{needed} its own covariance needs in {n_features} dimensions (with "
                    "fewer, its scatter is singular)"
                )
            else:
                reasons.append(f"component {k} is empty ({points[k]:.2f} effective points)")
        return "; ".join(reasons)

    def _eligible_values(self):
        """The criterion of every candidate and which of them may be chosen."""
        values = np.asarray(self.results_[self.criterion], dtype=np.float64)
        eligible = np.isfinite(values)
        if self.exclude_spurious:
            eligible &= ~np.asarray(self.results_["spurious"], dtype=bool)
        return values, eligible

    def _choose(self):
        results = self.results_
        values, eligible = self._eligible_values()
        spurious = [
            f"{k} {name}"
            for k, name, flag in zip(
                results["n_components"], results["covariance_type"], results["spurious"]
            )
            if flag
        ]
        if spurious:
            action = "excluded from the choice" if self.exclude_spurious else "kept eligible"
            verb = (
                "is a spurious (degenerate) fit"
                if len(spurious) == 1
                else ("are spurious (degenerate) fits")
            )
            warnings.warn(
                f"{plural(len(spurious), 'candidate')} {verb}, {action}: "
                f"{', '.join(spurious)}. Details per candidate in results_['reason'].",
                SpuriousFitWarning,
                stacklevel=3,
            )
        # Candidates out of reach of the best stop settled, short of tol by design.
        not_converged = sum(
            1
            for converged, estimator in zip(results["converged"], self.estimators_)
            if estimator is not None and not converged and estimator.n_iter_ >= self.max_iter
        )
        if not_converged:
            warnings.warn(
                f"{plural(not_converged, 'candidate')} did not converge within "
                f"max_iter={self.max_iter}; increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=3,
            )
        if not np.any(eligible):
            reasons = [reason for reason in results["reason"] if reason]
            first = f" (first: {reasons[0]})" if reasons else ""
            raise ValueError(
                f"No candidate could be chosen: every fit failed or is spurious{first}. Try "
                "fewer components, another covariance type, scaling the data, or a larger "
                "reg_covar."
            )
        # Ties go to the earlier candidate: fewer components, then the order given.
        best = int(np.flatnonzero(eligible)[np.argmin(values[eligible])])
        self._adopt(best, self.estimators_[best])

    def _adopt(self, index, estimator):
        """Make candidate ``index``, fitted as ``estimator``, the chosen model."""
        self.best_index_ = index
        self.best_estimator_ = estimator
        self.best_n_components_ = int(self.results_["n_components"][index])
        self.best_covariance_type_ = self.results_["covariance_type"][index]
        for attribute in (
            "weights_",
            "means_",
            "covariances_",
            "precisions_",
            "precisions_cholesky_",
            "converged_",
            "n_iter_",
            "lower_bound_",
        ):
            setattr(self, attribute, getattr(self.best_estimator_, attribute))
        # A model refitted on rows read block by block keeps no labels (see GaussianMixture).
        if hasattr(self.best_estimator_, "labels_"):
            self.labels_ = self.best_estimator_.labels_
        else:
            self.__dict__.pop("labels_", None)

    # ------------------------------------------------------------------ results
    def results_frame(self, convention="scikit-learn"):
        """The results table as a pandas DataFrame.

        Parameters
        ----------
        convention : {'scikit-learn', 'mclust'}, default='scikit-learn'
            ``'mclust'`` reports BIC, AIC and ICL in R mclust's sign
            (``2 log L - penalty``, higher is better).

        Returns
        -------
        pandas.DataFrame
            One row per candidate, with a boolean ``chosen`` column.
        """
        check_is_fitted(self)
        import pandas as pd

        frame = pd.DataFrame(self.results_)
        if convention == "mclust":
            frame[["bic", "aic", "icl"]] = -frame[["bic", "aic", "icl"]]
        elif convention != "scikit-learn":
            raise ValueError(f"Unknown convention {convention!r}; use 'scikit-learn' or 'mclust'.")
        frame["chosen"] = frame.index == self.best_index_
        return frame

    # ------------------------------------------------------------------ delegation
    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit and return the chosen model's labels of the training samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        self.fit(X, sample_weight=sample_weight)
        if not hasattr(self, "labels_"):
            return self.predict(X)
        return self.labels_

    def _best(self, X):
        check_is_fitted(self)
        if not _streamed(X):
            validate_data(
                self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite=False
            )
        # Data read block by block are checked by the chosen model, in its one read.
        return self.best_estimator_

    def predict(self, X):
        """Most probable component of each sample under the chosen model."""
        return self._best(X).predict(X)

    def predict_proba(self, X):
        """Component probabilities of each sample under the chosen model."""
        return self._best(X).predict_proba(X)

    def score_samples(self, X):
        """Log-density of each sample under the chosen model."""
        return self._best(X).score_samples(X)

    def score(self, X, y=None, sample_weight=None):
        """Weighted mean log-likelihood of ``X`` under the chosen model."""
        return self._best(X).score(X, sample_weight=sample_weight)

    def sample(self, n_samples=1):
        """Draw samples from the chosen model (see :meth:`GaussianMixture.sample`)."""
        check_is_fitted(self)
        return self.best_estimator_.sample(n_samples)

    def bic(self, X, *, convention="scikit-learn"):
        """BIC of the chosen model on ``X`` (see :meth:`GaussianMixture.bic`)."""
        return self._best(X).bic(X, convention=convention)

    def aic(self, X, *, convention="scikit-learn"):
        """AIC of the chosen model on ``X`` (see :meth:`GaussianMixture.aic`)."""
        return self._best(X).aic(X, convention=convention)

    def icl(self, X, *, convention="scikit-learn"):
        """ICL of the chosen model on ``X`` (see :meth:`GaussianMixture.icl`)."""
        return self._best(X).icl(X, convention=convention)

    def save(self, path):
        """Write the chosen model to ``path`` (see :meth:`GaussianMixture.save`).

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        self : GaussianMixtureIC
        """
        check_is_fitted(self)
        self.best_estimator_.save(path)
        return self
