"""The out-of-core backend: rows read block by block from an array-like larger than memory.

Any object with ``shape``, ``dtype`` and row slicing (``X[start:stop]`` giving an
array) is a source: a ``numpy.memmap`` of another dtype than float32/float64, an
h5py or zarr dataset, or :class:`gaussmix.data.streaming.ParquetRows`. Each pass
reads the rows in order, one block at a time, while the previous block is being
processed: memory holds two blocks and the chunk scratch, whatever the number of
rows.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .memory import InMemoryBackend

# A block is read whole, then processed chunk by chunk by the worker threads.
# 16 MiB amortises a Parquet row group's or a file read's fixed cost and keeps two
# blocks (the one processed, the one being read) far below any sensible memory limit.
BLOCK_BYTES = 16 * 2**20


def block_bytes() -> int:
    """Bytes per block read from a source: ``GAUSSMIX_BLOCK_BYTES`` or 16 MiB."""
    configured = os.environ.get("GAUSSMIX_BLOCK_BYTES")
    return max(1, int(configured)) if configured else BLOCK_BYTES


def read_rows(X, start: int, stop: int, dtype=None) -> np.ndarray:
    """Rows ``start:stop`` of an array-like as a C-contiguous float array.

    Parameters
    ----------
    X : array-like with row slicing
    start, stop : int
    dtype : numpy dtype, optional
        float32 or float64; the source's dtype when it is one of those, else float64.

    Returns
    -------
    ndarray of shape (stop - start, n_features)
    """
    if dtype is None:
        dtype = float_dtype(X.dtype)
    try:
        block = np.asarray(X[start:stop])
    except OSError as exc:
        raise ValueError(
            f"Could not read rows {start}:{stop} of the input ({exc}): check that the file "
            "is readable and complete."
        ) from exc
    if block.ndim != 2 or block.shape[0] != stop - start:
        raise ValueError(
            f"Reading rows {start}:{stop} of the input gave an array of shape {block.shape}, "
            f"expected ({stop - start}, {X.shape[1]}): the input changed (did the file shrink "
            "during the fit?) or does not support row slicing."
        )
    return np.ascontiguousarray(block, dtype=dtype)


def float_dtype(dtype) -> np.dtype:
    """The float dtype rows of ``dtype`` are computed in: float32 kept, others float64."""
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def row_blocks(n_samples: int, rows_per_block: int):
    """``(start, stop)`` of consecutive blocks of at most ``rows_per_block`` rows."""
    return [
        (start, min(start + rows_per_block, n_samples))
        for start in range(0, n_samples, rows_per_block)
    ]


class ChunkedBackend(InMemoryBackend):
    """Rows of an array-like read block by block, each block reduced in parallel.

    The same ``reduce``/``map``/``take``/``centre`` as :class:`InMemoryBackend`
    (it is one in-memory backend per block, with rows numbered globally), so the
    EM loop, the passes and the kernels run unchanged. The next block is read by
    a background thread while the current one is processed.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Anything with ``shape``, ``dtype`` and ``X[start:stop]``.
    sample_weight : ndarray of shape (n_samples,) or None
    bytes_per_row : int
        Scratch bytes a chunk kernel needs per row; sets the chunk size.
    n_threads : int, optional
    rows_per_block : int, optional
        Rows read at a time; by default :func:`block_bytes` worth of rows, and at
        least one chunk per thread.
    """

    def __init__(
        self,
        X,
        sample_weight=None,
        *,
        bytes_per_row=None,
        n_threads=None,
        rows_per_block=None,
    ):
        dtype = float_dtype(X.dtype)
        super().__init__(
            _Shape(X.shape, dtype), sample_weight, bytes_per_row=bytes_per_row, n_threads=n_threads
        )
        self.X = X
        self.dtype = dtype
        if rows_per_block is None:
            row_bytes = max(1, self.n_features * dtype.itemsize)
            rows_per_block = max(block_bytes() // row_bytes, self.chunk_rows * self.n_threads)
        self.rows_per_block = max(1, min(int(rows_per_block), max(1, self.n_samples)))
        self._reader = None

    def __enter__(self):
        super().__enter__()
        self._reader = self._stack.enter_context(ThreadPoolExecutor(max_workers=1))
        return self

    def __exit__(self, *exc):
        self._reader = None
        return super().__exit__(*exc)

    def _blocks_in_order(self):
        """Yield ``(start, rows)`` for every block, reading the next one meanwhile."""
        blocks = row_blocks(self.n_samples, self.rows_per_block)
        if self._reader is None:
            for start, stop in blocks:
                yield start, read_rows(self.X, start, stop, self.dtype)
            return
        pending = self._reader.submit(read_rows, self.X, *blocks[0], self.dtype)
        for index, (start, _) in enumerate(blocks):
            rows = pending.result()
            if index + 1 < len(blocks):
                pending = self._reader.submit(read_rows, self.X, *blocks[index + 1], self.dtype)
            yield start, rows

    def centre(self) -> np.ndarray:
        """The weighted mean of the rows in float64, accumulated block by block."""

        def chunk_fn(XcT, sample_weight, rows, work):
            if sample_weight is None:
                return XcT.sum(axis=1, dtype=np.float64)
            return XcT.astype(np.float64, copy=False) @ sample_weight

        origin = np.zeros(self.n_features)
        total = self.reduce(chunk_fn, lambda n_rows: None, origin, np.add, dtype=np.float64)
        return total / self.total_weight

    def take(self, indices) -> np.ndarray:
        """The rows at ``indices`` in float64, in the order given.

        A NumPy array (a memmap) is indexed directly; other sources are read in
        one ordered sweep of the blocks that hold the rows.
        """
        indices = np.asarray(indices, dtype=np.int64)
        if isinstance(self.X, np.ndarray):
            return np.asarray(self.X[indices], dtype=np.float64)
        order = np.argsort(indices, kind="stable")
        wanted = indices[order]
        rows = np.empty((indices.size, self.n_features))
        for start, stop in row_blocks(self.n_samples, self.rows_per_block):
            lo, hi = np.searchsorted(wanted, [start, stop])
            if hi > lo:
                block = read_rows(self.X, start, stop, self.dtype)
                rows[order[lo:hi]] = block[wanted[lo:hi] - start]
        return rows

    def reduce(self, chunk_fn, make_work, centre, merge, dtype=None):
        """Fold ``chunk_fn`` over all chunks of all blocks; see :meth:`InMemoryBackend.reduce`."""
        result = None
        for start, rows in self._blocks_in_order():
            stop = start + len(rows)
            weights = None if self.sample_weight is None else self.sample_weight[start:stop]
            value = self._reduce_rows(
                rows, weights, start, chunk_fn, make_work, centre, merge, dtype
            )
            result = value if result is None else merge(result, value)
        return result


class MappedBackend(InMemoryBackend):
    """A ``numpy.memmap``, processed as in memory, its file's size checked before each pass.

    A mapped file that shrinks under a running fit makes the next read of a lost
    page kill the process (SIGBUS); checking the size at every pass turns the
    common case (a file rewritten or truncated between passes) into a clear error.
    """

    def __init__(self, X, sample_weight=None, **options):
        super().__init__(X, sample_weight, **options)
        self.filename = getattr(X, "filename", None)
        self.file_size = _file_size(self.filename)

    def reduce(self, chunk_fn, make_work, centre, merge, dtype=None):
        """:meth:`InMemoryBackend.reduce`, after checking the mapped file's size."""
        self._check_file()
        return super().reduce(chunk_fn, make_work, centre, merge, dtype)

    def centre(self) -> np.ndarray:
        """:meth:`InMemoryBackend.centre`, after checking the mapped file's size."""
        self._check_file()
        return super().centre()

    def take(self, indices) -> np.ndarray:
        """:meth:`InMemoryBackend.take`, after checking the mapped file's size."""
        self._check_file()
        return super().take(indices)

    def _check_file(self):
        size = _file_size(self.filename)
        if self.file_size is not None and (size is None or size < self.file_size):
            raise ValueError(
                f"The memory-mapped file {self.filename} shrank from {self.file_size} to "
                f"{size or 0} bytes during the fit: do not modify a data file while it is "
                "being fitted; rerun on the complete file."
            )


def _file_size(filename):
    if filename is None:
        return None
    try:
        return os.stat(filename).st_size
    except OSError:
        return None


class _Shape:
    """Stands in for the source while :class:`InMemoryBackend` reads shape and dtype."""

    def __init__(self, shape, dtype):
        self.shape = tuple(int(n) for n in shape)
        self.dtype = dtype
