"""Rows of CSV and Parquet files larger than memory, read block by block.

:class:`ParquetRows` and :class:`CsvRows` look like a read-only two-dimensional
array: ``shape``, ``dtype``, ``ndim``, ``len()`` and row indexing
(``rows[start:stop]``, ``rows[sorted_indices]``) giving NumPy arrays. The
estimators accept such array-likes and read them block by block, so a file is
fitted, predicted and scored without ever being held whole. The values are
those :func:`gaussmix.data.read_table` gives for the same file and columns,
bit for bit, with the same column names and the same one-line errors.

What differs from :func:`~gaussmix.data.read_table`:

- **Missing values are refused** (``missing="raise"``, the default): the row
  count comes from the file's metadata (Parquet) or one indexing pass (CSV)
  and every row keeps its number, so a row cannot be left out on the way. The
  first missing value found is named, with its row and column, and the fix
  (drop or fill such rows first). ``missing="keep"`` returns NaN instead.
- A Parquet **folder** (a data set of several files, such as Spark or
  ``pyarrow.dataset.write_dataset`` write) is read as one table: its files
  in the order of their sorted paths, names starting with ``.`` or ``_``
  skipped, partition values in folder names not read as columns.
- Errors found in the values (text, infinite or missing values) are raised
  when the block holding them is read, not when the source is opened.

Progress: set ``on_read`` to a callable; every slice read calls
``on_read(start, n_rows)``, so a caller can draw one progress bar per pass
(a pass starts again when ``start`` is 0). Index reads (samples) are not
reported.

:func:`is_large_file` tells whether a file is above the size
(:func:`stream_bytes`) from which the command line streams it.
"""

from __future__ import annotations

import copy
import io
import os
import threading
from pathlib import Path

import numpy as np

from ._wording import _plural
from .tables import (
    _COLUMNS_HINT,
    _NA_SPELLINGS,
    _check_is_file,
    _check_parquet_size,
    _check_rows,
    _convert_columns,
    _csv_options,
    _import_pandas,
    _import_pyarrow,
    _is_parquet,
    _names_from_header,
    _parquet_column_values,
    _refuse_infinite,
    _refuse_unusable,
    _select_columns,
    _sniff_delimited,
    _text_column_values,
    _unreadable_parquet,
)

#: Files (or Parquet folders) larger than this many bytes are streamed by the command line.
STREAM_BYTES = 256 * 2**20

#: Data rows per block of a CSV file: the unit :class:`CsvRows` indexes and parses.
CSV_BLOCK_ROWS = 65_536

#: Rows decoded at a time from a Parquet row group by :class:`ParquetRows`.
PARQUET_BATCH_ROWS = 65_536

# Bytes of a Parquet file read at a time (pages are decoded from this buffer).
PARQUET_BUFFER_BYTES = 2**20

_MISSING_OPTIONS = ("raise", "keep")

# Bytes read at a time by the CSV indexing pass.
_SCAN_BYTES = 8 * 2**20

_NEWLINE, _CARRIAGE_RETURN, _QUOTE = ord("\n"), ord("\r"), ord('"')


def stream_bytes() -> int:
    """The size from which the command line streams a file: ``GAUSSMIX_STREAM_BYTES`` or 256 MiB.

    Returns
    -------
    int
    """
    configured = os.environ.get("GAUSSMIX_STREAM_BYTES")
    if configured:
        try:
            return max(0, int(configured))
        except ValueError:
            raise ValueError(
                f"GAUSSMIX_STREAM_BYTES={configured!r}: expected a number of bytes"
            ) from None
    return STREAM_BYTES


def data_bytes(path) -> int:
    """The size of a data file, or of every file in a folder (a Parquet data set).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    int
    """
    path = Path(path)
    if path.is_dir():
        return sum(file.stat().st_size for file in _dataset_files(path))
    return path.stat().st_size


def is_large_file(path, threshold=None) -> bool:
    """Whether ``path`` is read block by block rather than whole: a folder, or a big file.

    Parameters
    ----------
    path : str or path-like
    threshold : int, optional
        Bytes above which a file is streamed; default :func:`stream_bytes`.

    Returns
    -------
    bool
        True for a Parquet folder (only streaming reads one) and for a file
        larger than ``threshold``; False for anything that does not exist (the
        whole-file reader names the problem).
    """
    path = Path(path)
    if path.is_dir():
        return True
    if not path.is_file():
        return False
    return path.stat().st_size > (stream_bytes() if threshold is None else threshold)


def open_rows(path, columns=None, *, missing="raise", min_rows=1):
    """A :class:`ParquetRows` or :class:`CsvRows` over ``path``, by its format.

    A folder, a file ending in ``.parquet`` or ``.pq``, or one starting with
    Parquet's magic bytes is Parquet; anything else is read as delimited text.

    Parameters
    ----------
    path : str or path-like
    columns : list of str or int, optional
        As for :func:`gaussmix.data.read_table`.
    missing : {'raise', 'keep'}, default='raise'
    min_rows : int, default=1
        As for :func:`gaussmix.data.read_table`.

    Returns
    -------
    ParquetRows or CsvRows
    """
    path = Path(path)
    if path.is_dir() or (path.is_file() and _is_parquet(path)):
        return ParquetRows(path, columns, missing=missing, min_rows=min_rows)
    return CsvRows(path, columns, missing=missing, min_rows=min_rows)


class _Rows:
    """Row indexing, checks and progress shared by the two sources.

    Subclasses set ``shape``, ``dtype``, ``feature_names``, ``source`` and
    ``_starts`` (the first row of every block, then the row count) and
    implement ``_read_block(b)`` (the rows of block ``b`` as a checked array).
    """

    ndim = 2

    def __init__(self, missing):
        if missing not in _MISSING_OPTIONS:
            raise ValueError(f"missing={missing!r}: expected one of {_MISSING_OPTIONS}")
        self.missing = missing
        self.on_read = None
        self._lock = threading.Lock()
        self._cached = (None, None)

    # -------------------------------------------------------------- array-like
    def __len__(self) -> int:
        return self.shape[0]

    @property
    def size(self) -> int:
        """Number of values, ``n_rows * n_features``."""
        return self.shape[0] * self.shape[1]

    @property
    def nbytes(self) -> int:
        """Bytes the values take in memory as ``dtype`` (not read: the file's size differs)."""
        return self.size * self.dtype.itemsize

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.source!r}: {self.shape[0]:,} rows x "
            f"{self.shape[1]} columns, {self.dtype})"
        )

    def __getitem__(self, key):
        """Rows as a new C-contiguous array of ``dtype``.

        ``rows[start:stop]`` (step 1) reads only the blocks the slice covers;
        ``rows[indices]`` (integers, or a boolean mask of ``len(rows)``) returns
        those rows in the order given, reading each block once; ``rows[i]`` is
        one row; ``rows[rows_key, columns_key]`` indexes the columns of the result.
        """
        if isinstance(key, tuple):
            if len(key) != 2:
                raise IndexError(f"too many indices: {type(self).__name__} is two-dimensional")
            return self[key[0]][:, key[1]]
        n_rows = self.shape[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(n_rows)
            if step != 1:
                return self[np.arange(start, stop, step)]
            return self._read_slice(start, max(start, stop))
        if isinstance(key, (int, np.integer)):
            index = int(key) + n_rows if key < 0 else int(key)
            if not 0 <= index < n_rows:
                raise IndexError(f"row {key} is out of range for {n_rows} rows")
            return self._read_slice(index, index + 1)[0]
        indices = np.asarray(key)
        if indices.dtype == bool:
            if indices.shape != (n_rows,):
                raise IndexError(f"a boolean mask needs {n_rows} values, got {indices.shape}")
            indices = np.flatnonzero(indices)
        if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
            raise IndexError(
                f"{type(self).__name__} takes a slice, an integer or a 1-D array of row "
                f"indices, got {type(key).__name__}"
            )
        indices = indices.astype(np.int64)
        indices = np.where(indices < 0, indices + n_rows, indices)
        if indices.size and (indices.min() < 0 or indices.max() >= n_rows):
            raise IndexError(f"row indices out of range for {n_rows} rows")
        return self._read_indices(indices)

    def select(self, columns):
        """The same rows in fewer or reordered columns, without opening the file again.

        Parameters
        ----------
        columns : list of str or int
            Names or 0-based positions among this source's columns.

        Returns
        -------
        ParquetRows or CsvRows
        """
        positions = _select_columns(list(self.feature_names), columns, self.source)
        # As pickling does: a lock, a cache and open files of its own.
        selected = copy.copy(self)
        selected.feature_names = [self.feature_names[p] for p in positions]
        selected.shape = (self.shape[0], len(positions))
        selected._select(positions)
        return selected

    def to_numpy(self) -> np.ndarray:
        """Every row, read whole: only for sources known to fit in memory.

        Returns
        -------
        ndarray of shape (n_rows, n_features), ``dtype``
        """
        return self[:]

    # -------------------------------------------------------------- reading
    def _read_slice(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, self.shape[1]), dtype=self.dtype)
        if stop > start:
            first = int(np.searchsorted(self._starts, start, side="right")) - 1
            last = int(np.searchsorted(self._starts, stop - 1, side="right")) - 1
            for b in range(first, last + 1):
                block = self._block(b)
                low = max(start, self._starts[b])
                high = min(stop, self._starts[b + 1])
                out[low - start : high - start] = block[
                    low - self._starts[b] : high - self._starts[b]
                ]
        if self.on_read is not None:
            self.on_read(start, stop - start)
        return out

    def _read_indices(self, indices: np.ndarray) -> np.ndarray:
        out = np.empty((indices.size, self.shape[1]), dtype=self.dtype)
        if not indices.size:
            return out
        order = np.argsort(indices, kind="stable")
        ordered = indices[order]
        blocks = np.searchsorted(self._starts, ordered, side="right") - 1
        bounds = np.flatnonzero(np.diff(blocks)) + 1
        for group in np.split(np.arange(ordered.size), bounds):
            b = int(blocks[group[0]])
            out[order[group]] = self._block(b)[ordered[group] - self._starts[b]]
        return out

    def _block(self, b: int) -> np.ndarray:
        """Block ``b``, read once for consecutive requests (the last block is kept)."""
        with self._lock:
            cached_index, cached = self._cached
            if cached_index == b:
                return cached
            # Drop the old block before reading the next: two never coexist.
            self._cached = (None, None)
            block = self._read_block(b)
            self._check_values(block, int(self._starts[b]))
            self._cached = (b, block)
            return block

    def _check_values(self, block: np.ndarray, first_row: int) -> None:
        """Refuse infinite values, and missing ones unless ``missing='keep'``."""
        finite = np.isfinite(block)
        if finite.all():
            return
        infinite = np.isinf(block)
        if infinite.any():
            columns = np.flatnonzero(infinite.any(axis=0))
            _refuse_infinite([repr(self.feature_names[j]) for j in columns], self.source)
        if self.missing == "keep":
            return
        row, column = np.argwhere(~finite)[0]
        raise ValueError(
            f"{self.source}: missing value in column {self.feature_names[column]!r}, row "
            f"{first_row + int(row):,} (0-based, header not counted); a file read block by block "
            "(larger than memory) needs complete rows, since its rows cannot be left out on "
            "the way: drop or fill the rows with missing values first"
        )

    # -------------------------------------------------------------- pickling
    def __getstate__(self):
        # Open files, the cached block, the lock and the progress callback stay behind.
        state = self.__dict__.copy()
        for name in ("_lock", "_cached", "on_read", *self._unpicklable):
            state.pop(name, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._cached = (None, None)
        self.on_read = None

    _unpicklable = ()


# ----------------------------------------------------------------------------- Parquet
def _dataset_files(folder: Path) -> list:
    """The data files of a Parquet folder, by sorted relative path (``.``/``_`` names skipped)."""
    files = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(part.startswith((".", "_")) for part in parts) or not path.is_file():
            continue
        files.append(path)
    return files


class ParquetRows(_Rows):
    """The rows of a Parquet file or folder, read in batches of rows within each row group.

    A row group is read batch by batch (``batch_rows`` rows at a time, pages read
    as needed, nothing buffered ahead), so memory holds one batch and a few pages
    whatever the size of the row groups: writers that put a whole file in one row
    group are read in the same bounded memory. Consecutive slices continue the
    same reader; a slice that goes back starts its row group again.

    Parameters
    ----------
    path : str or path-like
        A Parquet file, or a folder of Parquet files (a data set: every file
        under it, in sorted order, names starting with ``.`` or ``_`` skipped).
    columns : list of str or int, optional
        The columns to keep, in this order, as for
        :func:`gaussmix.data.read_table` (positions count the first file's
        columns). Default: every column. A pandas index saved in the file is
        not a column, as ``pandas.read_parquet`` reads it.
    missing : {'raise', 'keep'}, default='raise'
        A missing value (null) raises a ``ValueError`` naming its row and
        column when its batch of rows is read, or is returned as NaN.
    min_rows : int, default=1
        Fewer rows are refused with :func:`~gaussmix.data.read_table`'s message.
    batch_rows : int, default=65536
        Rows decoded at a time.

    Attributes
    ----------
    shape : tuple of int
        ``(n_rows, n_features)``, from the files' metadata (no values read).
    dtype : numpy.dtype
        float32 when every selected column of every file is float32, else float64.
    ndim : int
        2.
    feature_names : list of str
        The selected columns' names.
    source : str
        The path.
    on_read : callable or None
        Called as ``on_read(start, n_rows)`` after each slice read.

    Raises
    ------
    FileNotFoundError, ValueError, ImportError
        As :func:`gaussmix.data.read_table` for the same file: a file that is
        not Parquet, without columns or rows, an unknown column; non-numeric
        columns (their first row group is read to name a value). For a folder,
        also: no files, a file that is not Parquet, a file without a selected
        column.
    """

    _unpicklable = ("_files", "_reader")

    def __init__(
        self, path, columns=None, *, missing="raise", min_rows=1, batch_rows=PARQUET_BATCH_ROWS
    ):
        super().__init__(missing)
        if int(batch_rows) < 1:
            raise ValueError(f"batch_rows={batch_rows!r}: expected a positive number of rows")
        self.batch_rows = int(batch_rows)
        self._reader = None
        path = Path(path)
        self.source = source = str(path)
        self.path = path
        _import_pyarrow(source)
        if path.is_dir():
            paths = _dataset_files(path)
            if not paths:
                raise ValueError(f"{source}: the folder holds no Parquet files")
            for file in paths:
                if not _is_parquet(file):
                    raise ValueError(
                        f"{file}: not a Parquet file, in the Parquet folder {source}: move it "
                        "out, or give its name a leading _ or . to have it skipped"
                    )
        else:
            _check_is_file(path)
            paths = [path]
        self._paths = paths
        files = [self._open(file) for file in paths]

        schema = files[0].schema_arrow
        index_columns = _pandas_index_columns(schema)
        arrow_names = [name for name in schema.names if name not in index_columns]
        n_rows = sum(file.metadata.num_rows for file in files)
        _check_parquet_size(n_rows, len(arrow_names), source)
        names = _names_from_header([str(name) for name in arrow_names])
        positions = _select_columns(names, columns, source)
        self.feature_names = [names[p] for p in positions]
        self._arrow_names = [arrow_names[p] for p in positions]
        if len(set(self._arrow_names)) < len(self._arrow_names):
            raise ValueError(
                f"{source}: selected columns share a name in the file; pick columns with "
                f"distinct names with {_COLUMNS_HINT}."
            )

        types = []
        for file, file_path in zip(files, paths):
            fields = {field.name: field.type for field in file.schema_arrow}
            lacking = [name for name in self._arrow_names if name not in fields]
            if lacking:
                raise ValueError(
                    f"{file_path}: no {_plural('column', lacking)} "
                    f"{', '.join(map(repr, lacking))}, which the first file of {source} has; "
                    "every file of a Parquet folder needs the selected columns"
                )
            types.append([fields[name] for name in self._arrow_names])
        self._types = types
        self.shape = (int(n_rows), len(self._arrow_names))
        self._select(range(len(self._arrow_names)))
        _check_rows(n_rows, min_rows, source)

        # (file, row group, batch) of every block, and their first rows.
        self._blocks, starts = [], [0]
        for f, file in enumerate(files):
            for g in range(file.metadata.num_row_groups):
                rows = file.metadata.row_group(g).num_rows
                for k, first in enumerate(range(0, rows, self.batch_rows)):
                    self._blocks.append((f, g, k))
                    starts.append(starts[-1] + min(self.batch_rows, rows - first))
        self._starts = np.asarray(starts, dtype=np.int64)
        self._files = files
        if not all(self._fast):
            # Text columns are refused now, with a value, as read_table does; columns
            # of numbers written as text read as numbers, block by block.
            self._block(0)

    def _select(self, positions):
        positions = list(positions)
        pa = _import_pyarrow(self.source)
        self._arrow_names = [self._arrow_names[p] for p in positions]
        self._types = [[file_types[p] for p in positions] for file_types in self._types]
        self._fast = [
            all(_is_numeric_arrow(file_types[j], pa) for file_types in self._types)
            for j in range(len(positions))
        ]
        float32 = all(pa.types.is_float32(t) for file_types in self._types for t in file_types)
        self.dtype = np.dtype(np.float32 if float32 else np.float64)

    def _open(self, file):
        import pyarrow.parquet as pq

        try:
            # No memory map (mapped files count against an address-space limit) and
            # no pre-buffering (it reads a whole row group ahead): pages as decoded.
            return pq.ParquetFile(
                file, memory_map=False, pre_buffer=False, buffer_size=PARQUET_BUFFER_BYTES
            )
        except (OSError, MemoryError):
            raise
        except Exception as exc:  # pyarrow's own exception types for bad files
            raise _unreadable_parquet(exc, str(file)) from exc

    def _read_block(self, b: int) -> np.ndarray:
        f, g, k = self._blocks[b]
        try:
            table = self._batch(f, g, k)
        except (OSError, MemoryError):  # pyarrow's ArrowMemoryError is a MemoryError
            self._reader = None
            raise
        except Exception as exc:
            self._reader = None
            raise _unreadable_parquet(exc, str(self._paths[f])) from exc
        n_rows = 0 if table is None else table.num_rows
        expected = int(self._starts[b + 1] - self._starts[b])
        if n_rows != expected:
            self._reader = None
            raise ValueError(
                f"{self._paths[f]}: rows {k * self.batch_rows} to "
                f"{k * self.batch_rows + expected - 1} of row group {g} read as {n_rows} rows: "
                "did the file change while it was read?"
            )
        block = np.empty((n_rows, self.shape[1]), dtype=self.dtype)
        slow = [j for j, fast in enumerate(self._fast) if not fast]
        for j, fast in enumerate(self._fast):
            if fast:
                block[:, j] = _arrow_values(table.column(j), self.dtype)
        if slow:
            # The pandas route of read_table, for the same values and messages.
            raw = {j: table.column(j).to_pandas() for j in slow}
            converted = _convert_columns(self.feature_names, slow, raw, _parquet_column_values)
            _refuse_unusable(converted, self.source, empty=False)
            for j, values in zip(slow, converted.values):
                block[:, j] = values
        del table
        return block

    def _batch(self, f: int, g: int, k: int):
        """Batch ``k`` of row group ``g`` of file ``f``, continuing the reader when it can."""
        if getattr(self, "_files", None) is None:  # unpickled or selected: open again
            self._files = [self._open(file) for file in self._paths]
        reader = getattr(self, "_reader", None)
        if reader is None or reader[:2] != (f, g) or reader[2] > k:
            batches = self._files[f].iter_batches(
                batch_size=self.batch_rows,
                row_groups=[g],
                columns=self._arrow_names,
                use_threads=False,
            )
            reader = (f, g, 0, batches)
        batches = reader[3]
        batch = None
        for _ in range(k - reader[2] + 1):  # batches before k are decoded and dropped
            batch = next(batches, None)
        self._reader = (f, g, k + 1, batches)
        return batch


def _pandas_index_columns(schema) -> set:
    """Columns holding a pandas index that ``pandas.read_parquet`` restores, not reads as data."""
    metadata = schema.pandas_metadata or {}
    return {name for name in metadata.get("index_columns", []) if isinstance(name, str)}


def _is_numeric_arrow(arrow_type, pa) -> bool:
    types = pa.types
    return (
        types.is_integer(arrow_type)
        or types.is_floating(arrow_type)
        or types.is_boolean(arrow_type)
    )


def _arrow_values(column, dtype) -> np.ndarray:
    """A numeric or boolean Arrow column as ``dtype``, nulls as NaN."""
    import pyarrow as pa
    import pyarrow.compute as pc

    target = pa.float32() if dtype == np.float32 else pa.float64()
    if column.type != target:
        # Unsafe: int64 beyond 2**53 rounds to the nearest double, as NumPy does.
        column = pc.cast(column, target, safe=False)
    return column.to_numpy(zero_copy_only=False)


# ----------------------------------------------------------------------------- CSV
class CsvRows(_Rows):
    """The rows of a delimited text file, indexed once and parsed block by block.

    Opening the file reads it once to find where every ``block_rows``-th data
    row starts (and the row count); a slice then parses only the blocks it
    covers, each from its byte range. The delimiter, the header and the column
    names are sniffed as :func:`gaussmix.data.read_table` does, and each block
    is parsed by the same rules (missing-value spellings, booleans, quoted
    fields, blank lines skipped).

    Parameters
    ----------
    path : str or path-like
    columns : list of str or int, optional
        As for :func:`gaussmix.data.read_table`.
    block_rows : int, default=65536
        Data rows per block.
    missing : {'raise', 'keep'}, default='raise'
        A missing value raises a ``ValueError`` naming its row and column when
        its block is read, or is returned as NaN.
    min_rows : int, default=1

    Attributes
    ----------
    shape : tuple of int
    dtype : numpy.dtype
        float64.
    ndim : int
        2.
    feature_names : list of str
    source : str
    on_read : callable or None
        Called as ``on_read(start, n_rows)`` after each slice read.

    Raises
    ------
    FileNotFoundError, ValueError, ImportError
        As :func:`gaussmix.data.read_table`; also for a file whose lines end
        in a carriage return alone (not supported when streaming).
    """

    def __init__(
        self, path, columns=None, *, block_rows=CSV_BLOCK_ROWS, missing="raise", min_rows=1
    ):
        super().__init__(missing)
        path = Path(path)
        self.source = source = str(path)
        self.path = path
        _check_is_file(path)
        if int(block_rows) < 1:
            raise ValueError(f"block_rows={block_rows!r}: expected a positive number of rows")
        self.block_rows = int(block_rows)
        self._sniffed = sniffed = _sniff_delimited(path, source)
        self._positions = _select_columns(sniffed.names, columns, source)
        self.feature_names = [sniffed.names[p] for p in self._positions]
        self.dtype = np.dtype(np.float64)
        n_rows, offsets = _index_rows(path, source, sniffed, self.block_rows)
        if n_rows == 0:
            raise ValueError(f"{source}: the file has a header but no data rows")
        _check_rows(n_rows, min_rows, source)
        self.shape = (n_rows, len(self._positions))
        self._offsets = offsets
        self._starts = np.minimum(np.arange(len(offsets), dtype=np.int64) * self.block_rows, n_rows)
        # Text columns are refused now, naming a value, as read_table refuses them.
        self._block(0)

    def _select(self, positions):
        self._positions = [self._positions[p] for p in positions]

    def _read_block(self, b: int) -> np.ndarray:
        expected = int(self._starts[b + 1] - self._starts[b])
        with self.path.open("rb") as handle:
            handle.seek(int(self._offsets[b]))
            text = handle.read(int(self._offsets[b + 1] - self._offsets[b]))
        block = self._parse(text, b)
        if block.shape[0] != expected:
            raise ValueError(
                f"{self.source}: rows {self._starts[b]:,} to {self._starts[b + 1] - 1:,} read "
                f"as {block.shape[0]:,} rows, not {expected:,}: did the file change while it "
                "was read?"
            )
        return block

    def _parse(self, text: bytes, b: int) -> np.ndarray:
        pandas = _import_pandas()
        sniffed, positions = self._sniffed, self._positions
        width = len(sniffed.names)
        # Every block is parsed at the file's width, whatever its first row's.
        options = dict(names=list(range(width)), **_csv_options(sniffed.delimiter))
        try:
            frame = pandas.read_csv(
                io.BytesIO(text),
                usecols=positions,
                dtype=np.float64,
                na_values=_NA_SPELLINGS,
                keep_default_na=False,
                **options,
            )
            return np.ascontiguousarray(frame[positions].to_numpy(dtype=np.float64))
        except (ValueError, TypeError, pandas.errors.ParserError, pandas.errors.EmptyDataError):
            pass  # not only numbers: read field by field below, as read_table does
        try:
            frame = pandas.read_csv(
                io.BytesIO(text), dtype=str, keep_default_na=False, na_filter=False, **options
            )
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{self.source}: not a UTF-8 text (CSV) file or a Parquet file"
            ) from exc
        except pandas.errors.ParserError as exc:
            reason = " ".join(str(exc).split()).removeprefix("Error tokenizing data. C error: ")
            raise ValueError(
                f"{self.source}: rows have different numbers of fields ({reason}, counting "
                f"from data row {self._starts[b]:,}); every row needs the same columns"
            ) from exc
        raw = {p: frame[p] for p in positions}
        names = dict(zip(positions, self.feature_names))
        converted = _convert_columns(names, positions, raw, _text_column_values)
        _refuse_unusable(converted, self.source, empty=False)
        if not converted.values:
            return np.empty((frame.shape[0], len(positions)))
        return np.ascontiguousarray(np.column_stack(converted.values))


def _index_rows(path: Path, source: str, sniffed, block_rows: int):
    """The number of data rows, and the byte offset where every block of rows starts.

    A row ends at a newline outside double quotes (a quoted field may hold
    newlines); a line of nothing but spaces, tabs and a carriage return is
    blank and skipped, as pandas skips it. The header, when there is one, is
    the first row that is not blank. Returns ``offsets`` of length
    ``n_blocks + 1``: block ``b`` is the bytes ``offsets[b]:offsets[b + 1]``.
    """
    blank_bytes = {ord(" "), ord("\t"), _CARRIAGE_RETURN} - {ord(sniffed.delimiter[:1])}
    if sniffed.delimiter == r"\s+":
        blank_bytes = {ord(" "), ord("\t"), _CARRIAGE_RETURN}
    is_blank = np.zeros(256, dtype=bool)
    is_blank[list(blank_bytes)] = True

    skip_header = sniffed.has_header
    offsets = [0]
    n_rows = 0
    position = 0  # bytes scanned before the current piece
    in_quotes = False
    line_content = 0  # non-blank bytes of the line being read
    saw_newline = saw_carriage_return = False
    with path.open("rb") as handle:
        while True:
            piece = handle.read(_SCAN_BYTES)
            if not piece:
                break
            data = np.frombuffer(piece, dtype=np.uint8)
            ends = np.flatnonzero(data == _NEWLINE)
            saw_newline |= ends.size > 0
            saw_carriage_return |= b"\r" in piece
            if in_quotes or _QUOTE in piece:
                quotes = np.cumsum(data == _QUOTE, dtype=np.int64)
                inside = (quotes[ends] + in_quotes) % 2 == 1
                in_quotes = bool((quotes[-1] + in_quotes) % 2)
                ends = ends[~inside]
            # content[k]: bytes of data[:k] that are not blank.
            content = np.concatenate(([0], np.cumsum(~is_blank[data], dtype=np.int64)))
            line_starts = np.concatenate(([0], ends + 1))
            per_line = content[ends] - content[line_starts[:-1]]
            if per_line.size:
                per_line[0] += line_content
            line_content = (0 if ends.size else line_content) + int(
                content[-1] - content[line_starts[-1]]
            )
            rows_ending = ends[per_line > 0]
            if skip_header and rows_ending.size:
                offsets[0] = position + int(rows_ending[0]) + 1
                rows_ending = rows_ending[1:]
                skip_header = False
            # Block k starts after the newline of row k * block_rows - 1.
            first_row = n_rows
            n_rows += rows_ending.size
            multiples = np.arange(
                (first_row // block_rows + 1) * block_rows, n_rows + 1, block_rows
            )
            offsets.extend((position + rows_ending[multiples - 1 - first_row] + 1).tolist())
            position += len(piece)
    if line_content > 0 and not skip_header:  # a last row without a newline
        n_rows += 1
    if saw_carriage_return and not saw_newline:
        raise ValueError(
            f"{source}: lines end in a carriage return alone (old Mac line endings), which a "
            "file read block by block does not support: convert them to newlines"
        )
    n_blocks = -(-n_rows // block_rows)
    return n_rows, np.asarray([*offsets[:n_blocks], position], dtype=np.int64)


# ----------------------------------------------------------------------------- helpers
#: Rows checked at each end of a file for a saved row index (:func:`without_saved_index`).
INDEX_CHECK_ROWS = 65_536


def without_saved_index(rows):
    """``rows`` without a leading saved row index, checked at both ends of the file.

    :func:`gaussmix.data.preparation.saved_row_index` decides on every value of
    the first column; here the first and the last :data:`INDEX_CHECK_ROWS`
    rows are checked (an index that ``DataFrame.to_csv`` writes holds exactly
    the row numbers there), so that the file is not read whole.

    Parameters
    ----------
    rows : ParquetRows or CsvRows

    Returns
    -------
    rows : ParquetRows or CsvRows
        Without the first column when it is a saved index, else ``rows`` itself.
    dropped : str or None
        The name of the column left out.
    """
    from .preparation import saved_row_index

    n_rows, n_features = rows.shape
    names = list(rows.feature_names)
    if not saved_row_index(rows[: min(INDEX_CHECK_ROWS, n_rows)], names):
        return rows, None
    tail_start = max(0, n_rows - INDEX_CHECK_ROWS)
    tail = rows[tail_start:n_rows][:, 0]
    if not np.array_equal(tail, np.arange(tail_start, n_rows, dtype=tail.dtype)):
        return rows, None
    return rows.select(list(range(1, n_features))), names[0]


def sample_indices(n_rows: int, n_sample: int, random_state) -> np.ndarray:
    """``n_sample`` distinct row numbers below ``n_rows``, seeded and sorted (all when fewer).

    Parameters
    ----------
    n_rows, n_sample : int
    random_state : int or numpy.random.Generator

    Returns
    -------
    ndarray of int64
    """
    if n_sample >= n_rows:
        return np.arange(n_rows, dtype=np.int64)
    rng = np.random.default_rng(random_state)
    # Generator.choice without replacement costs memory in the sample, not in n_rows.
    return np.sort(rng.choice(n_rows, size=n_sample, replace=False)).astype(np.int64)


# ----------------------------------------------------------------------------- Dask
def dask_array(path, columns=None):
    """A CSV or Parquet file (or Parquet folder) as a Dask array, for a fit on a cluster.

    The columns are chosen, named and checked as :class:`ParquetRows` and
    :class:`CsvRows` do (from the metadata or the first lines, on this machine);
    the values are read by the workers (``dask.dataframe.read_parquet`` or
    ``read_csv``, with :func:`~gaussmix.data.read_table`'s missing-value
    spellings), so the path must be readable there too. A CSV file is split
    at line ends: quoted fields holding line breaks are not supported.

    Parameters
    ----------
    path : str or path-like
    columns : list of str or int, optional

    Returns
    -------
    X : dask.array.Array of shape (n_rows, n_features)
        float32 when every selected Parquet column is float32, else float64;
        row counts of the chunks known.
    feature_names : list of str
    """
    import dask.dataframe as dd

    path = Path(path)
    if path.is_dir() or (path.is_file() and _is_parquet(path)):
        rows = ParquetRows(path, columns)
        frame = dd.read_parquet(str(path), columns=list(rows._arrow_names))
        dtype, names = rows.dtype, rows.feature_names
    else:
        source = str(path)
        _check_is_file(path)
        sniffed = _sniff_delimited(path, source)
        positions = _select_columns(sniffed.names, columns, source)
        options = _csv_options(sniffed.delimiter, header=0 if sniffed.has_header else None)
        frame = dd.read_csv(
            source,
            names=list(range(len(sniffed.names))),
            usecols=positions,
            dtype=np.float64,
            na_values=_NA_SPELLINGS,
            keep_default_na=False,
            **options,
        )[positions]
        dtype, names = np.dtype(np.float64), [sniffed.names[p] for p in positions]
    return frame.astype(dtype).to_dask_array(lengths=True), names


__all__ = [
    "CSV_BLOCK_ROWS",
    "CsvRows",
    "PARQUET_BATCH_ROWS",
    "ParquetRows",
    "STREAM_BYTES",
    "dask_array",
    "data_bytes",
    "is_large_file",
    "open_rows",
    "sample_indices",
    "stream_bytes",
    "without_saved_index",
]
