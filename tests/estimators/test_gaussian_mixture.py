"""``gaussmix.GaussianMixture`` against scikit-learn, closed forms and simulated truths."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from gaussmix import CollapseError, CollapseWarning, GaussianMixture
from gaussmix.engine.criteria import component_covariance_matrices
from helpers import (
    COVARIANCE_TYPES,
    DATASETS,
    FITTED_ARRAYS,
    INIT_PARAMS,
    assert_models_close,
    dataset,
    near_zero_atol,
    sklearn_start,
)

# tol=0 runs every iteration on purpose: "did not converge" is expected there.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _new_points(X, seed=123):
    """Points near, but not equal to, the training rows (for predict/score checks)."""
    rng = np.random.RandomState(seed)
    return X[::2] + rng.normal(scale=0.5, size=X[::2].shape)


def _assert_inference_matches(gm, sk, X, rtol=1e-6):
    """predict, predict_proba, score_samples, score, bic and aic of two models on X."""
    np.testing.assert_array_equal(gm.predict(X), sk.predict(X))
    # Probabilities are absolute quantities in [0, 1]: 1e-10 is far below any that matters.
    np.testing.assert_allclose(gm.predict_proba(X), sk.predict_proba(X), rtol=rtol, atol=1e-10)
    expected = sk.score_samples(X)
    np.testing.assert_allclose(
        gm.score_samples(X), expected, rtol=rtol, atol=near_zero_atol(expected, 1e-9)
    )
    np.testing.assert_allclose(gm.score(X), sk.score(X), rtol=rtol)
    np.testing.assert_allclose(gm.bic(X), sk.bic(X), rtol=rtol)
    np.testing.assert_allclose(gm.aic(X), sk.aic(X), rtol=rtol)


def _assert_lower_bounds_close(actual, expected, init_params, rtol):
    first = 0
    if init_params in ("k-means++", "random_from_data"):
        # These starts have one-row components of variance reg_covar (1e-6). The first
        # E-step's log-likelihood (~ -1e6) is then |x - mu|^2 / reg_covar times the rounding
        # of those variances (~1e-8 relative, from E[x^2] - mu^2 on a single row): that one
        # value is only as close as 1e-4. Every later one is held to ``rtol``.
        np.testing.assert_allclose(
            actual.lower_bounds_[0], expected.lower_bounds_[0], rtol=max(rtol, 1e-4)
        )
        first = 1
    np.testing.assert_allclose(
        actual.lower_bounds_[first:], expected.lower_bounds_[first:], rtol=rtol
    )


# ------------------------------------------------------------------- parity
@pytest.mark.parametrize("data_name", DATASETS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_same_start_gives_sklearn_model(data_name, covariance_type):
    X, n_components = dataset(data_name)
    start = sklearn_start(X, n_components, covariance_type)
    params = dict(
        n_components=n_components, covariance_type=covariance_type, tol=0.0, max_iter=20, **start
    )
    sk = SkGaussianMixture(**params).fit(X)
    gm = GaussianMixture(**params).fit(X)

    assert_models_close(gm, sk, rtol=1e-6)
    assert gm.n_iter_ == sk.n_iter_ == 20
    assert gm.converged_ == sk.converged_
    np.testing.assert_allclose(gm.lower_bound_, sk.lower_bound_, rtol=1e-6)
    assert len(gm.lower_bounds_) == len(sk.lower_bounds_)
    np.testing.assert_allclose(gm.lower_bounds_, sk.lower_bounds_, rtol=1e-6)
    for points in (X, _new_points(X)):
        _assert_inference_matches(gm, sk, points)
    np.testing.assert_array_equal(GaussianMixture(**params).fit_predict(X), sk.predict(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_far_from_origin_equals_sklearn_on_recentred_data(covariance_type):
    X, n_components = dataset("separated")
    offset = 1e6
    X_far = X + offset
    # X_far - offset is exact (Sterbenz): scikit-learn sees exactly the data gaussmix
    # sees, moved back to the origin where its uncentred formulas do not cancel.
    X_back = X_far - offset
    start = sklearn_start(X_back, n_components, covariance_type)
    params = dict(n_components=n_components, covariance_type=covariance_type, tol=0.0, max_iter=20)
    sk = SkGaussianMixture(**params, **start).fit(X_back)
    gm = GaussianMixture(
        **params,
        weights_init=start["weights_init"],
        means_init=start["means_init"] + offset,
        precisions_init=start["precisions_init"],
    ).fit(X_far)

    np.testing.assert_allclose(gm.means_, sk.means_ + offset, rtol=1e-6)
    # Stronger: the means are right to well below the rounding of the data (1e6 * eps ~ 1e-10
    # per value); 1e-8 leaves room for the accumulated sums.
    np.testing.assert_allclose(gm.means_ - offset, sk.means_, rtol=1e-6, atol=1e-8)
    assert_models_close(gm, sk, rtol=1e-6, attributes=[a for a in FITTED_ARRAYS if a != "means_"])
    assert gm.n_iter_ == sk.n_iter_
    np.testing.assert_allclose(gm.lower_bounds_, sk.lower_bounds_, rtol=1e-6)
    for points in (X_back, _new_points(X_back)):
        points_far = points + offset
        np.testing.assert_array_equal(gm.predict(points_far), sk.predict(points_far - offset))
        np.testing.assert_allclose(
            gm.predict_proba(points_far), sk.predict_proba(points_far - offset), atol=1e-8
        )
        np.testing.assert_allclose(
            gm.score_samples(points_far), sk.score_samples(points_far - offset), rtol=1e-6
        )


# ------------------------------------------------------------------ default init
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_default_init_is_not_worse_than_sklearn_on_average(covariance_type):
    X, n_components = dataset("overlapping")
    seeds = range(5)
    ours = [
        GaussianMixture(n_components, covariance_type=covariance_type, random_state=s)
        .fit(X)
        .lower_bound_
        for s in seeds
    ]
    theirs = [
        SkGaussianMixture(n_components, covariance_type=covariance_type, random_state=s)
        .fit(X)
        .lower_bound_
        for s in seeds
    ]
    assert np.mean(ours) >= np.mean(theirs) - 1e-9 * abs(np.mean(theirs))


@pytest.mark.parametrize("init_params", INIT_PARAMS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_same_seed_gives_sklearn_model(covariance_type, init_params):
    """The same random_state draws the same start as scikit-learn, for every init_params.

    One documented exception: a tied covariance started from k-means++ or
    random_from_data, where only one row per component has a responsibility.
    scikit-learn's tied M-step, ``(X'X - sum_k n_k mu_k mu_k') / sum_k n_k``, sums
    X'X over all rows in raw coordinates, so that start depends on where the
    origin is; gaussmix computes the same formula around the data mean, which is
    translation invariant. The truth there is scikit-learn on the centred data,
    shifted back: where both agree (every other case, and every EM iteration,
    since responsibilities then sum to one per row) the two are identical.
    """
    X, _ = make_blobs(300, 2, centers=4, cluster_std=1.5, random_state=0)
    params = dict(
        n_components=4,
        covariance_type=covariance_type,
        init_params=init_params,
        n_init=2,
        random_state=3,
    )
    gm = GaussianMixture(**params).fit(X)
    if covariance_type == "tied" and init_params in ("k-means++", "random_from_data"):
        centre = X.mean(axis=0)
        sk = SkGaussianMixture(**params).fit(X - centre)
        sk.means_ = sk.means_ + centre
    else:
        sk = SkGaussianMixture(**params).fit(X)
    assert_models_close(gm, sk, rtol=1e-6)
    assert gm.n_iter_ == sk.n_iter_
    _assert_lower_bounds_close(gm, sk, init_params, rtol=1e-6)
    np.testing.assert_array_equal(gm.predict(X), sk.predict(X))


@pytest.mark.parametrize("init_params", INIT_PARAMS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_every_init_params_fits_deterministically(covariance_type, init_params):
    X, n_components = dataset("separated")
    params = dict(
        n_components=n_components,
        covariance_type=covariance_type,
        init_params=init_params,
        n_init=2,
        random_state=11,
    )
    first = GaussianMixture(**params).fit(X)
    second = GaussianMixture(**params).fit(X)
    for name in FITTED_ARRAYS:
        assert np.all(np.isfinite(getattr(first, name))), name
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name), err_msg=name)
    assert first.lower_bounds_ == second.lower_bounds_
    assert first.n_iter_ == second.n_iter_
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    np.testing.assert_allclose(first.weights_.sum(), 1.0, rtol=1e-12)
    # A different seed draws a different start (the seed is used, not ignored).
    other = GaussianMixture(**{**params, "random_state": 12, "max_iter": 0}).fit(X)
    first_start = GaussianMixture(**{**params, "max_iter": 0}).fit(X)
    assert not np.array_equal(other.means_, first_start.means_)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_warm_start_continues_from_previous_fit(covariance_type):
    X, n_components = dataset("overlapping")
    start = sklearn_start(X, n_components, covariance_type)
    params = dict(
        n_components=n_components,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=5,
        warm_start=True,
        **start,
    )
    sk = SkGaussianMixture(**params).fit(X)
    gm = GaussianMixture(**params).fit(X)
    sk.fit(X)
    gm.fit(X)
    assert_models_close(gm, sk, rtol=1e-6)
    assert gm.n_iter_ == sk.n_iter_ == 5
    np.testing.assert_allclose(gm.lower_bounds_, sk.lower_bounds_, rtol=1e-6)

    # Two warm fits of 5 iterations are one fit of 10 iterations.
    straight = GaussianMixture(**{**params, "max_iter": 10, "warm_start": False}).fit(X)
    assert_models_close(gm, straight, rtol=1e-9)
    np.testing.assert_allclose(gm.lower_bounds_, straight.lower_bounds_[5:], rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_max_iter_zero_keeps_initial_parameters(covariance_type):
    X, n_components = dataset("separated")
    start = sklearn_start(X, n_components, covariance_type)
    gm = GaussianMixture(n_components, covariance_type=covariance_type, max_iter=0, **start).fit(X)
    np.testing.assert_allclose(gm.weights_, start["weights_init"], rtol=1e-12)
    np.testing.assert_allclose(gm.means_, start["means_init"], rtol=1e-12)
    np.testing.assert_allclose(
        gm.precisions_,
        start["precisions_init"],
        rtol=1e-10,
        atol=near_zero_atol(start["precisions_init"], 1e-12),
    )
    assert gm.n_iter_ == 0
    assert gm.lower_bounds_ == []

    # With a drawn start: the same parameters as scikit-learn's max_iter=0 fit.
    sk = SkGaussianMixture(
        n_components, covariance_type=covariance_type, max_iter=0, random_state=5
    ).fit(X)
    drawn = GaussianMixture(
        n_components, covariance_type=covariance_type, max_iter=0, random_state=5
    ).fit(X)
    assert_models_close(drawn, sk, rtol=1e-9)
    assert drawn.n_iter_ == sk.n_iter_ == 0
    assert drawn.lower_bound_ == sk.lower_bound_
    assert drawn.converged_ == sk.converged_


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_n_init_keeps_the_start_with_the_best_lower_bound(covariance_type):
    X, n_components = dataset("overlapping")
    params = dict(
        n_components=n_components,
        covariance_type=covariance_type,
        init_params="random",
        max_iter=8,
    )
    # One RandomState shared by successive single-start fits draws the same starts, in
    # the same order, as one fit with n_init=4 and that seed.
    stream = np.random.RandomState(0)
    singles = [GaussianMixture(**params, random_state=stream).fit(X) for _ in range(4)]
    bounds = [single.lower_bound_ for single in singles]
    assert len(set(bounds)) > 1, "the starts should differ for this check to mean anything"
    best = singles[int(np.argmax(bounds))]

    multi = GaussianMixture(**params, n_init=4, random_state=0).fit(X)
    assert multi.lower_bound_ == max(bounds)
    assert_models_close(multi, best, rtol=1e-12)
    assert multi.lower_bounds_ == best.lower_bounds_

    sk = SkGaussianMixture(**params, n_init=4, random_state=0).fit(X)
    assert_models_close(multi, sk, rtol=1e-6)
    np.testing.assert_allclose(multi.lower_bound_, sk.lower_bound_, rtol=1e-6)


# ------------------------------------------------------------------- sampling
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_matches_sklearn(covariance_type):
    X, n_components = dataset("separated")
    gm = GaussianMixture(n_components, covariance_type=covariance_type, random_state=7).fit(X)
    sk = SkGaussianMixture(n_components, covariance_type=covariance_type, random_state=7)
    for name in ["weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"]:
        setattr(sk, name, getattr(gm, name).copy())

    X_gm, y_gm = gm.sample(500)
    X_sk, y_sk = sk.sample(500)
    assert X_gm.shape == (500, X.shape[1])
    assert y_gm.shape == (500,)
    np.testing.assert_array_equal(y_gm, y_sk)
    np.testing.assert_allclose(X_gm, X_sk, rtol=1e-10, atol=1e-10)
    assert set(np.unique(y_gm)) <= set(range(n_components))


def test_sample_follows_the_fitted_mixture():
    """Per component, the draws have the component's mean and covariance (simulated truth)."""
    rng = np.random.RandomState(0)
    gm = GaussianMixture(2, covariance_type="full", random_state=1)
    gm.fit(np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(8, 2, (200, 2))]))
    n = 20_000
    X, y = gm.sample(n)
    counts = np.bincount(y, minlength=2)
    # Multinomial counts within 5 standard deviations.
    sd = np.sqrt(n * gm.weights_ * (1 - gm.weights_))
    assert np.all(np.abs(counts - n * gm.weights_) < 5 * sd)
    for k in range(2):
        rows = X[y == k]
        se = np.sqrt(np.diag(gm.covariances_[k]) / len(rows))
        assert np.all(np.abs(rows.mean(axis=0) - gm.means_[k]) < 5 * se)
        np.testing.assert_allclose(np.cov(rows.T), gm.covariances_[k], rtol=0.1, atol=0.05)


# ---------------------------------------------------------------- sample_weight
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_equal_repeated_rows(covariance_type):
    X, n_components = dataset("overlapping")
    weights = np.random.RandomState(0).randint(0, 4, size=X.shape[0])
    start = sklearn_start(X, n_components, covariance_type)
    params = dict(
        n_components=n_components, covariance_type=covariance_type, tol=0.0, max_iter=20, **start
    )
    weighted = GaussianMixture(**params).fit(X, sample_weight=weights)
    repeated = GaussianMixture(**params).fit(np.repeat(X, weights, axis=0))
    assert_models_close(weighted, repeated, rtol=1e-8, floor=1e-12)
    np.testing.assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-8)
    assert weighted.n_iter_ == repeated.n_iter_


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_zero_weights_equal_dropped_rows(covariance_type):
    X, n_components = dataset("overlapping")
    keep = np.random.RandomState(1).rand(X.shape[0]) < 0.6
    start = sklearn_start(X, n_components, covariance_type)
    params = dict(
        n_components=n_components, covariance_type=covariance_type, tol=0.0, max_iter=20, **start
    )
    weighted = GaussianMixture(**params).fit(X, sample_weight=keep.astype(float))
    dropped = GaussianMixture(**params).fit(X[keep])
    assert_models_close(weighted, dropped, rtol=1e-8, floor=1e-12)
    np.testing.assert_allclose(weighted.lower_bounds_, dropped.lower_bounds_, rtol=1e-8)


@pytest.mark.parametrize("init_params", INIT_PARAMS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_uniform_weights_equal_no_weights(covariance_type, init_params):
    X, n_components = dataset("separated")
    params = dict(
        n_components=n_components,
        covariance_type=covariance_type,
        init_params=init_params,
        random_state=2,
        tol=0.0,
        max_iter=10,
    )
    weighted = GaussianMixture(**params).fit(X, sample_weight=np.full(X.shape[0], 3.0))
    plain = GaussianMixture(**params).fit(X)
    assert_models_close(weighted, plain, rtol=1e-8, floor=1e-12)
    _assert_lower_bounds_close(weighted, plain, init_params, rtol=1e-8)


def _three_clusters():
    centres = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
    X, y = make_blobs(300, 2, centers=centres, cluster_std=1.0, random_state=0)
    return X, y


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_default_init_honours_weights(covariance_type):
    """Cluster 2 has weight zero: two components go to clusters 0 and 1, at their means."""
    X, y = _three_clusters()
    weights = (y != 2).astype(float)
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(
        X, sample_weight=weights
    )
    expected = np.array([X[y == 0].mean(axis=0), X[y == 1].mean(axis=0)])
    order = np.argsort(gm.means_[:, 0])
    np.testing.assert_allclose(gm.means_[order], expected, atol=1e-6)
    np.testing.assert_allclose(gm.weights_[order], [0.5, 0.5], atol=1e-6)


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_seeding_inits_never_pick_zero_weight_rows(init_params):
    X, y = _three_clusters()
    weights = (y != 2).astype(float)
    for seed in range(10):
        gm = GaussianMixture(
            2, init_params=init_params, max_iter=0, random_state=seed, covariance_type="diag"
        ).fit(X, sample_weight=weights)
        # Each initial mean is one data row (the seed of its component) ...
        distances = np.linalg.norm(gm.means_[:, None, :] - X[None], axis=2)
        seeds = distances.argmin(axis=1)
        assert np.all(distances.min(axis=1) < 1e-9)
        # ... and never a row of weight zero.
        assert np.all(weights[seeds] > 0)


def test_random_init_with_weights_matches_closed_form():
    """init_params='random' with max_iter=0: means are the weighted means under the draws."""
    X, _ = _three_clusters()
    weights = np.random.RandomState(3).uniform(0.0, 2.0, size=X.shape[0])
    gm = GaussianMixture(3, init_params="random", max_iter=0, random_state=4).fit(
        X, sample_weight=weights
    )
    resp = np.random.RandomState(4).uniform(size=(X.shape[0], 3))
    resp /= resp.sum(axis=1, keepdims=True)
    r = resp * weights[:, None]
    np.testing.assert_allclose(gm.means_, (r.T @ X) / r.sum(axis=0)[:, None], rtol=1e-10)
    np.testing.assert_allclose(gm.weights_, r.sum(axis=0) / r.sum(), rtol=1e-10)


def test_score_with_weights_is_weighted_mean_of_score_samples():
    X, n_components = dataset("overlapping")
    gm = GaussianMixture(n_components, random_state=0).fit(X)
    weights = np.random.RandomState(0).uniform(0.0, 3.0, size=X.shape[0])
    log_density = gm.score_samples(X)
    np.testing.assert_allclose(
        gm.score(X, sample_weight=weights), np.sum(weights * log_density) / weights.sum()
    )
    np.testing.assert_allclose(gm.score(X), log_density.mean())


def test_fit_predict_equals_fit_then_predict_with_weights():
    X, n_components = dataset("overlapping")
    weights = np.random.RandomState(0).uniform(0.5, 2.0, size=X.shape[0])
    params = dict(n_components=n_components, random_state=0, max_iter=5)
    labels = GaussianMixture(**params).fit_predict(X, sample_weight=weights)
    np.testing.assert_array_equal(
        labels, GaussianMixture(**params).fit(X, sample_weight=weights).predict(X)
    )


# -------------------------------------------------------------------- float32
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_is_kept_and_matches_float64(covariance_type):
    X, n_components = dataset("separated")
    start = sklearn_start(X, n_components, covariance_type)
    params = dict(
        n_components=n_components, covariance_type=covariance_type, tol=0.0, max_iter=20, **start
    )
    X32 = X.astype(np.float32)
    single = GaussianMixture(**params).fit(X32)
    double = GaussianMixture(**params).fit(X)
    for name in FITTED_ARRAYS:
        assert getattr(single, name).dtype == np.float32, name
    assert single.predict_proba(X32).dtype == np.float32
    assert single.score_samples(X32).dtype == np.float32
    # float32 rounding is 6e-8; 20 EM iterations and a D x D inverse stay well within 1e-4.
    assert_models_close(single, double, rtol=1e-4, floor=1e-4)
    np.testing.assert_allclose(single.lower_bounds_, double.lower_bounds_, rtol=1e-4)
    np.testing.assert_array_equal(single.predict(X32), double.predict(X))


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_float32_far_from_origin_keeps_positive_variances(covariance_type):
    """scikit-learn issue #30382: E[x^2] - E[x]^2 in float32 around 1e4 goes negative."""
    rng = np.random.RandomState(0)
    centres = np.array([[1e4, 1e4], [1e4 + 0.1, 1e4 - 0.1]])
    X = (centres[rng.randint(2, size=600)] + 0.01 * rng.randn(600, 2)).astype(np.float32)
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    assert gm.covariances_.dtype == np.float32
    assert np.all(gm.covariances_ > 0)
    assert np.all(np.isfinite(gm.precisions_cholesky_))

    # The variances are right, not merely positive: the same fit in float64 agrees.
    weights = gm.weights_.astype(np.float64)
    start = {
        # float32 weights sum to 1 only to ~1e-7; weights_init must sum to 1 to 1e-8.
        "weights_init": weights / weights.sum(),
        "means_init": gm.means_.astype(np.float64),
        "precisions_init": gm.precisions_.astype(np.float64),
    }
    params = dict(n_components=2, covariance_type=covariance_type, tol=0.0, max_iter=5, **start)
    single = GaussianMixture(**params).fit(X)
    double = GaussianMixture(**params).fit(X.astype(np.float64))
    assert np.all(single.covariances_ > 0)
    np.testing.assert_allclose(single.covariances_, double.covariances_, rtol=1e-3)


# ------------------------------------------------------------ per-feature floors
# Models whose family is closed under rescaling the features, X -> X S with S
# diagonal: their EM iterates map exactly, Sigma -> S Sigma S, when the floor is
# rescaled too, reg_covar -> reg_covar * s**2. (Common-orientation and common-shape
# models with varying orientation, and spherical ones, are not closed under it.)
RESCALABLE = ["full", "tied", "diag", "EEE", "VEE", "EVV", "VVV", "EEI", "VEI", "EVI", "VVI"]


@pytest.mark.parametrize("covariance_type", RESCALABLE)
def test_per_feature_reg_covar_is_the_scalar_floor_in_rescaled_units(covariance_type):
    X, _ = make_blobs(n_samples=150, centers=3, n_features=3, random_state=2)
    scales = np.array([1e-3, 1.0, 50.0])
    # init_params='hc' standardises the columns first: the same start on both scales.
    params = dict(n_components=3, covariance_type=covariance_type, init_params="hc", tol=1e-10)
    plain = GaussianMixture(**params, reg_covar=1e-2, max_iter=200).fit(X)
    rescaled = GaussianMixture(**params, reg_covar=1e-2 * scales**2, max_iter=200).fit(X * scales)
    assert plain.n_iter_ == rescaled.n_iter_
    np.testing.assert_allclose(rescaled.means_, plain.means_ * scales, rtol=1e-8)

    def matrices(fitted):
        return component_covariance_matrices(fitted.covariances_, covariance_type, 3, 3)

    np.testing.assert_allclose(
        matrices(rescaled), np.outer(scales, scales) * matrices(plain), rtol=1e-7
    )
    # The density picks up the Jacobian of the rescaling, log|det S| per row.
    np.testing.assert_allclose(
        rescaled.score(X * scales), plain.score(X) - np.log(scales).sum(), rtol=1e-10
    )


def test_spherical_floor_of_per_feature_values_is_their_mean():
    X, _ = make_blobs(n_samples=120, centers=2, n_features=3, random_state=0)
    params = dict(n_components=2, covariance_type="spherical", init_params="hc", tol=1e-10)
    floors = np.array([0.1, 0.2, 0.6])
    per_feature = GaussianMixture(**params, reg_covar=floors).fit(X)
    scalar = GaussianMixture(**params, reg_covar=floors.mean()).fit(X)
    np.testing.assert_allclose(per_feature.covariances_, scalar.covariances_, rtol=1e-12)
    # Each variance is the mean squared distance to the component's mean plus the floor.
    resp = per_feature.predict_proba(X)
    for k in range(2):
        spread = resp[:, k] @ ((X - per_feature.means_[k]) ** 2).sum(axis=1) / resp[:, k].sum()
        assert per_feature.covariances_[k] == pytest.approx(spread / 3 + floors.mean(), rel=1e-6)


# ------------------------------------------------------------------ bad input
_X = np.random.RandomState(0).randn(20, 2)
# A row with no observed value (missing values themselves are modelled: test_missing.py).
_X_nan = _X.copy()
_X_nan[3] = np.nan
_X_inf = _X.copy()
_X_inf[5, 0] = np.inf

BAD_FITS = [
    pytest.param({}, _X_nan, {}, ValueError, r"1 row with no observed value .*: row 3\. Drop",
                 id="nan"),
    pytest.param({}, _X_inf, {}, ValueError, r"^Input X contains infinite values: 1 value in "
                 r"column 0\. Replace", id="inf"),
    pytest.param({"n_components": 5}, _X[:3], {}, ValueError, r"n_samples >= n_components",
                 id="fewer-samples-than-components"),
    pytest.param({}, _X[:, 0], {}, ValueError, r"Expected 2D array", id="1d"),
    pytest.param({}, _X[:, :, None], {}, ValueError, r"dim 3", id="3d"),
    pytest.param({}, [["a", "b"], ["c", "d"], ["e", "f"]], {}, ValueError,
                 r"column 0 holds 'a', which is not a number", id="strings"),
    pytest.param({}, [[1.0, 2.0], [3.0, "4.5"], [5.0, "n/a"]], {}, ValueError,
                 r"column 1 holds 'n/a', which is not a number", id="one-text-value"),
    # Squares of 1e300 are infinite in float64: refused before any arithmetic.
    pytest.param({}, _X * 1e300, {}, ValueError,
                 r"values as large as .*overflow float64 arithmetic.*Rescale X", id="overflow"),
    pytest.param({}, np.empty((0, 2)), {}, ValueError, r"0 sample", id="empty"),
    pytest.param({}, _X, {"sample_weight": -np.ones(20)}, ValueError, r"negative",
                 id="negative-weight"),
    pytest.param({}, _X, {"sample_weight": np.ones(19)}, ValueError,
                 r"sample_weight has shape \(19,\), expected \(20,\)", id="weight-length"),
    pytest.param({}, _X, {"sample_weight": np.zeros(20)}, ValueError, r"zero for every sample",
                 id="all-zero-weights"),
    pytest.param({"n_components": 0}, _X, {}, ValueError, r"n_components", id="n_components=0"),
    pytest.param({"covariance_type": "bogus"}, _X, {}, ValueError, r"covariance_type",
                 id="bogus-covariance"),
    pytest.param({"tol": -1}, _X, {}, ValueError, r"'tol'", id="negative-tol"),
    pytest.param({"reg_covar": -1}, _X, {}, ValueError, r"reg_covar", id="negative-reg_covar"),
    pytest.param({"reg_covar": [1e-6, -1e-6]}, _X, {}, ValueError, r"reg_covar.*non-negative",
                 id="negative-reg_covar-per-feature"),
    pytest.param({"reg_covar": [1e-6, np.nan]}, _X, {}, ValueError, r"reg_covar.*finite",
                 id="nan-reg_covar-per-feature"),
    pytest.param({"reg_covar": [1e-6] * 3}, _X, {}, ValueError,
                 r"reg_covar has shape \(3,\).*shape \(2,\)", id="reg_covar-wrong-length"),
    pytest.param({"init_params": "x"}, _X, {}, ValueError, r"init_params", id="bad-init_params"),
    pytest.param({"weights_init": [0.3, 0.3]}, _X, {}, ValueError, r"weights_init.*normalized",
                 id="weights-not-summing-to-1"),
    pytest.param({"means_init": np.zeros((3, 2))}, _X, {}, ValueError, r"means_init.*shape",
                 id="means-wrong-shape"),
    pytest.param({"covariance_type": "full",
                  "precisions_init": np.stack([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]])},
                 _X, {}, ValueError, r"positive definite", id="full-precision-not-pd"),
    pytest.param({"covariance_type": "tied", "precisions_init": [[1.0, 2.0], [2.0, 1.0]]},
                 _X, {}, ValueError, r"positive definite", id="tied-precision-not-pd"),
    pytest.param({"covariance_type": "diag", "precisions_init": [[1.0, 0.0], [1.0, 1.0]]},
                 _X, {}, ValueError, r"positive", id="diag-precision-not-positive"),
    pytest.param({"covariance_type": "spherical", "precisions_init": [1.0, -1.0]},
                 _X, {}, ValueError, r"positive", id="spherical-precision-not-positive"),
]  # fmt: skip


@pytest.mark.parametrize(("params", "X", "fit_kwargs", "error", "match"), BAD_FITS)
def test_bad_input_is_refused_with_a_clear_message(params, X, fit_kwargs, error, match):
    with pytest.raises(error, match=match):
        GaussianMixture(**{"n_components": 2, **params}).fit(X, **fit_kwargs)


def test_bad_input_at_predict_time():
    gm = GaussianMixture(2, random_state=0).fit(_X)
    for method in (gm.predict, gm.predict_proba, gm.score_samples, gm.score):
        with pytest.raises(ValueError, match=r"X has 3 features, but GaussianMixture is expecting"):
            method(np.ones((4, 3)))
        with pytest.raises(ValueError, match=r"1 row with no observed value"):
            method(_X_nan)
        with pytest.raises(ValueError, match=r"infinite values: 1 value in column 0"):
            method(_X_inf)
    with pytest.raises(ValueError, match=r"negative"):
        gm.score(_X, sample_weight=-np.ones(20))


def test_text_column_of_a_dataframe_is_named():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"height": _X[:, 0], "city": ["Oslo"] * 20})
    with pytest.raises(ValueError, match=r"column 1 \('city'\) holds 'Oslo'"):
        GaussianMixture(2).fit(frame)


def test_missing_values_are_located_by_column_name():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": _X[:, 0], "b": np.full(len(_X), np.nan)})
    with pytest.raises(ValueError, match=r"no observed value in column 1 \('b'\)"):
        GaussianMixture(2).fit(frame)


def test_overflow_limit_is_where_squares_overflow():
    # The limit is sqrt(max / (4 n D)): just below it the fit's sums stay finite,
    # just above it 4 n D x^2 exceeds float64's largest number.
    n, d = _X.shape
    limit = np.sqrt(np.finfo(np.float64).max / (4 * n * d))
    scaled = _X / np.abs(_X).max()
    with np.errstate(over="ignore"):
        assert np.isinf(4 * n * d * (1.01 * limit) ** 2)
    fitted = GaussianMixture(1).fit(0.99 * limit * scaled)
    assert np.isfinite(fitted.covariances_).all()
    with pytest.raises(ValueError, match=r"overflow float64"):
        GaussianMixture(1).fit(1.01 * limit * scaled)


def test_float32_overflow_is_judged_in_float32():
    limit32 = np.sqrt(np.finfo(np.float32).max / (4 * _X.size))
    X = (_X / np.abs(_X).max() * 2 * limit32).astype(np.float32)
    with pytest.raises(ValueError, match=r"overflow float32 arithmetic"):
        GaussianMixture(1).fit(X)
    # The same values in float64 are far from float64's limit.
    GaussianMixture(1).fit(X.astype(np.float64))


def test_not_fitted_raises_not_fitted_error():
    gm = GaussianMixture(2)
    for method in (gm.predict, gm.predict_proba, gm.score_samples, gm.score):
        with pytest.raises(NotFittedError):
            method(_X)
    with pytest.raises(NotFittedError):
        gm.sample(3)


# -------------------------------------------------------- collapsed components
def _collapse_cases():
    rng = np.random.RandomState(0)
    points = np.array([[0.0, 0.0], [5.0, 1.0], [-3.0, 4.0]])
    duplicated = np.repeat(points, 30, axis=0)
    constant = np.column_stack([rng.randn(100), np.full(100, 7.0), rng.randn(100)])
    two_points = np.repeat(points[:2], 5, axis=0)
    singleton = np.vstack([rng.randn(60, 2), [[40.0, 40.0]]])
    return {
        "duplicated-K3": (duplicated, 3, {}),
        "duplicated-K5": (duplicated, 5, {}),
        "constant-feature": (constant, 3, {}),
        "constant-feature-reg0": (constant, 2, {"reg_covar": 0.0}),
        "K-above-distinct-points": (two_points, 4, {}),
        "singleton-cluster-reg0": (singleton, 2, {"reg_covar": 0.0}),
        "duplicated-K3-reg0": (duplicated, 3, {"reg_covar": 0.0}),
    }


COLLAPSE_CASES = _collapse_cases()


def _fit_or_collapse_error(gm, X):
    """Fit; return None on success, or the CollapseError. Anything else propagates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            gm.fit(X)
        except CollapseError as exc:
            return exc
    return None


def _assert_collapse_error_is_helpful(exc, covariance_type):
    assert isinstance(exc, ValueError)
    message = str(exc)
    # It names the component by its number (or the shared covariance) ...
    assert re.search(r"[Cc]omponent(\(s\))? \[?\d+", message) or (
        covariance_type == "tied" and "shared" in message
    ), message
    # ... and suggests a remedy.
    assert re.search(r"reg_covar|n_components|standardi[sz]e", message), message


@pytest.mark.parametrize("init_params", INIT_PARAMS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("case", sorted(COLLAPSE_CASES))
def test_collapsed_components_fit_finite_or_raise_collapse_error(
    case, covariance_type, init_params
):
    X, n_components, params = COLLAPSE_CASES[case]
    gm = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        init_params=init_params,
        random_state=0,
        **params,
    )
    exc = _fit_or_collapse_error(gm, X)
    if exc is not None:
        _assert_collapse_error_is_helpful(exc, covariance_type)
        return
    for name in FITTED_ARRAYS:
        assert np.all(np.isfinite(getattr(gm, name))), name
    assert np.isfinite(gm.lower_bound_)
    np.testing.assert_allclose(gm.weights_.sum(), 1.0, rtol=1e-9)
    assert np.all(np.isfinite(gm.score_samples(X)))
    assert np.all(np.isfinite(gm.predict_proba(X)))


SKLEARN_ILL_DEFINED = [
    pytest.param("singleton-start-reg0", "full", init, id=f"singleton-start-reg0-full-{init}")
    for init in ["k-means++", "random_from_data"]
] + [
    pytest.param("float32-far", covariance_type, "kmeans", id=f"float32-far-{covariance_type}")
    for covariance_type in ["diag", "spherical", "tied"]
]


@pytest.mark.parametrize(("case", "covariance_type", "init_params"), SKLEARN_ILL_DEFINED)
def test_fits_where_sklearn_reports_ill_defined_covariance(case, covariance_type, init_params):
    """Data that support the model, on which scikit-learn stops with an error.

    ``singleton-start-reg0``: k-means++ / random_from_data start every component on one
    row; with reg_covar=0 its covariance is zero and scikit-learn stops at the start,
    although the data (three Gaussian blobs) are fine. ``float32-far``: float32 data
    around 1e4 with spread 1e-2, where scikit-learn's uncentred variances cancel.
    """
    if case == "singleton-start-reg0":
        X, _ = make_blobs(300, 2, centers=3, random_state=0)
        params = dict(reg_covar=0.0)
    else:
        rng = np.random.RandomState(0)
        X = (1e4 + 0.01 * rng.randn(500, 2)).astype(np.float32)
        params = {}
    params.update(
        n_components=3, covariance_type=covariance_type, init_params=init_params, random_state=0
    )
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        SkGaussianMixture(**params).fit(X)

    gm = GaussianMixture(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        gm.fit(X)
    for name in FITTED_ARRAYS:
        assert np.all(np.isfinite(getattr(gm, name))), name
    assert np.all(np.isfinite(gm.score_samples(X)))
    if case == "singleton-start-reg0":
        # And the fit uses its components: better than the best single Gaussian.
        single = SkGaussianMixture(1, covariance_type=covariance_type, reg_covar=0.0).fit(X)
        assert gm.score(X) > single.score(X) + 0.1


def _fit_with_failing_starts(monkeypatch, failing, n_init):
    """Fit with ``n_init`` starts, the EM runs numbered in ``failing`` raising.

    Returns the estimator (or the CollapseError), the caught warnings and the
    lower bound each start reaches when none fails (from the same draws).
    """
    from gaussmix.estimators import gaussian_mixture as module

    X, _ = dataset("overlapping")
    real = module.run_em
    bounds = []

    def recording(*args, **kwargs):
        result = real(*args, **kwargs)
        bounds.append(result.lower_bound)
        return result

    params = dict(n_components=3, n_init=n_init, random_state=0)
    monkeypatch.setattr(module, "run_em", recording)
    GaussianMixture(**params).fit(X)
    calls = []

    def failing_some(*args, **kwargs):
        calls.append(len(calls))
        if calls[-1] in failing:
            raise CollapseError(f"Component 1 collapsed (test, start {calls[-1]}).")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "run_em", failing_some)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fitted = GaussianMixture(**params).fit(X)
        except CollapseError as error:
            fitted = error
    return fitted, [w for w in caught if issubclass(w.category, CollapseWarning)], bounds


def test_a_start_that_collapses_beyond_repair_is_left_out(monkeypatch):
    # The draws do not depend on the EM runs, so the others are the runs an
    # undisturbed fit makes: the model is the best of them.
    gm, caught, bounds = _fit_with_failing_starts(monkeypatch, {0, 2}, n_init=4)
    assert gm.lower_bound_ == max(bounds[1], bounds[3])
    (warning,) = caught
    assert re.search(r"2 starts of 4 \(0, 2\) collapsed beyond repair", str(warning.message))
    assert "start 0" in str(warning.message)


def test_every_start_collapsing_raises_the_first_error(monkeypatch):
    error, _, _ = _fit_with_failing_starts(monkeypatch, {0, 1}, n_init=2)
    assert isinstance(error, CollapseError) and "start 0" in str(error)
    error, _, _ = _fit_with_failing_starts(monkeypatch, {0}, n_init=1)
    assert isinstance(error, CollapseError)


# ----------------------------------------------------------- sklearn integration
def test_dataframe_feature_names_behave_like_sklearn():
    X, _ = dataset("separated")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    gm = GaussianMixture(3, random_state=0).fit(frame)
    sk = SkGaussianMixture(3, random_state=0).fit(frame)
    np.testing.assert_array_equal(gm.feature_names_in_, ["a", "b", "c"])
    np.testing.assert_array_equal(gm.predict(frame), sk.predict(frame))

    renamed = pd.DataFrame(X, columns=["x", "y", "z"])
    with pytest.raises(ValueError) as theirs:
        sk.predict(renamed)
    with pytest.raises(type(theirs.value), match=re.escape(str(theirs.value))):
        gm.predict(renamed)

    with pytest.warns(UserWarning, match="does not have valid feature names"):
        sk.predict(X)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        labels = gm.predict(X)
    np.testing.assert_array_equal(labels, sk.predict(frame))


def test_pipeline_with_standard_scaler():
    X, n_components = dataset("separated")
    X = X * [1.0, 100.0, 0.01]
    pipe = Pipeline([("scale", StandardScaler()), ("gm", GaussianMixture(n_components))])
    pipe.set_params(gm__random_state=0).fit(X)
    reference = SkGaussianMixture(n_components, random_state=0).fit(
        StandardScaler().fit_transform(X)
    )
    assert_models_close(pipe.named_steps["gm"], reference, rtol=1e-6)
    scaled = StandardScaler().fit_transform(X)
    np.testing.assert_array_equal(pipe.predict(X), reference.predict(scaled))
    np.testing.assert_allclose(pipe.score(X), reference.score(scaled), rtol=1e-9)


def test_grid_search_over_components_and_covariance_type():
    X, _ = dataset("separated")
    grid = {"n_components": [1, 2, 3], "covariance_type": ["full", "spherical"]}
    ours = GridSearchCV(GaussianMixture(random_state=0), grid, cv=3).fit(X)
    theirs = GridSearchCV(SkGaussianMixture(random_state=0), grid, cv=3).fit(X)
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_params_["n_components"] == 3
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"], rtol=1e-6
    )


def test_clone_copies_parameters_not_fit():
    X, n_components = dataset("separated")
    start = sklearn_start(X, n_components, "full")
    gm = GaussianMixture(n_components, tol=1e-4, random_state=3, **start).fit(X)
    copy = clone(gm)
    assert not hasattr(copy, "means_")
    assert copy.get_params().keys() == gm.get_params().keys()
    for key, value in gm.get_params().items():
        np.testing.assert_array_equal(copy.get_params()[key], value)
    assert_models_close(copy.fit(X), gm, rtol=0.0, floor=0.0)


# ---------------------------------------------------------------------- verbose
def test_verbose_logs_progress_like_sklearn(caplog, capsys):
    X, n_components = dataset("overlapping")
    start = sklearn_start(X, n_components, "full")
    params = dict(n_components=n_components, tol=0.0, max_iter=12, verbose_interval=4, **start)
    caplog.set_level(logging.INFO, logger="gaussmix")
    GaussianMixture(**params, verbose=2).fit(X)
    ours = [r.getMessage() for r in caplog.records if r.name == "gaussmix"]

    capsys.readouterr()
    SkGaussianMixture(**params, verbose=2).fit(X)
    theirs = capsys.readouterr().out.splitlines()

    def iterations(lines):
        found = [re.search(r"Iteration (\d+).*ll change (-?[\d.]+)", line) for line in lines]
        return [(int(m.group(1)), float(m.group(2))) for m in found if m]

    assert [n for n, _ in iterations(ours)] == [4, 8, 12]
    assert [n for n, _ in iterations(ours)] == [n for n, _ in iterations(theirs)]
    np.testing.assert_allclose(
        [c for _, c in iterations(ours)], [c for _, c in iterations(theirs)], atol=2e-5
    )
    assert any(m.startswith("Initialization 0") for m in ours)
    assert all("time lapse" in m for m in ours if "Iteration" in m)


def test_verbose_prints_to_stdout_when_logging_is_not_configured():
    code = textwrap.dedent(
        """
        import warnings
        import numpy as np
        from gaussmix import GaussianMixture
        warnings.simplefilter("ignore")
        X = np.random.RandomState(0).randn(100, 2)
        GaussianMixture(2, verbose=2, verbose_interval=2, max_iter=4, tol=0,
                        random_state=0).fit(X)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "Initialization 0" in result.stdout
    assert re.search(r"Iteration 2\b.*time lapse.*ll change", result.stdout)
    assert re.search(r"Iteration 4\b", result.stdout)


# -------------------------------------------------------------- property-based
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    n_samples=st.integers(20, 200),
    n_features=st.integers(1, 5),
    n_components=st.integers(1, 4),
    log10_scale=st.floats(-3, 3),
    offset=st.sampled_from([0.0, 1e3, -1e5, 1e6]),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
    seed=st.integers(0, 2**31 - 1),
)
def test_lower_bound_never_decreases_and_parameters_stay_finite(
    n_samples, n_features, n_components, log10_scale, offset, covariance_type, seed
):
    rng = np.random.RandomState(seed)
    scale = 10.0**log10_scale
    centres = rng.normal(scale=3.0, size=(n_components, n_features))
    labels = rng.randint(n_components, size=n_samples)
    X = (centres[labels] + rng.normal(size=(n_samples, n_features))) * scale + offset
    weights = rng.uniform(0.1, 5.0, size=n_samples)
    # reg_covar scales with the data: a fixed reg_covar comparable to the variances is not
    # an M-step of the likelihood, and with it EM can lower the likelihood (scikit-learn too).
    gm = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=15,
        reg_covar=1e-6 * scale**2,
        random_state=seed,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CollapseWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X, sample_weight=weights)
    reseeded = {
        int(n)
        for w in caught
        if issubclass(w.category, CollapseWarning)
        for n in re.findall(r"at iteration (\d+)", str(w.message))
    }
    for name in FITTED_ARRAYS:
        assert np.all(np.isfinite(getattr(gm, name))), name
    bounds = gm.lower_bounds_
    for i in range(1, len(bounds)):
        # lower_bounds_[i] is the E-step of iteration i + 1, after the M-step of iteration i.
        if i in reseeded:
            continue
        assert bounds[i] >= bounds[i - 1] - 1e-9 * abs(bounds[i - 1]), (i, bounds)


# ------------------------------------------------------------ review regressions
def _tight_far_clusters(separation, spread=0.01, n_per_cluster=1000, seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack(
        [
            rng.normal(0.0, spread, (n_per_cluster, 2)),
            rng.normal(separation, spread, (n_per_cluster, 2)),
        ]
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("separation", [100.0, 1000.0])
def test_float32_tight_clusters_far_from_the_centre(covariance_type, separation):
    """Components 1e4-1e5 of their standard deviations from the data mean.

    float32 cannot hold ``x' L x - 2 x' L mu + mu' L mu`` to any digit there, so the
    kernels must switch to float64; the float32 fit must then equal the float64 fit
    of the same (float32-rounded) data from the same start.
    """
    X32 = _tight_far_clusters(separation).astype(np.float32)
    X64 = X32.astype(np.float64)
    start = sklearn_start(X64, 2, covariance_type)
    params = dict(n_components=2, covariance_type=covariance_type, tol=0.0, max_iter=5, **start)
    reference = GaussianMixture(**params).fit(X64)
    fitted = GaussianMixture(**params).fit(X32)
    assert fitted.covariances_.dtype == np.float32
    np.testing.assert_allclose(fitted.lower_bound_, reference.lower_bound_, rtol=1e-5)
    np.testing.assert_allclose(fitted.covariances_, reference.covariances_, rtol=1e-3)
    np.testing.assert_allclose(fitted.means_, reference.means_, rtol=1e-6)


@pytest.mark.parametrize("scale", [1e-20, 1e-8, 1e12])
def test_fit_does_not_depend_on_the_scale_of_sample_weight(scale):
    X, n_components = dataset("separated")
    weights = np.random.RandomState(0).uniform(0.5, 2.0, X.shape[0])
    params = dict(n_components=n_components, random_state=0, tol=0.0, max_iter=10)
    reference = GaussianMixture(**params).fit(X, sample_weight=weights)
    scaled = GaussianMixture(**params).fit(X, sample_weight=weights * scale)
    assert_models_close(scaled, reference, rtol=1e-8)
    np.testing.assert_allclose(scaled.lower_bound_, reference.lower_bound_, rtol=1e-10)


def test_max_iter_zero_with_several_starts_keeps_sklearns_start():
    X, _ = make_blobs(300, 2, centers=4, random_state=0)
    params = dict(n_components=4, max_iter=0, n_init=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkGaussianMixture(**params).fit(X)
    gm = GaussianMixture(**params).fit(X)
    np.testing.assert_allclose(gm.means_, sk.means_, rtol=1e-10)
    assert gm.lower_bound_ == sk.lower_bound_ == -np.inf


def test_verbose_reaches_handlers_the_application_configured():
    """With logging configured at WARNING (``logging.basicConfig()``), verbose still reports."""
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    root = logging.getLogger()
    handler, previous = Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        X, n_components = dataset("separated")
        GaussianMixture(n_components, verbose=2, verbose_interval=1, random_state=0).fit(X)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    assert any(message.startswith("  Iteration 1") for message in records)
    assert logging.getLogger("gaussmix").level == logging.NOTSET


# -------------------------------------------------------------- collapse messages
def _unseedable(X, covariance_type="full"):
    """The CollapseError of re-seeding both components of a model on ``X`` (reg_covar 0)."""
    from gaussmix.backends import InMemoryBackend
    from gaussmix.covariance import COVARIANCE_MODELS
    from gaussmix.engine.collapse import CollapseError, CollapseHandler
    from gaussmix.engine.params import MixtureParams

    model = COVARIANCE_MODELS[covariance_type]
    covariances = np.stack([np.eye(2)] * 2)
    params = MixtureParams(
        weights=np.full(2, 0.5),
        means=np.zeros((2, 2)),
        covariances=covariances,
        precisions_cholesky=model.precisions_cholesky(covariances)[0],
    )
    backend = InMemoryBackend(X, None)
    handler = CollapseHandler(backend, model, backend.centre(), 0.0, 2)
    every = np.ones(2, dtype=bool)
    with backend, pytest.raises(CollapseError) as caught:
        handler.resolve(params, None, ~every, every, 0)
    return str(caught.value)


def test_collapse_blames_a_constant_feature_only_when_there_is_one():
    rng = np.random.RandomState(0)
    x = rng.normal(size=60)
    constant = _unseedable(np.column_stack([x, np.full(60, 2.0)]))
    assert "feature 1 is constant" in constant
    # Values whose squares overflow (the estimators refuse them up front; the engine
    # may still meet them): singular because the sums are infinite, not constant.
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isinf((1e160 * np.abs(x).max()) ** 2)
        huge = _unseedable(1e160 * np.column_stack([x, rng.normal(size=60)]))
    assert "constant" not in huge
    assert "overflow" in huge
