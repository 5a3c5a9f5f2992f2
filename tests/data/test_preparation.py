"""Preparing rows for a mixture (``gaussmix.data.preparation``): split, impute, standardise.

The truths: scikit-learn's ``train_test_split`` on the same seed; NumPy medians,
means and standard deviations of the training rows; brute-force counts over the rows.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from gaussmix.data import prepare


def random_table(n_rows=12, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(loc=10.0, scale=3.0, size=(n_rows, n_features))


def message(excinfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text, "error messages are one line"
    return text


# ----------------------------------------------------------------------------- prepare
def with_missing(X, fraction, seed):
    rng = np.random.default_rng(seed)
    X = X.copy()
    X[rng.random(X.shape) < fraction] = np.nan
    return X


def test_split_matches_train_test_split():
    X = random_table(n_rows=101)
    target = np.arange(101) % 3
    prepared = prepare(X, target=target, test_size=0.3, random_state=7, scale=False)
    expected_train, expected_test = train_test_split(np.arange(101), test_size=0.3, random_state=7)
    np.testing.assert_array_equal(prepared.train_index, np.sort(expected_train))
    np.testing.assert_array_equal(prepared.test_index, np.sort(expected_test))
    assert len(prepared.test_index) == math.ceil(0.3 * 101)
    np.testing.assert_array_equal(prepared.X_train, X[prepared.train_index])
    np.testing.assert_array_equal(prepared.X_test, X[prepared.test_index])
    np.testing.assert_array_equal(prepared.target_train, target[prepared.train_index])
    np.testing.assert_array_equal(prepared.target_test, target[prepared.test_index])


def test_split_is_deterministic_in_random_state():
    X = random_table(n_rows=60)
    first, again = prepare(X, random_state=3), prepare(X, random_state=3)
    other = prepare(X, random_state=4)
    np.testing.assert_array_equal(first.train_index, again.train_index)
    np.testing.assert_array_equal(first.X_test, again.X_test)
    assert not np.array_equal(first.train_index, other.train_index)


def test_no_test_set():
    X = random_table(n_rows=20)
    prepared = prepare(X, test_size=0)
    assert prepared.X_test.shape == (0, 3)
    assert prepared.target_test is None
    np.testing.assert_array_equal(prepared.train_index, np.arange(20))
    assert prepared.test_index.shape == (0,)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_imputer_and_scaler_are_fitted_on_training_rows_only(seed):
    X = with_missing(random_table(n_rows=80, n_features=4, seed=seed), 0.1, seed)
    prepared = prepare(X, random_state=seed)
    train, test = X[prepared.train_index], X[prepared.test_index]

    medians = np.nanmedian(train, axis=0)
    np.testing.assert_allclose(prepared.imputer.statistics_, medians, rtol=1e-15)
    filled_train = np.where(np.isnan(train), medians, train)
    filled_test = np.where(np.isnan(test), medians, test)
    mean, std = filled_train.mean(axis=0), filled_train.std(axis=0)
    np.testing.assert_allclose(prepared.scaler.mean_, mean, rtol=1e-12)
    np.testing.assert_allclose(prepared.scaler.scale_, std, rtol=1e-12)

    np.testing.assert_allclose(prepared.X_train, (filled_train - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(prepared.X_test, (filled_test - mean) / std, rtol=1e-12)
    # Statistics of the test rows differ: the test set was not used to fit.
    assert not np.allclose(np.nanmedian(test, axis=0), medians)
    np.testing.assert_allclose(prepared.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(prepared.X_train.std(axis=0), 1, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("missing", ["impute", "drop"])
def test_missing_counts_against_brute_force(seed, missing):
    X = with_missing(random_table(n_rows=50, n_features=3, seed=seed), 0.08, seed + 10)
    prepared = prepare(X, missing=missing, random_state=seed)

    rows_with_missing = [i for i in range(len(X)) if any(math.isnan(v) for v in X[i])]
    n_missing_values = sum(math.isnan(v) for row in X for v in row)
    assert prepared.n_rows == 50
    assert prepared.n_rows_with_missing == len(rows_with_missing)
    used = sorted([*prepared.train_index, *prepared.test_index])
    if missing == "drop":
        assert prepared.n_rows_dropped == len(rows_with_missing)
        assert prepared.n_values_imputed == 0
        assert prepared.imputer is None
        assert used == [i for i in range(50) if i not in rows_with_missing]
    else:
        assert prepared.n_rows_dropped == 0
        assert prepared.n_values_imputed == n_missing_values
        assert used == list(range(50))
    assert len(prepared.test_index) == math.ceil(0.25 * len(used))
    assert not np.isnan(prepared.X_train).any() and not np.isnan(prepared.X_test).any()


@pytest.mark.parametrize("seed", [0, 1])
def test_model_keeps_missing_values_through_the_observed_values_standardisation(seed):
    X = with_missing(random_table(n_rows=60, n_features=3, seed=seed), 0.15, seed + 20)
    X[[4, 17]] = np.nan  # rows with no observed value
    prepared = prepare(X, missing="model", random_state=seed)

    empty = [i for i in range(len(X)) if all(math.isnan(v) for v in X[i])]
    assert prepared.missing == "model" and prepared.imputer is None
    assert prepared.n_values_missing == int(np.isnan(X).sum())
    assert prepared.n_rows_dropped == len(empty) >= 2
    assert prepared.n_values_imputed == 0
    used = sorted([*prepared.train_index, *prepared.test_index])
    assert used == [i for i in range(60) if i not in empty]
    train, test = X[prepared.train_index], X[prepared.test_index]
    # The scaler's statistics are each column's observed training values'.
    mean, std = np.nanmean(train, axis=0), np.nanstd(train, axis=0)
    np.testing.assert_allclose(prepared.X_train, (train - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(prepared.X_test, (test - mean) / std, rtol=1e-12)
    np.testing.assert_array_equal(np.isnan(prepared.X_train), np.isnan(train))
    # New rows keep their NaN too, a row with none observed included.
    new = X[:6]
    np.testing.assert_allclose(prepared.transform(new), (new - mean) / std, rtol=1e-12)


def test_transform_equals_the_pipeline_by_hand():
    X = with_missing(random_table(n_rows=60, n_features=3), 0.1, 5)
    prepared = prepare(X)
    new = with_missing(random_table(n_rows=9, n_features=3, seed=9), 0.3, 6)

    train = X[prepared.train_index]
    medians = np.nanmedian(train, axis=0)
    filled_train = np.where(np.isnan(train), medians, train)
    by_hand = (np.where(np.isnan(new), medians, new) - filled_train.mean(axis=0)) / (
        filled_train.std(axis=0)
    )
    np.testing.assert_allclose(prepared.transform(new), by_hand, rtol=1e-12)
    np.testing.assert_allclose(prepared.transform(X[prepared.test_index]), prepared.X_test)

    complete = random_table(n_rows=5, n_features=3, seed=11)
    np.testing.assert_allclose(
        prepared.inverse_transform(prepared.transform(complete)), complete, rtol=1e-12
    )


def test_transform_without_scaling_or_imputing():
    X = random_table(n_rows=30)
    prepared = prepare(X, scale=False, missing="drop", test_size=0)
    assert prepared.scaler is None and prepared.imputer is None
    np.testing.assert_array_equal(prepared.X_train, X)
    np.testing.assert_array_equal(prepared.transform(X[:4]), X[:4])
    with pytest.raises(ValueError, match="missing='drop'"):
        prepared.transform([[1.0, np.nan, 2.0]])
    with pytest.raises(ValueError, match="X has 2 columns, but the data was prepared with 3"):
        prepared.transform(X[:, :2])


def test_float32_stays_float32():
    X = with_missing(random_table(n_rows=40), 0.05, 1).astype(np.float32)
    prepared = prepare(X)
    assert prepared.X_train.dtype == prepared.X_test.dtype == np.float32
    assert prepared.transform(X[:3]).dtype == np.float32


def test_dataframe_names_appear_in_messages():
    frame = pd.DataFrame({"height": [1.0, 2.0, 3.0, 4.0, 5.0], "level": 7.0})
    with pytest.raises(ValueError, match="column 'level' \\(value 7\\) is constant"):
        prepare(frame, test_size=0)


def test_constant_column_is_refused_when_scaling():
    X = random_table(n_rows=30)
    X[:, 2] = 4.5
    with pytest.raises(ValueError, match=r"'c' \(value 4\.5\) is constant") as excinfo:
        prepare(X, feature_names=["a", "b", "c"])
    assert "'a'" not in message(excinfo)
    # Without scaling a constant column passes through unchanged.
    prepared = prepare(X, scale=False, feature_names=["a", "b", "c"])
    np.testing.assert_array_equal(prepared.X_train[:, 2], 4.5)


def test_column_constant_only_in_training_rows():
    X = random_table(n_rows=20)
    prepared = prepare(X, scale=False)
    X[prepared.train_index, 1] = -2.0  # varies only across the test rows
    with pytest.raises(ValueError, match="'x1' \\(value -2\\) is constant over the 15 training"):
        prepare(X)


def test_all_missing_column_in_prepare():
    X = random_table(n_rows=20)
    X[:, 0] = np.nan
    with pytest.raises(ValueError, match="column 'x0' has no values"):
        prepare(X)


def test_column_missing_in_every_training_row():
    X = random_table(n_rows=20)
    split = prepare(X, scale=False)
    X[split.train_index, 2] = np.nan
    with pytest.raises(ValueError, match="'x2' has no values in the 15 training rows"):
        prepare(X)


def test_too_few_rows_after_dropping():
    X = random_table(n_rows=6)
    X[:4, 0] = np.nan
    with pytest.raises(ValueError, match="after dropping 4 with missing values") as excinfo:
        prepare(X, missing="drop")
    assert "missing='impute'" in message(excinfo)
    assert prepare(X, missing="drop", test_size=0).X_train.shape == (2, 3)


@pytest.mark.parametrize("test_size", [1, 1.0, -0.1, 1.5])
def test_test_size_out_of_range(test_size):
    with pytest.raises(ValueError, match="test_size must be a fraction in \\[0, 1\\)"):
        prepare(random_table(), test_size=test_size)


@pytest.mark.parametrize("test_size", ["0.2", None, True])
def test_test_size_of_the_wrong_type(test_size):
    with pytest.raises(TypeError, match="test_size"):
        prepare(random_table(), test_size=test_size)


def test_bad_arrays():
    with pytest.raises(ValueError, match="must be 2-D"):
        prepare(np.arange(10.0))
    with pytest.raises(ValueError, match="at least one row"):
        prepare(np.empty((0, 3)))
    with pytest.raises(TypeError, match="must hold numbers"):
        prepare(np.array([["a", "b"], ["c", "d"]]))
    X = random_table()
    X[3, 1] = -np.inf
    with pytest.raises(ValueError, match="infinite values in column 'x1'"):
        prepare(X)
    with pytest.raises(ValueError, match="missing must be 'impute', 'drop' or 'model'"):
        prepare(random_table(), missing="mean")
    with pytest.raises(ValueError, match="one label per row"):
        prepare(random_table(), target=[0, 1])


# ----------------------------------------------------------------------------- checks
@pytest.mark.parametrize("name", ["", "x0", "Unnamed: 0"])
def test_an_unnamed_leading_column_of_row_numbers_is_a_saved_index(name, tmp_path):
    # What pandas writes by default, read back by read_table: the truth is the file itself.
    from gaussmix.data import read_table
    from gaussmix.data.preparation import saved_row_index

    frame = pd.DataFrame(random_table(n_rows=9, n_features=2), columns=["a", "b"])
    path = tmp_path / "indexed.csv"
    frame.to_csv(path)
    table = read_table(path)
    assert saved_row_index(table.X, table.feature_names)
    np.testing.assert_array_equal(table.X[:, 1:], frame.to_numpy())
    X = np.column_stack([np.arange(9), frame.to_numpy()])
    assert saved_row_index(X, [name, "a", "b"])


@pytest.mark.parametrize(
    "first, names",
    [
        (np.arange(9), ["id", "a", "b"]),  # named: the user's column
        (np.arange(1, 10), ["", "a", "b"]),  # 1..n is not what pandas writes
        (np.arange(9)[::-1], ["", "a", "b"]),  # not in row order
        (np.r_[np.arange(8), np.nan], ["", "a", "b"]),
    ],
)
def test_other_leading_columns_are_features(first, names):
    from gaussmix.data.preparation import saved_row_index

    X = np.column_stack([first, random_table(n_rows=9, n_features=2)])
    assert not saved_row_index(X, names)
    # A lone column is the data, whatever it holds.
    assert not saved_row_index(np.arange(9.0)[:, None], ["x0"])


def test_check_can_fit_refuses_a_constant_column_by_name():
    from gaussmix.data.preparation import check_can_fit

    X = random_table(n_rows=30, n_features=3)
    X[:, 1] = 4.5
    X[3, 1] = np.nan  # missing values are not spread
    with pytest.raises(ValueError) as excinfo:
        check_can_fit(X, 2, "mclust", ["a", "b", "c"])
    assert "'b' (value 4.5) is constant" in message(excinfo)


def test_check_can_fit_refuses_identical_rows_and_too_few_distinct_rows():
    from gaussmix.data.preparation import check_can_fit

    with pytest.raises(ValueError) as excinfo:
        check_can_fit(np.tile([1.0, 2.0], (6, 1)), range(1, 4))
    assert "all 6 complete rows are identical" in message(excinfo)
    # Five distinct rows, repeated: five components would each sit on one point.
    X = np.tile(random_table(n_rows=5, n_features=2), (3, 1))
    with pytest.raises(ValueError) as excinfo:
        check_can_fit(X, 5, ["EII"])
    assert "5 distinct complete rows cannot fit 5 components" in message(excinfo)
    # Four components fit 5 distinct rows, with a warning: 4 x 2 means, 1 variance and
    # 3 free weights are 12 parameters.
    with pytest.warns(UserWarning, match="fewer than the 12 free parameters"):
        check_can_fit(X, 4, ["EII"])


def test_check_can_fit_warns_when_rows_are_fewer_than_the_smallest_models_parameters():
    from gaussmix.data.preparation import check_can_fit

    X = random_table(n_rows=10, n_features=2)
    # Closed form: 2 full components in 2-D have 2 x 2 means, 2 x 3 covariance
    # entries and 1 free weight: 11 parameters, more than 10 rows.
    with pytest.warns(UserWarning, match="10 distinct complete rows are fewer than the 11 free"):
        check_can_fit(X, 2, ["full"])
    # A search is judged by its smallest model: 1 EII component has 2 + 1 parameters.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_can_fit(X, range(1, 10), "mclust")
        check_can_fit(X, [1, 2], ["full", "spherical"])  # 1 spherical: 3 parameters
