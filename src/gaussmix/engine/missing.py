"""Missing values (NaN) in the EM engine: E-step, statistics and conditionals, pure functions.

Ghahramani & Jordan (1994), "Supervised learning from incomplete data via an EM
approach". For a row with observed coordinates ``o`` and missing ``m``:

- the E-step uses each component's marginal over ``o``, ``N(x_o | mu_o, S_oo)``,
  a full-covariance Gaussian whatever the covariance model; so the rows of one
  *missingness pattern* are scored by the registry's ``'full'`` chunk kernel
  (``COVARIANCE_MODELS['VVV']``) run on the observed sub-matrices;
- the M-step uses, per component, the conditional mean of the missing block
  ``x^_m = mu_m + B (x_o - mu_o)`` with ``B = S_mo inv(S_oo)``, and its
  conditional covariance ``C = S_mm - B S_om``: the full statistics
  ``sum_i r_ik x^_ik`` and ``sum_i r_ik (x^_ik x^_ik' + C_ik)``. These are linear
  in the pattern's observed statistics ``(n_k, sum r x_o, sum r x_o x_o')``,
  which the ``'full'`` kernel's ``moments`` gives, so each pattern costs one
  kernel call and a few ``K x D x D`` products, not a per-row loop.

The full ``D x D`` statistics are then turned into the covariance model's own
statistic (:func:`model_second`: the packed triangle, the diagonal, the trace,
or the sum over components for a shared covariance), so every model's M-step
runs unchanged on them, and statistics stay additive: every backend works.

All of this lives in :class:`MissingValues`, a covariance model over incomplete
rows that wraps a registered one: it runs the wrapped model's kernels on a
chunk's complete rows, the ``'full'`` kernel on each pattern's rows, and
delegates everything else (M-step, parameter count, storage). Handing it to the
unchanged passes and EM loop (:mod:`gaussmix.engine.passes`,
:func:`gaussmix.engine.em.run_em`) gives EM on incomplete data, observed-data
log-likelihoods (``score_rows``, ``likelihood_and_entropy``) and labels. Data
without NaN never meet it: the estimators dispatch once, at validation, and
complete data take the wrapped model's path unchanged.

Patterns are found per chunk (a chunk may mix them): the observed mask packed
to bits, one ``np.unique`` over the packed rows. Each pattern's marginal and
conditional parameters are computed once per EM iteration, on first use, and
cached in the prepared arrays (threads may compute one twice; the values are
equal). The kernels run in the data's dtype as for complete data.

Also here, on whole arrays: :func:`conditional_moments` (imputation by the
conditional mean and its variance, or by draws), :func:`marginal_params` and
:func:`condition_params` (a mixture's marginal over some features, and its
conditional given values of others).
"""

from __future__ import annotations

import numpy as np

from ..covariance import COVARIANCE_MODELS, Prepared
from ..covariance._base import triangle
from ..covariance.diag import DiagCovariance
from ..covariance.full import FullCovariance
from ..covariance.spherical import SphericalCovariance
from .estep import normalize_in_place
from .params import MixtureParams

#: The kernel that scores a pattern's rows: every component's marginal is a full Gaussian.
FULL = COVARIANCE_MODELS["VVV"]


# ----------------------------------------------------------------- patterns
def group_patterns(observed: np.ndarray):
    """Group rows by their pattern of observed coordinates.

    Parameters
    ----------
    observed : ndarray of bool, shape (n_features, n_rows)
        True where a value is observed (rows are columns, as the kernels see them).

    Returns
    -------
    list of (pattern, rows)
        ``pattern``: bool array of shape (n_features,); ``rows``: the indices of
        the rows with that pattern, ascending.
    """
    n_rows = observed.shape[1]
    packed = np.packbits(observed, axis=0)
    keys = np.ascontiguousarray(packed.T).view(np.dtype((np.void, packed.shape[0])))[:, 0]
    unique, inverse = np.unique(keys, return_inverse=True)
    if unique.size == 1:
        return [(observed[:, 0].copy(), np.arange(n_rows))]
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=unique.size))])
    groups = []
    for g in range(unique.size):
        rows = order[bounds[g] : bounds[g + 1]]
        groups.append((observed[:, rows[0]].copy(), rows))
    return groups


def count_patterns(X: np.ndarray) -> int:
    """Number of distinct patterns of missing values among the rows of ``X``."""
    observed = ~np.isnan(np.asarray(X))
    packed = np.packbits(observed, axis=1)
    return int(np.unique(packed, axis=0).shape[0])


# ------------------------------------------------------------ model forms
def full_covariances_of(model, covariances, n_components: int, n_features: int) -> np.ndarray:
    """Any model's covariances as a ``(n_components, n_features, n_features)`` float64 stack."""
    covariances = np.asarray(covariances, dtype=np.float64)
    if model.shared_covariance:
        return np.repeat(covariances[None], n_components, axis=0)
    if covariances.ndim == 1:
        return covariances[:, None, None] * np.eye(n_features)
    if covariances.ndim == 2:
        stack = np.zeros((n_components, n_features, n_features))
        index = np.arange(n_features)
        stack[:, index, index] = covariances
        return stack
    return covariances.copy()


def model_second(model, second: np.ndarray) -> np.ndarray:
    """The model's second-moment statistic from full ones ``(K, D, D)``.

    What the model's ``moments`` sums per chunk, as a function of
    ``sum_i r_ik x_i x_i'``: the sum over components for a shared covariance,
    the packed upper triangle for full-matrix models, the diagonal for diagonal
    ones, the trace for spherical ones. Linear, so it can be applied per chunk.
    """
    if model.shared_covariance:
        return second.sum(axis=0)
    if isinstance(model, SphericalCovariance):
        return np.trace(second, axis1=1, axis2=2)[:, None]
    if isinstance(model, DiagCovariance):
        return np.diagonal(second, axis1=1, axis2=2).copy()
    if isinstance(model, FullCovariance):
        table = triangle(second.shape[1])
        return second[:, table.rows, table.cols]
    raise TypeError(f"No statistic form known for the covariance model {model.name!r}.")


# ------------------------------------------------------- pattern parameters
class PatternParams:
    """A pattern's marginal (kernel form) and conditional parameters, all components.

    Attributes
    ----------
    observed, missing : ndarray of int
        Feature indices.
    prepared : Prepared
        The ``'full'`` kernel's arrays for the marginals over ``observed``.
    mean_o : ndarray of shape (K, n_observed)
    mean_m : ndarray of shape (K, n_missing)
        Means relative to the data centre.
    regression : ndarray of shape (K, n_missing, n_observed)
        ``B_k = S_mo inv(S_oo)``.
    conditional : ndarray of shape (K, n_missing, n_missing)
        ``C_k = S_mm - B_k S_om``.
    """

    __slots__ = ("conditional", "mean_m", "mean_o", "missing", "observed", "prepared", "regression")

    def __init__(self, pattern, means_shifted, covariances, log_weights, dtype):
        observed = np.flatnonzero(pattern)
        missing = np.flatnonzero(~pattern)
        s_oo = covariances[:, observed[:, None], observed]
        precisions_chol, _ = FULL.precisions_cholesky(s_oo)
        self.observed, self.missing = observed, missing
        self.mean_o = means_shifted[:, observed]
        self.mean_m = means_shifted[:, missing]
        self.prepared = FULL.prepare(self.mean_o, precisions_chol, log_weights, dtype)
        s_mo = covariances[:, missing[:, None], observed]
        # inv(S_oo) = P P' with the upper precision factor P.
        self.regression = (s_mo @ precisions_chol) @ np.swapaxes(precisions_chol, 1, 2)
        s_mm = covariances[:, missing[:, None], missing]
        self.conditional = s_mm - self.regression @ np.swapaxes(s_mo, 1, 2)


def complete_statistics(pp: PatternParams, nk, first_o, second_oo, first, second):
    """Add a pattern's full statistics to ``first`` (K, D) and ``second`` (K, D, D).

    From the pattern's observed statistics ``n_k``, ``f = sum r x_o`` and
    ``S = sum r x_o x_o'`` (rows relative to the centre), with ``y = x_o - mu_o``:
    ``sum r x^_m = n mu_m + B (f - n mu_o)``,
    ``sum r x^_m x_o' = mu_m f' + B (S - mu_o f')``,
    ``sum r (x^_m x^_m' + C) = n (C + mu_m mu_m') + mu_m (B Y1)' + (B Y1) mu_m' + B Y2 B'``
    with ``Y1 = sum r y`` and ``Y2 = sum r y y'``.
    """
    o, m = pp.observed, pp.missing
    mu_o, mu_m, b = pp.mean_o, pp.mean_m, pp.regression
    first[:, o] += first_o
    second[:, o[:, None], o] += second_oo
    if m.size == 0:
        return
    y1 = first_o - nk[:, None] * mu_o
    mu_f = mu_o[:, :, None] * first_o[:, None, :]
    y2 = (
        second_oo
        - mu_f
        - np.swapaxes(mu_f, 1, 2)
        + nk[:, None, None] * (mu_o[:, :, None] * mu_o[:, None, :])
    )
    by1 = np.einsum("kmo,ko->km", b, y1)
    first[:, m] += nk[:, None] * mu_m + by1
    cross = mu_m[:, :, None] * first_o[:, None, :] + b @ (second_oo - mu_f)
    second[:, m[:, None], o] += cross
    second[:, o[:, None], m] += np.swapaxes(cross, 1, 2)
    outer = mu_m[:, :, None] * by1[:, None, :]
    second[:, m[:, None], m] += (
        nk[:, None, None] * (pp.conditional + mu_m[:, :, None] * mu_m[:, None, :])
        + outer
        + np.swapaxes(outer, 1, 2)
        + b @ y2 @ np.swapaxes(b, 1, 2)
    )


def _unpack(packed: np.ndarray, n_features: int) -> np.ndarray:
    return np.take(packed, triangle(n_features).unpack, axis=1).reshape(-1, n_features, n_features)


# ------------------------------------------------------------ the adapter
class MissingValues:
    """A covariance model over rows with missing values (NaN), wrapping a registered model.

    Follows the :class:`~gaussmix.covariance.CovarianceModel` contract: its
    ``weighted_log_prob`` gives each row's ``log pi_k + log N(x_o | mu_ko, S_koo)``
    and its ``moments`` the wrapped model's statistics with the missing
    coordinates' conditional expectations (see the module's docstring).
    Everything else is the wrapped model's.

    Parameters
    ----------
    model : CovarianceModel
        The registered model whose parameters are fitted.
    """

    def __init__(self, model):
        self.model = model

    def __getattr__(self, name):
        # Only reached for what this class does not define: the wrapped model's.
        return getattr(self.__dict__["model"], name)

    def prepare(self, means_shifted, precisions_chol, log_weights, dtype):
        """The wrapped model's kernel arrays, plus what the patterns need (computed lazily)."""
        inner = self.model.prepare(means_shifted, precisions_chol, log_weights, dtype)
        n_components, n_features = means_shifted.shape
        covariances = full_covariances_of(
            self.model,
            self.model.covariances_from_cholesky(precisions_chol),
            n_components,
            n_features,
        )
        arrays = {
            "inner": inner,
            "means": np.asarray(means_shifted, dtype=np.float64),
            "covariances": covariances,
            "log_weights": np.asarray(log_weights, dtype=np.float64),
            "dtype": np.dtype(dtype),
            "patterns": {},
        }
        return Prepared(log_norm=inner.log_norm, arrays=arrays, kernel=None)

    def pattern(self, prepared, pattern) -> PatternParams:
        """The (cached) parameters of ``pattern`` under ``prepared``."""
        cache = prepared.arrays["patterns"]
        key = pattern.tobytes()
        found = cache.get(key)
        if found is None:
            arrays = prepared.arrays
            found = PatternParams(
                pattern,
                arrays["means"],
                arrays["covariances"],
                arrays["log_weights"],
                arrays["dtype"],
            )
            cache[key] = found
        return found

    def workspace(self, n_rows, n_components, n_features, dtype):
        """The wrapped model's scratch (complete rows); patterns get their own per chunk."""
        return self.model.workspace(n_rows, n_components, n_features, dtype)

    def weighted_log_prob(self, XcT, prepared, work):
        """``log pi_k + log N(x_o | ...)`` per row, over each row's observed coordinates."""
        inner = prepared.arrays["inner"]
        observed = ~np.isnan(XcT)
        if observed.all():
            work["missing_groups"] = None
            return self.model.weighted_log_prob(XcT, inner, work)
        n_components = prepared.log_norm.size
        out = np.empty((n_components, XcT.shape[1]), dtype=XcT.dtype)
        groups = []
        for pattern, rows in group_patterns(observed):
            if not pattern.any():
                raise ValueError("A row with no observed value reached the E-step.")
            if pattern.all():
                rows_t = np.ascontiguousarray(XcT[:, rows])
                out[:, rows] = self.model.weighted_log_prob(rows_t, inner, work)
                groups.append((None, rows, rows_t, None))
                continue
            pp = self.pattern(prepared, pattern)
            rows_t = XcT[pp.observed[:, None], rows]
            # Own scratch per group: the kernel's intermediates must survive until moments.
            scratch = FULL.workspace(rows.size, n_components, pp.observed.size, XcT.dtype)
            out[:, rows] = FULL.weighted_log_prob(rows_t, pp.prepared, scratch)
            groups.append((pp, rows, rows_t, scratch))
        work["missing_groups"] = groups
        return out

    def moments(self, XcT, resp_weighted, sample_weight, prepared, work):
        """The wrapped model's ``(nk, first, second)`` with conditional expectations filled in."""
        inner = prepared.arrays["inner"]
        groups = work.pop("missing_groups", None)
        if groups is None:
            return self.model.moments(XcT, resp_weighted, sample_weight, inner, work)
        n_components, n_features = resp_weighted.shape[0], XcT.shape[0]
        nk = np.zeros(n_components)
        first = np.zeros((n_components, n_features))
        second_full = np.zeros((n_components, n_features, n_features))
        second = None
        for pp, rows, rows_t, scratch in groups:
            resp = np.ascontiguousarray(resp_weighted[:, rows])
            weights = None if sample_weight is None else sample_weight[rows]
            if pp is None:
                n_c, f_c, s_c = self.model.moments(rows_t, resp, weights, inner, work)
                nk += n_c
                first += f_c
                second = np.asarray(s_c, dtype=np.float64) + (0.0 if second is None else second)
                continue
            n_o, f_o, s_o = FULL.moments(rows_t, resp, weights, pp.prepared, scratch)
            n_o = np.asarray(n_o, dtype=np.float64)
            f_o = np.asarray(f_o, dtype=np.float64)
            s_o = _unpack(np.asarray(s_o, dtype=np.float64), pp.observed.size)
            nk += n_o
            complete_statistics(pp, n_o, f_o, s_o, first, second_full)
        converted = model_second(self.model, second_full)
        return nk, first, converted if second is None else converted + second


# ------------------------------------------------ conditionals on whole arrays
def _log_weights(weights):
    return np.log(np.maximum(weights, np.finfo(np.float64).tiny))


def conditional_moments(
    X: np.ndarray, params: MixtureParams, model, *, variances: bool = False, rng=None
):
    """Per-row posterior responsibilities and conditional mean of the missing values.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        NaN marks missing values; a row must have at least one observed value.
    params : MixtureParams
    model : CovarianceModel
        The model ``params`` are stored for.
    variances : bool, default=False
        Also return the conditional variance of each missing value under the mixture.
    rng : numpy.random.RandomState, optional
        Draw each missing block from the conditional mixture (a component from
        the responsibilities, then the component's conditional Gaussian)
        instead of taking the conditional mean.

    Returns
    -------
    filled : ndarray of shape (n_samples, n_features)
        ``X`` with its missing values replaced (observed values kept).
    resp : ndarray of shape (n_samples, n_components)
    log_prob : ndarray of shape (n_samples,)
        Observed-data log-density of each row.
    variance : ndarray of shape (n_samples, n_features)
        Only when ``variances``: zero where observed.
    """
    X = np.asarray(X, dtype=np.float64)
    n_samples, n_features = X.shape
    n_components = params.weights.size
    centre = params.weights @ params.means
    covariances = full_covariances_of(model, params.covariances, n_components, n_features)
    means = params.means - centre
    log_weights = _log_weights(params.weights)
    filled = X.copy()
    resp_all = np.empty((n_samples, n_components))
    log_prob = np.empty(n_samples)
    variance = np.zeros_like(X) if variances else None
    absent = params.weights <= 0.0
    XcT = (X - centre).T
    for pattern, rows in group_patterns(~np.isnan(XcT)):
        if not pattern.any():
            raise ValueError("A row with no observed value cannot be conditioned on.")
        pp = PatternParams(pattern, means, covariances, log_weights, np.float64)
        rows_t = np.ascontiguousarray(XcT[pp.observed[:, None], rows])
        scratch = FULL.workspace(rows.size, n_components, pp.observed.size, np.float64)
        weighted = FULL.weighted_log_prob(rows_t, pp.prepared, scratch).copy()
        weighted[absent] = -np.inf
        with np.errstate(under="ignore"):
            norm, row_sum = normalize_in_place(weighted)
        resp = (weighted / row_sum).T
        resp_all[rows] = resp
        log_prob[rows] = norm
        if pp.missing.size == 0:
            continue
        y = rows_t.T[None, :, :] - pp.mean_o[:, None, :]
        # Each component's conditional mean of the missing block: (K, n, m).
        cond = pp.mean_m[:, None, :] + np.einsum("kmo,kno->knm", pp.regression, y)
        m = pp.missing
        if rng is None:
            mean = np.einsum("nk,knm->nm", resp, cond)
            filled[rows[:, None], m] = mean + centre[m]
        else:
            cumulative = np.cumsum(resp, axis=1)
            draws = rng.uniform(size=rows.size)[:, None]
            chosen = np.minimum((cumulative < draws).sum(axis=1), n_components - 1)
            noise = rng.standard_normal(size=(rows.size, m.size))
            factors = np.linalg.cholesky(pp.conditional + 1e-300 * np.eye(m.size))
            drawn = cond[chosen, np.arange(rows.size)] + np.einsum(
                "nab,nb->na", factors[chosen], noise
            )
            filled[rows[:, None], m] = drawn + centre[m]
            mean = np.einsum("nk,knm->nm", resp, cond)
        if variances:
            second = np.einsum(
                "nk,knm->nm", resp, cond**2 + np.diagonal(pp.conditional, axis1=1, axis2=2)[:, None]
            )
            variance[rows[:, None], m] = np.maximum(second - mean**2, 0.0)
    if variances:
        return filled, resp_all, log_prob, variance
    return filled, resp_all, log_prob


def marginal_params(model, params: MixtureParams, features) -> MixtureParams:
    """The mixture's marginal over ``features``: same weights, sub-vectors and sub-blocks.

    Covariances are returned as a full ``(K, d, d)`` stack; ``precisions_cholesky``
    is left to the caller's storage (here the full factors).
    """
    features = np.asarray(features, dtype=np.intp)
    n_components, n_features = params.means.shape
    covariances = full_covariances_of(model, params.covariances, n_components, n_features)
    sub = covariances[:, features[:, None], features]
    return MixtureParams(
        weights=params.weights.copy(),
        means=params.means[:, features].copy(),
        covariances=sub,
        precisions_cholesky=FULL.precisions_cholesky(sub)[0],
    )


def condition_params(model, params: MixtureParams, features, values) -> MixtureParams:
    """The mixture of the other features given ``X[features] = values``.

    Each component's Gaussian conditional (mean ``mu_r + S_rf inv(S_ff) (v - mu_f)``,
    covariance ``S_rr - S_rf inv(S_ff) S_fr``), weighted by
    ``pi_k N(v | mu_kf, S_kff)`` normalised. Covariances as a full stack.
    """
    features = np.asarray(features, dtype=np.intp)
    values = np.asarray(values, dtype=np.float64)
    n_components, n_features = params.means.shape
    pattern = np.zeros(n_features, dtype=bool)
    pattern[features] = True
    # Observed = the conditioning features, missing = the rest, in index order.
    order = np.argsort(features)
    v = values[order]
    covariances = full_covariances_of(model, params.covariances, n_components, n_features)
    pp = PatternParams(pattern, params.means, covariances, _log_weights(params.weights), np.float64)
    scratch = FULL.workspace(1, n_components, pp.observed.size, np.float64)
    weighted = FULL.weighted_log_prob(v[:, None].copy(), pp.prepared, scratch)[:, 0].copy()
    weighted[params.weights <= 0.0] = -np.inf
    weights = np.exp(weighted - weighted.max())
    weights /= weights.sum()
    means = pp.mean_m + np.einsum("kmo,ko->km", pp.regression, v[None, :] - pp.mean_o)
    conditional = 0.5 * (pp.conditional + np.swapaxes(pp.conditional, 1, 2))
    return MixtureParams(
        weights=weights,
        means=means,
        covariances=conditional,
        precisions_cholesky=FULL.precisions_cholesky(conditional)[0],
    )
