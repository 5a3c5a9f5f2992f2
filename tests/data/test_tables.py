"""Reading CSV and Parquet files (``gaussmix.data.tables``).

The truths: arrays written to files by NumPy, the csv module and pandas (read
back, they must come out unchanged); brute-force counts over the rows.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from gaussmix.data import MISSING_VALUES, read_table


def random_table(n_rows=12, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(loc=10.0, scale=3.0, size=(n_rows, n_features))


def write_rows(path, rows, delimiter=",", quoting=csv.QUOTE_MINIMAL):
    with path.open("w", newline="") as handle:
        csv.writer(handle, delimiter=delimiter, quoting=quoting).writerows(rows)
    return path


def message(excinfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text, "error messages are one line"
    return text


# ----------------------------------------------------------------------------- CSV formats
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("header", [True, False])
def test_delimited_round_trip(tmp_path, delimiter, header):
    X = random_table()
    names = ["alpha", "beta gamma", "delta"]
    rows = ([names] if header else []) + [[repr(float(v)) for v in row] for row in X]
    path = write_rows(tmp_path / "data.csv", rows, delimiter)
    table = read_table(path)
    np.testing.assert_array_equal(table.X, X)
    assert table.X.dtype == np.float64
    assert table.feature_names == (names if header else ["x0", "x1", "x2"])
    assert table.source == str(path)


@pytest.mark.parametrize("header", [True, False])
def test_whitespace_aligned_columns(tmp_path, header):
    X = random_table() * np.array([1.0, -100.0, 1e-3])
    path = tmp_path / "data.txt"
    # savetxt pads to a fixed width: runs of several spaces, leading spaces too.
    np.savetxt(path, X, fmt="%25.17g", header="a  b\tc" if header else "", comments="")
    table = read_table(path)
    np.testing.assert_array_equal(table.X, X)
    assert table.feature_names == (["a", "b", "c"] if header else ["x0", "x1", "x2"])


def test_whitespace_with_quoted_names(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text('"sepal length"   "sepal width"\n  5.1   3.5\n 4.9  3\n')
    table = read_table(path)
    assert table.feature_names == ["sepal length", "sepal width"]
    np.testing.assert_array_equal(table.X, [[5.1, 3.5], [4.9, 3.0]])


def test_comma_with_spaces_after_the_delimiter(tmp_path):
    X = random_table()
    path = tmp_path / "data.csv"
    path.write_text("p, q, r\n" + "".join(", ".join(map(repr, row.tolist())) + "\n" for row in X))
    table = read_table(path)
    np.testing.assert_array_equal(table.X, X)
    assert table.feature_names == ["p", "q", "r"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_quoted_fields(tmp_path, delimiter):
    X = random_table()
    # Names holding every delimiter and a quote survive quoting.
    names = ["a,b", "c;d", 'e\t"f"']
    rows = [names] + [[repr(float(v)) for v in row] for row in X]
    path = write_rows(tmp_path / "data.csv", rows, delimiter, quoting=csv.QUOTE_ALL)
    table = read_table(path)
    np.testing.assert_array_equal(table.X, X)
    assert table.feature_names == names


def test_missing_value_spellings(tmp_path):
    rng = np.random.default_rng(1)
    X = random_table(n_rows=40, n_features=4, seed=1)
    spellings = ["", "NA", "NaN", "nan", "N/A", "null", "NULL", "None", "-nan", " NA "]
    is_missing = rng.random(X.shape) < 0.2
    is_missing[0] = False  # each column keeps values
    cells = [
        [str(rng.choice(spellings)) if gone else repr(float(v)) for v, gone in zip(row, missing)]
        for row, missing in zip(X, is_missing)
    ]
    path = write_rows(tmp_path / "data.csv", [["a", "b", "c", "d"], *cells])
    table = read_table(path)
    np.testing.assert_array_equal(np.isnan(table.X), is_missing)
    np.testing.assert_array_equal(table.X[~is_missing], X[~is_missing])
    assert {s.strip().lower() for s in spellings} <= MISSING_VALUES


def test_short_rows_miss_their_last_values(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n7,8,9\n")
    np.testing.assert_array_equal(read_table(path).X, [[1, 2, 3], [4, 5, np.nan], [7, 8, 9]])


def test_booleans_read_as_zero_and_one(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("flag,value\ntrue,1.5\nFALSE,2\n,3\nTrue,\n")
    table = read_table(path)
    np.testing.assert_array_equal(table.X, [[1, 1.5], [0, 2], [np.nan, 3], [1, np.nan]])


def test_header_with_a_number_above_a_column_of_numbers(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("id,1990,2000\n1,2.5,3\n2,4.5,6\n")
    table = read_table(path)
    assert table.feature_names == ["id", "1990", "2000"]
    np.testing.assert_array_equal(table.X, [[1, 2.5, 3], [2, 4.5, 6]])


def test_empty_header_fields_are_named_by_position(tmp_path):
    # R's write.csv writes an empty name above its row numbers.
    path = tmp_path / "data.csv"
    path.write_text('"","eruptions","waiting"\n"1",3.6,79\n"2",1.8,54\n')
    table = read_table(path)
    assert table.feature_names == ["x0", "eruptions", "waiting"]
    np.testing.assert_array_equal(table.X, [[1, 3.6, 79], [2, 1.8, 54]])


def test_byte_order_mark_and_blank_lines(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\r\n1,2\r\n\r\n3,4\r\n\r\n")
    table = read_table(path)
    assert table.feature_names == ["a", "b"]
    np.testing.assert_array_equal(table.X, [[1, 2], [3, 4]])


def test_file_larger_than_the_sniffed_sample(tmp_path):
    X = random_table(n_rows=5000, n_features=4, seed=2)
    rows = [["a", "b", "c", "d"], *([repr(float(v)) for v in row] for row in X)]
    path = write_rows(tmp_path / "data.csv", rows, ";")
    assert path.stat().st_size > 2**16
    np.testing.assert_array_equal(read_table(path).X, X)


@pytest.mark.parametrize("name", ["waiting", "waiting time"])
def test_single_column(tmp_path, name):
    path = tmp_path / "data.csv"
    path.write_text(f"{name}\n79\n54\n74\n")
    table = read_table(path)
    assert table.feature_names == [name]
    np.testing.assert_array_equal(table.X, [[79], [54], [74]])


def test_the_shipped_faithful_csv(tmp_path):
    from importlib import resources

    from gaussmix.datasets import load_faithful

    source = resources.files("gaussmix.datasets").joinpath("data", "faithful.csv")
    path = tmp_path / "faithful.csv"
    path.write_text(source.read_text())
    X, names = load_faithful()
    table = read_table(path)
    np.testing.assert_array_equal(table.X, X)
    assert table.feature_names == names


# ----------------------------------------------------------------------------- Parquet
@pytest.mark.parametrize("file_name", ["data.parquet", "data.pq", "data.dat"])
def test_parquet_round_trip(tmp_path, file_name):
    X = random_table()
    frame = pd.DataFrame(
        {
            "a": X[:, 0],
            "b": X[:, 1].astype(np.float32),
            "count": pd.array([1, None, *range(2, 12)], dtype="Int64"),
            "flag": np.arange(12) % 3 == 0,
            "maybe": pd.array([True, None, *([False] * 10)], dtype="boolean"),
        }
    )
    path = tmp_path / file_name
    frame.to_parquet(path)
    assert path.read_bytes()[:4] == b"PAR1"
    table = read_table(path)
    assert table.feature_names == list(frame.columns)
    expected = np.column_stack(
        [
            X[:, 0],
            X[:, 1].astype(np.float32).astype(np.float64),
            [1, np.nan, *range(2, 12)],
            (np.arange(12) % 3 == 0).astype(float),
            [1, np.nan, *([0] * 10)],
        ]
    )
    np.testing.assert_array_equal(table.X, expected)


def test_parquet_text_columns_are_refused_by_name(tmp_path):
    frame = pd.DataFrame({"x": [1.0, 2.0], "species": ["a", "b"], "y": [3.0, 4.0]})
    frame["when"] = pd.to_datetime(["2020-01-01", "2021-01-01"])
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    with pytest.raises(ValueError, match="non-numeric columns") as excinfo:
        read_table(path)
    text = message(excinfo)
    assert "'species'" in text and "'when'" in text
    assert "'x'" not in text and "'y'" not in text
    np.testing.assert_array_equal(read_table(path, ["y", "x"]).X, [[3, 1], [4, 2]])


@pytest.mark.parametrize("content", [b"PAR1 not really", b"PAR1"])
def test_broken_parquet_file(tmp_path, content):
    path = tmp_path / "data.parquet"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a readable Parquet file") as excinfo:
        read_table(path)
    assert str(path) in message(excinfo)


def test_truncated_parquet_file(tmp_path):
    whole = tmp_path / "whole.parquet"
    pd.DataFrame({"a": np.arange(100.0)}).to_parquet(whole)
    path = tmp_path / "cut.parquet"
    path.write_bytes(whole.read_bytes()[:-20])
    with pytest.raises(ValueError, match="not a readable Parquet file"):
        read_table(path)


def test_parquet_without_rows(tmp_path):
    path = tmp_path / "data.parquet"
    pd.DataFrame({"a": np.array([], dtype=float)}).to_parquet(path)
    with pytest.raises(ValueError, match="no data rows"):
        read_table(path)


# ----------------------------------------------------------------------------- columns
@pytest.fixture
def iris_like_csv(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text(
        "sepal,petal,species,width,colour\n"
        "5.1,1.4,setosa,0.2,red\n"
        "7.0,4.7,versicolor,1.4,blue\n"
        "6.3,6.0,virginica,2.5,red\n"
    )
    return path


def test_columns_select_and_order(iris_like_csv):
    table = read_table(iris_like_csv, columns=["width", "sepal"])
    assert table.feature_names == ["width", "sepal"]
    np.testing.assert_array_equal(table.X, [[0.2, 5.1], [1.4, 7.0], [2.5, 6.3]])


def test_columns_by_position(iris_like_csv):
    by_string = read_table(iris_like_csv, columns=["3", "0", "1"])
    by_int = read_table(iris_like_csv, columns=[3, 0, 1])
    assert by_string.feature_names == by_int.feature_names == ["width", "sepal", "petal"]
    np.testing.assert_array_equal(by_string.X, by_int.X)


def test_a_name_wins_over_a_position(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,0\n10,20\n30,40\n")  # column "0" is the second one
    assert read_table(path).feature_names == ["a", "0"]
    np.testing.assert_array_equal(read_table(path, ["0"]).X, [[20], [40]])
    np.testing.assert_array_equal(read_table(path, [0]).X, [[10], [30]])


def test_unknown_column_lists_the_available_ones(iris_like_csv):
    with pytest.raises(ValueError, match="no column 'sepal length'") as excinfo:
        read_table(iris_like_csv, columns=["sepal", "sepal length"])
    text = message(excinfo)
    for name in ["sepal", "petal", "species", "width", "colour"]:
        assert repr(name) in text
    with pytest.raises(ValueError, match="no column '5'"):
        read_table(iris_like_csv, columns=["5"])


def test_column_selected_twice(iris_like_csv):
    with pytest.raises(ValueError, match="selected twice"):
        read_table(iris_like_csv, columns=["sepal", "0"])


def test_no_columns_left(iris_like_csv):
    with pytest.raises(ValueError, match="no columns selected") as excinfo:
        read_table(iris_like_csv, columns=[])
    assert "--columns" in message(excinfo)


def test_duplicated_names(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,a\n1,2,3\n")
    with pytest.raises(ValueError, match="'a' appears more than once"):
        read_table(path)
    with pytest.raises(ValueError, match="pick it by 0-based position"):
        read_table(path, ["a"])
    np.testing.assert_array_equal(read_table(path, ["2", "b"]).X, [[3, 2]])


# ----------------------------------------------------------------------------- bad files
def test_non_numeric_columns_are_all_named(iris_like_csv):
    with pytest.raises(ValueError, match="non-numeric columns") as excinfo:
        read_table(iris_like_csv)
    text = message(excinfo)
    assert str(iris_like_csv) in text
    assert "'species'" in text and "'colour'" in text and "'setosa'" in text
    for numeric in ["sepal", "petal", "width"]:
        assert repr(numeric) not in text
    assert "--columns" in text and "columns argument" in text


def test_non_numeric_column_without_header(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("5.1,3.5,setosa\n4.9,3.0,setosa\n")
    with pytest.raises(ValueError, match="non-numeric column 'x2'"):
        read_table(path)
    np.testing.assert_array_equal(read_table(path, ["x0", "x1"]).X, [[5.1, 3.5], [4.9, 3.0]])


def test_decimal_commas_are_explained(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a;b\n1,5;2\n2,25;3\n")
    with pytest.raises(ValueError, match="decimal commas are not supported"):
        read_table(path)


def test_all_missing_column_is_named(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,c,d\n1,,NA,4\n2,NaN,,5\n")
    with pytest.raises(ValueError, match="no values") as excinfo:
        read_table(path)
    text = message(excinfo)
    assert "'b'" in text and "'c'" in text and "'a'" not in text and "'d'" not in text
    np.testing.assert_array_equal(read_table(path, ["d", "a"]).X, [[4, 1], [5, 2]])


def test_infinite_values_are_refused(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,inf\n2,3\n")
    with pytest.raises(ValueError, match="infinite values in column 'b'"):
        read_table(path)


@pytest.mark.parametrize("content", ["", "\n\n", "   \n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "data.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match="empty") as excinfo:
        read_table(path)
    assert str(path) in message(excinfo)


@pytest.mark.parametrize("content", ["a,b,c\n", "a;b\n\n", "eruptions\twaiting\n"])
def test_header_only(tmp_path, content):
    path = tmp_path / "data.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match="header but no data rows") as excinfo:
        read_table(path)
    assert str(path) in message(excinfo)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(FileNotFoundError) as excinfo:
        read_table(path)
    assert isinstance(excinfo.value, OSError)
    assert str(path) in message(excinfo)


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(IsADirectoryError) as excinfo:
        read_table(tmp_path)
    assert str(tmp_path) in message(excinfo)


def test_ragged_rows(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(ValueError, match="different numbers of fields") as excinfo:
        read_table(path)
    assert "line 3" in message(excinfo)


@pytest.mark.parametrize(
    "content", [bytes(range(256)), "caf\xe9,b\n1,2\n".encode("latin-1")], ids=["binary", "latin1"]
)
def test_not_text(tmp_path, content):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"not a (UTF-8 )?text"):
        read_table(path)


# ----------------------------------------------------------------------------- fast path
@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_numeric_files_take_the_c_parser_and_read_exactly(tmp_path, monkeypatch, header, delimiter):
    rng = np.random.default_rng(5)
    values = rng.normal(scale=1e3, size=(400, 3))
    spellings = ["", "NA", "na", "N/A", "NaN", "-nan", "NULL", "None", "#N/A", "nUlL"]
    rows, expected = [], values.copy()
    for i, row in enumerate(values):
        fields = [repr(float(value)) for value in row]
        if i % 7 == 0:
            fields[i % 3] = spellings[i % len(spellings)]
            expected[i, i % 3] = np.nan
        if i % 5 == 0:
            fields[1] = "  " + fields[1]
        rows.append(fields)
    if header:
        rows.insert(0, ["a", "b", "c"])
    path = write_rows(tmp_path / "numbers.csv", rows, delimiter=delimiter)

    def no_field_by_field(*args, **kwargs):
        raise AssertionError("a numeric file was read field by field")

    monkeypatch.setattr("gaussmix.data.tables._read_delimited", no_field_by_field)
    table = read_table(path, columns=[2, 0])
    # The truth: Python's float() of each field, NaN for the missing spellings.
    np.testing.assert_array_equal(table.X, expected[:, [2, 0]])
    assert table.feature_names == (["c", "a"] if header else ["x2", "x0"])


def test_files_the_c_parser_refuses_are_read_field_by_field(tmp_path):
    path = write_rows(tmp_path / "mixed.csv", [["a", "b"], ["1.5", "true"], ["2", "FALSE"]])
    np.testing.assert_array_equal(read_table(path).X, [[1.5, 1.0], [2.0, 0.0]])
    path = write_rows(tmp_path / "text.csv", [["a", "b"], ["1.5", "x"], ["2", "y"]])
    with pytest.raises(ValueError, match="non-numeric column 'b'"):
        read_table(path)


# ---------------------------------------------------------------------- too few rows
@pytest.mark.parametrize("content", ["1.5,2\n", "a,b\n1.5,2\n", "a,b\n1.5,text\n"])
def test_too_few_rows_for_the_caller_names_the_file(tmp_path, content):
    path = tmp_path / "one-row.csv"
    path.write_text(content)
    if "text" in content:
        # A non-numeric column is the first problem, and says so.
        with pytest.raises(ValueError, match=r"non-numeric column 'b' \(value 'text'\)"):
            read_table(path, min_rows=2)
        return
    with pytest.raises(ValueError) as caught:
        read_table(path, min_rows=2)
    assert str(caught.value).startswith(f"{path}: the file has 1 data row; at least 2")
    # Where one row is enough (prediction), it is read.
    np.testing.assert_array_equal(read_table(path).X, [[1.5, 2.0]])


def test_text_column_is_named_with_its_value(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("height,city,weight\n1.7,Oslo,70\n1.8,Bergen,80\n")
    with pytest.raises(ValueError, match=rf"^{path}: non-numeric column 'city' \(value 'Oslo'\)"):
        read_table(path)
    # Left out by name, the rest is read.
    np.testing.assert_array_equal(
        read_table(path, columns=["height", "weight"]).X, [[1.7, 70], [1.8, 80]]
    )
