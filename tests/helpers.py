"""Independent references shared by the tests: data sets, starts and brute-force maths.

Nothing here calls gaussmix: every function is plain NumPy/SciPy/scikit-learn, so
that a test comparing gaussmix with these functions compares it with a truth that
does not share its code.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import multivariate_normal
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix.covariance import SKLEARN_NAMES

# scikit-learn's four names: the tests comparing with scikit-learn run over them;
# mclust's other models are tested in tests/test_covariance_mclust.py.
COVARIANCE_TYPES = sorted(SKLEARN_NAMES)
INIT_PARAMS = ["k-means++", "kmeans", "random", "random_from_data"]
FITTED_ARRAYS = ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]


# ---------------------------------------------------------------------------- data
def dataset(name: str):
    """``(X, n_components)`` of a named test data set (all small: at most 600 rows)."""
    if name == "separated":
        X, _ = make_blobs(400, 3, centers=3, cluster_std=1.0, random_state=0)
        return X, 3
    if name == "overlapping":
        # Spread (std 8) much larger than the distance between centres (within 6).
        X, _ = make_blobs(400, 2, centers=3, cluster_std=8.0, center_box=(-3, 3), random_state=1)
        return X, 3
    if name == "one_feature":
        X, _ = make_blobs(300, 1, centers=3, cluster_std=1.0, random_state=2)
        return X, 3
    if name == "fifty_features":
        X, _ = make_blobs(500, 50, centers=3, cluster_std=1.0, random_state=3)
        return X, 3
    if name == "one_component":
        X, _ = make_blobs(200, 3, centers=1, random_state=4)
        return X, 1
    raise KeyError(name)


DATASETS = ["separated", "overlapping", "one_feature", "fifty_features", "one_component"]


def sklearn_start(X, n_components, covariance_type, seed=42):
    """A start ``dict(weights_init=..., means_init=..., precisions_init=...)``.

    Taken from one EM iteration of scikit-learn from its own k-means start with a
    seed unrelated to the fits under test: a realistic, non-symmetric start that
    does not come from gaussmix.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = SkGaussianMixture(
            n_components, covariance_type=covariance_type, max_iter=1, random_state=seed
        ).fit(X)
    return {
        "weights_init": start.weights_,
        "means_init": start.means_,
        "precisions_init": start.precisions_,
    }


# ---------------------------------------------------------------- covariance shapes
def shape_kind(model, n_components, n_features):
    """Which family a model's covariance array is, read from its shape.

    Tests use n_components != n_features so that the shapes are unambiguous.
    """
    shape = tuple(model.covariance_shape(n_components, n_features))
    kinds = {
        (n_components, n_features, n_features): "per-component matrix",
        (n_features, n_features): "shared matrix",
        (n_components, n_features): "per-component diagonal",
        (n_components,): "per-component scalar",
    }
    assert shape in kinds, (
        f"covariance model {model.name!r} has covariance shape {shape}: teach "
        "tests/helpers.py how to expand it to full matrices"
    )
    return kinds[shape]


def to_full(model, covariances, n_components, n_features):
    """Expand a model's covariance array to ``(n_components, n_features, n_features)``."""
    kind = shape_kind(model, n_components, n_features)
    covariances = np.asarray(covariances, dtype=np.float64)
    if kind == "per-component matrix":
        return covariances.copy()
    if kind == "shared matrix":
        return np.repeat(covariances[None], n_components, axis=0)
    if kind == "per-component diagonal":
        return np.stack([np.diag(c) for c in covariances])
    return covariances[:, None, None] * np.eye(n_features)[None]


def random_spd(rng, n_features, scale=1.0):
    """A random well-conditioned symmetric positive-definite matrix."""
    A = rng.normal(size=(n_features, n_features))
    return scale * (A @ A.T / n_features + 0.5 * np.eye(n_features))


def random_covariances(model, rng, n_components, n_features):
    """Random valid covariances in the model's own representation."""
    kind = shape_kind(model, n_components, n_features)
    if kind == "per-component matrix":
        return np.stack([random_spd(rng, n_features) for _ in range(n_components)])
    if kind == "shared matrix":
        return random_spd(rng, n_features)
    if kind == "per-component diagonal":
        return rng.uniform(0.3, 3.0, size=(n_components, n_features))
    return rng.uniform(0.3, 3.0, size=n_components)


def textbook_n_parameters(model, n_components, n_features):
    """Free parameters of the covariances alone: a symmetric D x D matrix has D(D+1)/2."""
    kind = shape_kind(model, n_components, n_features)
    symmetric = n_features * (n_features + 1) // 2
    return {
        "per-component matrix": n_components * symmetric,
        "shared matrix": symmetric,
        "per-component diagonal": n_components * n_features,
        "per-component scalar": n_components,
    }[kind]


def brute_force_m_step(model, X, resp, sample_weight, reg_covar):
    """Weighted means and covariances (model representation) by the textbook formulas.

    ``resp`` has shape (n_samples, n_components); each row's responsibilities
    are multiplied by its sample weight.
    """
    n_samples, n_features = X.shape
    n_components = resp.shape[1]
    weights = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight, float)
    r = resp * weights[:, None]
    nk = r.sum(axis=0)
    means = (r.T @ X) / nk[:, None]
    scatter = np.stack(
        [((X - means[k]).T * r[:, k]) @ (X - means[k]) / nk[k] for k in range(n_components)]
    )
    kind = shape_kind(model, n_components, n_features)
    eye = np.eye(n_features)
    if kind == "per-component matrix":
        covariances = scatter + reg_covar * eye
    elif kind == "shared matrix":
        covariances = np.tensordot(nk, scatter, axes=1) / nk.sum() + reg_covar * eye
    elif kind == "per-component diagonal":
        covariances = np.stack([np.diag(s) for s in scatter]) + reg_covar
    else:
        covariances = np.trace(scatter, axis1=1, axis2=2) / n_features + reg_covar
    return nk, means, covariances


def mixture_log_prob(X, weights, means, full_covariances):
    """``log w_k + log N(x | mu_k, Sigma_k)``, shape (n_samples, n_components), by SciPy."""
    return np.column_stack(
        [
            np.log(w) + multivariate_normal(mean=m, cov=c).logpdf(X).reshape(-1)
            for w, m, c in zip(weights, means, full_covariances)
        ]
    )


def near_zero_atol(reference, floor):
    """An absolute tolerance for entries of ``reference`` that are near zero.

    Off-diagonal entries of covariances and precisions can be zero up to rounding
    while the matrix has entries of order one: their rounding error is of the order
    of eps times the largest entry (times a condition number), not of eps times
    themselves, so a relative tolerance alone would demand the impossible.
    ``floor`` times the largest magnitude of the array covers that and nothing more
    (1e-9 in float64, far below the 1e-6 relative agreement the tests ask of
    every entry of order one).
    """
    return floor * float(np.max(np.abs(reference))) if np.size(reference) else 0.0


def assert_models_close(actual, expected, rtol, floor=1e-9, attributes=FITTED_ARRAYS):
    """Compare fitted arrays of two mixture models attribute by attribute."""
    for name in attributes:
        got, want = getattr(actual, name), getattr(expected, name)
        np.testing.assert_allclose(
            got, want, rtol=rtol, atol=near_zero_atol(want, floor), err_msg=f"attribute {name}"
        )


# ------------------------------------------------------------ simulated mclust models
def rotation_2d(degrees):
    angle = np.deg2rad(degrees)
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def simulated_covariances(name, n_components):
    """Two-feature covariances that are in mclust model ``name`` and in no smaller one."""
    volume, shape, orientation = name
    covariances = []
    for k in range(n_components):
        scale = [1.0, 4.0][k] if volume == "V" else 1.5
        ratio = {"I": 1.0, "E": 5.0, "V": [8.0, 3.0][k]}[shape]
        # 45 degrees apart: as far from sharing axes as two orientations get.
        rotation = {"I": np.eye(2), "E": rotation_2d(30), "V": rotation_2d([20, 65][k])}
        rotation = rotation[orientation]
        spectrum = scale * np.array([np.sqrt(ratio), 1 / np.sqrt(ratio)])
        covariances.append(rotation @ np.diag(spectrum) @ rotation.T)
    return np.stack(covariances)


def simulated_mixture(name, n_samples, seed, separation=14.0):
    """Rows of a two-component mixture of mclust model ``name`` (two features)."""
    rng = np.random.RandomState(seed)
    covariances = simulated_covariances(name, 2)
    centres = np.array([[0.0, 0.0], [separation, 0.0]])
    labels = rng.randint(2, size=n_samples)
    return np.vstack(
        [
            rng.multivariate_normal(centres[k], covariances[k], size=int(np.sum(labels == k)))
            for k in range(2)
        ]
    )
