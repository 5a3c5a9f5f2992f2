"""The Dask backend: each pass a map-reduce of sufficient statistics over a Dask array's blocks.

The EM loop, the passes and the kernels are those of the in-memory backend: every
block task wraps its block in an :class:`~gaussmix.backends.memory.InMemoryBackend`
(one thread, rows labelled globally with ``row_offset``) and runs the pass's chunk
function over it; only the block results (a few kilobytes of statistics) travel
back, merged by a tree of merge tasks and finally on the client. Passes run on the
active Dask scheduler: threads, processes, or a ``distributed.Client``.

Dask is imported lazily, inside the functions that need it, so that importing this
module (for :func:`is_dask_collection`) never imports Dask.
"""

from __future__ import annotations

import functools
import operator
import sys
import uuid
from collections.abc import Callable
from contextlib import ExitStack

import numpy as np

from .memory import InMemoryBackend, single_threaded_blas

# Block results folded per merge task. Statistics are small (K * D * D floats for
# full covariances), so the tree only matters with hundreds of blocks, where it
# keeps the client from receiving and folding every block's result itself.
MERGE_FAN_IN = 8


def is_dask_collection(X) -> bool:
    """Whether ``X`` is a Dask array, DataFrame or Series.

    Never imports Dask: an object can only be a Dask collection if Dask was
    imported to make it, so the check looks at ``sys.modules`` first.

    Parameters
    ----------
    X : object

    Returns
    -------
    bool
    """
    array = sys.modules.get("dask.array")
    if array is not None and isinstance(X, array.Array):
        return True
    frame = sys.modules.get("dask.dataframe")
    return frame is not None and isinstance(X, (frame.DataFrame, frame.Series))


def _has_unknown_chunks(X) -> bool:
    return any(np.isnan(size) for sizes in X.chunks for size in sizes)


def _numeric_array_from_frame(X, *, lengths: bool):
    import dask.dataframe as dd
    from pandas.api.types import is_numeric_dtype

    if isinstance(X, dd.Series):
        X = X.to_frame()
    non_numeric = [str(name) for name, dtype in X.dtypes.items() if not is_numeric_dtype(dtype)]
    if non_numeric:
        raise ValueError(
            f"X has non-numeric columns {non_numeric}: a Gaussian mixture needs numbers. "
            f"Drop them (X.drop(columns={non_numeric})) or encode them as numbers first."
        )
    return X.to_dask_array(lengths=lengths)


def as_dask_array(X, *, known_chunks: bool = True):
    """``X`` as a 2-D floating Dask array whose blocks hold all columns.

    Parameters
    ----------
    X : dask array or dask DataFrame/Series
        A DataFrame must have numeric columns only (bool counts as numeric).
        Integer, bool, float16 and long double values become float64, lazily;
        float32 and float64 are kept.
    known_chunks : bool, default=True
        Compute unknown (NaN) block lengths, as a filtered DataFrame or a
        boolean-masked array has: this evaluates ``X`` once (persist it first
        to avoid evaluating it twice). False leaves them unknown, for lazy
        row-wise functions that never need them.

    Returns
    -------
    dask.array.Array of shape (n_samples, n_features)

    Raises
    ------
    TypeError
        ``X`` is not a Dask collection, or its values are not real numbers.
    ValueError
        ``X`` is not 2-D, has no rows or columns, or has non-numeric columns.
    """
    import dask.array as da

    if not is_dask_collection(X):
        raise TypeError(
            f"Expected a Dask array or DataFrame, got {type(X).__name__}: wrap in-memory "
            "data with dask.array.from_array(X, chunks=...)."
        )
    if not isinstance(X, da.Array):
        X = _numeric_array_from_frame(X, lengths=known_chunks)
    if X.ndim != 2:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features), got {X.ndim} dimension(s) of shape "
            f"{X.shape}; one feature is X[:, None] or X.reshape(-1, 1)."
        )
    kind = X.dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"X's dtype {X.dtype} is not a real number type: convert X with "
            "X.astype('float64') (after dropping or encoding text)."
        )
    if X.dtype not in (np.float32, np.float64):
        # The kernels run in float32 or float64 only: the rest is computed in float64.
        X = X.astype(np.float64)
    if known_chunks and _has_unknown_chunks(X):
        # Block lengths give every block its global row offset and the row count;
        # finding them costs one evaluation of X, done once here and never per pass.
        X = X.compute_chunk_sizes()
    if not np.isnan(X.shape[1]) and X.shape[1] == 0:
        raise ValueError("X has no columns: a Gaussian mixture needs at least one feature.")
    if known_chunks and X.shape[0] == 0:
        raise ValueError("X has no rows.")
    return X.rechunk({1: -1})


def active_client():
    """The ``distributed.Client`` that ``dask.compute`` would use now, or None."""
    import dask.base

    scheduler = dask.base.get_scheduler()
    client = getattr(scheduler, "__self__", None)
    distributed = sys.modules.get("distributed")
    if distributed is not None and isinstance(client, distributed.Client):
        return client
    return None


class _Pass:
    """What one pass ships to the blocks: the parameters live in the closures."""

    __slots__ = ("bytes_per_row", "centre", "chunk_fn", "dtype", "make_work", "merge")

    def __init__(self, chunk_fn, make_work, centre, merge, dtype, bytes_per_row):
        self.chunk_fn = chunk_fn
        self.make_work = make_work
        self.centre = centre
        self.merge = merge
        self.dtype = dtype
        self.bytes_per_row = bytes_per_row

    def backend(self, block, weights, row_offset):
        # One thread per task: Dask runs the blocks in parallel already.
        return InMemoryBackend(
            np.asarray(block),
            weights,
            bytes_per_row=self.bytes_per_row,
            n_threads=1,
            row_offset=row_offset,
        )


def _reduce_block(pass_: _Pass, block, weights, row_offset):
    with pass_.backend(block, weights, row_offset) as backend:
        return backend.reduce(
            pass_.chunk_fn, pass_.make_work, pass_.centre, pass_.merge, dtype=pass_.dtype
        )


def _map_block(pass_: _Pass, block, weights, row_offset):
    with pass_.backend(block, weights, row_offset) as backend:
        return backend.map(pass_.chunk_fn, pass_.make_work, pass_.centre, dtype=pass_.dtype)


def _merge_results(pass_: _Pass, *results):
    return functools.reduce(pass_.merge, results)


def _column_sums(XcT, sample_weight, rows, work):
    return XcT.sum(axis=1)


def _weighted_column_sums(XcT, sample_weight, rows, work):
    return XcT @ sample_weight


def _no_work(n_rows):
    return None


class DaskBackend:
    """The blocks of a Dask array, reduced by Dask: one task per block per pass.

    Each pass (``reduce`` or ``map``) ships its chunk function, scratch factory
    and centre once, as one graph key all block tasks depend on; each block task
    runs an :class:`~gaussmix.backends.memory.InMemoryBackend` over its block,
    so chunking and kernels are those of the in-memory fit and the results
    equal it to rounding. Block results are merged by a tree of merge tasks
    (``MERGE_FAN_IN`` at a time), the last few on the client.

    ``X`` is evaluated once per pass: persist it first (``X = X.persist()``)
    when it fits in memory (the cluster's, with distributed), or every EM
    iteration reads it again from its source. Blocks of a few hundred thousand
    rows keep Dask's per-task overhead (about a millisecond) negligible; at
    least as many blocks as worker threads keep them all busy.

    A worker lost mid-pass is distributed's to handle: its tasks rerun on
    another worker (the nanny restarts the lost one). A task that keeps
    failing, or an exception raised in a task, propagates from the pass, so a
    fit either finishes with the same model or raises.

    Use it as a context manager (``with backend: ...``) around ``reduce`` and
    ``map`` calls, like :class:`~gaussmix.backends.memory.InMemoryBackend`.

    Parameters
    ----------
    X : dask array or dask DataFrame of shape (n_samples, n_features)
        Converted by :func:`as_dask_array`: numeric columns only; integers and
        bools become float64, lazily; unknown block lengths (NaN chunks, as a
        filtered DataFrame has) are computed, which evaluates ``X`` once more.
    sample_weight : ndarray, dask array or dask Series of shape (n_samples,), or None
        Computed into memory once: ``sample_weight`` is the N-vector the
        collapse handler needs (8 bytes per row). With a distributed client,
        its blocks are persisted on the workers once, not shipped per pass.
    bytes_per_row : int, optional
        Scratch bytes a chunk kernel needs per row (see
        :func:`gaussmix.engine.passes.workspace_bytes_per_row`); sets the chunk
        size inside each block, as in the in-memory backend.

    Attributes
    ----------
    X : dask.array.Array
        The data, one block of all columns per row block.
    n_samples, n_features : int
    dtype : numpy.dtype
        float32 or float64.
    sample_weight : ndarray of shape (n_samples,) or None
    total_weight : float
        Sum of the weights in float64 (``n_samples`` when unweighted).
    """

    def __init__(self, X, sample_weight=None, *, bytes_per_row=None):
        self.X = as_dask_array(X)
        self.n_samples, self.n_features = (int(size) for size in self.X.shape)
        self.dtype = np.dtype(self.X.dtype)
        self.bytes_per_row = bytes_per_row
        bounds = np.concatenate([[0], np.cumsum(self.X.chunks[0])]).astype(int)
        blocks = self.X.to_delayed().ravel().tolist()
        # Empty blocks (a filter that kept no row of one) would only add tasks.
        self._blocks = [
            (block, int(start), int(stop))
            for block, start, stop in zip(blocks, bounds[:-1], bounds[1:])
            if stop > start
        ]
        self.sample_weight = self._check_weights(sample_weight)
        self.total_weight = (
            float(self.n_samples)
            if self.sample_weight is None
            else float(self.sample_weight.sum(dtype=np.float64))
        )
        self._weight_blocks = self._local_weight_blocks()
        self._weight_client = active_client()
        if self._weight_client is not None and self.sample_weight is not None:
            self._weight_blocks = self._persisted_weight_blocks()
        self._stack = None

    def _check_weights(self, sample_weight):
        if sample_weight is None:
            return None
        if is_dask_collection(sample_weight):
            import dask.array as da

            if not isinstance(sample_weight, da.Array):
                sample_weight = sample_weight.to_dask_array(lengths=True)
            sample_weight = sample_weight.compute()
        sample_weight = np.asarray(sample_weight)
        if sample_weight.shape != (self.n_samples,):
            raise ValueError(
                f"sample_weight has shape {sample_weight.shape}, expected ({self.n_samples},): "
                "one weight per row of X."
            )
        return sample_weight

    def _local_weight_blocks(self):
        if self.sample_weight is None:
            return [None] * len(self._blocks)
        return [self.sample_weight[start:stop] for _, start, stop in self._blocks]

    def _persisted_weight_blocks(self):
        import dask.array as da

        # Sent to the workers once instead of inside every pass's graph. Persisted
        # rather than scattered: the scheduler keeps how to make each block, so a
        # block lost with its worker is made again rather than failing every pass.
        chunks = (tuple(stop - start for _, start, stop in self._blocks),)
        # The array holds the futures that keep the blocks on the workers; its
        # delayed blocks only name them, so it is kept as long as the backend.
        self._persisted_weights = da.from_array(self.sample_weight, chunks=chunks).persist()
        return self._persisted_weights.to_delayed().tolist()

    def _weights_for(self, client):
        if self._weight_client is None or client is self._weight_client:
            return self._weight_blocks
        # Persisted on a client that is no longer the scheduler.
        return self._local_weight_blocks()

    def __enter__(self):
        self._stack = ExitStack()
        # Held for the whole fit so that local schedulers' block tasks, each entering
        # its own in-memory backend, do not set and restore the BLAS limit per task.
        self._stack.enter_context(single_threaded_blas())
        return self

    def __exit__(self, *exc):
        self._stack.close()
        self._stack = None
        return False

    def _block_tasks(self, function, pass_: _Pass):
        """One task per block, all depending on one key that holds ``pass_``."""
        import dask

        # A fresh key: the closures differ every pass, and hashing them (pure=True)
        # would pickle them once more only to find that out. A graph key rather than
        # client.scatter: the scheduler keeps its value's recipe, so it is rebuilt when
        # the workers holding it die, where scattered data would be lost for the pass.
        name = f"gaussmix-pass-{uuid.uuid4().hex}"
        shipped = dask.delayed(pass_, name=name, traverse=False)
        weights = self._weights_for(active_client())
        # pure=True only names the wrapper by the function (every call has its own key):
        # an impure one would draw a random name per block.
        task = dask.delayed(function, pure=True)
        tasks = [
            task(shipped, block, weight, start, dask_key_name=f"{name}-{i}")
            for i, ((block, start, _), weight) in enumerate(zip(self._blocks, weights))
        ]
        return name, shipped, tasks

    def reduce(
        self,
        chunk_fn: Callable,
        make_work: Callable[[int], dict],
        centre: np.ndarray,
        merge: Callable,
        dtype=None,
    ):
        """Fold ``chunk_fn`` over all chunks of all blocks.

        Parameters
        ----------
        chunk_fn : callable
            ``chunk_fn(XcT, sample_weight, rows, work)`` with ``XcT`` the chunk minus
            ``centre``, transposed to ``(n_features, n_rows)``, and ``rows`` the
            chunk's slice of the whole data set. Must be picklable by cloudpickle
            (closures are) for the processes and distributed schedulers.
        make_work : callable
            ``make_work(n_rows)`` returns one task's scratch memory.
        centre : ndarray of shape (n_features,)
        merge : callable
            Combines two results (associative).
        dtype : numpy dtype, optional
            The dtype of ``XcT`` (the data's by default).

        Returns
        -------
        object
            The merged result, as ``InMemoryBackend.reduce`` returns it.
        """
        import dask

        pass_ = _Pass(chunk_fn, make_work, centre, merge, dtype, self.bytes_per_row)
        name, shipped, level = self._block_tasks(_reduce_block, pass_)
        depth = 0
        merge_task = dask.delayed(_merge_results, pure=True)
        while len(level) > MERGE_FAN_IN:
            depth += 1
            level = [
                merge_task(
                    shipped,
                    *level[i : i + MERGE_FAN_IN],
                    dask_key_name=f"{name}-merge{depth}-{i}",
                )
                for i in range(0, len(level), MERGE_FAN_IN)
            ]
        return functools.reduce(merge, dask.compute(*level))

    def map(
        self, chunk_fn: Callable, make_work: Callable[[int], dict], centre: np.ndarray, dtype=None
    ) -> np.ndarray:
        """Apply ``chunk_fn`` to all chunks and concatenate the results along rows.

        Eager, as the passes that call it need the rows' values in memory.
        Arguments as for :meth:`reduce`.

        Returns
        -------
        ndarray
            The chunks' results, in row order.
        """
        import dask

        pass_ = _Pass(chunk_fn, make_work, centre, None, dtype, self.bytes_per_row)
        _, _, tasks = self._block_tasks(_map_block, pass_)
        return np.concatenate(dask.compute(*tasks), axis=0)

    def centre(self) -> np.ndarray:
        """The weighted mean of the rows, in float64: the shift of all statistics.

        Raises
        ------
        ValueError
            ``X`` holds NaN or infinite values (the mean is not finite): this
            pass is where a lazy ``X`` is first read whole.
        """
        origin = np.zeros(self.n_features)
        chunk_fn = _column_sums if self.sample_weight is None else _weighted_column_sums
        total = self.reduce(chunk_fn, _no_work, origin, operator.add, dtype=np.float64)
        centre = total / self.total_weight
        if not np.isfinite(centre).all():
            raise ValueError(
                "X contains NaN or infinity (or values too large for float64 sums): drop "
                "those rows (X[dask.array.isfinite(X).all(axis=1)]) or impute them first."
            )
        return centre

    def take(self, indices) -> np.ndarray:
        """The rows at ``indices``, in float64, in the order given (repeats allowed)."""
        indices = np.asarray(indices, dtype=np.intp).reshape(-1)
        if indices.size == 0:
            return np.empty((0, self.n_features))
        return np.asarray(self.X[indices].compute(), dtype=np.float64)


def _apply_rows(block, fn, *, shape_tail, result_dtype):
    block = np.asarray(block)
    if block.shape[0] == 0:
        return np.empty((0, *shape_tail), dtype=result_dtype)
    result = np.asarray(fn(block), dtype=result_dtype)
    if result.shape != (block.shape[0], *shape_tail):
        raise ValueError(
            f"The row function returned shape {result.shape} for a block of "
            f"{block.shape[0]} rows, expected {(block.shape[0], *shape_tail)}."
        )
    return result


def lazy_rows(X, fn, n_columns=None, dtype=np.float64):
    """``fn`` applied to every block of ``X``, lazily: a Dask array of row results.

    For lazy ``predict``, ``predict_proba`` and ``score_samples`` on Dask input.
    ``fn`` is shipped once per computation (one graph key), not once per block.

    Parameters
    ----------
    X : dask array or dask DataFrame of shape (n_samples, n_features)
        Converted as by :func:`as_dask_array`, except that unknown block
        lengths stay unknown (nothing is computed here).
    fn : callable
        ``fn(block)`` takes an ndarray of shape ``(n_rows, n_features)`` and
        returns ``n_rows`` results (shape ``(n_rows,)`` or ``(n_rows, n_columns)``).
        It runs when the result is computed, possibly in another process: it
        must be picklable by cloudpickle and should not depend on state that may
        change before then (pass a function of the fitted parameters, not of an
        estimator that may be refitted). Never called on an empty block.
    n_columns : int or None, default=None
        None for one value per row (shape ``(n_samples,)``), else the number of
        values per row.
    dtype : numpy dtype, default=float64
        The result's dtype (``fn``'s results are converted to it).

    Returns
    -------
    dask.array.Array of shape (n_samples,) or (n_samples, n_columns)
    """
    import dask
    import dask.array as da

    X = as_dask_array(X, known_chunks=False)
    dtype = np.dtype(dtype)
    shape_tail = () if n_columns is None else (int(n_columns),)
    shipped = dask.delayed(fn, name=f"gaussmix-rows-{uuid.uuid4().hex}", traverse=False)
    options = {"drop_axis": 1} if n_columns is None else {"chunks": (X.chunks[0], shape_tail)}
    return da.map_blocks(
        _apply_rows,
        X,
        shipped,
        shape_tail=shape_tail,
        result_dtype=dtype,
        dtype=dtype,
        meta=np.empty((0, *shape_tail), dtype=dtype),
        **options,
    )
