"""The in-memory backend: row chunks of a NumPy array, processed by a thread pool."""

from __future__ import annotations

import itertools
import operator
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import partial, reduce

import numpy as np
from threadpoolctl import ThreadpoolController

from ..covariance._kernels import SCRATCH_BUDGET, chunk_rows

_blas_lock = threading.Lock()
_blas_state = {"users": 0, "limiter": None, "controller": None}


def _blas_controller() -> ThreadpoolController:
    # Inspecting the loaded libraries costs about 3 ms, more than a whole fit of a few
    # hundred rows: do it once. BLAS libraries are loaded with NumPy, before any fit.
    if _blas_state["controller"] is None:
        _blas_state["controller"] = ThreadpoolController()
    return _blas_state["controller"]


@contextmanager
def single_threaded_blas():
    """Limit BLAS to one thread while any backend is open, in any thread.

    BLAS thread limits are process-wide: overlapping fits (a threaded grid
    search) share one limit, set by the first to enter and restored by the last
    to leave, so none restores a limit while another still relies on it.
    """
    with _blas_lock:
        if _blas_state["users"] == 0:
            _blas_state["limiter"] = _blas_controller().limit(limits=1, user_api="blas")
        _blas_state["users"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_state["users"] -= 1
            if _blas_state["users"] == 0:
                _blas_state["limiter"].restore_original_limits()
                _blas_state["limiter"] = None


def default_n_threads() -> int:
    """Number of worker threads: ``GAUSSMIX_NUM_THREADS`` or the usable CPU count."""
    configured = os.environ.get("GAUSSMIX_NUM_THREADS")
    if configured:
        return max(1, int(configured))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def chunk_rows_for(bytes_per_row: int) -> int:
    """Rows per chunk that keep a chunk's scratch arrays within the budget.

    ``SCRATCH_BUDGET`` bytes (4 MiB, or ``GAUSSMIX_CHUNK_BYTES``) per worker
    thread at any number of features: fewer rows when rows are wide (at least
    one), at most ``MAX_CHUNK_ROWS``. The covariance models choose their
    kernels for chunks of this size (:mod:`gaussmix.covariance._kernels`).
    """
    return chunk_rows(bytes_per_row, SCRATCH_BUDGET)


# Scratch sets kept per single-chunk backend (one per kind of pass: E-step, scoring).
MAX_KEPT_WORKSPACES = 4


def _work_key(make_work):
    """A hashable identity for a scratch factory, or None when it has none.

    A ``functools.partial`` of a model's ``workspace`` with its shape arguments
    (what the passes build) makes the same scratch whenever its function and
    arguments are equal; anything else is not kept.
    """
    if not isinstance(make_work, partial):
        return None
    try:
        # The keywords in call order: one call site always passes them in one order.
        key = (make_work.func, make_work.args, *make_work.keywords.items())
        hash(key)
    except TypeError:
        return None
    return key


class InMemoryBackend:
    """Row chunks of an in-memory array, reduced in parallel.

    The rows are split into one contiguous block per thread; each thread walks
    its block chunk by chunk with its own scratch memory, subtracts the data
    centre, and folds the per-chunk results with ``merge``. BLAS is limited to
    one thread while the backend is open: on thin matrices, threads over row
    blocks beat BLAS's own threading.

    Use it as a context manager (``with backend: ...``) around ``reduce`` and
    ``map`` calls.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
        Kept as given; ``total_weight`` is their sum (``n_samples`` when None).
    bytes_per_row : int
        Scratch bytes a chunk kernel needs per row; sets the chunk size.
    n_threads : int, optional
        Defaults to :func:`default_n_threads`.
    row_offset : int, default=0
        Index of ``X``'s first row in the whole data set: the ``rows`` slices passed
        to chunk functions are shifted by it, so that a backend over one block of a
        larger data set (a Dask block, a block read from a file) labels rows globally.
    """

    def __init__(self, X, sample_weight=None, *, bytes_per_row=None, n_threads=None, row_offset=0):
        self.X = X
        self.row_offset = int(row_offset)
        self.sample_weight = sample_weight
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        if bytes_per_row is None:
            bytes_per_row = 8 * X.dtype.itemsize * self.n_features
        # Never more rows of scratch than there are rows.
        self.chunk_rows = min(chunk_rows_for(bytes_per_row), max(1, self.n_samples))
        n_chunks = -(-self.n_samples // self.chunk_rows)
        self.n_threads = max(1, min(n_threads or default_n_threads(), n_chunks))
        self.total_weight = (
            float(self.n_samples)
            if sample_weight is None
            else float(sample_weight.sum(dtype=np.float64))
        )
        self._stack = None
        self._executor = None
        # Data that fit in one chunk are centred once per centre and dtype, and
        # their scratch kept from pass to pass (see _single_chunk).
        self._single = None
        self._single_lock = threading.Lock()

    def __enter__(self):
        self._stack = ExitStack()
        # Chunks are thin: BLAS's own threads only add synchronisation to each call.
        self._stack.enter_context(single_threaded_blas())
        if self.n_threads > 1:
            self._executor = self._stack.enter_context(
                ThreadPoolExecutor(max_workers=self.n_threads)
            )
        return self

    def __exit__(self, *exc):
        self._executor = None
        self._stack.close()
        return False

    def centre(self) -> np.ndarray:
        """The weighted mean of the rows, in float64: the shift of all statistics.

        Summed in float64 (NumPy's buffered reduction unweighted, chunk by chunk
        weighted), so float32 data are never copied whole.
        """
        if self.sample_weight is None:
            return self.X.mean(axis=0, dtype=np.float64)

        def chunk_fn(XcT, sample_weight, rows, work):
            return XcT @ sample_weight

        origin = np.zeros(self.n_features)
        total = self.reduce(chunk_fn, lambda n_rows: None, origin, operator.add, dtype=np.float64)
        return total / self.total_weight

    def take(self, indices) -> np.ndarray:
        """The rows at ``indices``, in float64."""
        return np.asarray(self.X[indices], dtype=np.float64)

    def _blocks(self, n_rows):
        n_blocks = max(1, min(self.n_threads, -(-n_rows // self.chunk_rows)))
        if n_blocks == 1:
            return [(0, n_rows)]
        bounds = np.linspace(0, n_rows, n_blocks + 1).astype(int)
        return [(int(a), int(b)) for a, b in itertools.pairwise(bounds) if b > a]

    def _run(self, task, blocks):
        if self._executor is None or len(blocks) == 1:
            return [task(block) for block in blocks]
        return list(self._executor.map(task, blocks))

    def reduce(
        self,
        chunk_fn: Callable,
        make_work: Callable[[int], dict],
        centre: np.ndarray,
        merge: Callable,
        dtype=None,
    ):
        """Fold ``chunk_fn`` over all chunks.

        Parameters
        ----------
        chunk_fn : callable
            ``chunk_fn(XcT, sample_weight, rows, work)`` with ``XcT`` the chunk minus
            ``centre``, transposed to ``(n_features, n_rows)``, and ``rows`` the
            chunk's slice of the whole data set (shifted by ``row_offset``).
        make_work : callable
            ``make_work(n_rows)`` returns one thread's scratch memory.
        centre : ndarray of shape (n_features,)
        merge : callable
            Combines two results (associative).
        dtype : numpy dtype, optional
            The dtype of ``XcT`` (the data's by default; float64 to compute float32
            data at higher precision without copying it).
        """
        return self._reduce_rows(
            self.X, self.sample_weight, self.row_offset, chunk_fn, make_work, centre, merge, dtype
        )

    def _reduce_rows(self, X, sample_weight, row_offset, chunk_fn, make_work, centre, merge, dtype):
        """:meth:`reduce` over the rows of ``X``, numbered from ``row_offset``."""
        dtype = np.dtype(self.dtype if dtype is None else dtype)
        if X is self.X and 0 < X.shape[0] <= self.chunk_rows and not isinstance(X, np.memmap):
            if self._single_lock.acquire(blocking=False):
                try:
                    return self._single_chunk(chunk_fn, make_work, centre, dtype)
                finally:
                    self._single_lock.release()
        shift = centre.astype(dtype)
        n_features = self.n_features
        chunk_rows = min(self.chunk_rows, max(1, X.shape[0]))

        def task(block):
            start, stop = block
            work = make_work(chunk_rows)
            centred = np.empty(n_features * chunk_rows, dtype=dtype)
            result = None
            for begin in range(start, stop, chunk_rows):
                end = min(begin + chunk_rows, stop)
                # A flat buffer keeps the last, shorter chunk contiguous too.
                XcT = centred[: n_features * (end - begin)].reshape(n_features, -1)
                np.subtract(X[begin:end].T, shift[:, None], out=XcT)
                weights = None if sample_weight is None else sample_weight[begin:end]
                rows = slice(begin + row_offset, end + row_offset)
                value = chunk_fn(XcT, weights, rows, work)
                result = value if result is None else merge(result, value)
            return result

        return reduce(merge, self._run(task, self._blocks(X.shape[0])))

    def _single_chunk(self, chunk_fn, make_work, centre, dtype):
        """:meth:`reduce` over data that fit in one chunk: EM's passes on small data.

        The centred chunk depends only on the centre and the dtype, and a pass's
        scratch only on its ``make_work``: both are kept from one pass to the
        next (an EM iteration on a few hundred rows costs about as much as these
        allocations otherwise). Chunk functions read ``XcT`` and never write it,
        so it is shared by every pass under the same centre.
        """
        state = self._single
        # The centre's bytes (D values) compare in a fraction of np.array_equal's time.
        shift = np.ascontiguousarray(centre).tobytes()
        if state is None or state["dtype"] != dtype or state["centre"] != shift:
            XcT = np.empty((self.n_features, self.n_samples), dtype=dtype)
            np.subtract(self.X.T, centre.astype(dtype)[:, None], out=XcT)
            state = {"dtype": dtype, "centre": shift, "XcT": XcT, "works": {}}
            self._single = state
        key = _work_key(make_work)
        work = state["works"].get(key) if key is not None else None
        if work is None:
            work = make_work(self.n_samples)
            if key is not None:
                if len(state["works"]) >= MAX_KEPT_WORKSPACES:
                    state["works"].clear()
                state["works"][key] = work
        rows = slice(self.row_offset, self.row_offset + self.n_samples)
        return chunk_fn(state["XcT"], self.sample_weight, rows, work)

    def map(
        self, chunk_fn: Callable, make_work: Callable[[int], dict], centre: np.ndarray, dtype=None
    ):
        """Apply ``chunk_fn`` to all chunks and concatenate the results along rows.

        Arguments as for :meth:`reduce`.
        """
        # The result is allocated once, at the first chunk's shape and dtype, and each
        # chunk writes its rows in place: no list of pieces to concatenate (which would
        # hold the result twice).
        result = {}
        lock = threading.Lock()

        def collect(XcT, weights, rows, work):
            piece = chunk_fn(XcT, weights, rows, work)
            if "array" not in result:
                with lock:
                    if "array" not in result:
                        result["array"] = np.empty(
                            (self.n_samples, *piece.shape[1:]), dtype=piece.dtype
                        )
            offset = self.row_offset
            result["array"][rows.start - offset : rows.stop - offset] = piece
            return None

        self.reduce(collect, make_work, centre, lambda a, b: None, dtype=dtype)
        return result["array"]
