"""Rows of files read block by block (``gaussmix.data.streaming``).

The truth is :func:`gaussmix.data.read_table` on the same file: every slice and
every index read of :class:`ParquetRows` and :class:`CsvRows` must equal its
rows exactly, wherever the slice falls against row groups and blocks, and a bad
file must give the same one-line error.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from gaussmix.data import read_table, streaming
from gaussmix.data.streaming import CsvRows, ParquetRows, is_large_file, open_rows

pytest.importorskip("pyarrow")


def _frame(n_rows=200, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n_rows),
            "b": rng.normal(size=n_rows) * 1e6,
            "count": rng.integers(-5, 5, size=n_rows),
            "flag": rng.random(n_rows) < 0.5,
            "small": rng.normal(size=n_rows).astype(np.float32),
        }
    )


# Slices that fall inside a row group or block, on its edges, across several, and empty.
SLICES = [(0, 200), (0, 1), (199, 200), (6, 8), (7, 14), (3, 150), (64, 128), (50, 50), (13, 200)]


def _assert_reads_like_read_table(rows, path, columns=None):
    expected = read_table(path, columns=columns).X
    assert rows.shape == expected.shape and len(rows) == expected.shape[0]
    assert rows.ndim == 2
    for start, stop in [*SLICES, (0, expected.shape[0])]:
        stop = min(stop, expected.shape[0])
        block = rows[start:stop]
        assert block.dtype == rows.dtype and block.flags.c_contiguous
        np.testing.assert_array_equal(block, expected[start:stop], err_msg=f"{start}:{stop}")
    indices = np.random.default_rng(1).choice(
        expected.shape[0], size=min(40, expected.shape[0]), replace=False
    )
    np.testing.assert_array_equal(rows[np.sort(indices)], expected[np.sort(indices)])
    np.testing.assert_array_equal(rows[indices], expected[indices])  # any order
    np.testing.assert_array_equal(rows[-1], expected[-1])
    np.testing.assert_array_equal(rows[2:9, 0], expected[2:9, 0])
    assert rows[5:5].shape == (0, expected.shape[1])
    return expected


# ----------------------------------------------------------------------------- Parquet
@pytest.mark.parametrize("batch_rows", [5, 64, 65_536])
@pytest.mark.parametrize("row_group_size", [7, 64, 1000])
def test_parquet_slices_and_indices_equal_read_table(tmp_path, row_group_size, batch_rows):
    path = tmp_path / "data.parquet"
    _frame().to_parquet(path, index=False, row_group_size=row_group_size)
    rows = ParquetRows(path, batch_rows=batch_rows)
    assert rows.feature_names == ["a", "b", "count", "flag", "small"]
    assert rows.dtype == np.float64
    expected = _assert_reads_like_read_table(rows, path)
    # Booleans as 0/1 and integers as numbers, as read_table gives them.
    assert set(np.unique(expected[:, 3])) == {0.0, 1.0}


def test_parquet_of_float32_columns_reads_float32(tmp_path):
    path = tmp_path / "data.parquet"
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32))
    frame.columns = ["x", "y", "z"]
    frame["w"] = 1.0  # a float64 column
    frame.to_parquet(path, index=False, row_group_size=16)
    assert ParquetRows(path, columns=["z", "x"]).dtype == np.float32
    assert ParquetRows(path).dtype == np.float64
    _assert_reads_like_read_table(ParquetRows(path, columns=["z", "x"]), path, ["z", "x"])


def test_parquet_column_selection_by_name_and_position(tmp_path):
    path = tmp_path / "data.parquet"
    _frame().to_parquet(path, index=False, row_group_size=10)
    for columns in (["small", "a"], [4, 0], ["1"], "count"):
        rows = ParquetRows(path, columns=columns)
        assert rows.feature_names == read_table(path, columns=columns).feature_names
        _assert_reads_like_read_table(rows, path, columns)


def test_parquet_saved_pandas_index_is_not_a_column(tmp_path):
    path = tmp_path / "data.parquet"
    frame = _frame(50).set_index(pd.Index(np.arange(50) * 3, name="id"))
    frame.to_parquet(path, row_group_size=8)  # the index is stored as a column
    rows = ParquetRows(path)
    assert rows.feature_names == read_table(path).feature_names == list(frame.columns)
    _assert_reads_like_read_table(rows, path)


def test_parquet_nulls_are_refused_with_their_row_or_kept_as_nan(tmp_path):
    path = tmp_path / "data.parquet"
    frame = _frame(60)
    frame["a"] = frame["a"].where(np.arange(60) != 41)
    frame["count"] = frame["count"].astype("Int64").where(np.arange(60) != 5)
    frame.to_parquet(path, index=False, row_group_size=16)
    rows = ParquetRows(path)  # opening reads no values
    # A row group without missing values reads; one with them names the first.
    np.testing.assert_array_equal(rows[20:30], read_table(path).X[20:30])
    with pytest.raises(ValueError, match=r"missing value in column 'count', row 5 ") as excinfo:
        rows[:20]
    assert "drop or fill the rows with missing values" in str(excinfo.value)
    with pytest.raises(ValueError, match=r"column 'a', row 41 "):
        rows[np.array([40, 41])]
    kept = ParquetRows(path, missing="keep")
    np.testing.assert_array_equal(kept[:], read_table(path).X)  # NaN where read_table has NaN


def test_parquet_text_numbers_read_as_numbers_and_text_is_refused_as_read_table_does(tmp_path):
    path = tmp_path / "data.parquet"
    frame = pd.DataFrame({"a": [1.5, 2.5, 3.0, 4.0], "as_text": ["1", "2.5", "NA", "4"]})
    frame["name"] = ["x", "y", "z", "w"]
    frame.to_parquet(path, index=False, row_group_size=2)
    rows = ParquetRows(path, columns=["a", "as_text"], missing="keep")
    np.testing.assert_array_equal(rows[:], read_table(path, columns=["a", "as_text"]).X)
    with pytest.raises(ValueError) as streamed:
        ParquetRows(path)
    with pytest.raises(ValueError) as whole:
        read_table(path)
    assert str(streamed.value) == str(whole.value)
    assert "non-numeric column 'name' (value 'x')" in str(streamed.value)


def test_parquet_infinite_values_are_refused_as_read_table_does(tmp_path):
    path = tmp_path / "data.parquet"
    pd.DataFrame({"a": [1.0, np.inf, 2.0], "b": [1.0, 2.0, 3.0]}).to_parquet(path)
    with pytest.raises(ValueError) as streamed:
        ParquetRows(path)[:]
    with pytest.raises(ValueError) as whole:
        read_table(path)
    assert str(streamed.value) == str(whole.value)


def _error(call):
    with pytest.raises((ValueError, OSError)) as excinfo:
        call()
    assert "\n" not in str(excinfo.value)
    return type(excinfo.value), str(excinfo.value)


@pytest.mark.parametrize(
    "case", ["missing file", "not parquet", "no rows", "no columns", "unknown column", "too few"]
)
def test_bad_parquet_files_give_read_tables_errors(tmp_path, case):
    path = tmp_path / "data.parquet"
    columns, min_rows = None, 1
    if case == "not parquet":
        path.write_text("a,b\n1,2\n")
    elif case == "no rows":
        pd.DataFrame({"a": pd.Series([], dtype=float)}).to_parquet(path)
    elif case == "no columns":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({}), path)
    elif case == "unknown column":
        _frame(10).to_parquet(path)
        columns = ["nope"]
    elif case == "too few":
        _frame(1).to_parquet(path)
        min_rows = 2
    streamed = _error(lambda: ParquetRows(path, columns=columns, min_rows=min_rows))
    whole = _error(lambda: read_table(path, columns=columns, min_rows=min_rows))
    if case == "not parquet":
        # pyarrow's reason in brackets depends on how the file was opened.
        streamed, whole = ((kind, text.split(" (")[0]) for kind, text in (streamed, whole))
        assert whole[1].endswith("not a readable Parquet file")
    assert streamed == whole


# ----------------------------------------------------------------------------- Parquet folders
def _dataset(folder, n_files=3):
    folder.mkdir()
    frames = []
    for i in range(n_files):
        frame = _frame(30 + 11 * i, seed=i)
        frame.to_parquet(folder / f"part-{i}.parquet", index=False, row_group_size=9)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_parquet_folder_reads_as_its_files_one_after_another(tmp_path):
    folder = tmp_path / "dataset"
    whole = _dataset(folder)
    (folder / "_SUCCESS").write_text("")  # Spark's marker, skipped
    (folder / ".hidden.parquet").write_text("not data")  # hidden, skipped
    single = tmp_path / "whole.parquet"
    whole.to_parquet(single, index=False)
    rows = ParquetRows(folder, columns=["small", "a", "flag"])
    assert rows.shape == (len(whole), 3)
    expected = read_table(single, columns=["small", "a", "flag"]).X
    for start, stop in [(0, len(whole)), (25, 35), (29, 31), (30, 72), (70, len(whole))]:
        np.testing.assert_array_equal(rows[start:stop], expected[start:stop])
    indices = np.arange(0, len(whole), 7)
    np.testing.assert_array_equal(rows[indices], expected[indices])
    assert isinstance(open_rows(folder), ParquetRows)
    assert is_large_file(folder)


def test_bad_parquet_folders_are_named(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "holds no Parquet files" in _error(lambda: ParquetRows(empty))[1]

    stray = tmp_path / "stray"
    _dataset(stray, n_files=2)
    (stray / "notes.txt").write_text("hello")
    assert "notes.txt: not a Parquet file" in _error(lambda: ParquetRows(stray))[1]

    lacking = tmp_path / "lacking"
    _dataset(lacking, n_files=2)
    pd.DataFrame({"a": [1.0, 2.0]}).to_parquet(lacking / "part-9.parquet")
    message = _error(lambda: ParquetRows(lacking, columns=["a", "b"]))[1]
    assert "part-9.parquet: no column 'b'" in message


# ----------------------------------------------------------------------------- CSV
@pytest.mark.parametrize("block_rows", [3, 64, 100_000])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_slices_and_indices_equal_read_table(tmp_path, block_rows, delimiter):
    path = tmp_path / "data.csv"
    _frame().to_csv(path, index=False, sep=delimiter)
    rows = CsvRows(path, block_rows=block_rows)
    assert rows.feature_names == ["a", "b", "count", "flag", "small"]
    assert rows.dtype == np.float64
    _assert_reads_like_read_table(rows, path)


@pytest.mark.parametrize("header", [True, False])
def test_csv_quoting_blank_lines_crlf_and_byte_order_mark(tmp_path, monkeypatch, header):
    # Scanned a few bytes at a time, so rows, quotes and line ends straddle the pieces.
    monkeypatch.setattr(streaming, "_SCAN_BYTES", 5)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    lines = ['"first, name","second\nname",third'] if header else []
    for i, row in enumerate(X):
        fields = [repr(float(v)) for v in row]
        fields[i % 3] = f'"{fields[i % 3]}"'
        lines.append(",".join(fields))
        if i % 6 == 0:
            lines.append("")
        if i % 9 == 0:
            lines.append("   \t ")
    path = tmp_path / "data.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode())  # no final line end
    for block_rows in (1, 3, 16):
        rows = CsvRows(path, block_rows=block_rows)
        expected = _assert_reads_like_read_table(rows, path)
        np.testing.assert_array_equal(expected, X)
        if header:
            assert rows.feature_names == ["first, name", "second\nname", "third"]


def test_csv_whitespace_delimited_columns(tmp_path):
    path = tmp_path / "data.txt"
    np.savetxt(path, np.random.default_rng(0).normal(size=(30, 3)), fmt="%20.15g", header="a b c",
               comments="")  # fmt: skip
    _assert_reads_like_read_table(CsvRows(path, block_rows=4), path)


def test_csv_missing_values_booleans_and_short_rows(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,c\n1,true,3\n4,False,NA\n7,TRUE\n10,false,12\n")
    rows = CsvRows(path, block_rows=2, missing="keep")
    np.testing.assert_array_equal(rows[:], read_table(path).X)
    with pytest.raises(ValueError, match=r"missing value in column 'c', row 1 \(0-based"):
        CsvRows(path, block_rows=2)
    np.testing.assert_array_equal(CsvRows(path, columns=["a", "b"])[:], read_table(path).X[:, :2])


@pytest.mark.parametrize(
    "content",
    [
        "a,b\n1,2\n3,x\n",  # text
        "a,b\n1,2\n3,inf\n",  # infinite
        "a,b\n1,2\n3,4,5\n",  # a row too long
        "a,b\n",  # header only
        "",  # empty
        "a,b\n1,2\n3,4\n",  # unknown column (below)
        "a,b\n1,2\n",  # one row for a caller that needs two (below)
    ],
)
def test_bad_csv_files_give_read_tables_errors(tmp_path, content):
    path = tmp_path / "data.csv"
    path.write_text(content)
    options = {}
    if content == "a,b\n1,2\n3,4\n":
        options = {"columns": ["c"]}
    if content == "a,b\n1,2\n":
        options = {"min_rows": 2}
    streamed = _error(lambda: CsvRows(path, **options)[:])
    whole = _error(lambda: read_table(path, **options))
    if "different numbers of fields" in whole[1]:
        # The streamed message counts lines from the block it parsed.
        assert "different numbers of fields" in streamed[1] and streamed[0] is whole[0]
    else:
        assert streamed == whole


def test_missing_csv_and_folder_as_csv(tmp_path):
    assert _error(lambda: CsvRows(tmp_path / "nope.csv")) == _error(
        lambda: read_table(tmp_path / "nope.csv")
    )
    assert _error(lambda: CsvRows(tmp_path)) == _error(lambda: read_table(tmp_path))


def test_carriage_returns_alone_are_refused(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\r1,2\r3,4\r")
    assert "carriage return alone" in _error(lambda: CsvRows(path))[1]


# ----------------------------------------------------------------------------- both
@pytest.fixture(params=["parquet", "csv"])
def source(request, tmp_path):
    if request.param == "parquet":
        path = tmp_path / "data.parquet"
        _frame(100).to_parquet(path, index=False, row_group_size=16)
        return ParquetRows(path)
    path = tmp_path / "data.csv"
    _frame(100).to_csv(path, index=False)
    return CsvRows(path, block_rows=16)


def test_progress_callback_counts_rows_of_each_slice(source):
    seen = []
    source.on_read = lambda start, n_rows: seen.append((start, n_rows))
    for _ in range(2):  # two passes in blocks of 30 rows
        for start in range(0, 100, 30):
            source[start : start + 30]
    source[np.array([3, 50])]  # a sample: not a pass, not reported
    assert seen == [(0, 30), (30, 30), (60, 30), (90, 10)] * 2
    passes = [start for start, _ in seen if start == 0]
    assert len(passes) == 2 and sum(n for _, n in seen) == 200


def test_a_source_pickles_without_its_open_files(source):
    source.on_read = print
    source[:10]
    copy = pickle.loads(pickle.dumps(source))
    assert copy.on_read is None
    np.testing.assert_array_equal(copy[40:90], source[40:90])


def test_bad_keys_are_index_errors(source):
    for key in (np.array([0, 100]), np.array([[1]]), np.array([0.5]), (1, 2, 3), 100):
        with pytest.raises(IndexError):
            source[key]
    np.testing.assert_array_equal(source[::7], source[np.arange(0, 100, 7)])
    mask = np.arange(100) % 3 == 0
    np.testing.assert_array_equal(source[mask], source[np.flatnonzero(mask)])


def test_files_above_the_threshold_are_large(tmp_path, monkeypatch):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n" + "1,2\n" * 100)
    size = path.stat().st_size
    assert not is_large_file(path) and not is_large_file(tmp_path / "nope.csv")
    assert is_large_file(path, threshold=size - 1) and not is_large_file(path, threshold=size)
    monkeypatch.setenv("GAUSSMIX_STREAM_BYTES", str(size - 1))
    assert is_large_file(path)
    monkeypatch.setenv("GAUSSMIX_STREAM_BYTES", "lots")
    with pytest.raises(ValueError, match="GAUSSMIX_STREAM_BYTES"):
        is_large_file(path)
    assert isinstance(open_rows(path), CsvRows)


def test_select_keeps_the_rows_in_other_columns(source):
    names = list(source.feature_names)
    selected = source.select(["small", 0])
    assert selected.feature_names == ["small", names[0]]
    assert source.feature_names == names and source.shape == (100, 5)
    expected = source[:][:, [4, 0]]
    np.testing.assert_array_equal(selected[3:77], expected[3:77])
    if isinstance(source, ParquetRows):
        assert selected.dtype == np.float64 and source.select(["small"]).dtype == np.float32


def test_parquet_reads_going_back_and_skipping_ahead_within_a_row_group(tmp_path):
    path = tmp_path / "data.parquet"
    _frame().to_parquet(path, index=False)  # one row group of 200 rows
    rows = ParquetRows(path, batch_rows=16)
    expected = read_table(path).X
    for start, stop in [(100, 120), (0, 10), (150, 200), (140, 150), (30, 31), (30, 31)]:
        np.testing.assert_array_equal(rows[start:stop], expected[start:stop])
