"""Preparing rows for a mixture: a seeded train/test split, missing values, standardisation.

:func:`prepare` fits scikit-learn's ``SimpleImputer`` and ``StandardScaler`` on
the training rows only, so that the test rows and new rows
(:meth:`Prepared.transform`) are treated exactly like data the model has not seen.
With ``missing="model"`` the missing values are kept (NaN) through the
standardisation, for a mixture that fits incomplete rows itself
(:class:`gaussmix.GaussianMixture` on in-memory arrays).

Two checks every front end shares (``gaussmix lab`` and ``gaussmix fit``):
:func:`saved_row_index` finds a leading column that is only a saved row index
(what ``DataFrame.to_csv`` writes by default), and :func:`check_can_fit` refuses
data that no mixture of the requested size can fit without degenerating.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ..covariance import MCLUST_NAMES, SKLEARN_NAMES, UNIVARIATE_NAMES, get_covariance_model
from ._wording import _has, _plural, _them

#: Names an unnamed leading column gets: pandas' for an empty header field when it
#: reads a file ("Unnamed: 0"), read_table's ("x0", also for a file without a
#: header), or none at all.
UNNAMED_FIRST_COLUMN = frozenset({"", "x0", "Unnamed: 0"})


# ----------------------------------------------------------------------------- preparing
@dataclass(frozen=True, eq=False)
class Prepared:
    """Training and test rows ready for a mixture, with the fitted preprocessing.

    Attributes
    ----------
    X_train, X_test : ndarray of shape (n_train, n_features), (n_test, n_features)
        The rows, missing values imputed (or kept as NaN with ``missing="model"``)
        and standardised as asked; float64 (float32 input stays float32).
        ``X_test`` has no rows when ``test_size=0``.
    target_train, target_test : ndarray or None
        The target of the same rows, when one was given.
    scaler : sklearn.preprocessing.StandardScaler or None
        Fitted on the (imputed) training rows; None with ``scale=False``. With
        ``missing="model"`` each column's mean and deviation are of its observed
        values (the scaler ignores NaN and keeps it).
    imputer : sklearn.impute.SimpleImputer or None
        ``strategy="median"``, fitted on the training rows; None with
        ``missing="drop"`` or ``"model"``.
    train_index, test_index : ndarray of int
        Positions of the rows of ``X_train`` and ``X_test`` in the input, in
        input order.
    feature_names : list of str
        The names used in messages (``"x0"``, ``"x1"``, ... when none were given).
    n_rows : int
        Rows in the input.
    n_rows_with_missing : int
        Input rows with at least one missing value.
    n_values_imputed : int
        Missing values filled in, over training and test rows.
    n_rows_dropped : int
        Input rows left out because of missing values (with ``missing="model"``:
        the rows with no observed value).
    missing : str
        How missing values were handled: ``"impute"``, ``"drop"`` or ``"model"``.
    n_values_missing : int
        Missing values in the input (every row, kept or not): ``np.isnan(X).sum()``.
    """

    X_train: np.ndarray
    X_test: np.ndarray
    target_train: np.ndarray | None
    target_test: np.ndarray | None
    scaler: object | None
    imputer: object | None
    train_index: np.ndarray
    test_index: np.ndarray
    feature_names: list[str]
    n_rows: int
    n_rows_with_missing: int
    n_values_imputed: int
    n_rows_dropped: int
    missing: str = "impute"
    n_values_missing: int = 0

    def transform(self, X) -> np.ndarray:
        """Impute and standardise new rows exactly as the training rows were.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            New rows with the input's columns; NaN marks a missing value.

        Returns
        -------
        ndarray of shape (n_rows, n_features)
            In the dtype of ``X_train``.

        Raises
        ------
        ValueError
            ``X`` has another number of columns, infinite values, or missing
            values while the rows were prepared with ``missing="drop"``. With
            ``missing="model"`` missing values stay NaN (rows with no observed
            value too: the caller decides what to do with them).
        """
        n_features = self.X_train.shape[1]
        shape = np.shape(X)
        if len(shape) == 2 and shape[1] != n_features:
            raise ValueError(
                f"X has {shape[1]} columns, but the data was prepared with {n_features} "
                f"({', '.join(self.feature_names)}): give new rows the same columns."
            )
        X, _ = _as_float_table(X, self.feature_names, what="X")
        X = X.astype(self.X_train.dtype)  # a copy: the result never aliases the input
        if self.imputer is not None:
            X = self.imputer.transform(X)
        elif self.missing != "model" and np.isnan(X).any():
            n_rows = int(np.isnan(X).any(axis=1).sum())
            raise ValueError(
                f"X has missing values in {n_rows} rows, but the data was prepared with "
                "missing='drop': drop those rows first, or prepare with missing='impute'."
            )
        if self.scaler is not None:
            X = self.scaler.transform(X)
        return X

    def inverse_transform(self, X) -> np.ndarray:
        """Map standardised rows (or points such as component means) back to the input's units.

        Imputation cannot be undone: imputed values stay at the training medians.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)

        Returns
        -------
        ndarray of shape (n_rows, n_features)
        """
        X = np.asarray(X, dtype=self.X_train.dtype)
        if self.scaler is None:
            return X.copy()
        return self.scaler.inverse_transform(X)


def prepare(
    X,
    *,
    target=None,
    missing="impute",
    scale=True,
    test_size=0.25,
    random_state=0,
    feature_names=None,
) -> Prepared:
    """Split rows into training and test sets, handle missing values, standardise.

    The rows are split first (scikit-learn's ``train_test_split``, seeded); the
    median imputer and the scaler are then fitted on the training rows only and
    applied to both sets, so that the test rows see no statistics of their own.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
        The data; NaN marks a missing value. A pandas DataFrame lends its
        column names to ``feature_names``.
    target : array-like of shape (n_rows,), optional
        Labels split alongside the rows (and dropped with them).
    missing : {"impute", "drop", "model"}, default="impute"
        ``"impute"`` fills each missing value with its column's median over the
        training rows (``SimpleImputer(strategy="median")``); ``"drop"`` leaves
        out every row with a missing value before splitting; ``"model"`` keeps
        the missing values (NaN, standardised around) for a mixture that fits
        incomplete rows, and leaves out only the rows with no observed value
        (counted in ``n_rows_dropped``).
    scale : bool, default=True
        Standardise every column to mean 0 and variance 1 over the training
        rows (``StandardScaler``). A column that is constant over the training
        rows is refused: the scaler would leave it unscaled, and a mixture
        cannot fit a direction without spread.
    test_size : float, default=0.25
        Fraction of the rows held out for testing, in [0, 1); 0 keeps every
        row for training (``X_test`` then has no rows). As in scikit-learn, the
        test set has ``ceil(test_size * n)`` rows.
    random_state : int, RandomState instance or None, default=0
        Seed of the split.
    feature_names : list of str, optional
        Column names for messages; default: a DataFrame's columns, or ``"x0"``,
        ``"x1"``, ... as :func:`read_table` names unnamed columns.

    Returns
    -------
    Prepared

    Raises
    ------
    ValueError
        ``X`` is not a non-empty 2-D table of numbers, has infinite values or a
        column with no values (named); ``missing`` or ``test_size`` is out of
        range; too few rows are left for training (at least 2); a column has no
        values in the training rows, or is constant there with ``scale=True``.
    """
    X, feature_names = _as_float_table(X, feature_names, what="X")
    n_rows = X.shape[0]
    if missing not in ("impute", "drop", "model"):
        raise ValueError(f"missing must be 'impute', 'drop' or 'model', got {missing!r}.")
    _check_test_size(test_size)
    if target is not None:
        target = np.asarray(target)
        if target.shape != (n_rows,):
            raise ValueError(
                f"target has shape {target.shape}, expected ({n_rows},): one label per row of X."
            )

    is_missing = np.isnan(X)
    empty = [feature_names[j] for j in np.flatnonzero(is_missing.all(axis=0))]
    if empty:
        raise ValueError(
            f"{_plural('column', empty)} {', '.join(map(repr, empty))} "
            f"{_has(empty)} no values (every row is missing); "
            f"leave {_them(empty)} out of X."
        )
    row_has_missing = is_missing.any(axis=1)
    n_rows_with_missing = int(row_has_missing.sum())
    if missing == "drop":
        kept = np.flatnonzero(~row_has_missing)
        n_rows_dropped = n_rows_with_missing
    elif missing == "model":
        # A row without any observed value says nothing to the model.
        kept = np.flatnonzero(~is_missing.all(axis=1))
        n_rows_dropped = n_rows - kept.size
    else:
        kept = np.arange(n_rows)
        n_rows_dropped = 0

    n_test = math.ceil(test_size * kept.size)
    n_train = kept.size - n_test
    if n_train < 2:
        without = "no observed value" if missing == "model" else "missing values"
        dropped = f" after dropping {n_rows_dropped} with {without}" if n_rows_dropped else ""
        fix = "use missing='impute', " if n_rows_dropped and missing == "drop" else ""
        raise ValueError(
            f"{kept.size} rows{dropped} leave {max(n_train, 0)} for training with "
            f"test_size={test_size}: at least 2 are needed; {fix}lower test_size or add rows."
        )
    if n_test == 0:
        train_index, test_index = kept, kept[:0]
    else:
        train_index, test_index = train_test_split(
            kept, test_size=n_test, random_state=random_state
        )
        # Input order, so that per-row outputs line up with the file.
        train_index, test_index = np.sort(train_index), np.sort(test_index)

    X_train, X_test = X[train_index], X[test_index]
    imputer = None
    n_values_imputed = 0
    if missing in ("impute", "model"):
        unseen = [feature_names[j] for j in np.flatnonzero(np.isnan(X_train).all(axis=0))]
        if unseen:
            lacking = "no median to impute" if missing == "impute" else "nothing to fit it on"
            raise ValueError(
                f"{_plural('column', unseen)} {', '.join(map(repr, unseen))} "
                f"{_has(unseen)} no values in the {n_train} "
                f"training rows, so there is {lacking}; leave "
                f"{_them(unseen)} out, or use another "
                "random_state or test_size."
            )
    if missing == "impute":
        n_values_imputed = int(is_missing[kept].sum())
        imputer = SimpleImputer(strategy="median").fit(X_train)
        X_train = imputer.transform(X_train)
        X_test = imputer.transform(X_test) if len(test_index) else X_test

    scaler = None
    if scale:
        scaler = StandardScaler().fit(X_train)
        # Per column with missing='model': the scaler counts each column's observed values.
        constant = _constant_columns(scaler, scaler.n_samples_seen_)
        if constant.any():
            named = [
                f"{feature_names[j]!r} (value {scaler.mean_[j]:g})"
                for j in np.flatnonzero(constant)
            ]
            raise ValueError(
                f"{_plural('column', named)} {', '.join(named)} "
                f"{'is' if len(named) == 1 else 'are'} constant over the {n_train} training "
                "rows: standardising cannot scale a column without spread, and a mixture "
                f"cannot fit one; leave {_them(named)} out."
            )
        X_train = scaler.transform(X_train)
        X_test = scaler.transform(X_test) if len(test_index) else X_test

    return Prepared(
        X_train=X_train,
        X_test=X_test,
        target_train=None if target is None else target[train_index],
        target_test=None if target is None else target[test_index],
        scaler=scaler,
        imputer=imputer,
        train_index=train_index,
        test_index=test_index,
        feature_names=feature_names,
        n_rows=n_rows,
        n_rows_with_missing=n_rows_with_missing,
        n_values_imputed=n_values_imputed,
        n_rows_dropped=n_rows_dropped,
        missing=missing,
        n_values_missing=int(is_missing.sum()),
    )


def _constant_columns(scaler, n_samples: int) -> np.ndarray:
    # The test StandardScaler applies before it leaves a column unscaled
    # (sklearn.preprocessing._data._is_constant_feature): a variance within the
    # rounding error of the two-pass algorithm.
    eps = np.finfo(np.float64).eps
    upper_bound = n_samples * eps * scaler.var_ + (n_samples * scaler.mean_ * eps) ** 2
    return scaler.var_ <= upper_bound


def _check_test_size(test_size) -> None:
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"test_size must be a fraction in [0, 1), got {test_size!r}.")
    if not 0 <= test_size < 1:
        raise ValueError(
            f"test_size must be a fraction in [0, 1), got {test_size!r}: "
            "0 keeps every row for training."
        )


def _as_float_table(X, feature_names, *, what: str):
    """``X`` as a 2-D float array (float32 stays float32) and its column names."""
    if feature_names is None and hasattr(X, "columns"):
        feature_names = [str(name) for name in X.columns]
    array = np.asarray(X)
    if array.dtype != np.float32:
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{what} must hold numbers, got an array of dtype {array.dtype}: "
                "leave non-numeric columns out."
            ) from exc
    if array.ndim != 2:
        raise ValueError(
            f"{what} must be 2-D (n_rows, n_features), got shape {array.shape}: "
            "reshape a single feature with X.reshape(-1, 1)."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{what} has shape {array.shape}: it needs at least one row and column.")
    if feature_names is None:
        feature_names = [f"x{j}" for j in range(array.shape[1])]
    feature_names = [str(name) for name in feature_names]
    if len(feature_names) != array.shape[1]:
        raise ValueError(
            f"feature_names has {len(feature_names)} names for {array.shape[1]} columns of {what}."
        )
    infinite = [feature_names[j] for j in np.flatnonzero(np.isinf(array).any(axis=0))]
    if infinite:
        raise ValueError(
            f"{what} has infinite values in {_plural('column', infinite)} "
            f"{', '.join(map(repr, infinite))}: replace them with finite values or NaN (missing)."
        )
    return array, feature_names


# ----------------------------------------------------------------------------- checks
def saved_row_index(X, feature_names) -> bool:
    """Whether the first column is a saved row index rather than a feature.

    ``DataFrame.to_csv`` writes the index as a first column with an empty
    header; read back, it is a feature that grows with the row number. A first
    column is taken for such an index when it is unnamed (see
    :data:`UNNAMED_FIRST_COLUMN`), there are other columns, and its values are
    exactly ``0, 1, ..., n - 1`` in order.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
    feature_names : list of str

    Returns
    -------
    bool
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] < 2 or X.shape[0] < 2:
        return False
    if str(feature_names[0]) not in UNNAMED_FIRST_COLUMN:
        return False
    with np.errstate(invalid="ignore"):
        return bool(np.array_equal(X[:, 0], np.arange(X.shape[0], dtype=X.dtype)))


def covariance_model_names(covariance_types, n_features: int) -> list:
    """The covariance models a search of ``covariance_types`` fits on ``n_features``.

    Parameters
    ----------
    covariance_types : str or iterable of str
        ``'mclust'`` (mclust's 14, or E and V on one feature), ``'scikit-learn'``
        (its 4), one name or several, as :class:`gaussmix.GaussianMixtureIC` takes.
    n_features : int

    Returns
    -------
    list of str
    """
    if covariance_types == "mclust":
        return list(UNIVARIATE_NAMES if n_features == 1 else MCLUST_NAMES)
    if covariance_types == "scikit-learn":
        return list(SKLEARN_NAMES)
    if isinstance(covariance_types, str):
        return [covariance_types]
    return list(covariance_types)


def check_can_fit(X, n_components, covariance_types="mclust", feature_names=None) -> None:
    """Refuse rows that no requested mixture can fit, and warn of fits likely to degenerate.

    A mixture fitted to such rows reports an unbounded log-likelihood (a
    component collapses onto a point or a plane) instead of failing, so the
    problem is named before fitting. Refused: all rows identical, a constant
    column (a direction without spread), no more distinct rows than the fewest
    components asked for (each component would sit on one point). Warned of:
    fewer distinct rows than the free parameters of the smallest model asked
    for (its likelihood may have no maximum: a component can collapse). Rows
    with missing values are left out of the counts.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
        NaN marks a missing value.
    n_components : int or iterable of int
        The numbers of components to fit (an int: exactly that many).
    covariance_types : str or iterable of str, default='mclust'
        As in :func:`covariance_model_names`.
    feature_names : list of str, optional
        Column names for the message.

    Raises
    ------
    ValueError
        One line naming the problem and the fix.

    Warns
    -----
    UserWarning
        One line, when the smallest model has more free parameters than there
        are distinct rows.
    """
    X, feature_names = _as_float_table(X, feature_names, what="X")
    complete = X[~np.isnan(X).any(axis=1)]
    if complete.shape[0] == 0:
        raise ValueError("every row has a missing value: there are no complete rows to fit")
    n_rows, n_features = complete.shape
    n_distinct = np.unique(complete, axis=0).shape[0]
    if n_rows > 1 and n_distinct == 1:
        raise ValueError(
            f"all {n_rows} complete rows are identical: a mixture needs rows that differ"
        )
    constant = [
        f"{feature_names[j]!r} (value {complete[0, j]:g})"
        for j in range(n_features)
        if n_rows > 1 and np.all(complete[:, j] == complete[0, j])
    ]
    if constant:
        raise ValueError(
            f"{_plural('column', constant)} {', '.join(constant)} "
            f"{'is' if len(constant) == 1 else 'are'} constant: a mixture cannot fit a "
            f"direction without spread; leave {_them(constant)} out (--columns)"
        )
    counts = [int(n_components)] if np.ndim(n_components) == 0 else [int(k) for k in n_components]
    fewest = min(counts)
    if n_distinct <= fewest:
        raise ValueError(
            f"{n_distinct} distinct complete rows cannot fit {fewest} components: each "
            "component would sit on one point; give more rows or fewer components"
        )
    names = covariance_model_names(covariance_types, n_features)
    n_parameters, k, name = min(
        (
            get_covariance_model(name).n_parameters(k, n_features) + k * n_features + k - 1,
            k,
            name,
        )
        for k in counts
        for name in names
    )
    if n_distinct < n_parameters:
        warnings.warn(
            f"{n_distinct} distinct complete rows are fewer than the {n_parameters} free "
            f"parameters of the smallest model asked for ({k} component{'s' if k != 1 else ''}, "
            f"{name} covariance): the fit may degenerate (a component collapsing onto a few "
            "rows); more rows, fewer components or a simpler covariance model are safer",
            UserWarning,
            stacklevel=2,
        )
