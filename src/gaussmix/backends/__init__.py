"""Sources of row chunks for the EM loop. Each backend offers ``reduce`` and ``map``.

:func:`make_backend` picks one for the input: :class:`InMemoryBackend` for NumPy
arrays (memory maps included: the operating system pages them in chunk by
chunk), :class:`ChunkedBackend` for other array-likes read block by block
(h5py, zarr, Parquet through :mod:`gaussmix.data.streaming`), and
:class:`~gaussmix.backends.dask.DaskBackend` for Dask collections.
"""

import numpy as np

from .chunked import ChunkedBackend, MappedBackend, float_dtype, read_rows, row_blocks
from .dask import is_dask_collection
from .memory import InMemoryBackend, default_n_threads

__all__ = [
    "ChunkedBackend",
    "InMemoryBackend",
    "MappedBackend",
    "default_n_threads",
    "float_dtype",
    "is_dask_collection",
    "is_out_of_core",
    "make_backend",
    "read_rows",
    "row_blocks",
]


def is_out_of_core(X) -> bool:
    """Whether ``X`` is read block by block rather than held in memory.

    True for a ``numpy.memmap`` and for array-likes that are not NumPy arrays,
    lists or DataFrames but have a two-dimensional ``shape``, a ``dtype`` and row
    slicing (h5py and zarr datasets, :class:`gaussmix.data.streaming.ParquetRows`).
    Dask collections are not: they have their own backend.
    """
    if isinstance(X, np.memmap):
        return True
    if isinstance(X, (np.ndarray, list, tuple)) or is_dask_collection(X):
        return False
    if hasattr(X, "iloc") or hasattr(X, "tocsr") or hasattr(X, "__array_namespace__"):
        return False
    shape = getattr(X, "shape", None)
    return (
        shape is not None and len(shape) == 2 and hasattr(X, "dtype") and hasattr(X, "__getitem__")
    )


def make_backend(X, sample_weight=None, *, bytes_per_row=None):
    """The backend for ``X``: in memory, block by block, or on Dask.

    Parameters
    ----------
    X : ndarray, array-like with row slicing, or Dask array
        Validated input (float32 or float64 for NumPy arrays).
    sample_weight : ndarray of shape (n_samples,) or None
    bytes_per_row : int, optional
        Scratch bytes a chunk kernel needs per row.

    Returns
    -------
    InMemoryBackend, MappedBackend, ChunkedBackend or DaskBackend
    """
    if is_dask_collection(X):
        from .dask import DaskBackend

        return DaskBackend(X, sample_weight, bytes_per_row=bytes_per_row)
    if isinstance(X, np.memmap) and X.dtype in (np.float32, np.float64):
        return MappedBackend(X, sample_weight, bytes_per_row=bytes_per_row)
    if isinstance(X, np.ndarray) and X.dtype in (np.float32, np.float64):
        return InMemoryBackend(X, sample_weight, bytes_per_row=bytes_per_row)
    return ChunkedBackend(X, sample_weight, bytes_per_row=bytes_per_row)
