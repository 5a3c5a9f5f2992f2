"""Loading refuses model files whose arrays break a mixture's invariants.

Each file is a valid saved model with one member replaced by a bad array and
``SHA256SUMS`` recomputed the way docs/model-format.md documents (``sha256sum``
lines over every other member), so the digests pass and only the invariant
checks stand between the file and a model that fails later (in ``plot``,
``predict``, ``sample``). The truth for each bad array is linear algebra done
here: a matrix with a negative eigenvalue has no Cholesky factor, a scaled
covariance is no longer the inverse of the stored precision.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, make_blobs

from gaussmix import GaussianMixture
from gaussmix.data.model_file import ModelFileError
from gaussmix.estimators.persistence import load_model, save_model

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _saved(tmp_path, covariance_type, dtype=np.float64):
    X, _ = make_blobs(150, 3, centers=3, cluster_std=1.0, random_state=1)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    model.fit(X.astype(dtype))
    path = tmp_path / f"{covariance_type}.gmm.npz"
    save_model(model, path)
    return model, path


def _resigned(path, target, **replaced):
    """``path`` with members replaced (arrays by name) and SHA256SUMS recomputed."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    for name, value in replaced.items():
        if name == "metadata":
            members["metadata.json"] = json.dumps(value).encode()
            continue
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        members[f"{name}.npy"] = buffer.getvalue()
    members["SHA256SUMS"] = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        for name, data in members.items()
        if name != "SHA256SUMS"
    ).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def _refused(path, *fragments):
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message


def test_full_covariance_with_a_negative_variance_is_refused(tmp_path):
    model, path = _saved(tmp_path, "full")
    covariances = model.covariances_.copy()
    covariances[1, 2, 2] = -covariances[1, 2, 2]
    assert np.linalg.eigvalsh(covariances[1])[0] < 0  # truly not a covariance
    _refused(
        _resigned(path, tmp_path / "bad", covariances_=covariances),
        "'covariances_' matrix 1 is not positive definite",
    )


def test_indefinite_tied_covariance_is_refused(tmp_path):
    model, path = _saved(tmp_path, "tied")
    # Symmetric, positive diagonal, but a correlation above one: an eigenvalue < 0.
    covariance = model.covariances_.copy()
    covariance[0, 1] = covariance[1, 0] = 2 * np.sqrt(covariance[0, 0] * covariance[1, 1])
    assert np.linalg.eigvalsh(covariance)[0] < 0
    _refused(
        _resigned(path, tmp_path / "bad", covariances_=covariance),
        "'covariances_' is not positive definite",
    )


def test_asymmetric_covariance_is_refused(tmp_path):
    model, path = _saved(tmp_path, "full")
    covariances = model.covariances_.copy()
    covariances[0, 0, 1] += 0.5
    _refused(
        _resigned(path, tmp_path / "bad", covariances_=covariances),
        "'covariances_' matrix 0 is not symmetric",
    )


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
@pytest.mark.parametrize("name", ["covariances_", "precisions_", "precisions_cholesky_"])
def test_non_positive_variances_are_refused(tmp_path, covariance_type, name):
    model, path = _saved(tmp_path, covariance_type)
    values = getattr(model, name).copy()
    values.flat[1] = -values.flat[1]
    _refused(_resigned(path, tmp_path / "bad", **{name: values}), f"'{name}' has a non-positive")


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "VEE"])
def test_precision_factor_that_is_not_the_inverse_is_refused(tmp_path, covariance_type):
    model, path = _saved(tmp_path, covariance_type)
    # Twice the factor: P P' is four times the inverse of the covariance.
    factors = 2 * model.precisions_cholesky_
    _refused(
        _resigned(path, tmp_path / "bad", precisions_cholesky_=factors),
        "'precisions_cholesky_'",
        "'covariances_'",
    )


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_precisions_that_disagree_with_the_factor_are_refused(tmp_path, covariance_type):
    model, path = _saved(tmp_path, covariance_type)
    _refused(
        _resigned(path, tmp_path / "bad", precisions_=model.precisions_ * 1.5),
        "'precisions_",
        "'precisions_cholesky_'",
    )


def test_precision_factor_that_is_not_triangular_is_refused(tmp_path):
    model, path = _saved(tmp_path, "full")
    # P Q for a rotation Q: still P Q Q' P' = precision, but not a Cholesky factor,
    # so log-determinants read from its diagonal would be wrong.
    angle = 0.3
    rotation = np.eye(3)
    rotation[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    factors = model.precisions_cholesky_ @ rotation
    _refused(
        _resigned(path, tmp_path / "bad", precisions_cholesky_=factors),
        "'precisions_cholesky_' matrix 0 should be upper triangular",
    )


def test_negative_weight_summing_to_one_is_refused(tmp_path):
    model, path = _saved(tmp_path, "full")
    weights = model.weights_.copy()
    weights[0], weights[1] = weights[0] + 0.5, weights[1] - 0.5 - weights[1] - 0.01
    weights[2] = 1 - weights[0] - weights[1]
    assert weights[1] < 0 and np.isclose(weights.sum(), 1)
    _refused(_resigned(path, tmp_path / "bad", weights_=weights), "'weights_'", "non-negative")


def test_means_of_the_wrong_shape_are_refused(tmp_path):
    model, path = _saved(tmp_path, "full")
    _refused(
        _resigned(path, tmp_path / "bad", means_=model.means_[:, :2]),
        "'means_' has shape (3, 2)",
    )


def test_infinite_mean_is_refused(tmp_path):
    model, path = _saved(tmp_path, "full")
    means = model.means_.copy()
    means[0, 0] = np.inf
    _refused(_resigned(path, tmp_path / "bad", means_=means), "'means_' contains NaN or infinity")


def test_n_features_that_disagrees_with_the_arrays_is_refused(tmp_path):
    _, path = _saved(tmp_path, "full")
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    metadata["fitted"]["n_features_in_"] = 4
    _refused(_resigned(path, tmp_path / "bad", metadata=metadata), "n_features=4")


def test_ill_conditioned_float32_models_round_trip(tmp_path):
    # Unscaled breast-cancer features span six orders of magnitude and are nearly
    # collinear (radius, perimeter, area): in float32, P' Sigma P misses the
    # identity by up to a few percent through rounding alone. Such fits must load.
    X = load_breast_cancer().data.astype(np.float32)
    for covariance_type in ("full", "VVV", "tied", "diag"):
        model = GaussianMixture(4, covariance_type=covariance_type, random_state=0).fit(X)
        path = tmp_path / f"{covariance_type}.gmm.npz"
        save_model(model, path)
        loaded = load_model(path)
        np.testing.assert_array_equal(loaded.covariances_, model.covariances_)
