"""Reading CSV and Parquet files into a float64 array with column names.

:func:`read_table` refuses what a Gaussian mixture cannot use (text columns,
columns with no values) with one line that names the columns and the fix.
pandas (and pyarrow for Parquet) are optional dependencies: they are imported
when a file is read.
"""

from __future__ import annotations

import csv
import numbers
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._wording import _has, _plural, _them

#: Spellings of a missing value in a CSV file, compared case-insensitively after
#: surrounding whitespace is stripped ("" is an empty field).
MISSING_VALUES = frozenset({"", "na", "n/a", "nan", "-nan", "null", "none", "#n/a"})


#: Spellings of booleans in a CSV file, compared case-insensitively: a column
#: holding only these (and missing values) reads as 1.0 (true) and 0.0 (false).
BOOLEAN_VALUES = {"true": 1.0, "false": 0.0}


#: File name endings read as Parquet whatever the content; other files are
#: Parquet when they start with Parquet's magic bytes.
PARQUET_SUFFIXES = (".parquet", ".pq")


PARQUET_MAGIC = b"PAR1"


# Delimiters tried, in order of preference when two fit a sample equally well.
_DELIMITERS = (",", ";", "\t")


_WHITESPACE = r"\s+"


_SNIFF_BYTES = 1 << 16


_SNIFF_LINES = 200


_DECIMAL_COMMA = re.compile(r"^[-+]?\d*,\d+$")


_COLUMNS_HINT = "--columns (the columns argument in Python)"


# ----------------------------------------------------------------------------- reading
@dataclass(frozen=True, eq=False)
class Table:
    """A numeric table read from a file.

    Attributes
    ----------
    X : ndarray of shape (n_rows, n_features), float64
        The values; NaN where a value is missing.
    feature_names : list of str
        One name per column of ``X``: the file's header, or ``"x0"``, ``"x1"``,
        ... (0-based positions in the file) where it has none.
    source : str
        The path the table was read from.
    """

    X: np.ndarray
    feature_names: list[str]
    source: str


def read_table(path, columns=None, min_rows=1) -> Table:
    """Read a numeric table from a CSV or Parquet file.

    A file is Parquet when its name ends in ``.parquet`` or ``.pq`` or it
    starts with Parquet's magic bytes ``PAR1``; otherwise it is read as
    delimited text (UTF-8).

    CSV files: the delimiter is sniffed from the first lines (comma, semicolon,
    tab, or runs of spaces and tabs); fields may be quoted. The first row is a
    header when none of its fields is a number, or when one of its fields is
    text above a column of numbers (a header such as ``id,1990,2000``); columns
    of a file without a header, and header fields left empty, are named
    ``"x0"``, ``"x1"``, ... by their 0-based position. Empty fields and
    ``NA``, ``N/A``, ``NaN``, ``-nan``, ``NULL``, ``None``, ``#N/A`` (any case)
    are missing values; rows shorter than the others are missing their last
    values. Decimal commas are not supported.

    Booleans are numbers: a Parquet boolean column, or a CSV column holding
    only ``true`` and ``false`` (any case) and missing values, reads as 1.0 and
    0.0, as NumPy converts booleans.

    Parameters
    ----------
    path : str or path-like
        The file to read.
    columns : list of str or int, optional
        The columns to keep, in this order: names, or 0-based positions (as
        integers or as strings such as ``"0"``; a name takes precedence over a
        position). Columns left out are never checked, so text columns can be
        excluded this way. Default: every column.
    min_rows : int, default=1
        The fewest data rows the caller can use: fitting a mixture needs 2 (one
        row has no spread), predicting works on 1. A file with fewer is refused
        with a message naming it.

    Returns
    -------
    Table

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is empty, has a header but no data rows, is not text or
        Parquet, has non-numeric columns (all named), a column with no values
        or with infinite values, fewer than ``min_rows`` data rows, or no
        columns are selected; ``columns`` names an unknown column (the message
        lists the available ones).
    ImportError
        pandas, or pyarrow for a Parquet file, is not installed.
    """
    path = Path(path)
    source = str(path)
    _check_is_file(path)
    if _is_parquet(path):
        names, raw_columns = _read_parquet(path, source)
        convert = _parquet_column_values
    else:
        sniffed = _sniff_delimited(path, source)
        positions = _select_columns(sniffed.names, columns, source)
        X = _read_numeric_delimited(path, sniffed, positions)
        if X is not None and not np.isinf(X).any() and not np.isnan(X).all(axis=0).any():
            _check_rows(X.shape[0], min_rows, source)
            return Table(X=X, feature_names=[sniffed.names[p] for p in positions], source=source)
        # Text, booleans, infinities or empty columns: the field-by-field reading below
        # knows which values they are and names them.
        names, raw_columns = _read_delimited(path, source, sniffed)
        convert = _text_column_values
    positions = _select_columns(names, columns, source)
    converted = _convert_columns(names, positions, raw_columns, convert)
    _refuse_unusable(converted, source)
    X = np.column_stack(converted.values).astype(np.float64, copy=False)
    _check_rows(X.shape[0], min_rows, source)
    return Table(X=X, feature_names=[names[p] for p in positions], source=source)


class _Converted(NamedTuple):
    """Selected columns as float64 values, and what makes any of them unusable."""

    values: list
    non_numeric: list
    decimal_comma: bool
    infinite: list
    empty: list


def _convert_columns(names, positions, raw_columns, convert) -> _Converted:
    """Convert the columns at ``positions`` with ``convert``; name the unusable ones.

    Shared by :func:`read_table` and the block readers of
    :mod:`gaussmix.data.streaming`, so a file gives the same message either way.
    """
    values, non_numeric, infinite, empty = [], [], [], []
    decimal_comma = False
    for position in positions:
        name = names[position]
        column, offending = convert(raw_columns[position])
        if column is None:
            non_numeric.append(f"{name!r} (value {offending!r})")
            decimal_comma |= bool(_DECIMAL_COMMA.match(offending))
            continue
        if np.isinf(column).any():
            infinite.append(repr(name))
        if np.isnan(column).all():
            empty.append(repr(name))
        values.append(column)
    return _Converted(values, non_numeric, decimal_comma, infinite, empty)


def _refuse_unusable(converted: _Converted, source: str, *, empty: bool = True) -> None:
    """Raise read_table's one-line error for non-numeric, infinite or (``empty``) empty columns."""
    if converted.non_numeric:
        _refuse_non_numeric(converted.non_numeric, converted.decimal_comma, source)
    if converted.infinite:
        _refuse_infinite(converted.infinite, source)
    if empty and converted.empty:
        found = converted.empty
        raise ValueError(
            f"{source}: {_plural('column', found)} {', '.join(found)} "
            f"{_has(found)} no values (every row is missing); "
            f"exclude {_them(found)} with {_COLUMNS_HINT}."
        )


def _refuse_non_numeric(non_numeric: list, decimal_comma: bool, source: str) -> None:
    fix = (
        "write numbers with a decimal point (decimal commas are not supported), or "
        if decimal_comma
        else ""
    )
    raise ValueError(
        f"{source}: non-numeric {_plural('column', non_numeric)} {', '.join(non_numeric)}; "
        f"{fix}exclude {_them(non_numeric)} by naming the columns to keep with "
        f"{_COLUMNS_HINT}."
    )


def _refuse_infinite(infinite: list, source: str) -> None:
    """``infinite``: the offending column names, quoted (``repr``)."""
    raise ValueError(
        f"{source}: infinite values in {_plural('column', infinite)} {', '.join(infinite)}; "
        f"replace them with finite or missing values, or exclude {_them(infinite)} with "
        f"{_COLUMNS_HINT}."
    )


def _check_rows(n_rows: int, min_rows: int, source: str) -> None:
    if n_rows < min_rows:
        raise ValueError(
            f"{source}: the file has {n_rows} data {'row' if n_rows == 1 else 'rows'}; at "
            f"least {min_rows} are needed (a single row has no spread to fit a model to). "
            "Add rows, or check that the file is the one meant."
        )


def _check_is_file(path: Path) -> None:
    # One-line OSErrors that name the path, in place of the multi-line ones
    # pandas and pyarrow raise for the same problems.
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not a data file")


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return True
    with path.open("rb") as handle:
        return handle.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC


def _import_pandas():
    try:
        import pandas
    except ImportError as exc:
        raise ImportError(
            "reading data files needs pandas: install gaussmix[plot] (or pip install pandas)"
        ) from exc
    return pandas


# ----------------------------------------------------------------------------- Parquet
def _read_parquet(path: Path, source: str):
    pandas = _import_pandas()
    _import_pyarrow(source)
    try:
        frame = pandas.read_parquet(path)
    except (OSError, MemoryError):  # pyarrow's ArrowMemoryError is a MemoryError
        raise
    except Exception as exc:  # pyarrow raises its own exception types for bad files
        raise _unreadable_parquet(exc, source) from exc
    _check_parquet_size(frame.shape[0], frame.shape[1], source)
    names = _names_from_header([str(name) for name in frame.columns])
    return names, [frame.iloc[:, j] for j in range(frame.shape[1])]


def _import_pyarrow(source: str):
    try:
        import pyarrow
    except ImportError as exc:
        raise ImportError(
            f"{source}: reading Parquet files needs pyarrow: install gaussmix[parquet] "
            "(or pip install pyarrow)"
        ) from exc
    return pyarrow


def _unreadable_parquet(exc: Exception, source: str) -> ValueError:
    reason = " ".join(str(exc).split())
    return ValueError(f"{source}: not a readable Parquet file ({reason})")


def _check_parquet_size(n_rows: int, n_columns: int, source: str) -> None:
    if n_columns == 0:
        raise ValueError(f"{source}: the file is empty (no columns)")
    if n_rows == 0:
        raise ValueError(f"{source}: the file has column names but no data rows")


def _parquet_column_values(series):
    """``(float64 values, None)``, or ``(None, an offending value)`` for a non-numeric column."""
    from pandas.api import types

    dtype = series.dtype
    if types.is_bool_dtype(dtype) or (
        types.is_numeric_dtype(dtype) and not types.is_complex_dtype(dtype)
    ):
        # to_numpy with na_value turns pandas' nullable NA into NaN.
        return series.to_numpy(dtype=np.float64, na_value=np.nan), None
    # Other columns (text, booleans with nulls, which pandas holds as objects)
    # follow the CSV rules, so a file reads the same in either format.
    return _text_column_values(series.astype(object).where(series.notna(), "").astype(str))


# ----------------------------------------------------------------------------- CSV
class _Sniffed(NamedTuple):
    """What the first lines of a delimited file say about all of it."""

    delimiter: str
    has_header: bool
    names: list


def _csv_options(delimiter: str, header=None) -> dict:
    return dict(
        sep=delimiter,
        header=header,
        skipinitialspace=True,
        skip_blank_lines=True,
        encoding="utf-8-sig",
        engine="c",
    )


def _sniff_delimited(path: Path, source: str) -> _Sniffed:
    """The delimiter, whether the first row is a header, and the column names."""
    _import_pandas()  # its ImportError first, as for any other file
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
        truncated = bool(handle.read(1))
    if b"\0" in head:
        raise ValueError(f"{source}: not a text (CSV) file or a Parquet file")
    try:
        sample = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if not (truncated and exc.start >= len(head) - 3):  # a character cut by the sample
            raise ValueError(f"{source}: not a UTF-8 text (CSV) file or a Parquet file") from exc
        sample = head[: exc.start].decode("utf-8-sig")
    if truncated:
        sample = sample[: sample.rfind("\n") + 1] or sample
    if not sample.strip():
        raise ValueError(f"{source}: the file is empty")

    delimiter = _sniff_delimiter(sample)
    # The header rule looks at the first row and the _SNIFF_LINES rows below it.
    first_rows = _read_text_fields(path, source, delimiter, nrows=_SNIFF_LINES + 1)
    width = first_rows.shape[1]
    if _first_row_is_header(first_rows):
        names = _names_from_header([field.strip() for field in first_rows.iloc[0]])
        return _Sniffed(delimiter, True, names)
    return _Sniffed(delimiter, False, [f"x{j}" for j in range(width)])


def _read_text_fields(path: Path, source: str, delimiter: str, nrows=None):
    """Every field of the file (or of its first ``nrows`` rows) as a string."""
    pandas = _import_pandas()
    try:
        return pandas.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            nrows=nrows,
            **_csv_options(delimiter),
        )
    except UnicodeDecodeError as exc:
        raise ValueError(f"{source}: not a UTF-8 text (CSV) file or a Parquet file") from exc
    except pandas.errors.EmptyDataError as exc:
        raise ValueError(f"{source}: the file is empty") from exc
    except pandas.errors.ParserError as exc:
        reason = " ".join(str(exc).split()).removeprefix("Error tokenizing data. C error: ")
        raise ValueError(
            f"{source}: rows have different numbers of fields ({reason}); "
            "every row needs the same columns"
        ) from exc


def _spellings(word: str) -> list[str]:
    """Every upper/lower-case spelling of ``word``, as exact-match missing values."""
    spellings = [""]
    for character in word:
        cases = {character.lower(), character.upper()}
        spellings = [prefix + case for prefix in spellings for case in sorted(cases)]
    return spellings


_NA_SPELLINGS = sorted({spelling for word in MISSING_VALUES for spelling in _spellings(word)})


def _read_numeric_delimited(path: Path, sniffed: _Sniffed, positions: list):
    """The selected columns as float64 by pandas' C parser, or None if a field is not a number.

    The fast path for the usual file: numbers only, parsed in C without a string
    per field (a 5,000,000-row file in about a second instead of ten). Anything
    else (text, booleans, ragged rows, a field the C parser does not read as a
    number) returns None and is read field by field.
    """
    pandas = _import_pandas()
    try:
        frame = pandas.read_csv(
            path,
            usecols=positions,
            dtype=np.float64,
            na_values=_NA_SPELLINGS,
            keep_default_na=False,
            **_csv_options(sniffed.delimiter, header=0 if sniffed.has_header else None),
        )
    except (ValueError, TypeError, pandas.errors.ParserError, pandas.errors.EmptyDataError):
        return None
    if frame.shape[0] == 0:
        return None
    # usecols keeps the file's order; the caller asked for its own.
    in_file_order = sorted(positions)
    order = [in_file_order.index(position) for position in positions]
    return np.ascontiguousarray(frame.to_numpy(dtype=np.float64)[:, order])


def _read_delimited(path: Path, source: str, sniffed: _Sniffed):
    frame = _read_text_fields(path, source, sniffed.delimiter)
    width = frame.shape[1]
    if sniffed.has_header:
        frame = frame.iloc[1:]
        if frame.shape[0] == 0:
            raise ValueError(f"{source}: the file has a header but no data rows")
    return sniffed.names, [frame.iloc[:, j] for j in range(width)]


def _sniff_delimiter(sample: str) -> str:
    """The delimiter that splits every line of ``sample`` into the same number (> 1) of fields.

    Of several that do, the one giving the most fields wins (ties: comma,
    semicolon, tab, whitespace). When none does (ragged rows), the one that
    splits every line into at least the most fields is used, so that the
    parser reports a row that is too long; when that is one field, the file
    has a single column (whose values may hold spaces).
    """
    lines = [line for line in sample.splitlines() if line.strip()][:_SNIFF_LINES]
    counts = {}
    for delimiter in _DELIMITERS:
        rows = csv.reader(lines, delimiter=delimiter, skipinitialspace=True)
        counts[delimiter] = [len(row) for row in rows]
    counts[_WHITESPACE] = [_whitespace_field_count(line) for line in lines]

    consistent = {
        delimiter: fields[0]
        for delimiter, fields in counts.items()
        if fields[0] > 1 and all(count == fields[0] for count in fields)
    }
    if consistent:
        return max(consistent, key=consistent.get)  # max keeps the first of equals
    fewest = {delimiter: min(fields) for delimiter, fields in counts.items()}
    return max(fewest, key=fewest.get)


def _whitespace_field_count(line: str) -> int:
    try:
        return len(shlex.split(line))
    except ValueError:  # an unbalanced quote: not a whitespace-delimited line
        return -1


def _first_row_is_header(frame) -> bool:
    """Whether the first row names the columns rather than holds values.

    It does when none of its fields reads as a value, or when a field of it is
    text above a column whose other fields all read as values.
    """
    first = [_field_kind(field) for field in frame.iloc[0]]
    if "text" in first and "value" not in first:
        return True
    body = frame.iloc[1 : 1 + _SNIFF_LINES]
    for j, kind in enumerate(first):
        if kind != "text":
            continue
        kinds = {_field_kind(field) for field in body.iloc[:, j]}
        if "value" in kinds and "text" not in kinds:
            return True
    return False


def _field_kind(field: str) -> str:
    stripped = field.strip()
    lowered = stripped.lower()
    if lowered in MISSING_VALUES:
        return "missing"
    if lowered in BOOLEAN_VALUES:
        return "value"
    try:
        float(stripped)
    except ValueError:
        return "text"
    return "value"


def _names_from_header(header: list[str]) -> list[str]:
    return [name if name else f"x{j}" for j, name in enumerate(header)]


def _text_column_values(strings):
    """``(float64 values, None)``, or ``(None, an offending value)`` for a non-numeric column."""
    import pandas

    stripped = strings.str.strip()
    lowered = stripped.str.lower()
    missing = lowered.isin(MISSING_VALUES).to_numpy()
    present = lowered[~missing]
    if len(present) and present.isin(BOOLEAN_VALUES).all():
        values = lowered.map(BOOLEAN_VALUES).to_numpy(dtype=np.float64, na_value=np.nan)
        return values, None
    values = pandas.to_numeric(stripped.where(~missing), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    not_numbers = np.isnan(values) & ~missing
    if not_numbers.any():
        return None, stripped.iloc[int(np.argmax(not_numbers))]
    return values, None


# ----------------------------------------------------------------------------- columns
def _select_columns(names: list[str], columns, source: str) -> list[int]:
    """0-based positions of the selected columns, in the order asked for."""
    if columns is None:
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(
                f"{source}: {_plural('column name', duplicated)} "
                f"{', '.join(map(repr, duplicated))} "
                f"{'appears' if len(duplicated) == 1 else 'appear'} more than once; rename them, "
                f"or pick columns by 0-based position with {_COLUMNS_HINT}."
            )
        return list(range(len(names)))
    if isinstance(columns, (str, numbers.Integral)):
        columns = [columns]
    positions = []
    for column in columns:
        position = _column_position(names, column, source)
        if position in positions:
            raise ValueError(f"{source}: column {column!r} is selected twice")
        positions.append(position)
    if not positions:
        raise ValueError(f"{source}: no columns selected; name at least one with {_COLUMNS_HINT}.")
    return positions


def _column_position(names: list[str], column, source: str) -> int:
    if isinstance(column, str) and column in names:
        if names.count(column) > 1:
            raise ValueError(
                f"{source}: more than one column is named {column!r}; "
                "pick it by 0-based position instead."
            )
        return names.index(column)
    if isinstance(column, numbers.Integral) and not isinstance(column, bool):
        position = int(column)
    elif isinstance(column, str) and column.strip().isdigit():
        position = int(column)
    else:
        position = -1
    if 0 <= position < len(names):
        return position
    available = ", ".join(map(repr, names))
    raise ValueError(
        f"{source}: no column {column!r}; available columns: {available} "
        f"(or 0-based positions 0 to {len(names) - 1})"
    )
