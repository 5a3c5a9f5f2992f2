"""Model files: a fitted mixture's arrays and metadata in one file, without pickle.

A model file is a ZIP archive in NumPy's ``.npz`` layout: every array is an
``.npy`` member, next to ``metadata.json`` (format, versions, parameters, scalar
fitted attributes) and ``SHA256SUMS`` (the SHA-256 digest of every other
member). Loading parses only ``.npy`` headers and JSON, so it never executes
code, and the file can be read with NumPy alone:
``np.load(path, allow_pickle=False)``. The layout is documented in
``docs/model-format.md``; change it only together with that document and
``FORMAT_VERSION``.

This layer reads and writes :class:`StoredModel` values (arrays and metadata);
:mod:`gaussmix.estimators.persistence` turns estimators into them and back.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import stat
import struct
import zipfile
import zlib
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np

from .._version import __version__
from ..covariance import COVARIANCE_MODELS
from .atomic import atomic_path

FORMAT = "gaussmix-model"
#: The newest format version this gaussmix reads. Files of the "mixture" kind
#: (GaussianMixture) are still written as version 1, so older readers keep reading
#: them; the "variational" kind (BayesianGaussianMixture) needs version 2.
FORMAT_VERSION = 2
#: Model kinds by the metadata's ``kind`` (absent in version 1: "mixture"), with the
#: format version that introduced them.
KIND_VERSIONS = {"mixture": 1, "variational": 2}
METADATA_MEMBER = "metadata.json"
CHECKSUMS_MEMBER = "SHA256SUMS"
FITTED_ARRAYS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")
PARAMS_FOLDER = "params/"
FITTED_SCALARS = ("converged_", "n_iter_", "lower_bound_", "lower_bounds_", "n_features_in_")
#: The "variational" kind's posterior arrays (in the fitted dtype), the priors it was
#: fitted with (arrays in float64) and its scalar priors (JSON numbers in ``fitted``).
VARIATIONAL_ARRAYS = ("weight_concentration_", "mean_precision_", "degrees_of_freedom_")
VARIATIONAL_PRIOR_ARRAYS = ("mean_prior_", "covariance_prior_")
VARIATIONAL_SCALARS = (
    "weight_concentration_prior_",
    "mean_precision_prior_",
    "degrees_of_freedom_prior_",
)
#: Fitted attributes a file may hold besides FITTED_SCALARS, with what each must be:
#: the feature names, and what ``gaussmix lab`` records of a model it saves in the
#: data's units (the covariance model it was fitted with on the standardised scale,
#: that model's free parameters, and the standardisation undone, per feature).
OPTIONAL_FITTED = {
    "feature_names_in_": "a list of strings",
    "fitted_covariance_type_": "a covariance model's name",
    "fitted_n_parameters_": "a positive integer",
    "standardisation_mean_": "a list of finite numbers, one per feature",
    "standardisation_scale_": "a list of positive numbers, one per feature",
}

# A fixed timestamp makes the same model give the same bytes.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_DTYPES = ("float32", "float64")
# A storage layout is recognised by the covariance shape it gives for 2 components
# of 3 features; readers need the layout, not every covariance type's name.
_STORAGE_BY_PROBE_SHAPE = {(2, 3, 3): "full", (3, 3): "tied", (2, 3): "diag", (2,): "spherical"}
_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}
# How far (relative) a file's precisions may be from the inverse of its
# covariances, at least: fits compute both from one Cholesky factor in the fit's
# dtype, and rounding grows with the condition number (see _check_covariances).
_CONSISTENCY_TOLERANCE = {"float64": 1e-6, "float32": 1e-3}
# Limits that keep a hostile file from exhausting memory or the stack before it
# is refused. Written files are far below them: metadata of a few kilobytes (a
# float per EM iteration in lower_bounds_), nested 4 deep.
MAX_METADATA_BYTES = 16 * 2**20
MAX_METADATA_DEPTH = 32
MAX_CHECKSUMS_BYTES = 2**20
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
# What a damaged archive can raise while zipfile parses it or reads a member.
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    zlib.error,
    NotImplementedError,
    RuntimeError,
)


class ModelFileError(ValueError):
    """A model file that cannot be loaded: damaged, edited, not a model, or too new.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    problem : str
        What is wrong with it, and the fix where there is one.

    Attributes
    ----------
    path : str
    problem : str
    """

    def __init__(self, path, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"Cannot load gaussmix model file '{self.path}': {problem}")


class StoredModel(NamedTuple):
    """What a model file holds, as plain values: the file layer's input and output.

    The estimators turn a fitted estimator into one (``gaussmix.estimators.persistence``)
    and build an estimator from one, so this layer never imports an estimator.

    Attributes
    ----------
    estimator : str
        The estimator's class name, e.g. ``"GaussianMixture"``.
    params : dict
        Constructor parameters (``get_params(deep=False)``): JSON values, numeric
        arrays and ``RandomState`` instances.
    fitted : dict
        Scalar fitted attributes (``converged_``, ``n_iter_``, ``lower_bound_``,
        ``lower_bounds_``, ``n_features_in_``, optionally ``feature_names_in_`` as
        a list of strings and the others of :data:`OPTIONAL_FITTED`).
    arrays : dict
        The fitted arrays named in ``FITTED_ARRAYS`` (and, for the "variational"
        kind, in ``VARIATIONAL_ARRAYS`` and ``VARIATIONAL_PRIOR_ARRAYS``).
    gaussmix_version : str
        The gaussmix that wrote the file (the running one when saving).
    kind : {'mixture', 'variational'}
        A fitted mixture (``GaussianMixture``), or a variational posterior
        (``BayesianGaussianMixture``), whose file also holds the posterior's
        hyper-parameters and priors: ``VARIATIONAL_ARRAYS``,
        ``VARIATIONAL_PRIOR_ARRAYS`` and, in ``fitted``, ``VARIATIONAL_SCALARS``.
    """

    estimator: str
    params: dict
    fitted: dict
    arrays: dict
    gaussmix_version: str = __version__
    kind: str = "mixture"


# --------------------------------------------------------------------------- saving
def write_model_file(path, stored: StoredModel) -> None:
    """Write a model to ``path`` as a gaussmix model file.

    The file is first written to a temporary file in the same folder, flushed to
    disk, then renamed onto ``path``: an existing file at ``path`` is replaced
    only by a complete one, and a failure leaves neither a partial file nor the
    temporary one. The same checks as on loading run first, so no file is
    written that would be refused.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (no suffix is added; ``.gaussmix`` is a good one).
    stored : StoredModel
        The model's parameters, scalar fitted attributes and arrays.

    Raises
    ------
    TypeError
        When a parameter is neither a JSON value, a numeric array nor a ``RandomState``.
    ValueError
        When the fitted attributes are inconsistent or not finite.
    OSError
        When the file cannot be written (its ``filename`` is ``path``).
    """
    _write_atomically(path, _encode(stored))


def _encode(stored: StoredModel) -> dict:
    """The archive's members, name to bytes, in writing order."""
    class_name, params, fitted, kind = stored.estimator, stored.params, stored.fitted, stored.kind
    if kind not in KIND_VERSIONS:
        raise ValueError(f"Cannot save a model of kind {kind!r}: model files hold {KIND_VERSIONS}.")
    arrays = {name: np.asarray(stored.arrays[name]) for name in _array_names(kind)}
    try:
        _check_mixture(params, fitted, arrays)
        storage = covariance_storage(params["covariance_type"])
        if kind == "variational":
            _check_variational(params, fitted, arrays, storage)
    except ValueError as exc:
        raise ValueError(f"Cannot save this {class_name}: {exc}") from None

    param_arrays = {}
    metadata = {
        "format": FORMAT,
        "format_version": KIND_VERSIONS[kind],
        "gaussmix_version": stored.gaussmix_version,
        "estimator": class_name,
    }
    if kind != "mixture":
        # Version 1 files have no kind: they stay byte for byte what they were.
        metadata["kind"] = kind
    metadata |= {
        "dtype": arrays["means_"].dtype.name,
        "covariance_storage": storage,
        "params": {
            name: _encode_param(name, value, param_arrays) for name, value in params.items()
        },
        "fitted": {name: _encode_json(name, value) for name, value in fitted.items()},
    }
    members = {
        METADATA_MEMBER: (
            json.dumps(metadata, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        ).encode("utf-8")
    }
    if len(members[METADATA_MEMBER]) > MAX_METADATA_BYTES:
        raise ValueError(
            f"Cannot save this {class_name}: its metadata would take "
            f"{len(members[METADATA_MEMBER]):,} bytes, more than the {MAX_METADATA_BYTES:,} "
            "a model file may hold (a very long lower_bounds_ or feature_names_in_?)."
        )
    for name, array in arrays.items():
        members[f"{name}.npy"] = _npy_bytes(array)
    for member, array in param_arrays.items():
        members[member] = _npy_bytes(array)
    members[CHECKSUMS_MEMBER] = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {member}\n" for member, data in members.items()
    ).encode("ascii")
    return members


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _encode_float(value: float):
    """A float as JSON: a number, or a tag for the values strict JSON lacks."""
    value = float(value)
    if math.isfinite(value):
        return value
    return {
        "type": "float",
        "value": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"),
    }


def _encode_json(name: str, value):
    """A scalar, a string or a list of them as JSON; non-finite floats tagged."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return _encode_float(value)
    if isinstance(value, (list, tuple)):
        return [_encode_json(name, item) for item in value]
    raise TypeError(f"'{name}' = {value!r} cannot be saved in a model file.")


def _encode_param(name: str, value, param_arrays: dict):
    """A constructor parameter as JSON; arrays and random states become members."""
    if isinstance(value, np.random.RandomState):
        bit_generator, key, pos, has_gauss, cached_gaussian = value.get_state(legacy=True)
        member = f"{PARAMS_FOLDER}{name}.npy"
        param_arrays[member] = np.asarray(key, dtype=np.uint32)
        return {
            "type": "RandomState",
            "bit_generator": bit_generator,
            "member": member,
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": _encode_float(cached_gaussian),
        }
    if isinstance(value, (np.ndarray, list, tuple)):
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            array = np.asarray(None)  # ragged: refused just below
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"Parameter '{name}' is an array of dtype {array.dtype}; model files hold "
                "numeric arrays only: pass numbers."
            )
        member = f"{PARAMS_FOLDER}{name}.npy"
        param_arrays[member] = array
        return {"type": "array", "member": member}
    try:
        return _encode_json(name, value)
    except TypeError:
        raise TypeError(
            f"Parameter '{name}' = {value!r} cannot be saved in a model file: model files "
            "hold numbers, strings, booleans, None, numeric arrays and RandomState instances."
        ) from None


def _write_atomically(path, members: dict) -> None:
    """Write the archive through :func:`gaussmix.data.atomic.atomic_path` (fsync, then rename)."""
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        if stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            _write_archive(file, members)
            return
        # A device or a pipe (--out /dev/stdout) cannot be sought back to for the
        # archive's directory: the same bytes are built in memory first.
        buffer = io.BytesIO()
        _write_archive(buffer, members)
        file.write(buffer.getbuffer())


def _write_archive(file, members: dict) -> None:
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)


# -------------------------------------------------------------------------- loading
def read_model_file(path) -> StoredModel:
    """Read a model file written by :func:`write_model_file`.

    Only ``.npy`` headers and JSON are parsed (never pickle), and every member is
    checked against its SHA-256 digest before it is used.

    Parameters
    ----------
    path : str or os.PathLike
        A gaussmix model file.

    Returns
    -------
    stored : StoredModel
        The parameters, scalar fitted attributes and arrays (bit for bit, in the
        saved dtype, native byte order), checked to fit together.

    Raises
    ------
    ModelFileError
        (a ValueError) naming the file and the problem: not a ZIP archive or
        truncated, a member missing, corrupted or edited, invalid metadata, a
        format this gaussmix does not know, a newer format version, arrays whose
        shapes disagree with the parameters, non-finite values.
    OSError
        When the file cannot be opened (``FileNotFoundError``,
        ``IsADirectoryError``, ``PermissionError``), with ``filename`` set.
    """
    with open(path, "rb") as file:
        try:
            archive = zipfile.ZipFile(file)
        except _ARCHIVE_ERRORS as exc:
            raise ModelFileError(
                path,
                f"it is not a ZIP archive, or it is truncated ({exc}). Model files are "
                "written by gaussmix's save_model; write the model again.",
            ) from None
        with archive:
            return _read_archive(archive, path)


def _read_archive(archive: zipfile.ZipFile, path) -> StoredModel:
    names = archive.namelist()
    if len(set(names)) != len(names):
        raise ModelFileError(path, "the archive has duplicate member names.")
    _check_member_sizes(archive, path)
    if METADATA_MEMBER not in names:
        raise ModelFileError(
            path,
            f"it has no '{METADATA_MEMBER}' member, so it is not a gaussmix model file "
            "(an ordinary .npz archive?).",
        )
    metadata = _parse_metadata(_read_member(archive, METADATA_MEMBER, path), path)
    _check_format(metadata, path)
    contents = _verified_members(archive, names, path)
    class_name = metadata.get("estimator")
    if not isinstance(class_name, str):
        raise ModelFileError(
            path, f"metadata 'estimator' should be a class name, got {class_name!r}."
        )
    kind = _kind(metadata, path)
    used = {METADATA_MEMBER, CHECKSUMS_MEMBER}
    try:
        params = _decode_params(metadata, contents, used)
        fitted = _decode_fitted(metadata, kind)
        arrays = {}
        for name in _array_names(kind):
            member = f"{name}.npy"
            arrays[name] = _decode_array(contents, member)
            used.add(member)
        unexpected = sorted(set(contents) - used)
        if unexpected:
            raise ValueError(
                f"unexpected member(s) {', '.join(map(repr, unexpected))}: this gaussmix "
                f"reads format version {FORMAT_VERSION} without them."
            )
        _check_dtype(metadata, arrays)
        _check_mixture(params, fitted, arrays)
        storage = covariance_storage(params["covariance_type"])
        if metadata.get("covariance_storage") != storage:
            raise ValueError(
                f"metadata 'covariance_storage' is {metadata.get('covariance_storage')!r}, "
                f"but covariance_type {params['covariance_type']!r} stores {storage!r}."
            )
        if kind == "variational":
            _check_variational(params, fitted, arrays, storage)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(path, str(exc)) from None
    version = metadata.get("gaussmix_version")
    return StoredModel(
        class_name,
        params,
        fitted,
        arrays,
        version if isinstance(version, str) else "(unknown)",
        kind=kind,
    )


def _array_names(kind: str) -> tuple:
    """The array members a model of ``kind`` holds (``params/`` members aside)."""
    if kind == "variational":
        return FITTED_ARRAYS + VARIATIONAL_ARRAYS + VARIATIONAL_PRIOR_ARRAYS
    return FITTED_ARRAYS


def _kind(metadata: dict, path) -> str:
    """The metadata's model kind ("mixture" when absent), refused when unknown or too new."""
    kind = metadata.get("kind", "mixture")
    if kind not in KIND_VERSIONS:
        raise ModelFileError(
            path,
            f"unknown model kind {kind!r}: this gaussmix reads "
            f"{', '.join(map(repr, KIND_VERSIONS))}. Upgrade gaussmix if a newer version "
            "wrote the file.",
        )
    if metadata["format_version"] < KIND_VERSIONS[kind]:
        raise ModelFileError(
            path,
            f"model kind {kind!r} needs format_version {KIND_VERSIONS[kind]} or later, but "
            f"the file says {metadata['format_version']}.",
        )
    return kind


def _check_member_sizes(archive: zipfile.ZipFile, path) -> None:
    """Refuse, before reading any member, sizes that no model file has.

    Members are stored uncompressed (docs/model-format.md), so no member can
    unpack to more than the file holds; the metadata and the digests are small.
    """
    limits = {METADATA_MEMBER: MAX_METADATA_BYTES, CHECKSUMS_MEMBER: MAX_CHECKSUMS_BYTES}
    for info in archive.infolist():
        if info.compress_type != zipfile.ZIP_STORED:
            raise ModelFileError(
                path,
                f"member '{info.filename}' is compressed; model files store their members "
                "uncompressed (ZIP_STORED). Write the model again with gaussmix.",
            )
        limit = limits.get(info.filename)
        if limit is not None and info.file_size > limit:
            raise ModelFileError(
                path,
                f"member '{info.filename}' is {info.file_size:,} bytes, more than the "
                f"{limit:,} a model file may hold.",
            )


def _read_member(archive: zipfile.ZipFile, name: str, path) -> bytes:
    try:
        # zipfile checks each member's CRC-32 as it reads it.
        return archive.read(name)
    except _ARCHIVE_ERRORS as exc:
        raise ModelFileError(
            path, f"member '{name}' is corrupted ({exc}); write the model again."
        ) from None


def _json_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in JSON text, without parsing it (no recursion)."""
    brackets = np.frombuffer(_JSON_STRING.sub(b'""', data), dtype=np.uint8)
    opened = (brackets == ord("[")) | (brackets == ord("{"))
    closed = (brackets == ord("]")) | (brackets == ord("}"))
    depth = np.cumsum(opened.astype(np.int64) - closed)
    return int(depth.max()) if depth.size else 0


def _parse_metadata(data: bytes, path) -> dict:
    if len(data) > MAX_METADATA_BYTES:
        raise ModelFileError(
            path,
            f"'{METADATA_MEMBER}' is {len(data):,} bytes, more than the {MAX_METADATA_BYTES:,} "
            "a model file may hold.",
        )
    depth = _json_depth(data)
    if depth > MAX_METADATA_DEPTH:
        raise ModelFileError(
            path,
            f"'{METADATA_MEMBER}' nests {depth} levels deep, more than the "
            f"{MAX_METADATA_DEPTH} a model file may have.",
        )
    try:
        metadata = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(
            path, f"'{METADATA_MEMBER}' is not valid UTF-8 JSON ({exc})."
        ) from None
    if not isinstance(metadata, dict):
        raise ModelFileError(path, f"'{METADATA_MEMBER}' is not a JSON object.")
    return metadata


def _check_format(metadata: dict, path) -> None:
    """Refuse other formats and newer versions, before anything else is interpreted."""
    if metadata.get("format") != FORMAT:
        raise ModelFileError(
            path, f"its format is {metadata.get('format')!r}, not {FORMAT!r}: not a gaussmix model."
        )
    version = metadata.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(path, f"invalid format_version {version!r}: expected an integer >= 1.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            path,
            f"it was written by a newer gaussmix {metadata.get('gaussmix_version', '(unknown)')} "
            f"in format version {version}; this gaussmix {__version__} reads up to "
            f"version {FORMAT_VERSION}. Upgrade gaussmix.",
        )


def _verified_members(archive: zipfile.ZipFile, names: list, path) -> dict:
    """Every member except ``SHA256SUMS``, each checked against its listed digest."""
    if CHECKSUMS_MEMBER not in names:
        raise ModelFileError(path, f"missing member '{CHECKSUMS_MEMBER}' (the members' digests).")
    listing = _read_member(archive, CHECKSUMS_MEMBER, path)
    digests = {}
    try:
        for line in listing.decode("ascii").splitlines():
            digest, member = line.split("  ", 1)
            if len(digest) != 64 or set(digest) - set("0123456789abcdef"):
                raise ValueError(line)
            digests[member] = digest
    except ValueError:
        raise ModelFileError(
            path, f"'{CHECKSUMS_MEMBER}' is not a list of '<sha256 hex>  <member>' lines."
        ) from None
    for name in names:
        if name != CHECKSUMS_MEMBER and name not in digests:
            raise ModelFileError(path, f"member '{name}' has no digest in '{CHECKSUMS_MEMBER}'.")
    contents = {}
    for member, digest in digests.items():
        if member not in names:
            raise ModelFileError(path, f"missing member '{member}' (listed in {CHECKSUMS_MEMBER}).")
        data = _read_member(archive, member, path)
        if hashlib.sha256(data).hexdigest() != digest:
            raise ModelFileError(
                path,
                f"member '{member}' does not match its SHA-256 digest: the file is corrupted "
                "or was edited after it was written.",
            )
        contents[member] = data
    return contents


def _decode_float(value, name: str) -> float:
    if isinstance(value, dict) and value.get("type") == "float":
        if value.get("value") not in _NON_FINITE:
            raise ValueError(f"'{name}': unknown non-finite float {value.get('value')!r}.")
        return _NON_FINITE[value["value"]]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"'{name}' should be a number, got {value!r}.")
    return float(value)


def _decode_param(name: str, value, contents: dict, used: set):
    if not isinstance(value, dict):
        if isinstance(value, list):
            raise ValueError(f"parameter '{name}' is a JSON list; arrays are stored as members.")
        return value
    kind = value.get("type")
    if kind == "float":
        return _decode_float(value, name)
    if kind not in ("array", "RandomState"):
        raise ValueError(f"parameter '{name}' has an unknown type {kind!r}.")
    member = value.get("member")
    if not isinstance(member, str) or not member.startswith(PARAMS_FOLDER):
        raise ValueError(f"parameter '{name}' names no member under '{PARAMS_FOLDER}'.")
    array = _decode_array(contents, member)
    used.add(member)
    if kind == "array":
        if array.dtype.kind not in "biuf":
            raise ValueError(f"parameter '{name}' has a non-numeric dtype {array.dtype}.")
        return array
    random_state = np.random.RandomState()
    try:
        random_state.set_state(
            (
                value["bit_generator"],
                array,
                int(value["pos"]),
                int(value["has_gauss"]),
                _decode_float(value["cached_gaussian"], name),
            )
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"parameter '{name}' is not a valid RandomState state ({exc}).") from None
    return random_state


def _decode_params(metadata: dict, contents: dict, used: set) -> dict:
    params = metadata.get("params")
    if not isinstance(params, dict):
        raise ValueError("metadata 'params' should be a JSON object.")
    return {name: _decode_param(name, value, contents, used) for name, value in params.items()}


def _decode_fitted(metadata: dict, kind: str = "mixture") -> dict:
    fitted = metadata.get("fitted")
    if not isinstance(fitted, dict):
        raise ValueError("metadata 'fitted' should be a JSON object.")
    required = FITTED_SCALARS + (VARIATIONAL_SCALARS if kind == "variational" else ())
    missing = [name for name in required if name not in fitted]
    if missing:
        raise ValueError(f"metadata 'fitted' lacks {', '.join(missing)}.")
    unknown = sorted(set(fitted) - {*required, *OPTIONAL_FITTED})
    if unknown:
        raise ValueError(f"unknown fitted attribute(s) {', '.join(unknown)}: upgrade gaussmix.")
    for name, what in OPTIONAL_FITTED.items():
        # feature_names_in_ is checked against the arrays, in _check_mixture.
        if name == "feature_names_in_" or name not in fitted:
            continue
        if not _is_optional_fitted(name, fitted[name], fitted):
            raise ValueError(f"'{name}' should be {what}, got {fitted[name]!r:.80}.")
    if not isinstance(fitted["lower_bounds_"], list):
        raise ValueError("'lower_bounds_' should be a list of numbers.")
    decoded = dict(fitted)
    for name in required[len(FITTED_SCALARS) :]:
        decoded[name] = _decode_float(fitted[name], name)
    decoded["lower_bound_"] = _decode_float(fitted["lower_bound_"], "lower_bound_")
    decoded["lower_bounds_"] = [
        _decode_float(value, "lower_bounds_") for value in fitted["lower_bounds_"]
    ]
    return decoded


def _is_optional_fitted(name: str, value, fitted: dict) -> bool:
    """Whether an optional fitted attribute has the kind :data:`OPTIONAL_FITTED` names."""
    if name == "fitted_covariance_type_":
        return isinstance(value, str) and value in COVARIANCE_MODELS
    if name == "fitted_n_parameters_":
        return isinstance(value, int) and not isinstance(value, bool) and value > 0
    if not isinstance(value, list):
        return False
    n_features = fitted.get("n_features_in_")
    if len(value) != n_features or not all(
        isinstance(item, (int, float)) and not isinstance(item, bool) and math.isfinite(item)
        for item in value
    ):
        return False
    return name != "standardisation_scale_" or all(item > 0 for item in value)


def _decode_array(contents: dict, member: str) -> np.ndarray:
    if member not in contents:
        raise ValueError(f"missing member '{member}'.")
    data = contents[member]
    stream = io.BytesIO(data)
    try:
        # The header first: the shape it claims must match the bytes that follow,
        # before anything of that shape is allocated.
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f".npy format version {version} is not one model files use")
        n_bytes = math.prod(shape) * dtype.itemsize
        if not dtype.hasobject and n_bytes != len(data) - stream.tell():
            raise ValueError(
                f"its header claims shape {shape} of {dtype} ({n_bytes:,} bytes), but "
                f"{len(data) - stream.tell():,} bytes follow"
            )
        return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except (ValueError, SyntaxError, EOFError, TypeError) as exc:
        raise ValueError(f"member '{member}' is not a valid .npy array ({exc}).") from None


def _check_dtype(metadata: dict, arrays: dict) -> None:
    """Arrays must all be in the dtype the metadata names; byte order is made native.

    The priors of the "variational" kind are float64 whatever the fit's dtype.
    """
    dtype_name = metadata.get("dtype")
    if dtype_name not in _DTYPES:
        raise ValueError(f"metadata 'dtype' is {dtype_name!r}; expected one of {_DTYPES}.")
    for name, array in arrays.items():
        expected = "float64" if name in VARIATIONAL_PRIOR_ARRAYS else dtype_name
        if array.dtype.newbyteorder("=") != np.dtype(expected):
            said = f"the metadata says {expected}"
            if name in VARIATIONAL_PRIOR_ARRAYS:
                said = "priors are float64"
            raise ValueError(f"'{name}' has dtype {array.dtype}, but {said}.")
        # A file from a big-endian machine: the same values in native order.
        arrays[name] = array.astype(expected, copy=False)


def covariance_storage(covariance_type: str) -> str:
    """The storage layout of a covariance type's arrays, as a model file names it.

    Parameters
    ----------
    covariance_type : str
        A key of ``gaussmix.covariance.COVARIANCE_MODELS``.

    Returns
    -------
    storage : {'full', 'tied', 'diag', 'spherical'}
        ``(K, D, D)`` matrices, one shared ``(D, D)`` matrix, ``(K, D)``
        diagonals or ``(K,)`` variances.
    """
    shape = tuple(COVARIANCE_MODELS[covariance_type].covariance_shape(2, 3))
    if shape not in _STORAGE_BY_PROBE_SHAPE:
        raise ValueError(
            f"covariance_type {covariance_type!r} stores its covariances in a layout "
            f"(shape {shape} for 2 components of 3 features) that model format version "
            f"{FORMAT_VERSION} cannot describe."
        )
    return _STORAGE_BY_PROBE_SHAPE[shape]


def _check_mixture(params: dict, fitted: dict, arrays: dict) -> None:
    """Raise a ValueError unless a mixture's attributes fit together.

    The same checks run before saving and after loading, so no file is written
    that would be refused.
    """
    covariance_type = params.get("covariance_type")
    if covariance_type not in COVARIANCE_MODELS:
        raise ValueError(
            f"unknown covariance_type {covariance_type!r}; this gaussmix knows "
            f"{', '.join(sorted(COVARIANCE_MODELS))}. Upgrade gaussmix if a newer version "
            "wrote the file."
        )
    n_components = params.get("n_components")
    n_features = fitted["n_features_in_"]
    for name, value in (("n_components", n_components), ("n_features_in_", n_features)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral) or value < 1:
            raise ValueError(f"'{name}' should be a positive integer, got {value!r}.")
    if not isinstance(fitted["converged_"], (bool, np.bool_)):
        raise ValueError(f"'converged_' should be true or false, got {fitted['converged_']!r}.")
    n_iter = fitted["n_iter_"]
    if isinstance(n_iter, (bool, np.bool_)) or not isinstance(n_iter, Integral) or n_iter < 0:
        raise ValueError(f"'n_iter_' should be a non-negative integer, got {n_iter!r}.")
    names = fitted.get("feature_names_in_")
    if names is not None and (
        not isinstance(names, list)
        or len(names) != n_features
        or not all(isinstance(name, str) for name in names)
    ):
        raise ValueError(f"'feature_names_in_' should be {n_features} strings.")

    model = COVARIANCE_MODELS[covariance_type]
    covariance_shape = tuple(model.covariance_shape(n_components, n_features))
    expected = {
        "weights_": (n_components,),
        "means_": (n_components, n_features),
        "covariances_": covariance_shape,
        "precisions_": covariance_shape,
        "precisions_cholesky_": covariance_shape,
    }
    dtypes = {array.dtype for name, array in arrays.items() if name not in VARIATIONAL_PRIOR_ARRAYS}
    if len(dtypes) != 1 or next(iter(dtypes)).name not in _DTYPES:
        raise ValueError(
            f"fitted arrays should all be float32 or all float64, got {sorted(map(str, dtypes))}."
        )
    for name, shape in expected.items():
        array = arrays[name]
        if array.shape != shape:
            raise ValueError(
                f"'{name}' has shape {array.shape}, but n_components={n_components}, "
                f"n_features={n_features} and covariance_type={covariance_type!r} need {shape}."
            )
        if not np.isfinite(array).all():
            raise ValueError(f"'{name}' contains NaN or infinity.")
    weights = arrays["weights_"].astype(np.float64)
    # Weights are n_k / sum(n_k) rounded to the dtype: their sum is off by a few ulps.
    tolerance = 8 * n_components * np.finfo(arrays["weights_"].dtype).eps
    if weights.min() < 0 or abs(weights.sum() - 1.0) > tolerance:
        raise ValueError(
            f"'weights_' should be non-negative and sum to 1, got sum {float(weights.sum())!r} "
            f"and minimum {float(weights.min())!r}."
        )
    _check_covariances(covariance_storage(covariance_type), arrays)


def _check_variational(params: dict, fitted: dict, arrays: dict, storage: str) -> None:
    """Raise a ValueError unless a variational posterior's arrays and priors fit together.

    Shapes follow the weight prior and the covariance storage; concentrations,
    precisions and prior variances are positive, degrees of freedom above
    ``n_features - 1``; a matrix prior is symmetric positive definite.
    """
    n_components, n_features = arrays["means_"].shape
    weight_prior = params.get("weight_concentration_prior_type")
    if weight_prior not in ("dirichlet_process", "dirichlet_distribution"):
        raise ValueError(f"unknown weight_concentration_prior_type {weight_prior!r}.")
    stick_breaking = weight_prior == "dirichlet_process"
    expected = {
        "weight_concentration_": (2, n_components) if stick_breaking else (n_components,),
        "mean_precision_": (n_components,),
        "degrees_of_freedom_": () if storage == "tied" else (n_components,),
        "mean_prior_": (n_features,),
        "covariance_prior_": {
            "full": (n_features, n_features),
            "tied": (n_features, n_features),
            "diag": (n_features,),
            "spherical": (),
        }[storage],
    }
    for name, shape in expected.items():
        array = arrays[name]
        if array.shape != shape:
            raise ValueError(
                f"'{name}' has shape {array.shape}, but n_components={n_components}, "
                f"n_features={n_features} and this covariance_type and weight prior need {shape}."
            )
        if not np.isfinite(array).all():
            raise ValueError(f"'{name}' contains NaN or infinity.")
    for name in ("weight_concentration_", "mean_precision_"):
        if (arrays[name] <= 0).any():
            raise ValueError(f"'{name}' should be positive.")
    for name in ("weight_concentration_prior_", "mean_precision_prior_"):
        if not fitted[name] > 0:
            raise ValueError(f"'{name}' should be positive, got {fitted[name]!r}.")
    dof_floor = n_features - 1.0
    if (
        not fitted["degrees_of_freedom_prior_"] > dof_floor
        or not (arrays["degrees_of_freedom_"] > dof_floor).all()
    ):
        raise ValueError(
            f"'degrees_of_freedom_prior_' and 'degrees_of_freedom_' should be above "
            f"n_features - 1 = {dof_floor:g}."
        )
    prior = arrays["covariance_prior_"]
    if prior.ndim == 2:
        if not np.allclose(prior, prior.T) or not _has_cholesky(prior):
            raise ValueError("'covariance_prior_' should be symmetric positive definite.")
    elif (prior <= 0).any():
        raise ValueError("'covariance_prior_' should be positive.")


def _has_cholesky(matrix: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return True


def _check_covariances(storage: str, arrays: dict) -> None:
    """Raise a ValueError unless the covariance arrays describe valid Gaussians.

    Every covariance must be symmetric positive definite (a Cholesky
    factorisation succeeds; variances of diagonal and spherical storages are
    positive), and ``precisions_`` and ``precisions_cholesky_`` must be its
    inverse and the inverse's upper factor: a file whose arrays disagree would
    predict with one and plot with the other.
    """
    dtype = arrays["covariances_"].dtype
    tolerance = _CONSISTENCY_TOLERANCE[dtype.name]
    covariances, precisions, factors = (
        arrays[name].astype(np.float64)
        for name in ("covariances_", "precisions_", "precisions_cholesky_")
    )
    if storage in ("diag", "spherical"):
        for name, values in (
            ("covariances_", covariances),
            ("precisions_", precisions),
            ("precisions_cholesky_", factors),
        ):
            if (values <= 0).any():
                where = np.argwhere(values <= 0)[0]
                raise ValueError(
                    f"'{name}' has a non-positive value {float(values[tuple(where)])!r} at "
                    f"index {tuple(int(i) for i in where)}: variances and precisions must be "
                    "positive."
                )
        checks = (
            (
                "precisions_cholesky_",
                "the inverse square roots of 'covariances_'",
                factors**2 * covariances,
            ),
            ("precisions_", "the squares of 'precisions_cholesky_'", precisions / factors**2),
        )
        for name, what, ratio in checks:
            error = float(np.max(np.abs(ratio - 1.0)))
            if not error <= tolerance:
                raise ValueError(
                    f"'{name}' should be {what}, but differs by a relative {error:.2g} "
                    f"(more than the {tolerance:g} rounding allows)."
                )
        return
    n_features = covariances.shape[-1]
    covariances = covariances.reshape(-1, n_features, n_features)
    precisions = precisions.reshape(-1, n_features, n_features)
    factors = factors.reshape(-1, n_features, n_features)
    # Consistency is checked on a few fixed random directions: O(D^2) per matrix
    # rather than the O(D^3) of full matrix products, and a mismatch in any
    # direction shows in a random one.
    probes = np.random.default_rng(0).standard_normal((n_features, 4))
    for k in range(covariances.shape[0]):
        label = "" if covariances.shape[0] == 1 else f" matrix {k}"
        for name, matrix in (("covariances_", covariances[k]), ("precisions_", precisions[k])):
            scale = float(np.max(np.abs(matrix)))
            if float(np.max(np.abs(matrix - matrix.T))) > tolerance * scale:
                raise ValueError(f"'{name}'{label} is not symmetric.")
        try:
            np.linalg.cholesky(covariances[k])
        except np.linalg.LinAlgError:
            raise ValueError(
                f"'covariances_'{label} is not positive definite (its Cholesky factorisation "
                "fails): a covariance matrix must have positive variance in every direction."
            ) from None
        factor = factors[k]
        # Rounding in P' Sigma P - I grows with the condition number of the
        # correlation matrix C (the product is invariant to rescaling the
        # features); ||S P||_F^2 = trace(C^-1), with S the standard deviations,
        # bounds 1 / lambda_min(C) from above at O(D^2) cost.
        spread = float(np.sum((np.sqrt(np.diagonal(covariances[k]))[:, None] * factor) ** 2))
        allowed = max(tolerance, n_features * np.finfo(dtype).eps * spread)
        diagonal = np.diagonal(factor)
        below = np.tril(factor, -1)
        if not (diagonal > 0).all() or float(np.max(np.abs(below), initial=0.0)) > (
            tolerance * float(np.max(np.abs(factor)))
        ):
            raise ValueError(
                f"'precisions_cholesky_'{label} should be upper triangular with a positive "
                "diagonal (the upper Cholesky factor of the precision)."
            )
        # P' Sigma P = I when P P' is the inverse of Sigma.
        whitened = factor.T @ (covariances[k] @ (factor @ probes))
        error = _relative_error(whitened, probes)
        if not error <= allowed:
            raise ValueError(
                f"'precisions_cholesky_'{label} is not the factor of the inverse of "
                f"'covariances_'{label}: P' Sigma P differs from the identity by a relative "
                f"{error:.2g} (more than the {allowed:.2g} rounding allows)."
            )
        error = _relative_error(precisions[k] @ probes, factor @ (factor.T @ probes))
        if not error <= allowed:
            raise ValueError(
                f"'precisions_'{label} is not P P' of 'precisions_cholesky_'{label}: they "
                f"differ by a relative {error:.2g} (more than the {allowed:.2g} rounding allows)."
            )


def _relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """Largest ``|actual - expected| / |expected|`` over the columns."""
    difference = np.linalg.norm(actual - expected, axis=0)
    return float(np.max(difference / np.linalg.norm(expected, axis=0)))
