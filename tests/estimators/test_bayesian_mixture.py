"""``gaussmix.BayesianGaussianMixture`` against scikit-learn and the invariants of its fit.

The truth for the numbers is scikit-learn's ``BayesianGaussianMixture`` from the
same start: the same initial responsibilities (given to both), or the same seed.
"""

from __future__ import annotations

import json
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SkBayesianGaussianMixture
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

import gaussmix
from gaussmix import BayesianGaussianMixture, GaussianMixture
from gaussmix.estimators import bayesian_mixture
from gaussmix.starts import Assignment
from helpers import COVARIANCE_TYPES, FITTED_ARRAYS, INIT_PARAMS, near_zero_atol

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]
POSTERIOR = ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]
POSTERIOR += ["mean_precision_", "degrees_of_freedom_"]


class _SkFromResp(SkBayesianGaussianMixture):
    """scikit-learn's estimator started from given responsibilities (``resp_start``)."""

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.resp_start)


def _given_start(monkeypatch, resp=None, labels=None):
    """Make gaussmix's estimator start from these responsibilities or labels."""
    assignment = Assignment(labels=labels, resp=resp)
    monkeypatch.setattr(bayesian_mixture, "initial_assignment", lambda *args: assignment)


def _data(n_samples=240, n_features=3, seed=0, centers=4):
    X, _ = make_blobs(n_samples, n_features, centers=centers, cluster_std=1.5, random_state=seed)
    return X


def _soft_resp(n_samples, n_components, seed=1):
    resp = np.random.RandomState(seed).uniform(size=(n_samples, n_components))
    return resp / resp.sum(axis=1, keepdims=True)


def _assert_posteriors_close(actual, expected, rtol=1e-6):
    for name in POSTERIOR:
        want = np.asarray(getattr(expected, name), dtype=np.float64)
        np.testing.assert_allclose(
            getattr(actual, name), want, rtol=rtol, atol=near_zero_atol(want, 1e-9), err_msg=name
        )
    np.testing.assert_allclose(
        np.asarray(actual.weight_concentration_), np.asarray(expected.weight_concentration_), rtol
    )


# ------------------------------------------------------------------- parity
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_same_responsibilities_give_sklearn_model(monkeypatch, covariance_type, prior_type):
    X = _data()
    resp = _soft_resp(X.shape[0], 6)
    params = dict(
        n_components=6,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        tol=0.0,
        max_iter=20,
    )
    sk = _SkFromResp(**params)
    sk.resp_start = resp
    sk.fit(X)
    _given_start(monkeypatch, resp=resp)
    gm = BayesianGaussianMixture(**params).fit(X)

    _assert_posteriors_close(gm, sk)
    assert gm.n_iter_ == sk.n_iter_ == 20
    assert gm.converged_ == sk.converged_
    # scikit-learn's 'tied' bounds are arrays of one element.
    np.testing.assert_allclose(gm.lower_bound_, np.ravel(sk.lower_bound_)[0], rtol=1e-6)
    np.testing.assert_allclose(gm.lower_bounds_, np.ravel(sk.lower_bounds_), rtol=1e-6)
    new = X[::2] + np.random.RandomState(5).normal(scale=0.7, size=X[::2].shape)
    for points in (X, new):
        np.testing.assert_array_equal(gm.predict(points), sk.predict(points))
        np.testing.assert_allclose(
            gm.predict_proba(points), sk.predict_proba(points), rtol=1e-6, atol=1e-10
        )
        np.testing.assert_allclose(gm.score_samples(points), sk.score_samples(points), rtol=1e-6)
        np.testing.assert_allclose(gm.score(points), sk.score(points), rtol=1e-6)
    np.testing.assert_array_equal(gm.labels_, sk.predict(X))
    np.testing.assert_array_equal(BayesianGaussianMixture(**params).fit_predict(X), sk.predict(X))


@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_same_seed_gives_sklearn_model(init_params):
    X = _data(seed=1)
    params = dict(n_components=5, init_params=init_params, random_state=7, max_iter=200)
    sk = SkBayesianGaussianMixture(**params).fit(X)
    gm = BayesianGaussianMixture(**params).fit(X)
    assert gm.n_iter_ == sk.n_iter_
    assert gm.converged_ == sk.converged_
    _assert_posteriors_close(gm, sk)
    np.testing.assert_allclose(gm.lower_bounds_, sk.lower_bounds_, rtol=1e-6)


def test_n_init_keeps_sklearns_best_start():
    X = _data(seed=2, n_samples=150)
    params = dict(n_components=4, n_init=3, random_state=0, covariance_type="diag")
    sk = SkBayesianGaussianMixture(**params).fit(X)
    gm = BayesianGaussianMixture(**params).fit(X)
    _assert_posteriors_close(gm, sk)
    np.testing.assert_allclose(gm.lower_bound_, sk.lower_bound_, rtol=1e-6)


def test_default_priors_are_sklearns():
    X = _data(seed=3, n_samples=100)
    for covariance_type in COVARIANCE_TYPES:
        gm = BayesianGaussianMixture(n_components=3, covariance_type=covariance_type, max_iter=2)
        sk = SkBayesianGaussianMixture(n_components=3, covariance_type=covariance_type, max_iter=2)
        gm.fit(X)
        sk.fit(X)
        for name in ("weight_concentration_prior_", "mean_precision_prior_"):
            assert getattr(gm, name) == getattr(sk, name)
        assert gm.degrees_of_freedom_prior_ == sk.degrees_of_freedom_prior_
        np.testing.assert_allclose(gm.mean_prior_, sk.mean_prior_, rtol=1e-12)
        np.testing.assert_allclose(gm.covariance_prior_, sk.covariance_prior_, rtol=1e-12)


def test_warm_start_one_iteration_at_a_time_is_one_fit():
    X = _data(seed=4, n_samples=150)
    params = dict(n_components=5, random_state=0, tol=0.0)
    whole = BayesianGaussianMixture(max_iter=6, **params).fit(X)
    stepped = BayesianGaussianMixture(max_iter=1, warm_start=True, **params)
    bounds = [stepped.fit(X).lower_bound_ for _ in range(6)]
    np.testing.assert_allclose(bounds, whole.lower_bounds_, rtol=1e-12)
    _assert_posteriors_close(stepped, whole, rtol=1e-12)


def test_max_iter_zero_keeps_the_first_update():
    X = _data(seed=5, n_samples=120)
    params = dict(n_components=4, random_state=0, max_iter=0, covariance_type="tied")
    gm = BayesianGaussianMixture(**params).fit(X)
    sk = SkBayesianGaussianMixture(**params).fit(X)
    _assert_posteriors_close(gm, sk)
    assert gm.n_iter_ == 0 and gm.lower_bound_ == -np.inf and not gm.converged_


# ------------------------------------------------------------------- pruning
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", ["full", "diag", "EII"])
def test_three_separated_components_are_found_among_ten(covariance_type, prior_type):
    X, _ = make_blobs(450, 2, centers=[[0, 0], [12, 0], [0, 12]], cluster_std=1.0, random_state=0)
    bgm = BayesianGaussianMixture(
        n_components=10,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        random_state=0,
        max_iter=500,
    ).fit(X)
    assert bgm.effective_n_components_ == 3
    pruned = bgm.to_gaussian_mixture()
    assert isinstance(pruned, GaussianMixture)
    assert pruned.n_components == 3
    np.testing.assert_allclose(pruned.weights_.sum(), 1.0, rtol=1e-12)
    labels = bgm.predict(X)
    kept = np.unique(labels)
    assert kept.size == 3
    # The pruned mixture numbers the kept components in their order in the fit.
    np.testing.assert_array_equal(kept[pruned.predict(X)], labels)
    new = np.array([[0.5, -0.3], [11.0, 1.0], [-1.0, 13.0]])
    np.testing.assert_array_equal(kept[pruned.predict(new)], bgm.predict(new))


def test_pruned_mixture_is_saved_and_loaded(tmp_path):
    X = _data(seed=6, n_samples=200, centers=2)
    pruned = BayesianGaussianMixture(n_components=6, random_state=0).fit(X).to_gaussian_mixture()
    pruned.save(tmp_path / "pruned.gmm.npz")
    loaded = gaussmix.load(tmp_path / "pruned.gmm.npz")
    np.testing.assert_array_equal(loaded.predict(X), pruned.predict(X))
    np.testing.assert_array_equal(loaded.score_samples(X), pruned.score_samples(X))


# ------------------------------------------------------------------- sample_weight
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_equal_repeated_rows(monkeypatch, covariance_type, prior_type):
    X = _data(seed=7, n_samples=120)
    weights = np.random.RandomState(0).randint(0, 4, size=X.shape[0])
    labels = np.random.RandomState(1).randint(4, size=X.shape[0])
    params = dict(
        n_components=4,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        tol=0.0,
        max_iter=10,
    )
    _given_start(monkeypatch, labels=labels)
    weighted = BayesianGaussianMixture(**params).fit(X, sample_weight=weights)
    _given_start(monkeypatch, labels=np.repeat(labels, weights))
    repeated = BayesianGaussianMixture(**params).fit(np.repeat(X, weights, axis=0))
    _assert_posteriors_close(weighted, repeated, rtol=1e-9)
    np.testing.assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-9)
    np.testing.assert_allclose(weighted.covariance_prior_, repeated.covariance_prior_, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_zero_weights_equal_dropped_rows(monkeypatch, covariance_type):
    X = _data(seed=8, n_samples=120)
    keep = np.random.RandomState(1).rand(X.shape[0]) < 0.6
    labels = np.random.RandomState(2).randint(4, size=X.shape[0])
    params = dict(n_components=4, covariance_type=covariance_type, tol=0.0, max_iter=10)
    _given_start(monkeypatch, labels=labels)
    weighted = BayesianGaussianMixture(**params).fit(X, sample_weight=keep.astype(float))
    _given_start(monkeypatch, labels=labels[keep])
    dropped = BayesianGaussianMixture(**params).fit(X[keep])
    _assert_posteriors_close(weighted, dropped, rtol=1e-9)
    np.testing.assert_allclose(weighted.lower_bounds_, dropped.lower_bounds_, rtol=1e-9)


def test_score_with_weights_is_the_weighted_mean_of_score_samples():
    X = _data(seed=9, n_samples=100)
    weights = np.random.RandomState(0).uniform(0.0, 2.0, size=X.shape[0])
    bgm = BayesianGaussianMixture(n_components=3, random_state=0).fit(X, sample_weight=weights)
    expected = np.average(bgm.score_samples(X), weights=weights)
    np.testing.assert_allclose(bgm.score(X, sample_weight=weights), expected, rtol=1e-12)


def test_weights_summing_to_one_need_a_covariance_prior():
    X = _data(seed=9, n_samples=50)
    weights = np.full(50, 1.0 / 50)
    with pytest.raises(ValueError, match="covariance_prior"):
        BayesianGaussianMixture(n_components=2).fit(X, sample_weight=weights)
    BayesianGaussianMixture(n_components=2, covariance_prior=np.eye(3)).fit(
        X, sample_weight=weights
    )


# ------------------------------------------------------------------- dtypes, models
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_is_kept_and_matches_float64(covariance_type):
    X = _data(seed=10, n_samples=200)
    params = dict(n_components=4, covariance_type=covariance_type, random_state=0, tol=0.0)
    single = BayesianGaussianMixture(max_iter=15, **params).fit(X.astype(np.float32))
    double = BayesianGaussianMixture(max_iter=15, **params).fit(X)
    for name in [*FITTED_ARRAYS, "mean_precision_"]:
        assert getattr(single, name).dtype == np.float32, name
    assert single.predict_proba(X.astype(np.float32)).dtype == np.float32
    _assert_posteriors_close(single, double, rtol=1e-4)
    np.testing.assert_allclose(single.lower_bounds_, double.lower_bounds_, rtol=1e-4)


def test_float32_tight_clusters_far_from_the_centre_keep_their_digits():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0.0, 0.01, (300, 2)), rng.normal(1000.0, 0.01, (300, 2))])
    params = dict(n_components=2, covariance_type="full", random_state=0, tol=0.0, max_iter=10)
    single = BayesianGaussianMixture(**params).fit(X.astype(np.float32))
    double = BayesianGaussianMixture(**params).fit(X.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(single.covariances_, double.covariances_, rtol=1e-3)


def test_mclust_names_of_sklearn_models_give_identical_fits():
    X = _data(seed=11, n_samples=150)
    for sklearn_name, mclust_name in [
        ("full", "VVV"),
        ("tied", "EEE"),
        ("diag", "VVI"),
        ("spherical", "VII"),
    ]:
        a = BayesianGaussianMixture(n_components=3, covariance_type=sklearn_name, random_state=0)
        b = BayesianGaussianMixture(n_components=3, covariance_type=mclust_name, random_state=0)
        _assert_posteriors_close(a.fit(X), b.fit(X), rtol=0.0)


@pytest.mark.parametrize("covariance_type", ["EII", "EEI"])
def test_shared_diagonal_models_keep_their_constraint(covariance_type):
    X = _data(seed=12, n_samples=150)
    bgm = BayesianGaussianMixture(n_components=4, covariance_type=covariance_type, random_state=0)
    bgm.fit(X)
    assert np.ptp(bgm.covariances_, axis=0).max() == 0.0
    assert np.ptp(bgm.degrees_of_freedom_) == 0.0
    assert np.all(np.diff(bgm.lower_bounds_) >= -1e-9 * np.abs(bgm.lower_bounds_[:-1]))


def test_hc_start_is_deterministic():
    X = _data(seed=13, n_samples=150)
    a = BayesianGaussianMixture(n_components=4, init_params="hc", random_state=0).fit(X)
    b = BayesianGaussianMixture(n_components=4, init_params="hc", random_state=1).fit(X)
    _assert_posteriors_close(a, b, rtol=0.0)


@pytest.mark.parametrize(
    "covariance_type", ["VEI", "EVI", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV"]
)
def test_models_without_a_closed_form_posterior_are_refused(covariance_type):
    with pytest.raises(ValueError, match="no closed-form conjugate variational posterior"):
        BayesianGaussianMixture(n_components=2, covariance_type=covariance_type).fit(_data())


# ------------------------------------------------------------------- bad priors
@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"weight_concentration_prior": -1.0}, InvalidParameterError, "weight_concentration_prior"),
        ({"weight_concentration_prior": 0.0}, InvalidParameterError, "weight_concentration_prior"),
        ({"mean_precision_prior": -2.0}, InvalidParameterError, "mean_precision_prior"),
        ({"mean_prior": [0.0, 1.0]}, ValueError, r"'mean_prior' should have the shape of \(3,\)"),
        ({"mean_prior": [0.0, np.nan, 1.0]}, ValueError, "'mean_prior' contains NaN"),
        (
            {"degrees_of_freedom_prior": 1.5},
            ValueError,
            "'degrees_of_freedom_prior' should be greater than 2, but got 1.500",
        ),
        (
            {"covariance_prior": np.diag([1.0, -1.0, 1.0])},
            ValueError,
            "'covariance_prior' should be symmetric positive definite",
        ),
        (
            {"covariance_prior": np.array([[1.0, 2.0, 0], [0, 1.0, 0], [0, 0, 1.0]])},
            ValueError,
            "'covariance_prior' should be symmetric positive definite",
        ),
        ({"covariance_prior": np.eye(2)}, ValueError, "'covariance_prior' should be a symmetric"),
        (
            {"covariance_type": "diag", "covariance_prior": [1.0, 0.0, 2.0]},
            ValueError,
            "'covariance_prior' should be positive",
        ),
        (
            {"covariance_type": "diag", "covariance_prior": np.eye(3)},
            ValueError,
            r"'covariance_prior' should be one positive variance per feature of shape \(3,\)",
        ),
        (
            {"covariance_type": "spherical", "covariance_prior": -1.0},
            InvalidParameterError,
            "covariance_prior",
        ),
        ({"weight_concentration_prior_type": "dirichlet"}, InvalidParameterError, "prior_type"),
    ],
)
def test_bad_priors_are_refused_naming_the_parameter(params, error, match):
    with pytest.raises(error, match=match):
        BayesianGaussianMixture(n_components=2, **params).fit(_data(n_samples=60))


# ------------------------------------------------------------------- model files
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", [*COVARIANCE_TYPES, "EEI"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_and_load_give_the_same_model(tmp_path, covariance_type, prior_type, dtype):
    X = _data(seed=14, n_samples=120).astype(dtype)
    bgm = BayesianGaussianMixture(
        n_components=4,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        random_state=np.random.RandomState(3),
    ).fit(X)
    path = tmp_path / "model.gmm.npz"
    bgm.save(path)
    loaded = gaussmix.load(path)
    assert type(loaded) is BayesianGaussianMixture
    assert loaded.get_params()["covariance_type"] == covariance_type
    for name in [*POSTERIOR, "mean_prior_", "covariance_prior_", "lower_bounds_"]:
        want, got = getattr(bgm, name), getattr(loaded, name)
        assert np.asarray(got).dtype == np.asarray(want).dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert type(loaded.weight_concentration_) is type(bgm.weight_concentration_)
    np.testing.assert_array_equal(
        np.asarray(loaded.weight_concentration_), np.asarray(bgm.weight_concentration_)
    )
    np.testing.assert_array_equal(loaded.predict(X), bgm.predict(X))
    np.testing.assert_array_equal(loaded.score_samples(X), bgm.score_samples(X))
    assert loaded.effective_n_components_ == bgm.effective_n_components_
    assert loaded.sample(5)[0].shape == bgm.sample(5)[0].shape
    with zipfile.ZipFile(path) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    assert metadata["format_version"] == 2 and metadata["kind"] == "variational"
    # Continues where the saved fit stopped.
    loaded.set_params(warm_start=True, max_iter=1).fit(X)
    assert loaded.lower_bound_ >= bgm.lower_bound_ - 1e-6 * abs(bgm.lower_bound_)


def test_gaussian_mixture_files_stay_version_one(tmp_path):
    X = _data(seed=15, n_samples=100)
    GaussianMixture(2, random_state=0).fit(X).save(tmp_path / "gm.gmm.npz")
    with zipfile.ZipFile(tmp_path / "gm.gmm.npz") as archive:
        metadata = json.loads(archive.read("metadata.json"))
    assert metadata["format_version"] == 1 and "kind" not in metadata


# ------------------------------------------------------------------- API
def test_not_fitted_raises_and_sample_draws_from_the_expected_mixture():
    from sklearn.exceptions import NotFittedError

    bgm = BayesianGaussianMixture(n_components=2, random_state=0)
    with pytest.raises(NotFittedError):
        bgm.predict(_data())
    with pytest.raises(NotFittedError):
        bgm.effective_n_components_
    X = _data(seed=16, n_samples=200, centers=2)
    bgm.fit(X)
    sk = SkBayesianGaussianMixture(n_components=2, random_state=0).fit(X)
    drawn, labels = bgm.sample(50)
    expected, expected_labels = sk.sample(50)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(drawn, expected, rtol=1e-6)


def test_verbose_logs_each_start():
    X = _data(seed=17, n_samples=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bgm = BayesianGaussianMixture(n_components=2, verbose=2, verbose_interval=1, max_iter=3)
        bgm.fit(X)
    assert bgm.n_iter_ >= 1


def _expected_failed_checks(estimator):
    reason = (
        "check_clustering sets `n_clusters=3` when the estimator has that parameter; "
        "ours is `n_components` (scikit-learn's name), so the check fits the default "
        "single component (as for gaussmix.GaussianMixture, a clusterer too)."
    )
    return {"check_clustering": reason, "check_clustering(readonly_memmap=True)": reason}


@parametrize_with_checks(
    [BayesianGaussianMixture()], expected_failed_checks=_expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
