"""Variational Bayes on the EM engine (``gaussmix.engine.variational``).

The truths: scikit-learn's ``BayesianGaussianMixture`` run from the same initial
responsibilities, the variational E-step written out with SciPy, and the
relations between the covariance models that follow from the update's form.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import digamma
from scipy.stats import multivariate_normal
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture as SkBayesianGaussianMixture

from gaussmix.backends import InMemoryBackend
from gaussmix.covariance import COVARIANCE_MODELS
from gaussmix.engine.em import run_em
from gaussmix.engine.passes import e_step_statistics, initial_statistics, score_rows
from gaussmix.engine.variational import (
    VARIATIONAL_MODELS,
    VariationalBayes,
    VariationalPrior,
    data_shares,
    variational_family,
)
from gaussmix.starts import Assignment
from helpers import COVARIANCE_TYPES, near_zero_atol, to_full

PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]


class _SkFromResp(SkBayesianGaussianMixture):
    """scikit-learn's estimator started from given responsibilities (``resp_start``)."""

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, self.resp_start)


def _data(seed=0, n_samples=240, n_features=3):
    X, _ = make_blobs(n_samples, n_features, centers=4, cluster_std=1.5, random_state=seed)
    return X


def _soft_resp(n_samples, n_components, seed=1):
    resp = np.random.RandomState(seed).uniform(size=(n_samples, n_components))
    return resp / resp.sum(axis=1, keepdims=True)


def _default_prior(X, family, prior_type, n_components):
    """scikit-learn's default priors, computed here with NumPy."""
    covariance = np.atleast_2d(np.cov(X.T))
    form = {
        "ellipsoidal": covariance,
        "diagonal": np.diag(covariance).copy(),
        "spherical": float(np.diag(covariance).mean()),
    }[family]
    return VariationalPrior(prior_type, 1.0 / n_components, 1.0, X.mean(axis=0), X.shape[1], form)


def _run(X, covariance_type, prior_type, resp, max_iter, tol=0.0, reg_covar=1e-6):
    model = COVARIANCE_MODELS[covariance_type]
    family, _ = variational_family(covariance_type)
    n_components = resp.shape[1]
    backend = InMemoryBackend(X, None)
    with backend:
        centre = backend.centre()
        inference = VariationalBayes(
            model, centre, reg_covar, _default_prior(X, family, prior_type, n_components)
        )
        stats = initial_statistics(backend, model, Assignment(None, resp), centre, n_components)
        start, _ = inference.update(stats)
        result = run_em(
            backend,
            model,
            start,
            centre=centre,
            tol=tol,
            max_iter=max_iter,
            reg_covar=reg_covar,
            inference=inference,
        )
    return start, result


def _assert_close(actual, expected, rtol=1e-6):
    expected = np.asarray(expected, dtype=np.float64)
    np.testing.assert_allclose(
        actual, expected, rtol=rtol, atol=near_zero_atol(expected, 1e-9) if expected.size else 0
    )


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_run_em_equals_sklearn_from_the_same_responsibilities(covariance_type, prior_type):
    X = _data()
    resp = _soft_resp(X.shape[0], 6)
    _, result = _run(X, covariance_type, prior_type, resp, max_iter=15)
    sk = _SkFromResp(
        n_components=6,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        tol=0.0,
        max_iter=15,
    )
    sk.resp_start = resp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X)
    params = result.params
    assert result.n_iter == sk.n_iter_ == 15
    # scikit-learn's 'tied' bounds are arrays of one element.
    _assert_close(result.lower_bounds, np.ravel(sk.lower_bounds_))
    _assert_close(params.weights, sk.weights_)
    _assert_close(params.means, sk.means_)
    _assert_close(params.covariances, sk.covariances_)
    _assert_close(params.precisions_cholesky, sk.precisions_cholesky_)
    _assert_close(params.mean_precision, sk.mean_precision_)
    _assert_close(params.degrees_of_freedom, np.broadcast_to(sk.degrees_of_freedom_, (6,)))
    _assert_close(params.weight_concentration, np.asarray(sk.weight_concentration_))


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_kernel_is_the_variational_e_step_written_out(covariance_type, prior_type):
    """The chunk kernel with kernel_log_weights = E[log pi_k] + E[log N(x | mu_k, Lambda_k)]."""
    X = _data(seed=2, n_samples=120, n_features=2)
    n_components, n_features = 3, 2
    params, _ = _run(X, covariance_type, prior_type, _soft_resp(120, n_components), max_iter=2)
    model = COVARIANCE_MODELS[covariance_type]
    with InMemoryBackend(X, None) as backend:
        log_norm, log_resp = score_rows(backend, model, params, X.mean(axis=0), with_resp=True)
    kernel = log_resp + log_norm[:, None]

    concentration = params.weight_concentration
    if prior_type == "dirichlet_process":
        a, b = concentration
        sticks = digamma(b) - digamma(a + b)
        log_pi = digamma(a) - digamma(a + b) + np.concatenate([[0.0], np.cumsum(sticks)[:-1]])
    else:
        log_pi = digamma(concentration) - digamma(concentration.sum())
    # E[Lambda_k] = nu_k W_k is the inverse of covariances_; W_k = E[Lambda_k] / nu_k.
    expected_precisions = np.linalg.inv(
        to_full(model, params.covariances, n_components, n_features)
    )
    expected = np.empty_like(kernel)
    for k in range(n_components):
        nu, beta = params.degrees_of_freedom[k], params.mean_precision[k]
        scale = expected_precisions[k] / nu
        log_det = (
            np.linalg.slogdet(scale)[1]
            + n_features * np.log(2.0)
            + sum(digamma((nu - i) / 2.0) for i in range(n_features))
        )
        # E[(x - mu)' Lambda (x - mu)] = nu (x - m)' W (x - m) + D / beta (Bishop 10.64).
        gaussian = multivariate_normal(params.means[k], np.linalg.inv(expected_precisions[k]))
        log_density = gaussian.logpdf(X) + 0.5 * n_features * np.log(2 * np.pi)
        quadratic = np.linalg.slogdet(expected_precisions[k])[1] - 2.0 * log_density
        expected[:, k] = log_pi[k] + 0.5 * (
            log_det - n_features * np.log(2 * np.pi) - n_features / beta - quadratic
        )
    np.testing.assert_allclose(kernel, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_entropy_from_the_statistics_equals_the_responsibilities(covariance_type):
    X = _data(seed=3, n_samples=150) + 50.0
    params, _ = _run(X, covariance_type, "dirichlet_process", _soft_resp(150, 4), max_iter=1)
    model = COVARIANCE_MODELS[covariance_type]
    with InMemoryBackend(X, None) as backend:
        centre = backend.centre()
        inference = VariationalBayes(
            model,
            centre,
            1e-6,
            _default_prior(X, variational_family(covariance_type)[0], "dirichlet_process", 4),
        )
        stats = e_step_statistics(backend, model, params, centre)
        _, log_resp = score_rows(backend, model, params, centre, with_resp=True)
    entropy = -np.sum(np.exp(log_resp) * log_resp)
    from_statistics = stats.log_likelihood - inference.expected_kernel_sum(stats, params)
    np.testing.assert_allclose(from_statistics, entropy, rtol=1e-9)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize(
    "shared, per_component",
    [("EEE", "VVV"), ("EEI", "VVI"), ("EII", "VII")],
)
def test_shared_covariance_is_the_mean_of_the_per_component_scales(
    shared, per_component, prior_type
):
    """As scikit-learn's 'tied' is the mean of 'full': nu W^-1 is averaged over components.

    Both from the same responsibilities' first update, which is the same for
    every model but the covariance.
    """
    X = _data(seed=4, n_samples=150)
    resp = _soft_resp(150, 4, seed=5)
    one, _ = _run(X, shared, prior_type, resp, max_iter=1)
    each, _ = _run(X, per_component, prior_type, resp, max_iter=1)
    model = COVARIANCE_MODELS[shared]
    scales = each.covariances * each.degrees_of_freedom.reshape(
        -1, *[1] * (each.covariances.ndim - 1)
    )
    expected = scales.mean(axis=0)
    got = one.covariances * one.degrees_of_freedom[0]
    if model.covariance_shape(4, 3) != (3, 3):
        # EEI, EII: every component holds the shared covariance.
        assert np.ptp(got, axis=0).max() == 0.0
        got = got[0]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(one.degrees_of_freedom, 3 + 150 / 4, rtol=1e-12)
    np.testing.assert_allclose(one.means, each.means, rtol=1e-12)


def test_diagonal_and_spherical_shared_models_are_the_tied_matrix_reduced():
    X = _data(seed=6, n_samples=150)
    resp = _soft_resp(150, 3, seed=7)
    tied, _ = _run(X, "EEE", "dirichlet_distribution", resp, max_iter=1)
    eei, _ = _run(X, "EEI", "dirichlet_distribution", resp, max_iter=1)
    eii, _ = _run(X, "EII", "dirichlet_distribution", resp, max_iter=1)
    np.testing.assert_allclose(eei.covariances[0], np.diag(tied.covariances), rtol=1e-12)
    np.testing.assert_allclose(eii.covariances[0], np.diag(tied.covariances).mean(), rtol=1e-12)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_samples=st.integers(30, 120),
    n_features=st.integers(1, 3),
    n_components=st.integers(1, 5),
    log10_scale=st.floats(-2, 2),
    covariance_type=st.sampled_from(sorted(VARIATIONAL_MODELS)),
    prior_type=st.sampled_from(PRIOR_TYPES),
    seed=st.integers(0, 2**31 - 1),
)
def test_elbo_never_decreases(
    n_samples, n_features, n_components, log10_scale, covariance_type, prior_type, seed
):
    if covariance_type in ("E", "V"):
        n_features = 1
    rng = np.random.RandomState(seed)
    scale = 10.0**log10_scale
    centres = rng.normal(scale=3.0, size=(n_components, n_features))
    labels = rng.randint(n_components, size=n_samples)
    X = (centres[labels] + rng.normal(size=(n_samples, n_features))) * scale
    weights = rng.uniform(0.2, 3.0, size=n_samples)
    model = COVARIANCE_MODELS[covariance_type]
    family, _ = variational_family(covariance_type)
    backend = InMemoryBackend(X, weights)
    with backend:
        centre = backend.centre()
        covariance = np.atleast_2d(np.cov(X.T, aweights=weights)) + 1e-3 * scale**2 * np.eye(
            n_features
        )
        form = {
            "ellipsoidal": covariance,
            "diagonal": np.diag(covariance).copy(),
            "spherical": float(np.diag(covariance).mean()),
        }[family]
        prior = VariationalPrior(prior_type, 0.5, 1.0, centre, n_features + 0.5, form)
        inference = VariationalBayes(model, centre, 1e-6 * scale**2, prior)
        resp = _soft_resp(n_samples, n_components, seed=seed % 1000)
        stats = initial_statistics(backend, model, Assignment(None, resp), centre, n_components)
        start, _ = inference.update(stats)
        result = run_em(
            backend,
            model,
            start,
            centre=centre,
            tol=0.0,
            max_iter=25,
            reg_covar=1e-6 * scale**2,
            inference=inference,
        )
    bounds = np.array(result.lower_bounds)
    assert np.all(np.isfinite(bounds))
    slack = 1e-9 * np.maximum(np.abs(bounds[:-1]), 1.0)
    assert np.all(np.diff(bounds) >= -slack), bounds


def test_models_without_a_closed_form_posterior_are_refused_by_name():
    for name in ("VEI", "EVI", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV"):
        with pytest.raises(ValueError, match=rf"covariance_type='{name}' has no closed-form"):
            variational_family(name)
    assert set(VARIATIONAL_MODELS) == {
        "full",
        "tied",
        "diag",
        "spherical",
        "EII",
        "VII",
        "EEI",
        "VVI",
        "EEE",
        "VVV",
        "E",
        "V",
    }


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_data_shares_are_the_responsibilities_counts(prior_type):
    X = _data(seed=8, n_samples=90)
    resp = _soft_resp(90, 5, seed=9)
    resp[:, 3] = 0.0  # an unused component: its share is 0, whatever its weight
    resp /= resp.sum(axis=1, keepdims=True)
    params, _ = _run(X, "diag", prior_type, resp, max_iter=0)
    shares = data_shares(prior_type, params.weight_concentration, 1.0 / 5)
    np.testing.assert_allclose(shares, resp.sum(axis=0) / 90, rtol=1e-12, atol=1e-15)
    assert params.weights[3] > 1e-3  # the prior's pseudo-count
