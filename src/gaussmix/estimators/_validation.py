"""Checks of user input that scikit-learn's validators do not cover."""

from __future__ import annotations

import math
import os

import numpy as np
from sklearn.utils.validation import validate_data

from ..backends import float_dtype, is_dask_collection, is_out_of_core, read_rows, row_blocks
from ..backends.chunked import block_bytes
from ..covariance._base import as_float_array, check_shape

#: Out-of-core inputs (memory maps, h5py, zarr, Parquet sources) up to this size are
#: read into memory and fitted exactly as NumPy arrays, with scikit-learn's starts.
LOAD_BYTES = 64 * 2**20


def load_bytes() -> int:
    """Size up to which out-of-core inputs are loaded: ``GAUSSMIX_LOAD_BYTES`` or 64 MiB."""
    configured = os.environ.get("GAUSSMIX_LOAD_BYTES")
    return int(configured) if configured else LOAD_BYTES


def plural(count: int, word: str, plural_form: str | None = None) -> str:
    """``"1 candidate"``, ``"2 candidates"``: a count and the noun that agrees with it."""
    return f"{count} {word if count == 1 else (plural_form or word + 's')}"


def _columns_text(columns, names=None) -> str:
    """``"column 2"`` or ``"columns 0, 3"``, with names where the data had them."""
    shown = [f"{int(j)} ({names[j]!r})" if names is not None else str(int(j)) for j in columns[:5]]
    more = f" and {len(columns) - 5} more" if len(columns) > 5 else ""
    return f"{'column' if len(columns) == 1 else 'columns'} {', '.join(shown)}{more}"


def check_finite(X: np.ndarray, what: str = "X", names=None, *, allow_nan: bool = False) -> None:
    """Refuse NaN (missing values) and infinity, naming the columns that hold them.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    what : str, default="X"
        The input's name in the message.
    names : sequence of str or None
        Column names, for the message.
    allow_nan : bool, default=False
        Let NaN through (an estimator that models missing values); infinity is
        still refused.
    """
    if np.isfinite(X).all():
        return
    problems = []
    nan = np.isnan(X)
    if nan.any() and not allow_nan:
        problems.append(
            f"missing values (NaN): {plural(int(nan.sum()), 'value')} in "
            f"{_columns_text(np.flatnonzero(nan.any(axis=0)), names)}. This estimator or "
            "input does not take missing values: GaussianMixture models them for "
            "in-memory arrays; otherwise impute them (for example with "
            "gaussmix.GaussianMixtureImputer) or drop those rows"
        )
    infinite = np.isinf(X)
    if infinite.any():
        problems.append(
            f"infinite values: {plural(int(infinite.sum()), 'value')} in "
            f"{_columns_text(np.flatnonzero(infinite.any(axis=0)), names)}. Replace them "
            "with finite numbers or drop those rows"
        )
    if problems:
        raise ValueError(f"Input {what} contains {'; and '.join(problems)}.")


def has_missing(X) -> bool:
    """Whether a validated in-memory ``X`` holds NaN (infinity having been refused)."""
    return isinstance(X, np.ndarray) and not np.isfinite(X).all()


def empty_rows(X: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``X`` with no observed value."""
    return np.flatnonzero(np.isnan(X).all(axis=1))


def check_missing(X: np.ndarray, *, fit: bool, names=None, allow_empty_rows: bool = False):
    """Refuse what missing values make meaningless: empty columns (to fit) and empty rows.

    A column with no observed value has no distribution to estimate; a row with
    none has no observed-data likelihood to contribute or be scored by.
    """
    missing = np.isnan(X)
    if fit:
        columns = np.flatnonzero(missing.all(axis=0))
        if columns.size:
            raise ValueError(
                f"Input X has no observed value in {_columns_text(columns, names)}: every "
                "value there is missing (NaN). Drop those columns."
            )
    if not allow_empty_rows:
        rows = np.flatnonzero(missing.all(axis=1))
        if rows.size:
            shown = ", ".join(map(str, rows[:5].tolist()))
            more = f" and {rows.size - 5} more" if rows.size > 5 else ""
            hint = " or pass empty_rows='drop' to fit without them" if fit else ""
            raise ValueError(
                f"Input X has {plural(int(rows.size), 'row')} with no observed value "
                f"(every value NaN): row{'s' if rows.size > 1 else ''} {shown}{more}. "
                f"Drop them{hint}."
            )


def check_scale(X: np.ndarray, what: str = "X") -> None:
    """Refuse data whose magnitude overflows the fit's arithmetic.

    Fitting sums squared deviations over rows and features; once ``4 n D x^2``
    (deviations up to twice the largest value) exceeds the dtype's largest number
    those sums are infinite, and the failure surfaces much later as a singular
    covariance whose message would blame the data's shape, not its scale.
    """
    if X.size == 0:
        return
    n_samples, n_features = X.shape
    # max and min read X without the full-size copy that np.abs(X) would make; the
    # NaN-aware ones only when NaN (missing values) got through validation.
    high, low = (np.max, np.min) if np.isfinite(X).all() else (np.nanmax, np.nanmin)
    largest = max(float(high(X)), -float(low(X)))
    _check_largest(largest, n_samples, n_features, X.dtype, what)


def _check_largest(largest, n_samples, n_features, dtype, what):
    """Refuse a largest magnitude whose squares summed over the data overflow ``dtype``."""
    dtype = np.dtype(dtype)
    limit = math.sqrt(float(np.finfo(dtype).max) / (4.0 * n_samples * n_features))
    if largest > limit:
        exponent = math.floor(math.log10(largest))
        raise ValueError(
            f"Input {what} has values as large as {largest:.3g}: sums of their squares over "
            f"{n_samples} rows and {n_features} features overflow {dtype} arithmetic "
            f"(values must stay below {limit:.3g}). Rescale {what}: divide it by "
            f"1e{exponent}, or standardise it (sklearn.preprocessing.StandardScaler)."
        )


def _first_non_number(values):
    """The first value of a column that ``float`` cannot read, or None."""
    for value in values:
        try:
            float(value)
        except (TypeError, ValueError):
            return value
    return None


def describe_non_numeric(X) -> str | None:
    """A message naming the first column of ``X`` that holds a value that is no number.

    Returns None when no such column is found (the caller's error stands).
    """
    if hasattr(X, "columns") and hasattr(X, "iloc"):
        columns = [(j, name, X.iloc[:, j]) for j, name in enumerate(X.columns)]
    else:
        try:
            array = np.asarray(X, dtype=object)
        except (TypeError, ValueError):
            return None
        if array.ndim != 2:
            return None
        columns = [(j, None, array[:, j]) for j in range(array.shape[1])]
    for j, name, values in columns:
        value = _first_non_number(values)
        if value is not None:
            label = f"column {j}" if name is None else f"column {j} ({name!r})"
            return (
                f"Input X is not numeric: {label} holds {value!r}, which is not a number. "
                "gaussmix fits numeric features only: drop that column, or encode it as "
                "numbers (for example with sklearn.preprocessing.OneHotEncoder)."
            )
    return None


def validated_X(estimator, X, *, fit: bool, allow_nan: bool = False, allow_empty_rows=False):
    """``X`` as a float array, checked: numeric, finite and, for fitting, of a usable scale.

    scikit-learn's ``validate_data`` with gaussmix's messages for what it words
    poorly: a text column is named with a sample value, NaN and infinity are told
    apart and located, and magnitudes that overflow the fit are refused up front.

    Parameters
    ----------
    estimator : BaseEstimator
    X : array-like of shape (n_samples, n_features)
    fit : bool
        Validating for fitting (``reset=True``, at least 2 rows, scale checked) or
        for inference on a fitted estimator.
    allow_nan : bool, default=False
        Let missing values (NaN) of in-memory arrays through, refusing columns
        (to fit) and rows (unless ``allow_empty_rows``) with no observed value;
        memory maps, files and Dask inputs still refuse them.
    allow_empty_rows : bool, default=False

    Returns
    -------
    ndarray of shape (n_samples, n_features), float64 or float32
    """
    if is_dask_collection(X):
        return _validated_dask(estimator, X, fit=fit)
    source_names = None
    if is_out_of_core(X):
        source_names = getattr(X, "feature_names", None) if fit else None
        X = _validated_rows(estimator, X, fit=fit)
        if not isinstance(X, _Loaded):
            return X
        X = X.rows
    options = {"ensure_min_samples": 2} if fit else {"reset": False}
    try:
        X_checked = validate_data(
            estimator, X, dtype=[np.float64, np.float32], ensure_all_finite=False, **options
        )
    except ValueError as exc:
        if "convert" not in str(exc):
            raise
        message = describe_non_numeric(X)
        if message is None:
            raise
        raise ValueError(message) from None
    if source_names is not None:
        # A file's column names, as a DataFrame's would be kept.
        estimator.feature_names_in_ = np.asarray([str(n) for n in source_names], dtype=object)
    names = getattr(estimator, "feature_names_in_", None)
    check_finite(X_checked, names=names, allow_nan=allow_nan)
    if allow_nan and has_missing(X_checked):
        check_missing(X_checked, fit=fit, names=names, allow_empty_rows=allow_empty_rows)
    if fit:
        check_scale(X_checked)
    return X_checked


def _validated_dask(estimator, X, *, fit: bool):
    """A Dask array or DataFrame as a float Dask array with one column chunk, checked.

    Unknown chunk sizes (a filtered DataFrame's) are computed, which reads the
    data once; finiteness and scale are checked in one more pass.
    """
    import dask
    import dask.array as da

    names = None
    if hasattr(X, "columns") and hasattr(X, "dtypes"):
        not_numeric = [str(name) for name, kind in X.dtypes.items() if kind.kind not in "biuf"]
        if not_numeric:
            raise ValueError(
                f"Input X is not numeric: column(s) {', '.join(map(repr, not_numeric))} hold "
                "values that are not numbers. Drop those columns or encode them as numbers."
            )
        names = [str(name) for name in X.columns]
        X = X.to_dask_array(lengths=True)
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-dimensional Dask array, got {X.ndim} dimension(s): reshape it to "
            "(n_samples, n_features)."
        )
    if any(np.isnan(size) for size in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if X.dtype.kind not in "biuf":
        raise TypeError(
            f"Input X has dtype {X.dtype}, which is not numeric: convert it to float32 or float64."
        )
    X = X.astype(float_dtype(X.dtype)).rechunk({1: -1})
    n_samples, n_features = (int(n) for n in X.shape)
    if fit and n_samples < 2:
        raise ValueError(
            f"Found array with {n_samples} sample(s) while a minimum of 2 is required."
        )
    if fit:
        estimator.n_features_in_ = n_features
        if names is not None:
            estimator.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    if fit:
        finite, largest, smallest = dask.compute(da.isfinite(X).all(), X.max(), X.min())
        if not finite:
            raise ValueError(
                "Input X contains missing values (NaN) or infinity: impute or drop those "
                "rows first (for example with dask_ml or X[da.isfinite(X).all(axis=1)])."
            )
        _check_largest(max(float(largest), -float(smallest)), n_samples, n_features, X.dtype, "X")
    return X


class _Loaded:
    """An out-of-core input small enough to be read whole (see :data:`LOAD_BYTES`)."""

    def __init__(self, rows):
        self.rows = rows


def _validated_rows(estimator, X, *, fit: bool):
    """Check an out-of-core array-like block by block; small ones are read whole.

    The same checks as for arrays (numeric, two-dimensional, the fitted number of
    features, finite, a scale the fit's sums do not overflow) in one read of the
    rows, never holding more than a block.
    """
    dtype = np.dtype(X.dtype)
    if dtype.kind not in "biuf":
        raise TypeError(
            f"Input X has dtype {dtype}, which is not numeric: gaussmix fits numbers "
            "(convert the data to float32 or float64)."
        )
    n_samples, n_features = (int(n) for n in X.shape)
    if fit and n_samples < 2:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape=({n_samples}, {n_features})) "
            "while a minimum of 2 is required: a mixture needs at least two rows."
        )
    if n_features < 1:
        raise ValueError("Input X has no features: it needs at least one column.")
    names = getattr(X, "feature_names", None)
    if fit:
        estimator.n_features_in_ = n_features
        if names is not None:
            estimator.feature_names_in_ = np.asarray([str(name) for name in names], dtype=object)
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    compute_dtype = float_dtype(dtype)
    if n_samples * n_features * compute_dtype.itemsize <= load_bytes():
        return _Loaded(read_rows(X, 0, n_samples, compute_dtype))
    rows_per_block = max(1, block_bytes() // (n_features * compute_dtype.itemsize))
    largest = 0.0
    for start, stop in row_blocks(n_samples, rows_per_block):
        block = read_rows(X, start, stop, compute_dtype)
        check_finite(block, names=getattr(estimator, "feature_names_in_", None))
        largest = max(largest, float(np.max(block)), -float(np.min(block)))
    if fit:
        _check_largest(largest, n_samples, n_features, compute_dtype, "X")
    return X


def check_sample_weight(
    sample_weight, n_samples: int, dtype, *, normalize: bool = False
) -> np.ndarray | None:
    """Validate ``sample_weight``: one finite, non-negative number per row, not all zero.

    The checks run in float64, before any conversion to ``dtype``.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,), scalar or None
    n_samples : int
    dtype : numpy dtype
        The dtype of the returned weights.
    normalize : bool, default=False
        Rescale the weights to mean one. A fit depends only on relative weights;
        rescaling keeps tiny or huge weights away from the floors and the range
        limits of ``dtype``.

    Returns
    -------
    ndarray of shape (n_samples,) in ``dtype``, or None when ``sample_weight`` is None.
    """
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight)
    if weights.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight must be numeric, got an array of dtype {weights.dtype}.")
    if weights.ndim == 0:
        weights = np.full(n_samples, weights)
    if weights.ndim != 1 or weights.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight has shape {weights.shape}, expected ({n_samples},): "
            "one weight per row of X."
        )
    weights = weights.astype(np.float64)
    if not np.isfinite(weights).all():
        raise ValueError("sample_weight contains NaN or infinity: weights must be finite.")
    if (weights < 0).any():
        raise ValueError(
            f"sample_weight has {int((weights < 0).sum())} negative values: weights must be >= 0."
        )
    if weights.sum() <= 0:
        raise ValueError(
            "sample_weight is zero for every sample: at least one sample needs a positive weight."
        )
    if normalize:
        weights = weights / weights.mean()
    return weights.astype(dtype)


def check_weights(weights, n_components: int) -> np.ndarray:
    """Validate ``weights_init``: shape (n_components,), in [0, 1], summing to 1."""
    weights = as_float_array(weights, "weights_init")
    check_shape(weights, (n_components,), "weights_init")
    if weights.min() < 0.0 or weights.max() > 1.0:
        raise ValueError(
            "The parameter 'weights_init' should be in the range [0, 1], but got "
            f"max value {weights.max():.5f}, min value {weights.min():.5f}."
        )
    if not np.isclose(weights.sum(), 1.0, rtol=0.0, atol=1e-8):
        raise ValueError(
            "The parameter 'weights_init' should be normalized, but got "
            f"sum(weights_init) = {weights.sum():.5f}."
        )
    return weights


def check_means(means, n_components: int, n_features: int) -> np.ndarray:
    """Validate ``means_init``: finite, shape (n_components, n_features)."""
    means = as_float_array(means, "means_init")
    check_shape(means, (n_components, n_features), "means_init")
    return means


def check_reg_covar(reg_covar, n_features: int):
    """``reg_covar`` as one non-negative float or a float64 array of one per feature.

    Parameters
    ----------
    reg_covar : float or array-like of shape (n_features,)
    n_features : int

    Returns
    -------
    float or ndarray of shape (n_features,)
    """
    if np.ndim(reg_covar) == 0:
        return float(reg_covar)
    floors = np.asarray(reg_covar, dtype=np.float64)
    if floors.shape != (n_features,):
        raise ValueError(
            f"reg_covar has shape {floors.shape}; pass one number or one value per "
            f"feature, shape ({n_features},)."
        )
    if not np.all(np.isfinite(floors)) or np.any(floors < 0):
        raise ValueError(
            "reg_covar must be finite and non-negative in every feature: "
            f"got {floors.min():g} to {floors.max():g}."
        )
    return floors
