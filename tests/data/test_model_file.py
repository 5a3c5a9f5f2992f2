"""Model files: round trips, the documented layout, refusals, atomic writes.

The format is ``gaussmix.data.model_file``; estimators are saved and rebuilt by
``gaussmix.estimators.persistence``.

The truth for a round trip is the saved estimator itself (bit-for-bit equality);
the truth for the layout is docs/model-format.md, read by this test, and a
NumPy-only reader; damaged files are built here with ``zipfile`` and ``hashlib``,
independently of the writer under test.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import gaussmix
from gaussmix import GaussianMixture
from gaussmix.data.model_file import ModelFileError
from gaussmix.estimators.persistence import load_model, save_model
from helpers import COVARIANCE_TYPES, FITTED_ARRAYS

DOC = Path(__file__).resolve().parents[2] / "docs" / "model-format.md"
FITTED_SCALARS = ["converged_", "n_iter_", "lower_bound_", "lower_bounds_", "n_features_in_"]

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ------------------------------------------------------------------------- helpers
def _save(model, path):
    """The public ``model.save`` once it exists, else ``save_model``."""
    if hasattr(model, "save"):
        model.save(path)
    else:
        save_model(model, path)


def _load(path):
    """The public ``gaussmix.load`` once it exists, else ``load_model``."""
    return getattr(gaussmix, "load", load_model)(path)


def _fitted(covariance_type="full", dtype=np.float64, **params):
    """A model fitted on 3 well-separated clusters (1 feature for univariate-only types)."""
    X, _ = make_blobs(240, 3, centers=3, cluster_std=1.0, random_state=0)
    params = {"random_state": 0, **params}
    try:
        return GaussianMixture(3, covariance_type=covariance_type, **params).fit(
            X.astype(dtype)
        ), X.astype(dtype)
    except ValueError:
        # Covariance types defined for one feature only refuse 3 features.
        X1 = np.ascontiguousarray(X[:, :1], dtype=dtype)
        return GaussianMixture(3, covariance_type=covariance_type, **params).fit(X1), X1


@pytest.fixture
def saved(tmp_path):
    """A saved full-covariance float64 model: ``(model, X, path)``."""
    model, X = _fitted()
    path = tmp_path / "model.gmm.npz"
    save_model(model, path)
    return model, X, path


def _members(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_zip(path, members: dict, resum: bool = True) -> None:
    """Write members as a ZIP, recomputing SHA256SUMS over the others when ``resum``."""
    members = dict(members)
    if resum and "SHA256SUMS" in members:
        members["SHA256SUMS"] = "".join(
            f"{hashlib.sha256(data).hexdigest()}  {name}\n"
            for name, data in members.items()
            if name != "SHA256SUMS"
        ).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _edited_metadata(path, edit, target, resum=True):
    members = _members(path)
    metadata = json.loads(members["metadata.json"])
    edit(metadata)
    members["metadata.json"] = json.dumps(metadata).encode()
    _write_zip(target, members, resum=resum)
    return target


def _assert_refused(path, *fragments):
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def _assert_params_equal(original, loaded):
    expected, actual = original.get_params(), loaded.get_params()
    assert expected.keys() == actual.keys()
    for name, value in expected.items():
        if isinstance(value, np.random.RandomState):
            for a, b in zip(value.get_state(), actual[name].get_state()):
                np.testing.assert_array_equal(a, b)
        elif isinstance(value, (np.ndarray, list, tuple)):
            np.testing.assert_array_equal(actual[name], value)
            assert np.asarray(actual[name]).dtype == np.asarray(value).dtype
        elif isinstance(value, np.generic):
            # Documented: a NumPy scalar comes back as the Python number of the same value.
            assert actual[name] == value and type(actual[name]) is type(value.item()), name
        else:
            assert actual[name] == value and type(actual[name]) is type(value), name


def _assert_same_model(original, loaded, X):
    assert type(loaded) is GaussianMixture
    for name in FITTED_ARRAYS:
        expected, actual = getattr(original, name), getattr(loaded, name)
        assert actual.dtype == expected.dtype, name
        assert actual.shape == expected.shape, name
        assert np.array_equal(actual, expected), name
    for name in FITTED_SCALARS:
        assert getattr(loaded, name) == getattr(original, name), name
        assert type(getattr(loaded, name)) is type(getattr(original, name)), name
    _assert_params_equal(original, loaded)
    np.testing.assert_array_equal(loaded.predict(X), original.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), original.predict_proba(X))
    np.testing.assert_array_equal(loaded.score_samples(X), original.score_samples(X))


# ------------------------------------------------------------------------ round trip
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_round_trip_is_bit_for_bit(tmp_path, covariance_type, dtype):
    model, X = _fitted(covariance_type, dtype)
    assert model.means_.dtype == dtype
    path = tmp_path / f"{covariance_type}.gmm.npz"
    _save(model, path)
    loaded = _load(path)
    _assert_same_model(model, loaded, X)
    assert not hasattr(loaded, "labels_")  # training-data sized: documented as not stored
    # Same integer random_state: the same draws.
    for a, b in zip(model.sample(11), loaded.sample(11)):
        np.testing.assert_array_equal(a, b)


def test_round_trip_keeps_array_params_random_state_and_feature_names(tmp_path):
    X, _ = make_blobs(200, 2, centers=2, random_state=3)
    frame = pd.DataFrame(X, columns=["eruptions (min)", "waiting (min)"])
    starts = SkGaussianMixture(2, max_iter=1, random_state=1).fit(X)
    model = GaussianMixture(
        2,
        weights_init=[0.5, 0.5],  # a list: documented to come back as an array
        means_init=starts.means_,
        precisions_init=starts.precisions_,
        random_state=np.random.RandomState(7),
        tol=np.float32(1e-4),
    ).fit(frame)
    path = tmp_path / "model.gmm.npz"
    save_model(model, path)
    loaded = load_model(path)
    _assert_same_model(model, loaded, frame)
    np.testing.assert_array_equal(loaded.feature_names_in_, model.feature_names_in_)
    assert loaded.feature_names_in_.dtype == object
    assert isinstance(loaded.get_params()["weights_init"], np.ndarray)
    # The random state is restored as it was at saving: both draw the same next samples.
    for a, b in zip(model.sample(9), loaded.sample(9)):
        np.testing.assert_array_equal(a, b)
    # A DataFrame with the same columns is accepted, other names are refused as by any fit.
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame.rename(columns={"waiting (min)": "other"}))


def test_max_iter_zero_model_has_infinite_bound_in_strict_json(tmp_path):
    X, _ = make_blobs(100, 2, centers=2, random_state=0)
    model = GaussianMixture(2, max_iter=0, random_state=0).fit(X)
    assert model.lower_bound_ == -np.inf
    path = tmp_path / "model.gmm.npz"
    save_model(model, path)

    def refuse_constant(name):
        raise AssertionError(f"non-strict JSON literal {name}")

    json.loads(_members(path)["metadata.json"], parse_constant=refuse_constant)
    loaded = load_model(path)
    assert loaded.lower_bound_ == -np.inf
    _assert_same_model(model, loaded, X)


def test_saving_the_same_model_twice_gives_the_same_bytes(tmp_path):
    model, _ = _fitted("diag")
    save_model(model, tmp_path / "a")
    save_model(model, tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_overwrites_an_existing_file(saved, tmp_path):
    _, _, path = saved
    other, X = _fitted("spherical")
    save_model(other, path)
    _assert_same_model(other, load_model(path), X)


# ------------------------------------------------------------ layout and the doc
def _doc_first_table(heading: str) -> dict:
    """``{first column: second column}`` of the first table under a ``##`` heading."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1]
    return rows


def _doc_code(marker: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    return next(block for block in blocks if marker in block)


def test_members_are_those_the_doc_lists(saved, tmp_path):
    _, _, path = saved
    documented = _doc_first_table("Members")
    always = {name for name, present in documented.items() if present == "always"}
    with np.load(path, allow_pickle=False) as archive:
        stored = set(zipfile.ZipFile(path).namelist())
        assert stored == always
        # NumPy lists arrays without ".npy" and hands text members over as bytes.
        assert set(archive.files) == {name.removesuffix(".npy") for name in always}
        metadata = json.loads(archive["metadata.json"])
    assert set(metadata) == set(_doc_first_table("metadata.json"))
    assert metadata["format"] == "gaussmix-model" and metadata["format_version"] == 1
    assert metadata["gaussmix_version"] == gaussmix.__version__

    # Array parameters go under the documented params/<name>.npy.
    assert "params/<name>.npy" in documented
    model, _ = _fitted(means_init=saved[0].means_, random_state=np.random.RandomState(0))
    save_model(model, tmp_path / "with-params")
    extra = set(zipfile.ZipFile(tmp_path / "with-params").namelist()) - always
    assert extra == {"params/means_init.npy", "params/random_state.npy"}


def test_checksums_cover_every_other_member(saved):
    _, _, path = saved
    members = _members(path)
    listed = {}
    for line in members.pop("SHA256SUMS").decode("ascii").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    assert listed == {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_numpy_only_reader_of_the_doc_gives_the_model_density(tmp_path, covariance_type):
    model, X = _fitted(covariance_type)
    path = tmp_path / "model.gmm.npz"
    save_model(model, path)
    namespace = {}
    exec(_doc_code("def log_density"), namespace)
    expected = model.score_samples(X)
    np.testing.assert_allclose(namespace["log_density"](path, X), expected, rtol=1e-10)
    with np.load(path, allow_pickle=False) as archive:
        metadata = json.loads(archive["metadata.json"])
        np.testing.assert_array_equal(archive["covariances_"], model.covariances_)
    assert metadata["params"]["covariance_type"] == covariance_type
    # The documented layout names, by the shape each stores.
    shapes = {
        "full": (3, X.shape[1], X.shape[1]),
        "tied": (X.shape[1], X.shape[1]),
        "diag": (3, X.shape[1]),
        "spherical": (3,),
    }
    assert model.covariances_.shape == shapes[metadata["covariance_storage"]]


def test_doc_quick_read_example_runs(saved, monkeypatch):
    _, _, path = saved
    monkeypatch.chdir(path.parent)
    exec(_doc_code('archive["means_"]  # (K, D)'), {})


# --------------------------------------------------------------------- refusals
@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.25, 0.5, 0.9, 0.99, -1, -22, -23])
def test_truncated_file_is_refused(saved, tmp_path, fraction):
    _, _, path = saved
    data = path.read_bytes()
    cut = int(len(data) * fraction) if fraction >= 0 else len(data) + fraction
    truncated = tmp_path / "truncated.gmm.npz"
    truncated.write_bytes(data[:cut])
    _assert_refused(truncated)


def test_flipped_byte_in_an_array_member_is_refused(saved, tmp_path):
    _, _, path = saved
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("means_.npy")
    # The member's data start after its 30-byte local header, name and extra field.
    name_length, extra_length = np.frombuffer(
        data[info.header_offset + 26 : info.header_offset + 30], dtype="<u2"
    )
    data_start = info.header_offset + 30 + int(name_length) + int(extra_length)
    data[data_start + info.file_size - 3] ^= 0x10  # inside the last float
    flipped = tmp_path / "flipped.gmm.npz"
    flipped.write_bytes(bytes(data))
    _assert_refused(flipped, "'means_.npy'", "corrupted")


def test_edited_member_with_a_valid_zip_fails_its_digest(saved, tmp_path):
    _, _, path = saved
    members = _members(path)
    means = np.load(io.BytesIO(members["means_.npy"]))
    means[0, 0] += 1.0
    members["means_.npy"] = _npy(means)
    _write_zip(tmp_path / "edited", members, resum=False)
    _assert_refused(tmp_path / "edited", "'means_.npy'", "SHA-256")


def test_edited_metadata_fails_its_digest(saved, tmp_path):
    _, _, path = saved

    def edit(metadata):
        metadata["fitted"]["n_iter_"] += 1

    target = _edited_metadata(path, edit, tmp_path / "edited", resum=False)
    _assert_refused(target, "'metadata.json'", "SHA-256")


def test_newer_format_version_asks_to_upgrade(saved, tmp_path):
    _, _, path = saved

    def edit(metadata):
        metadata["format_version"] = 999
        metadata["gaussmix_version"] = "9.0.0"

    target = _edited_metadata(path, edit, tmp_path / "future")
    _assert_refused(target, "newer gaussmix 9.0.0", "version 999", "Upgrade gaussmix")


@pytest.mark.parametrize("value", ["sklearn-model", None])
def test_other_format_is_refused(saved, tmp_path, value):
    _, _, path = saved
    target = _edited_metadata(path, lambda m: m.update(format=value), tmp_path / "other")
    _assert_refused(target, "not a gaussmix model")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        bytes(np.random.RandomState(0).randint(0, 256, 5000, dtype=np.uint8)),
        b"PK\x03\x04" + b"\0" * 100,
    ],
    ids=["empty", "random", "zip-magic-only"],
)
def test_files_that_are_not_archives_are_refused(tmp_path, content):
    path = tmp_path / "model.gmm.npz"
    path.write_bytes(content)
    _assert_refused(path, "not a ZIP archive")


def test_pickle_file_is_refused_without_unpickling(saved, tmp_path):
    model, _, _ = saved
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    _assert_refused(path, "not a ZIP archive")


def test_plain_npz_is_refused(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, means_=np.zeros((2, 2)))
    _assert_refused(path, "metadata.json", "not a gaussmix model file")


@pytest.mark.parametrize("member", ["SHA256SUMS", *[f"{name}.npy" for name in FITTED_ARRAYS]])
def test_missing_member_is_refused(saved, tmp_path, member):
    _, _, path = saved
    members = _members(path)
    del members[member]
    _write_zip(tmp_path / "missing", members)
    _assert_refused(tmp_path / "missing", f"missing member '{member}'")


def test_unexpected_member_is_refused(saved, tmp_path):
    _, _, path = saved
    members = _members(path)
    members = {"extra.npy": _npy(np.zeros(3)), **members}
    _write_zip(tmp_path / "extra", members)
    _assert_refused(tmp_path / "extra", "unexpected member", "'extra.npy'")


def test_invalid_json_is_refused(saved, tmp_path):
    _, _, path = saved
    members = _members(path)
    members["metadata.json"] = members["metadata.json"][:-20]
    _write_zip(tmp_path / "json", members)
    _assert_refused(tmp_path / "json", "not valid UTF-8 JSON")


def test_array_shape_that_disagrees_is_refused(saved, tmp_path):
    model, _, path = saved
    members = _members(path)
    members["means_.npy"] = _npy(model.means_[:2])
    _write_zip(tmp_path / "shape", members)
    _assert_refused(tmp_path / "shape", "'means_' has shape (2, 3)", "(3, 3)")


def _npy_claiming(shape, payload: bytes) -> bytes:
    """A version 1.0 .npy member written by hand: a header claiming ``shape``, then ``payload``."""
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape!r}, }}"
    padding = 64 - (10 + len(header) + 1) % 64
    header = (header + " " * padding + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload


def test_array_header_claiming_more_than_the_file_holds_is_refused(saved, tmp_path):
    """The issue's 10^12-row header: refused from its size, before allocating anything."""
    model, _, path = saved
    members = _members(path)
    members["means_.npy"] = _npy_claiming((10**12, 3), model.means_.tobytes())
    _write_zip(tmp_path / "huge", members)
    _assert_refused(tmp_path / "huge", "'means_.npy'", "(1000000000000, 3)", "72 bytes follow")


def test_hand_written_array_member_of_the_right_size_is_read(saved, tmp_path):
    """The size check compares with what a correct header and payload give."""
    model, X, path = saved
    members = _members(path)
    members["means_.npy"] = _npy_claiming(model.means_.shape, model.means_.tobytes())
    _write_zip(tmp_path / "hand", members)
    _assert_same_model(model, load_model(tmp_path / "hand"), X)


def test_deeply_nested_metadata_is_refused_without_recursion(saved, tmp_path):
    _, _, path = saved
    members = _members(path)
    # Far deeper than Python's recursion limit, as a hostile file would be; valid JSON.
    deep = "[" * 100_000 + "]" * 100_000
    text = json.dumps(json.loads(members["metadata.json"]))
    members["metadata.json"] = text.replace('"params": {', f'"params": {{"x": {deep}, ', 1).encode()
    _write_zip(tmp_path / "deep", members)
    _assert_refused(tmp_path / "deep", "nests 100002 levels deep")


def test_brackets_inside_strings_do_not_count_as_nesting(saved, tmp_path):
    model = saved[0]
    model.feature_names_in_ = np.array(["[" * 100, '{"' + "{" * 100, "]]"], dtype=object)
    save_model(model, tmp_path / "names")
    loaded = load_model(tmp_path / "names")
    assert list(loaded.feature_names_in_) == list(model.feature_names_in_)


def test_oversized_metadata_is_refused_before_it_is_parsed(saved, tmp_path):
    _, _, path = saved
    members = _members(path)
    limit = gaussmix.data.model_file.MAX_METADATA_BYTES
    # Valid JSON, padded with whitespace past the limit.
    members["metadata.json"] = members["metadata.json"] + b" " * limit
    _write_zip(tmp_path / "big", members)
    _assert_refused(tmp_path / "big", "'metadata.json'", f"{limit:,}")


def test_compressed_member_is_refused(saved, tmp_path):
    _, _, path = saved
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp_path / "deflated", "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info), zipfile.ZIP_DEFLATED)
    _assert_refused(tmp_path / "deflated", "compressed", "ZIP_STORED")


def test_metadata_over_the_limit_is_not_written(saved, tmp_path, monkeypatch):
    """No file is written that loading would refuse (a small limit keeps the test fast)."""
    model, _, _ = saved
    monkeypatch.setattr(gaussmix.data.model_file, "MAX_METADATA_BYTES", 4096)
    model.lower_bounds_ = [-1.2345678901234567] * 300
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="metadata would take"):
        save_model(model, tmp_path / "empty" / "long")
    assert _files(tmp_path / "empty") == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_saving_into_a_fifo_gives_the_bytes_of_a_regular_file(saved, tmp_path):
    """A pipe cannot be sought back to; the reader still gets the very same file."""
    import threading

    model, _, path = saved
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []

    def read():
        with open(fifo, "rb") as pipe:
            received.append(pipe.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    save_model(model, fifo)
    reader.join(timeout=30)
    assert received == [path.read_bytes()]
    assert _files(tmp_path) == ["model.gmm.npz", "pipe"]


def test_n_components_that_disagrees_with_the_arrays_is_refused(saved, tmp_path):
    _, _, path = saved
    target = _edited_metadata(
        path, lambda m: m["params"].update(n_components=4), tmp_path / "components"
    )
    _assert_refused(target, "'weights_' has shape (3,)", "n_components=4")


def test_nan_in_an_array_is_refused_even_with_a_matching_digest(saved, tmp_path):
    model, _, path = saved
    members = _members(path)
    covariances = model.covariances_.copy()
    covariances[1, 0, 0] = np.nan
    members["covariances_.npy"] = _npy(covariances)
    _write_zip(tmp_path / "nan", members)
    _assert_refused(tmp_path / "nan", "'covariances_' contains NaN")


def test_array_in_another_dtype_is_refused(saved, tmp_path):
    model, _, path = saved
    members = _members(path)
    members["weights_.npy"] = _npy(model.weights_.astype(np.float32))
    _write_zip(tmp_path / "dtype", members)
    _assert_refused(tmp_path / "dtype", "'weights_' has dtype float32")


def test_weights_that_do_not_sum_to_one_are_refused(saved, tmp_path):
    model, _, path = saved
    members = _members(path)
    members["weights_.npy"] = _npy(model.weights_ * 1.1)
    _write_zip(tmp_path / "weights", members)
    _assert_refused(tmp_path / "weights", "'weights_'", "sum to 1")


def test_unknown_covariance_type_lists_the_known_ones(saved, tmp_path):
    _, _, path = saved
    target = _edited_metadata(
        path, lambda m: m["params"].update(covariance_type="banana"), tmp_path / "type"
    )
    known = ", ".join(sorted(gaussmix.covariance.COVARIANCE_MODELS))
    _assert_refused(target, "unknown covariance_type 'banana'", known)


def test_unknown_estimator_class_is_refused(saved, tmp_path):
    _, _, path = saved
    target = _edited_metadata(path, lambda m: m.update(estimator="os.system"), tmp_path / "cls")
    _assert_refused(target, "unknown estimator 'os.system'", "GaussianMixture")


def test_unknown_parameter_is_refused(saved, tmp_path):
    _, _, path = saved
    target = _edited_metadata(
        path, lambda m: m["params"].update(new_option=True), tmp_path / "param"
    )
    _assert_refused(target, "new_option", "upgrade gaussmix")


def test_invalid_parameter_value_is_refused(saved, tmp_path):
    _, _, path = saved
    target = _edited_metadata(path, lambda m: m["params"].update(tol=-1.0), tmp_path / "tol")
    _assert_refused(target, "tol")


def test_missing_file_and_folder_raise_oserror_with_the_path(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        load_model(tmp_path / "absent.gmm.npz")
    assert caught.value.filename == str(tmp_path / "absent.gmm.npz")
    with pytest.raises(IsADirectoryError) as caught:
        load_model(tmp_path)
    assert caught.value.filename == str(tmp_path)


# ----------------------------------------------------------------- save refusals
def test_unfitted_estimator_is_refused(tmp_path):
    with pytest.raises(NotFittedError):
        save_model(GaussianMixture(2), tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_other_estimator_class_is_refused(tmp_path):
    X, _ = make_blobs(50, 2, random_state=0)
    model = SkGaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(TypeError, match="GaussianMixture"):
        save_model(model, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_non_finite_fitted_attribute_is_refused_before_writing(saved, tmp_path):
    model, _, _ = saved
    model.means_[0, 0] = np.inf
    with pytest.raises(ValueError, match="'means_' contains NaN or infinity"):
        save_model(model, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


# ----------------------------------------------------------------- atomic write
def _files(folder):
    return sorted(path.name for path in Path(folder).iterdir())


def test_missing_folder_raises_with_the_target_path(tmp_path):
    model, _ = _fitted("diag")
    target = tmp_path / "absent" / "model.gmm.npz"
    with pytest.raises(FileNotFoundError) as caught:
        save_model(model, target)
    assert caught.value.filename == str(target)
    assert _files(tmp_path) == []


def test_parent_that_is_a_file_raises(tmp_path):
    model, _ = _fitted("diag")
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(NotADirectoryError):
        save_model(model, tmp_path / "file" / "model.gmm.npz")
    assert _files(tmp_path) == ["file"]


def test_unwritable_folder_raises_and_leaves_nothing(tmp_path):
    model, _ = _fitted("diag")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running with privileges that ignore folder permissions (root)")
        with pytest.raises(PermissionError) as caught:
            save_model(model, folder / "model.gmm.npz")
        assert caught.value.filename == str(folder / "model.gmm.npz")
        assert _files(folder) == []
    finally:
        folder.chmod(0o700)


def test_target_that_is_a_folder_raises_and_leaves_no_temporary(tmp_path):
    model, _ = _fitted("diag")
    (tmp_path / "model.gmm.npz").mkdir()
    with pytest.raises(IsADirectoryError) as caught:
        save_model(model, tmp_path / "model.gmm.npz")
    assert caught.value.filename == str(tmp_path / "model.gmm.npz")
    assert _files(tmp_path) == ["model.gmm.npz"]


@pytest.mark.parametrize("stage", ["member", "fsync", "rename"])
def test_failure_while_writing_leaves_the_old_file_and_no_temporary(saved, monkeypatch, stage):
    _, _, path = saved
    before = path.read_bytes()
    other, _ = _fitted("tied")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if stage == "member":
        real_writestr = zipfile.ZipFile.writestr
        written = []

        def writestr_then_fail(self, info, data, *args, **kwargs):
            real_writestr(self, info, data, *args, **kwargs)
            written.append(info)
            if len(written) == 3:  # part of the archive is on disk already
                fail()

        monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr_then_fail)
    else:
        monkeypatch.setattr(os, {"fsync": "fsync", "rename": "replace"}[stage], fail)
    with pytest.raises(OSError, match="No space left") as caught:
        save_model(other, path)
    monkeypatch.undo()
    assert caught.value.filename == str(path)
    assert _files(path.parent) == [path.name]
    assert path.read_bytes() == before


def test_the_file_layer_round_trips_arrays_and_metadata_without_an_estimator(tmp_path):
    from gaussmix.data.model_file import StoredModel, read_model_file, write_model_file

    rng = np.random.default_rng(0)
    means = rng.normal(size=(2, 3))
    covariances = rng.uniform(0.5, 2.0, size=(2, 3))  # 'diag' storage
    arrays = {
        "weights_": np.array([0.25, 0.75]),
        "means_": means,
        "covariances_": covariances,
        "precisions_": 1.0 / covariances,
        "precisions_cholesky_": 1.0 / np.sqrt(covariances),
    }
    fitted = {
        "converged_": True,
        "n_iter_": 7,
        "lower_bound_": -1.5,
        "lower_bounds_": [-3.0, -1.5],
        "n_features_in_": 3,
    }
    params = {"n_components": 2, "covariance_type": "diag", "tol": 1e-3}
    write_model_file(tmp_path / "m", StoredModel("AnyMixture", params, fitted, arrays))
    stored = read_model_file(tmp_path / "m")
    assert stored.estimator == "AnyMixture"
    assert stored.params == params and stored.fitted == fitted
    for name, array in arrays.items():
        np.testing.assert_array_equal(stored.arrays[name], array)
    # Only the estimators' layer knows classes: an unknown one is refused there.
    with pytest.raises(ModelFileError, match="unknown estimator 'AnyMixture'"):
        load_model(tmp_path / "m")
