"""Missing values (NaN) in the EM engine: E-step, statistics and conditionals, pure functions.

Ghahramani & Jordan (1994), "Supervised learning from incomplete data via an EM
approach". For a row with observed coordinates ``o`` and missing ``m``:

- the E-step uses each component's marginal over ``o``, ``N(x_o | mu_o, S_oo)``,
  a full-covariance Gaussian whatever the covariance model;
- the M-step uses, per component, the conditional mean of the missing block
  ``x^_m = mu_m + S_mo inv(S_oo) (x_o - mu_o)`` and its conditional covariance
  ``C = S_mm - S_mo inv(S_oo) S_om``: the full statistics ``sum_i r_ik x^_ik``
  and ``sum_i r_ik (x^_ik x^_ik' + C_ik)``.

Both come from the precision ``L = inv(S)`` of the whole row (Schur
complements, see :func:`fill_log_prob`): with the missing entries set to the
data centre, the row is scored by the registry's ``'full'`` chunk kernel
(``COVARIANCE_MODELS['VVV']``) as if complete, and corrected by a solve with
``L_mm``, of the order of the number of missing entries (mostly 1-3). So a
chunk costs the complete-data kernels on the zero-filled rows, one small GEMM
per feature over the entries missing it, and element-wise work per missing
entry, batched over rows and components whatever their patterns: a pattern
seen once costs what a common one does. ``inv(L_mm)`` and ``log det L_mm`` are
the precision's diagonal for one missing entry and otherwise come from tables
per pattern (:class:`_Tables`), built per EM iteration in batches for all
patterns met so far (:class:`_Registry`, kept by the adapter: patterns belong
to the data). Everything runs in float64 (the per-entry corrections subtract
the zero-filled score's excess), the log-densities are returned in the data's
dtype.

The full ``D x D`` statistics are then turned into the covariance model's own
statistic (:func:`model_second`: the packed triangle, the diagonal, the trace,
or the sum over components for a shared covariance), so every model's M-step
runs unchanged on them, and statistics stay additive: every backend works.

All of this lives in :class:`MissingValues`, a covariance model over incomplete
rows that wraps a registered one: it runs the wrapped model's kernels on
chunks without NaN, the above on the others, and delegates everything else
(M-step, parameter count, storage). Handing it to the unchanged passes and EM
loop (:mod:`gaussmix.engine.passes`, :func:`gaussmix.engine.em.run_em`) gives
EM on incomplete data, observed-data log-likelihoods (``score_rows``,
``likelihood_and_entropy``) and labels. Data without NaN never meet it: the
estimators dispatch once, at validation, and complete data take the wrapped
model's path unchanged.

Also here, on whole arrays: :func:`conditional_moments` (imputation by the
conditional mean and its variance, or by draws), :func:`marginal_params` and
:func:`condition_params` (a mixture's marginal over some features, and its
conditional given values of others).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..covariance import COVARIANCE_MODELS, Prepared
from ..covariance._base import LOG_2PI, triangle
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


# ------------------------------------------------------- per-row kernels
def _unpack(packed: np.ndarray, n_features: int) -> np.ndarray:
    return np.take(packed, triangle(n_features).unpack, axis=1).reshape(-1, n_features, n_features)


def _small_inverses(blocks: np.ndarray):
    """Inverses and log-determinants of many small SPD matrices, element-wise.

    ``blocks`` has shape ``(c, c, *batch)``: matrix ``[:, :, i]`` for each
    index ``i`` of the batch shape.
    A Cholesky factorisation written out entry by entry over the two small
    axes (O(c^3) NumPy calls on length-M vectors, no temporaries beyond the
    factors) instead of one LAPACK call per matrix: the matrices are many
    (patterns times components) and of order 2-8, where a call per matrix
    costs far more than its arithmetic.

    Returns
    -------
    inverse : ndarray of shape (c, c, *batch)
    log_det : ndarray of shape batch
    """
    c = blocks.shape[0]
    # lower[i][j], i >= j: the Cholesky factor's entries, each a length-M vector.
    lower = [[None] * c for _ in range(c)]
    for j in range(c):
        pivot = blocks[j, j].copy()
        for p in range(j):
            pivot -= lower[j][p] * lower[j][p]
        lower[j][j] = np.sqrt(pivot)
        reciprocal = 1.0 / lower[j][j]
        for i in range(j + 1, c):
            entry = blocks[i, j].copy()
            for p in range(j):
                entry -= lower[i][p] * lower[j][p]
            entry *= reciprocal
            lower[i][j] = entry
    # W = inv(L), lower triangular, by forward substitution.
    inv_lower = [[None] * c for _ in range(c)]
    for i in range(c):
        inv_lower[i][i] = 1.0 / lower[i][i]
        for j in range(i):
            entry = lower[i][j] * inv_lower[j][j]
            for p in range(j + 1, i):
                entry += lower[i][p] * inv_lower[p][j]
            entry *= -inv_lower[i][i]
            inv_lower[i][j] = entry
    # inv(A) = W' W: inv(A)_ab = sum_{p >= max(a, b)} W_pa W_pb, upper triangle mirrored.
    inverse = np.empty(blocks.shape)
    for a in range(c):
        for b in range(a, c):
            entry = inv_lower[b][a] * inv_lower[b][b]
            for p in range(b + 1, c):
                entry += inv_lower[p][a] * inv_lower[p][b]
            inverse[a, b] = entry
            inverse[b, a] = entry
    log_det = 2.0 * np.log(lower[0][0])
    for i in range(1, c):
        log_det += 2.0 * np.log(lower[i][i])
    return inverse, log_det


@lru_cache(maxsize=64)
def _pairs(count: int):
    """Index pairs ``a < b`` of a block of order ``count`` (cached: called per chunk and group)."""
    return np.triu_indices(count, 1)


def _pattern_keys(features: np.ndarray, n_features: int) -> np.ndarray:
    """One sortable key per row from its missing features (n, c), ascending.

    Up to 64 features, the bit mask as an unsigned integer (fast to sort and
    search); beyond, the feature list's bytes.
    """
    if n_features <= 64:
        return np.bitwise_or.reduce(np.left_shift(np.uint64(1), features.astype(np.uint64)), axis=1)
    count = features.shape[1]
    return np.ascontiguousarray(features, dtype=np.int32).view(np.dtype((np.void, 4 * count)))[:, 0]


def _grown(buffer, needed: int, shape_tail: tuple, filled: int, dtype=np.float64):
    """``buffer`` if it holds ``needed`` rows, else a copy of its ``filled`` rows in twice the room.

    Capacity doubles so that tables grown chunk by chunk (the first pass
    meets patterns a few at a time) copy O(P) rows in all, not O(P^2).
    """
    if buffer is not None and buffer.shape[0] >= needed:
        return buffer
    capacity = max(needed, 2 * (0 if buffer is None else buffer.shape[0]), 16)
    grown = np.empty((capacity, *shape_tail), dtype=dtype)
    if filled:
        grown[:filled] = buffer[:filled]
    return grown


class _Registry:
    """The missingness patterns met so far, per number of missing entries (append-only).

    A pattern's slot (its index in order of discovery) never changes, so the
    per-iteration tables (:class:`_Tables`) index by slot and only grow.
    Patterns belong to the data, not to the parameters: the registry lives as
    long as its :class:`MissingValues`, and from the second pass on every
    pattern is known when the tables are first built, in one batch per count.
    Readers take an immutable snapshot (sorted keys and their slots); writers
    hold the lock.
    """

    def __init__(self):
        self.lock = threading.Lock()
        # count -> (keys sorted, slot of each sorted key)
        self.known = {}
        # count -> missing features by slot, (capacity, count); rows < number known are set
        self.features = {}
        # (shape, packed mask) -> _Layout, up to LAYOUT_BUDGET bytes
        self.layouts = {}
        self.layout_bytes = 0

    def layout(self, missing: np.ndarray):
        """The chunk's :func:`chunk_layout`, kept (up to ``LAYOUT_BUDGET`` bytes) for later passes.

        Keyed by the mask itself, so any backend's chunks, in any order and
        from any thread, find theirs; a chunk met when the budget is spent is
        laid out again on every pass.
        """
        key = (missing.shape, np.packbits(missing).tobytes())
        layout = self.layouts.get(key)
        if layout is None:
            layout = chunk_layout(missing, self)
            size = layout.nbytes + len(key[1])
            with self.lock:
                if self.layout_bytes + size <= LAYOUT_BUDGET:
                    self.layouts[key] = layout
                    self.layout_bytes += size
        return layout

    @staticmethod
    def _find(known, keys):
        if known is None:
            return None
        ordered, slots = known
        position = np.minimum(np.searchsorted(ordered, keys), ordered.size - 1)
        if not np.array_equal(ordered[position], keys):
            return None
        return slots[position]

    def size(self, count: int) -> int:
        """Number of patterns known with ``count`` missing entries."""
        known = self.known.get(count)
        return 0 if known is None else known[0].size

    def slots(self, features: np.ndarray, n_features: int) -> np.ndarray:
        """Each row's pattern slot; ``features`` (n, c): the rows' missing features, ascending."""
        count = features.shape[1]
        keys = _pattern_keys(features, n_features)
        found = self._find(self.known.get(count), keys)
        if found is not None:
            return found
        with self.lock:
            known = self.known.get(count)
            new, first = np.unique(keys, return_index=True)
            if known is not None:
                position = np.minimum(np.searchsorted(known[0], new), known[0].size - 1)
                unseen = known[0][position] != new
                new, first = new[unseen], first[unseen]
            n_known = self.size(count)
            buffer = self.features.get(count)
            buffer = _grown(buffer, n_known + new.size, (count,), n_known, np.intp)
            buffer[n_known : n_known + new.size] = features[first]
            self.features[count] = buffer
            new_slots = np.arange(n_known, n_known + new.size)
            if known is None:
                self.known[count] = (new, new_slots)
            else:
                # Sorted insertion: O(P) per new batch, no re-sort.
                position = np.searchsorted(known[0], new)
                self.known[count] = (
                    np.insert(known[0], position, new),
                    np.insert(known[1], position, new_slots),
                )
            return self._find(self.known[count], keys)


#: Bytes of chunk layouts (:class:`_Layout`, index arrays of about 45 bytes per
#: missing value: 44 measured at 200,000 x 16) kept from one EM pass to the next:
#: 256 MiB, the layouts of about 6 million missing values (e.g. 3,700,000 x 16
#: with 10% missing).
LAYOUT_BUDGET = 256 * 2**20

#: Patterns per batch when building the tables.
TABLE_BATCH = 256


class _Tables:
    """Per pattern and component: ``inv(L_mm)`` and ``log det L_mm``, for one set of parameters.

    ``inv(L_mm)`` is kept as its diagonal and its upper triangle's pairs
    ``a < b`` (in :func:`_pairs` order), which is what the rows use: the
    conditional variances and covariances, and the solve ``inv(L_mm) g`` is
    written with them. Built on first use per count of missing entries for
    every pattern the registry holds, and extended (in place, capacity
    doubling) when a chunk meets new ones. Slots already computed never
    change, so a reader may keep using the arrays it got while another thread
    extends them.
    """

    def __init__(self, registry: _Registry, precisions: np.ndarray):
        self.registry = registry
        n_components, n_features, _ = precisions.shape
        # (D * D, K): a pattern's cells gather its blocks for all components at once.
        self.cells_by_component = np.ascontiguousarray(
            precisions.reshape(n_components, n_features * n_features).T
        )
        self.n_features = n_features
        # count -> (diagonal (capacity, c, K), pairs (capacity, c(c-1)/2, K),
        #           log_det (capacity, K), number computed)
        self.done = {}
        self.locks = {}

    def get(self, count: int, needed: int, block: bool = True):
        """``diagonal`` (P, c, K), ``pairs`` (P, c(c-1)/2, K) and ``log_det`` (P, K).

        Computed for slots ``< needed`` (at least). Each count's table has its
        own lock, so threads build different counts at once; with
        ``block=False``, None while another thread builds this one (the caller
        does other work first).
        """
        done = self.done.get(count)
        if done is not None and done[3] >= needed:
            return done[:3]
        lock = self.locks.get(count)
        if lock is None:
            lock = self.locks.setdefault(count, threading.Lock())
        if not lock.acquire(blocking=block):
            return None
        try:
            done = self.done.get(count)
            if done is not None and done[3] >= needed:
                return done[:3]
            # The registry's features are set before its size grows: no need for its lock.
            start = 0 if done is None else done[3]
            stop = self.registry.size(count)
            features_by_slot = self.registry.features[count]
            n_components = self.cells_by_component.shape[1]
            n_pairs = count * (count - 1) // 2
            diagonal, pairs, log_det = (
                _grown(None if done is None else done[i], stop, tail, start)
                for i, tail in enumerate(
                    [(count, n_components), (n_pairs, n_components), (n_components,)]
                )
            )
            a, b = _pairs(count)
            diagonal_index = np.arange(count)
            # In batches that stay in cache: whole-table temporaries (tens of MB at a
            # million rows) cost more in fresh pages than in arithmetic.
            for begin in range(start, stop, TABLE_BATCH):
                end = min(begin + TABLE_BATCH, stop)
                features = features_by_slot[begin:end].T
                # (c, c, P): the small axes first, so the gather is (c, c, P, K) contiguous.
                cells = features[:, None, :] * self.n_features + features[None, :, :]
                inverse, log_det[begin:end] = _small_inverses(self.cells_by_component[cells])
                diagonal[begin:end] = inverse[diagonal_index, diagonal_index].transpose(1, 0, 2)
                pairs[begin:end] = inverse[a, b].transpose(1, 0, 2)
            self.done[count] = (diagonal, pairs, log_det, stop)
            return diagonal, pairs, log_det
        finally:
            lock.release()


class _Fill(NamedTuple):
    """What a chunk's E-step leaves for its statistics (see :func:`fill_moments`).

    Missing entries are listed in ``np.nonzero`` order (by feature, then row).

    Attributes
    ----------
    centred : ndarray of shape (n_features, n_rows)
        The chunk in float64, missing entries 0 (the data centre).
    rows : ndarray of int, shape (n_missing,)
        Each missing entry's row.
    features : ndarray of int, shape (n_present,)
        The features missing somewhere in the chunk; ``starts``: where each
        one's entries begin.
    starts : ndarray of int, shape (n_present,)
    at_rows : ndarray of shape (n_features + 1, n_missing)
        ``centred[:, rows]``, the row of each missing entry, and a row of ones.
    values : ndarray of shape (n_missing, n_components)
        Each component's conditional mean of each missing entry (centred).
    variances : ndarray of shape (n_missing, n_components)
        Each component's conditional variance of each missing entry.
    pairs : tuple of (first, second, covariance, starts, cells)
        The pairs of missing entries of one row, ordered by their cell
        ``a * D + b`` (``a < b``, the features of ``first`` and ``second``
        entries): the entries, the conditional covariances ``(n_pairs, K)``,
        where each cell's pairs start and the cells; None when no row misses
        two values.
    """

    centred: np.ndarray
    rows: np.ndarray
    features: np.ndarray
    starts: np.ndarray
    at_rows: np.ndarray
    values: np.ndarray
    variances: np.ndarray
    pairs: tuple | None


class _Group(NamedTuple):
    """The rows of a chunk with ``count`` missing entries (see :class:`_Layout`)."""

    count: int
    rows: np.ndarray
    entries: np.ndarray
    keys: np.ndarray
    needed: int


class _Layout(NamedTuple):
    """Where a chunk's missing entries are: everything but the numbers, per mask.

    Depends only on the chunk's missingness mask, which does not change from one
    EM pass to the next, so it is computed once per chunk and kept
    (:meth:`_Registry.layout`). Missing entries are listed in ``np.nonzero``
    order (by feature, then row).

    Attributes
    ----------
    rows : ndarray of int, shape (n_missing,)
        Each missing entry's row.
    features, starts, stops : ndarray of int, shape (n_present,)
        The features missing somewhere in the chunk and where each one's
        entries begin and end.
    groups : tuple of _Group
        The rows by their number of missing entries: the rows, their entries
        ``(n, count)``, per pattern slot ``keys`` (``count >= 2``; for
        ``count == 1`` the missing feature) and the number of table slots they need.
    pair_first, pair_second : ndarray of int, shape (n_pairs,)
        The pairs ``a < b`` of missing entries of one row, ordered by their
        cell ``a * D + b``; ``pair_order`` puts the groups' pairs (concatenated
        in group order) in that order; ``runs`` and ``cells`` are where each
        cell's pairs start and the cells. Empty when no row misses two values.
    """

    rows: np.ndarray
    features: np.ndarray
    starts: np.ndarray
    stops: np.ndarray
    groups: tuple
    pair_first: np.ndarray
    pair_second: np.ndarray
    pair_order: np.ndarray
    runs: np.ndarray
    cells: np.ndarray

    @property
    def nbytes(self) -> int:
        """Bytes held by the layout's arrays."""
        arrays = [a for a in self if isinstance(a, np.ndarray)]
        arrays += [a for group in self.groups for a in group if isinstance(a, np.ndarray)]
        return sum(a.nbytes for a in arrays)


def chunk_layout(missing: np.ndarray, registry: _Registry) -> _Layout:
    """The :class:`_Layout` of a chunk's mask ``(n_features, n_rows)``; registers its patterns."""
    n_features, n_rows = missing.shape
    features, rows = np.nonzero(missing)
    counts = np.bincount(features, minlength=n_features)
    present = np.flatnonzero(counts)
    stops = np.cumsum(counts)[present]
    starts = stops - counts[present]
    # Entries by row (then feature), and rows by their count of missing entries.
    # Chunks are shorter than 2**15 rows: 16-bit keys take NumPy's radix sort.
    small = np.int16 if n_rows < 2**15 else np.intp
    by_row = np.argsort(rows.astype(small), kind="stable")
    per_row = np.bincount(rows, minlength=n_rows)
    first_entry = np.cumsum(per_row) - per_row
    order = np.argsort(per_row.astype(small), kind="stable")
    count_bounds = np.concatenate([[0], np.cumsum(np.bincount(per_row))])
    groups, pairs = [], []
    for count in range(1, count_bounds.size - 1):
        group = order[count_bounds[count] : count_bounds[count + 1]]
        if group.size == 0:
            continue
        entries = by_row[first_entry[group][:, None] + np.arange(count)]
        missing_features = features[entries]
        if count == 1:
            groups.append(_Group(1, group, entries, missing_features[:, 0], 0))
            continue
        slots = registry.slots(missing_features, n_features)
        groups.append(_Group(count, group, entries, slots, int(slots.max()) + 1))
        a, b = _pairs(count)
        cells = missing_features[:, a] * n_features + missing_features[:, b]
        pairs.append((entries[:, a].ravel(), entries[:, b].ravel(), cells.ravel()))
    if pairs:
        first, second, cells = (np.concatenate([part[i] for part in pairs]) for i in range(3))
        # Pairs by cell (one radix sort), so that the statistics sum runs of them.
        pair_order = np.argsort(
            cells.astype(np.int16 if n_features < 128 else np.intp), kind="stable"
        )
        cells = cells[pair_order]
        runs = np.flatnonzero(np.concatenate([[True], cells[1:] != cells[:-1]]))
        first, second, cells = first[pair_order], second[pair_order], cells[runs]
    else:
        first = second = pair_order = runs = cells = np.empty(0, dtype=np.intp)
    return _Layout(
        rows, present, starts, stops, tuple(groups), first, second, pair_order, runs, cells
    )


def fill_log_prob(XcT, missing, full_prepared, full_work, arrays, tables, layout):
    """Observed-data ``log pi_k + log N(x_o | mu_ko, S_koo)`` per row, and the conditional fills.

    For one component (precision ``L = inv(S)``) and a row with missing block
    ``m``, fill the missing entries with 0 (the data centre) and let
    ``y = x0 - mu``, ``g = L y``. Minimising the quadratic form over ``y_m``
    gives (Schur complements of ``L``):

    - the conditional mean of the missing block: ``x^_m = -inv(L_mm) g_m``;
    - the conditional covariance: ``C = S_mm - S_mo inv(S_oo) S_om = inv(L_mm)``;
    - the marginal's quadratic form: ``y_o' inv(S_oo) y_o = y' L y - g_m' inv(L_mm) g_m``;
    - its log-determinant: ``log det S_oo = log det S + log det L_mm``.

    So the chunk, zero-filled, is scored by the registry's ``'full'`` kernel as
    if complete (``log N(x0 | mu_k, S_k)``: one GEMM for all rows and
    components), ``g`` is needed at the missing entries only (one small GEMM
    per feature over the entries missing it), and each row adds a correction
    of order ``c``, its number of missing entries: ``inv(L_mm)`` is the
    precision's diagonal entry for ``c = 1``, and otherwise looked up per
    pattern (:class:`_Tables`, built in batches). The work per row is the same
    for a pattern seen once as for a common one.

    Parameters
    ----------
    XcT : ndarray of shape (n_features, n_rows)
        Centred rows, NaN where missing.
    missing : ndarray of bool, shape (n_features, n_rows)
    full_prepared, full_work
        The ``'full'`` kernel's arrays (float64) and scratch.
    arrays : dict
        From :meth:`MissingValues.prepare`.
    tables : _Tables
    layout : _Layout
        The chunk's :func:`chunk_layout` (of ``missing``).

    Returns
    -------
    log_prob : ndarray of shape (K, n_rows), float64 (scratch of ``full_work``)
    fill : _Fill
    """
    n_features, n_rows = XcT.shape
    centred = np.where(missing, 0.0, XcT).astype(np.float64, copy=False)
    log_prob = FULL.weighted_log_prob(centred, full_prepared, full_work)
    n_components = log_prob.shape[0]
    rows = layout.rows
    # The rows of the missing entries and a row of ones: with the bias in the
    # GEMM, g_j = L_j. x0 - (L mu)_j is one product per feature.
    at_rows = np.empty((n_features + 1, rows.size))
    np.take(centred, rows, axis=1, out=at_rows[:n_features])
    at_rows[n_features] = 1.0
    gradient = np.empty((rows.size, n_components))
    precision_rows = arrays["precision_rows"]
    for j, start, stop in zip(
        layout.features.tolist(), layout.starts.tolist(), layout.stops.tolist()
    ):
        np.dot(at_rows[:, start:stop].T, precision_rows[j], out=gradient[start:stop])
    values = np.empty_like(gradient)
    variances = np.empty_like(gradient)
    # Each row's correction, rows first (rows of one group are scattered over the chunk).
    corrections = np.zeros((n_rows, n_components))
    covariances = [None] * len(layout.groups)

    def solve(index, group, table):
        count, entries = group.count, group.entries
        g = gradient[entries]
        diagonal, pairs, log_det = (part[group.keys] for part in table)
        # inv(L_mm) g from the diagonal and the pairs a < b of the symmetric inverse:
        # pair by pair for short blocks, else (fewer calls) from the whole block.
        if count <= 3:
            solved = diagonal * g
            for pair, (a, b) in enumerate(zip(*_pairs(count))):
                solved[:, a] += pairs[:, pair] * g[:, b]
                solved[:, b] += pairs[:, pair] * g[:, a]
        else:
            a, b = _pairs(count)
            block = np.empty((g.shape[0], count, count, n_components))
            block[:, a, b] = pairs
            block[:, b, a] = pairs
            block[:, np.arange(count), np.arange(count)] = diagonal
            solved = np.einsum("nabk,nbk->nak", block, g)
        values[entries] = -solved
        variances[entries] = diagonal
        correction = np.einsum("nak,nak->nk", g, solved)
        correction += count * LOG_2PI
        correction -= log_det
        correction *= 0.5
        corrections[group.rows] = correction
        covariances[index] = pairs.reshape(-1, n_components)

    deferred = []
    for index, group in enumerate(layout.groups):
        if group.count == 1:
            # One missing entry: L_mm is the precision's diagonal entry.
            entry, feature = group.entries[:, 0], group.keys
            g = gradient[entry]
            inverse = arrays["inverse_diagonal"][feature]
            solved = g * inverse
            values[entry] = -solved
            variances[entry] = inverse
            solved *= g
            solved += LOG_2PI
            solved -= arrays["log_diagonal"][feature]
            solved *= 0.5
            corrections[group.rows] = solved
            continue
        # A table another thread is building is waited for last.
        table = tables.get(group.count, group.needed, block=False)
        if table is None:
            deferred.append((index, group))
        else:
            solve(index, group, table)
    for index, group in deferred:
        solve(index, group, tables.get(group.count, group.needed))
    covariances = [part for part in covariances if part is not None]
    # + g' inv(L_mm) g / 2 - log det L_mm / 2 + c/2 log(2 pi): the marginal's terms.
    log_prob += corrections.T
    if covariances:
        covariance = np.concatenate(covariances)[layout.pair_order]
        pairs = (layout.pair_first, layout.pair_second, covariance, layout.runs, layout.cells)
    else:
        pairs = None
    fill = _Fill(centred, rows, layout.features, layout.starts, at_rows, values, variances, pairs)
    return log_prob, fill


def fill_moments(fill: _Fill, resp, full_prepared, full_work):
    """Full statistics ``(nk, sum r x^, sum r (x^ x^' + C))`` of a chunk's filled rows.

    ``x^ = x0 + e`` with ``x0`` the zero-filled row and ``e`` the conditional
    means at the missing entries, so ``sum r x^ x^'`` is the ``'full'``
    kernel's statistics of the zero-filled chunk (one GEMM for all
    components), plus ``sum r (x0 e' + e x0')`` (one small GEMM per feature
    over the entries missing it), plus ``sum r (e e' + C)`` within each row's
    missing block: on the diagonal, sums per feature of per-entry terms; off
    it, one ``bincount`` over the pairs of missing entries of a row.
    """
    resp = np.asarray(resp, dtype=np.float64)
    n_components = resp.shape[0]
    n_features = fill.centred.shape[0]
    nk, first, packed = FULL.moments(fill.centred, resp, None, full_prepared, full_work)
    first = np.array(first, dtype=np.float64)
    second = _unpack(np.asarray(packed, dtype=np.float64), n_features)
    # Rows first: (n_missing, K), as the values (a gather from resp's transpose
    # is several times faster than multiplying a transposed gather).
    at_entry = np.take(resp.T, fill.rows, axis=0)
    weighted = at_entry * fill.values
    diagonal = weighted * fill.values
    diagonal += at_entry * fill.variances
    present = fill.features
    second[:, present, present] += np.add.reduceat(diagonal, fill.starts, axis=0).T
    ends = np.append(fill.starts[1:], fill.rows.size)
    # x0 is 0 at its own missing entries: no overlap with the diagonal terms. The
    # row of ones in at_rows gives the first moments' sums.
    cross = np.stack(
        [np.dot(fill.at_rows[:, a:b], weighted[a:b]) for a, b in zip(fill.starts, ends)]
    )
    first[:, present] += cross[:, n_features].T
    cross = cross[:, :n_features]
    second[:, :, present] += cross.transpose(2, 1, 0)
    second[:, present, :] += cross.transpose(2, 0, 1)
    if fill.pairs is not None:
        first_entry, second_entry, covariance, run, cells = fill.pairs
        terms = fill.values[first_entry] * fill.values[second_entry]
        terms += covariance
        terms *= at_entry[first_entry]
        sums = np.add.reduceat(terms, run, axis=0).T
        flat = second.reshape(n_components, n_features * n_features)
        flat[:, cells] += sums
        # The mirrored cells b * D + a.
        flat[:, (cells % n_features) * n_features + cells // n_features] += sums
    return np.asarray(nk, dtype=np.float64), first, second


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
        self.registry = _Registry()

    def __getattr__(self, name):
        # Only reached for what this class does not define: the wrapped model's.
        return getattr(self.__dict__["model"], name)

    def prepare(self, means_shifted, precisions_chol, log_weights, dtype):
        """The wrapped model's kernel arrays, plus the ``'full'`` kernel's and the precisions."""
        inner = self.model.prepare(means_shifted, precisions_chol, log_weights, dtype)
        n_components, n_features = means_shifted.shape
        means = np.asarray(means_shifted, dtype=np.float64)
        # Any model's precision factors as a full stack (a diagonal factor is a
        # triangular one): the 'full' kernel then scores the zero-filled rows.
        factors = full_covariances_of(self.model, precisions_chol, n_components, n_features)
        precisions = FULL.precisions_from_cholesky(factors)
        diagonal = np.diagonal(precisions, axis1=1, axis2=2).T
        arrays = {
            "inner": inner,
            "full": FULL.prepare(means, factors, log_weights, np.float64),
            # Row j of every precision as a (D, K) block and -(L mu)_j below it:
            # g_j for all components and rows missing j in one GEMM.
            "precision_rows": np.concatenate(
                [
                    precisions.transpose(1, 2, 0),
                    -np.einsum("kde,ke->dk", precisions, means)[:, None, :],
                ],
                axis=1,
            ),
            "inverse_diagonal": 1.0 / diagonal,
            "log_diagonal": np.log(diagonal),
            "tables": _Tables(self.registry, precisions),
        }
        return Prepared(log_norm=inner.log_norm, arrays=arrays, kernel=None)

    def workspace(self, n_rows, n_components, n_features, dtype):
        """The wrapped model's scratch (complete chunks), plus the float64 'full' kernel's."""
        work = self.model.workspace(n_rows, n_components, n_features, dtype)
        work["full"] = FULL.workspace(n_rows, n_components, n_features, np.float64)
        return work

    def weighted_log_prob(self, XcT, prepared, work):
        """``log pi_k + log N(x_o | ...)`` per row, over each row's observed coordinates."""
        arrays = prepared.arrays
        missing = np.isnan(XcT)
        if not missing.any():
            work["missing_fill"] = None
            return self.model.weighted_log_prob(XcT, arrays["inner"], work)
        if missing.all(axis=0).any():
            raise ValueError("A row with no observed value reached the E-step.")
        n_features, _, n_components = arrays["precision_rows"].shape
        if "full" not in work:
            # A caller that built the wrapped model's workspace only.
            work["full"] = FULL.workspace(XcT.shape[1], n_components, n_features, np.float64)
        tables = arrays["tables"]
        layout = tables.registry.layout(missing)
        log_prob, fill = fill_log_prob(
            XcT, missing, arrays["full"], work["full"], arrays, tables, layout
        )
        work["missing_fill"] = fill
        return log_prob.astype(XcT.dtype, copy=False)

    def moments(self, XcT, resp_weighted, sample_weight, prepared, work):
        """The wrapped model's ``(nk, first, second)`` with conditional expectations filled in."""
        fill = work.pop("missing_fill", None)
        if fill is None:
            inner = prepared.arrays["inner"]
            return self.model.moments(XcT, resp_weighted, sample_weight, inner, work)
        nk, first, second = fill_moments(fill, resp_weighted, prepared.arrays["full"], work["full"])
        return nk, first, model_second(self.model, second)


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
