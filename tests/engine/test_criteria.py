"""Tests of ``gaussmix.engine.criteria``: BIC, AIC and ICL in both sign conventions, the
expansion of every covariance storage to full matrices, and the degeneracy measure of spurious fits.

Truths: scikit-learn's ``bic``/``aic`` on the same fitted model, ICL by brute force from
scikit-learn's responsibilities, hand-built covariance matrices, and SciPy's generalised
eigenvalues for the degeneracy ratio.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import scipy.linalg
from scipy.stats import special_ortho_group
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix import GaussianMixture, criteria
from helpers import dataset

SKLEARN_TYPES = ("spherical", "diag", "tied", "full")


@functools.cache
def _same_start_pair(covariance_type):
    """``(X, gaussmix model, scikit-learn model)`` run for 3 iterations from one start.

    The start is a converged gaussmix fit of the overlapping data set (three components
    whose responsibilities are far from 0 and 1); three more iterations from it leave
    both models with the same parameters up to rounding. Cached: several tests read it.
    """
    X, n_components = dataset("overlapping")
    start = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        init_params="random_from_data",
        random_state=7,
    ).fit(X)
    params = dict(
        n_components=n_components,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=3,
        weights_init=start.weights_,
        means_init=start.means_,
        precisions_init=start.precisions_,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0 runs every iteration
        return X, GaussianMixture(**params).fit(X), SkGaussianMixture(**params).fit(X)


def _identity_precisions(covariance_type, n_components, n_features):
    return {
        "full": np.tile(np.eye(n_features), (n_components, 1, 1)),
        "tied": np.eye(n_features),
        "diag": np.ones((n_components, n_features)),
        "spherical": np.ones(n_components),
    }[covariance_type]


# ----------------------------------------------------------------------- BIC and AIC
@pytest.mark.parametrize("covariance_type", SKLEARN_TYPES)
def test_bic_and_aic_equal_sklearn_and_mclust_sign_is_the_negative(covariance_type):
    X, gm, sk = _same_start_pair(covariance_type)
    X_new = np.random.RandomState(0).normal(scale=6.0, size=(50, X.shape[1]))
    for points in (X, X_new):
        np.testing.assert_allclose(gm.bic(points), sk.bic(points), rtol=1e-10)
        np.testing.assert_allclose(gm.aic(points), sk.aic(points), rtol=1e-10)
        assert gm.bic(points, convention="scikit-learn") == gm.bic(points)
        assert gm.bic(points, convention="mclust") == -gm.bic(points)
        assert gm.aic(points, convention="mclust") == -gm.aic(points)


def test_pure_bic_and_aic_follow_their_definitions():
    # -2 log L + p log n and -2 log L + 2 p, written out with numbers whose values are known.
    assert criteria.bic(-100.0, 5, np.e**2) == pytest.approx(200.0 + 5 * 2.0, rel=1e-15)
    assert criteria.aic(-100.0, 5) == 210.0
    assert criteria.bic(-100.0, 5, 50, convention="mclust") == -criteria.bic(-100.0, 5, 50)
    assert criteria.aic(-100.0, 5, convention="mclust") == -210.0


@pytest.mark.parametrize("function", ["bic", "aic", "icl"])
def test_unknown_convention_is_refused_naming_the_valid_ones(function):
    X, gm, _ = _same_start_pair("full")
    with pytest.raises(ValueError, match=r"'scikit-learn'.*'mclust'"):
        getattr(gm, function)(X, convention="R")


# ------------------------------------------------------------------------------- ICL
@pytest.mark.parametrize("covariance_type", SKLEARN_TYPES)
def test_icl_equals_brute_force_from_sklearn_responsibilities(covariance_type):
    X, gm, sk = _same_start_pair(covariance_type)
    resp = sk.predict_proba(X)
    # mclust's definition, written as the issue states it: BIC + 2 sum_i sum_k c_ik log z_ik
    # with c the one-hot MAP classification; in scikit-learn's sign its negative.
    c = np.zeros_like(resp)
    c[np.arange(len(X)), resp.argmax(axis=1)] = 1.0
    mclust_icl = -sk.bic(X) + 2.0 * np.sum(c * np.log(resp))
    np.testing.assert_allclose(gm.icl(X, convention="mclust"), mclust_icl, rtol=1e-9)
    np.testing.assert_allclose(gm.icl(X), -mclust_icl, rtol=1e-9)
    assert gm.icl(X, convention="mclust") == -gm.icl(X)
    # Overlapping components: some rows are uncertain, so ICL is strictly worse than BIC.
    assert gm.icl(X) > gm.bic(X) + 1.0


def test_pure_icl_is_bic_plus_twice_the_map_entropy():
    rng = np.random.RandomState(0)
    resp = rng.dirichlet(np.ones(4), size=30)
    log_resp = np.log(resp)
    entropy = -sum(np.log(row[np.argmax(row)]) for row in resp)
    expected = criteria.bic(-250.0, 9, 30) + 2.0 * entropy
    assert criteria.icl(-250.0, 9, 30, log_resp) == pytest.approx(expected, rel=1e-14)
    assert criteria.icl(-250.0, 9, 30, log_resp, convention="mclust") == pytest.approx(
        -expected, rel=1e-14
    )
    assert criteria.classification_entropy(log_resp) == pytest.approx(entropy, rel=1e-14)


@pytest.mark.parametrize("covariance_type", SKLEARN_TYPES)
def test_icl_is_never_below_bic_and_equals_it_for_separated_data(covariance_type):
    # Centres 200 standard deviations apart: every responsibility is 1 to rounding.
    centres = np.array([[0.0, 0.0], [200.0, 0.0], [0.0, 200.0]])
    X, _ = make_blobs(300, 2, centers=centres, random_state=0)
    gm = GaussianMixture(
        3,
        covariance_type=covariance_type,
        weights_init=np.full(3, 1 / 3),
        means_init=centres,
        precisions_init=_identity_precisions(covariance_type, 3, 2),
    ).fit(X)
    assert gm.predict_proba(X).max(axis=1).min() > 1 - 1e-12
    np.testing.assert_allclose(gm.icl(X), gm.bic(X), rtol=0, atol=1e-8)
    # Same model on points between the clusters, where the classification is uncertain.
    between = np.array([[100.0, 0.0], [0.0, 100.0], [100.0, 100.0], [30.0, 30.0]])
    assert gm.icl(between) >= gm.bic(between)


# --------------------------------------------------------- component covariance matrices
def _hand_built(storage, kind, n_components, n_features):
    """Full matrices from a storage array, by loops, one component at a time."""
    full = np.zeros((n_components, n_features, n_features))
    for k in range(n_components):
        for i in range(n_features):
            for j in range(n_features):
                if kind == "full":
                    full[k, i, j] = storage[k, i, j]
                elif kind == "tied":
                    full[k, i, j] = storage[i, j]
                elif kind == "diag":
                    full[k, i, j] = storage[k, i] if i == j else 0.0
                else:
                    full[k, i, j] = storage[k] if i == j else 0.0
    return full


def _storage(kind, n_components, n_features, rng):
    if kind == "full":
        A = rng.normal(size=(n_components, n_features, n_features))
        return A @ A.transpose(0, 2, 1) + np.eye(n_features)
    if kind == "tied":
        A = rng.normal(size=(n_features, n_features))
        return A @ A.T + np.eye(n_features)
    if kind == "diag":
        return rng.uniform(0.5, 3.0, size=(n_components, n_features))
    return rng.uniform(0.5, 3.0, size=n_components)


# scikit-learn names and mclust names with the same storage.
STORAGE_OF = {
    "full": "full",
    "VEV": "full",
    "EVV": "full",
    "tied": "tied",
    "EEE": "tied",
    "diag": "diag",
    "EEI": "diag",
    "VEI": "diag",
    "spherical": "spherical",
    "EII": "spherical",
}


@pytest.mark.parametrize("covariance_type", list(STORAGE_OF))
@pytest.mark.parametrize(("n_components", "n_features"), [(4, 3), (2, 5), (3, 3)])
def test_component_covariance_matrices_expand_every_storage(
    covariance_type, n_components, n_features
):
    kind = STORAGE_OF[covariance_type]
    storage = _storage(kind, n_components, n_features, np.random.RandomState(n_features))
    original = storage.copy()
    full = criteria.component_covariance_matrices(
        storage, covariance_type, n_components, n_features
    )
    np.testing.assert_array_equal(full, _hand_built(storage, kind, n_components, n_features))
    full[...] = 0.0  # the result is a new array, not a view of the storage
    np.testing.assert_array_equal(storage, original)


def test_component_covariance_matrices_tell_tied_from_diag_when_k_equals_d():
    # Shape (3, 3) is one shared matrix for 'tied' and three diagonals for 'diag'.
    storage = np.array([[2.0, 0.5, 0.1], [0.5, 3.0, 0.2], [0.1, 0.2, 4.0]])
    tied = criteria.component_covariance_matrices(storage, "tied", 3, 3)
    diag = criteria.component_covariance_matrices(storage, "diag", 3, 3)
    for k in range(3):
        np.testing.assert_array_equal(tied[k], storage)
        np.testing.assert_array_equal(diag[k], np.diag(storage[k]))


@pytest.mark.parametrize("covariance_type", ["E", "V"])
def test_component_covariance_matrices_of_univariate_models(covariance_type):
    variances = np.array([0.5, 2.0, 7.0])
    full = criteria.component_covariance_matrices(variances, covariance_type, 3, 1)
    np.testing.assert_array_equal(full, variances.reshape(3, 1, 1))


@pytest.mark.parametrize(
    ("covariance_type", "shape"),
    [
        ("full", (3, 2)),  # diagonals given to a full model
        ("full", (2, 2, 2)),  # one component too few
        ("diag", (3,)),
        ("diag", (3, 2, 2)),
        ("tied", (3, 2, 2)),
        ("tied", (2, 3)),
        ("spherical", (4,)),
        ("spherical", (3, 2)),
    ],
)
def test_component_covariance_matrices_refuse_a_wrong_shape(covariance_type, shape):
    with pytest.raises(ValueError, match=r"do not fit a .* model of 3 components and 2 features"):
        criteria.component_covariance_matrices(np.ones(shape), covariance_type, 3, 2)


def test_component_covariance_matrices_refuse_an_unknown_model():
    with pytest.raises(ValueError, match=r"Unknown covariance_type 'round'.*full"):
        criteria.component_covariance_matrices(np.ones(3), "round", 3, 2)


# -------------------------------------------------------------------------- degeneracy
def _generalised_min_eigenvalue(own, reference):
    """Smallest v' own v / v' reference v, by SciPy's generalised symmetric eigensolver."""
    return scipy.linalg.eigh(own, reference, eigvals_only=True)[0]


def _degenerate_setup():
    rng = np.random.RandomState(3)
    A = rng.normal(size=(3, 3))
    data_covariance = A @ A.T + 0.5 * np.eye(3)
    rotation = special_ortho_group.rvs(3, random_state=4)
    reg_covar = 1e-6
    flat = rotation @ np.diag([0.0, 2.0, 0.7]) @ rotation.T  # no variance along rotation[:, 0]
    covariances = np.stack(
        [
            flat + reg_covar * np.eye(3),
            data_covariance + reg_covar * np.eye(3),
            0.25 * data_covariance + reg_covar * np.eye(3),
            rotation @ np.diag([0.3, 1.0, 5.0]) @ rotation.T + reg_covar * np.eye(3),
        ]
    )
    return covariances, data_covariance, reg_covar


def test_degeneracy_ratio_is_the_smallest_relative_variance():
    covariances, data_covariance, reg_covar = _degenerate_setup()
    counts = np.array([12.0, 300.0, 80.5, 7.25])
    ratios, returned_counts = criteria.degeneracy(covariances, counts, data_covariance, reg_covar)

    # A component flat in a rotated direction: 0. As wide as the data: 1, up to the
    # regularisation of the reference. A quarter of the data's covariance: 1/4.
    assert ratios[0] < 1e-12
    assert ratios[1] == pytest.approx(1.0, abs=1e-5)
    assert ratios[2] == pytest.approx(0.25, abs=1e-5)
    reference = data_covariance + reg_covar * np.eye(3)
    expected = [
        max(_generalised_min_eigenvalue(c - reg_covar * np.eye(3), reference), 0.0)
        for c in covariances
    ]
    np.testing.assert_allclose(ratios, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(returned_counts, counts)


def test_degeneracy_is_scale_invariant():
    covariances, data_covariance, reg_covar = _degenerate_setup()
    counts = np.ones(4)
    ratios, _ = criteria.degeneracy(covariances, counts, data_covariance, reg_covar)
    # Data multiplied by 1e3: covariances and the regularisation by 1e6.
    scaled, _ = criteria.degeneracy(
        1e6 * covariances, counts, 1e6 * data_covariance, 1e6 * reg_covar
    )
    np.testing.assert_allclose(scaled, ratios, rtol=1e-8, atol=1e-12)


def test_degeneracy_is_never_negative_and_survives_a_constant_feature():
    # A component below the floor (possible with a prior or a rounding) reads as 0, not < 0.
    data_covariance = np.diag([2.0, 0.0])  # second feature constant
    covariances = np.stack([0.5e-6 * np.eye(2), np.diag([1.0, 1e-6])])
    ratios, _ = criteria.degeneracy(covariances, np.ones(2), data_covariance, 1e-6)
    assert np.all(np.isfinite(ratios))
    assert ratios[0] == 0.0
    # Zero variance along the constant feature is that feature's whole variance.
    assert ratios[1] == 0.0


def test_degeneracy_of_a_fitted_component_lying_on_a_line():
    # One cluster spread in 2-D, one lying exactly on a rotated line: its fitted
    # covariance is the reg_covar floor across the line.
    rng = np.random.RandomState(0)
    direction = np.array([np.cos(0.6), np.sin(0.6)])
    line = np.array([8.0, 8.0]) + rng.normal(size=(60, 1)) * direction
    blob = rng.normal(size=(200, 2))
    X = np.vstack([blob, line])
    for scale in (1.0, 1e3):
        Xs = scale * X
        reg_covar = 1e-6 * scale**2
        gm = GaussianMixture(
            2,
            covariance_type="full",
            reg_covar=reg_covar,
            weights_init=[0.5, 0.5],
            means_init=scale * np.array([[0.0, 0.0], [8.0, 8.0]]),
            precisions_init=_identity_precisions("full", 2, 2) / scale**2,
        ).fit(Xs)
        ratios, counts = criteria.degeneracy(
            criteria.component_covariance_matrices(gm.covariances_, "full", 2, 2),
            gm.weights_ * len(Xs),
            np.cov(Xs, rowvar=False),
            reg_covar,
        )
        on_line = int(np.argmin(np.abs(gm.means_[:, 0] - 8.0 * scale)))
        assert counts[on_line] == pytest.approx(60.0, abs=1e-6)
        assert ratios[on_line] < 1e-9
        # The other component is the blob: its own covariance against the data's.
        blob_ratio = _generalised_min_eigenvalue(
            np.cov(blob, rowvar=False, bias=True), np.cov(X, rowvar=False)
        )
        assert ratios[1 - on_line] == pytest.approx(blob_ratio, rel=1e-4)
