"""EM on incomplete data (``gaussmix.engine.missing``) against brute force.

The truths: SciPy's multivariate normal densities of each row's observed
coordinates (the E-step), per-row conditional Gaussians solved with
``np.linalg.solve`` (the statistics), each covariance model's own ``moments`` on
complete rows (the statistic forms), a numeric maximisation of the expected
complete-data log-likelihood (one M-step), and EM's monotonicity.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gaussmix import GaussianMixture
from gaussmix.backends import InMemoryBackend
from gaussmix.covariance import COVARIANCE_MODELS
from gaussmix.covariance._kernels import SCRATCH_BUDGET
from gaussmix.engine.em import run_em
from gaussmix.engine.missing import (
    MissingValues,
    conditional_moments,
    count_patterns,
    full_covariances_of,
    model_second,
)
from gaussmix.engine.params import MixtureParams
from gaussmix.engine.passes import e_step_statistics, likelihood_and_entropy, score_rows

MULTIVARIATE = [name for name in COVARIANCE_MODELS if name not in ("E", "V")]
N_FEATURES = 3
N_COMPONENTS = 2


def _data(seed=0, n_per_pattern=6):
    """Rows of a correlated 2-component mixture, every non-empty pattern ``n_per_pattern`` times."""
    rng = np.random.default_rng(seed)
    patterns = [p for p in itertools.product([True, False], repeat=N_FEATURES) if any(p)]
    n = len(patterns) * n_per_pattern
    mixing = np.array([[1.0, 0.6, -0.3], [0.0, 1.0, 0.5], [0.0, 0.0, 0.7]])
    labels = rng.integers(0, 2, n)
    X = rng.standard_normal((n, N_FEATURES)) @ mixing + 3.0 * labels[:, None]
    mask = np.repeat(np.array(patterns), n_per_pattern, axis=0)
    rng.shuffle(mask)
    X_missing = np.where(mask, X, np.nan)
    return X, X_missing


def _params(name, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = GaussianMixture(N_COMPONENTS, covariance_type=name, random_state=0, max_iter=3).fit(X)
    return MixtureParams(
        weights=gm.weights_,
        means=gm.means_,
        covariances=gm.covariances_,
        precisions_cholesky=gm.precisions_cholesky_,
    )


def _backend(X, rows_per_chunk=5, n_threads=2):
    # Small chunks, two threads: chunks mix patterns and results are merged.
    return InMemoryBackend(
        X, None, bytes_per_row=SCRATCH_BUDGET // rows_per_chunk, n_threads=n_threads
    )


def _brute_force(X, params, model):
    """Per-row log-density, responsibilities, conditional means (K, n, D) and covariances."""
    n_samples, n_features = X.shape
    covariances = _full(model, params)
    log_joint = np.empty((n_samples, N_COMPONENTS))
    means_hat = np.empty((N_COMPONENTS, n_samples, n_features))
    cov_hat = np.zeros((N_COMPONENTS, n_samples, n_features, n_features))
    for i, row in enumerate(X):
        o = np.flatnonzero(~np.isnan(row))
        m = np.flatnonzero(np.isnan(row))
        for k in range(N_COMPONENTS):
            mu, sigma = params.means[k], covariances[k]
            log_joint[i, k] = np.log(params.weights[k]) + multivariate_normal(
                mu[o], sigma[np.ix_(o, o)]
            ).logpdf(row[o])
            x_hat = row.copy()
            if m.size:
                solve = np.linalg.solve(sigma[np.ix_(o, o)], sigma[np.ix_(o, m)])
                x_hat[m] = mu[m] + solve.T @ (row[o] - mu[o])
                cov_hat[k, i][np.ix_(m, m)] = sigma[np.ix_(m, m)] - sigma[np.ix_(m, o)] @ solve
            means_hat[k, i] = x_hat
    log_prob = logsumexp(log_joint, axis=1)
    resp = np.exp(log_joint - log_prob[:, None])
    return log_prob, resp, means_hat, cov_hat


def _full(model, params):
    """Full covariance matrices written out from the storage, without gaussmix."""
    cov = np.asarray(params.covariances, dtype=float)
    if model.shared_covariance:
        return np.stack([cov] * N_COMPONENTS)
    if cov.ndim == 1:
        return np.stack([c * np.eye(N_FEATURES) for c in cov])
    if cov.ndim == 2:
        return np.stack([np.diag(c) for c in cov])
    return cov


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_e_step_equals_scipy_marginals(name):
    X, X_missing = _data()
    model = COVARIANCE_MODELS[name]
    params = _params(name, X)
    log_prob, resp, _, _ = _brute_force(X_missing, params, model)
    backend = _backend(X_missing)
    centre = np.nanmean(X_missing, axis=0)
    with backend:
        mine, log_resp = score_rows(backend, MissingValues(model), params, centre, with_resp=True)
        total, _ = likelihood_and_entropy(backend, MissingValues(model), params, centre)
    np.testing.assert_allclose(mine, log_prob, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.exp(log_resp), resp, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(total, log_prob.sum(), rtol=1e-10)


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_statistics_equal_conditional_expectations(name):
    X, X_missing = _data(seed=1)
    model = COVARIANCE_MODELS[name]
    params = _params(name, X)
    log_prob, resp, x_hat, c_hat = _brute_force(X_missing, params, model)
    centre = np.nanmean(X_missing, axis=0)
    # Brute force: full statistics of the conditional expectations around the centre.
    shifted = x_hat - centre
    nk = resp.sum(axis=0)
    first = np.einsum("nk,knd->kd", resp, shifted)
    second = np.einsum("nk,knd,kne->kde", resp, shifted, shifted) + np.einsum(
        "nk,knde->kde", resp, c_hat
    )
    backend = _backend(X_missing)
    with backend:
        stats = e_step_statistics(backend, MissingValues(model), params, centre)
    np.testing.assert_allclose(stats.log_likelihood, log_prob.sum(), rtol=1e-10)
    np.testing.assert_allclose(stats.nk, nk, rtol=1e-10)
    np.testing.assert_allclose(stats.first, first, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(stats.second, model_second(model, second), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", [*MULTIVARIATE, "E", "V"])
def test_statistic_forms_equal_each_models_moments(name):
    # On complete rows model_second of the full scatter is what the model itself sums.
    rng = np.random.default_rng(2)
    n_features = 1 if name in ("E", "V") else N_FEATURES
    X = rng.standard_normal((40, n_features))
    model = COVARIANCE_MODELS[name]
    params = _params(name, X)
    centre = X.mean(axis=0)
    with _backend(X, n_threads=1) as backend:
        stats = e_step_statistics(backend, model, params, centre)
        _, log_resp = score_rows(backend, model, params, centre, with_resp=True)
    resp = np.exp(log_resp)
    Xc = X - centre
    second = np.einsum("nk,nd,ne->kde", resp, Xc, Xc)
    np.testing.assert_allclose(model_second(model, second), stats.second, rtol=1e-9, atol=1e-10)


def test_complete_chunks_take_the_wrapped_models_kernels():
    X, _ = _data()
    model = COVARIANCE_MODELS["VEV"]
    params = _params("VEV", X)
    centre = X.mean(axis=0)
    with _backend(X) as backend:
        plain = e_step_statistics(backend, model, params, centre)
        wrapped = e_step_statistics(backend, MissingValues(model), params, centre)
    for field in ("nk", "first", "second"):
        np.testing.assert_array_equal(getattr(plain, field), getattr(wrapped, field))
    assert plain.log_likelihood == wrapped.log_likelihood


def _expected_complete_loglik(theta, resp, x_hat, c_hat):
    """EM's Q for full covariances: sum r_ik (log N(x^ | mu_k, S_k) - tr(S_k^-1 C_ik) / 2)."""
    n_features = x_hat.shape[2]
    total = 0.0
    offset = 0
    for k in range(resp.shape[1]):
        mu = theta[offset : offset + n_features]
        offset += n_features
        lower = np.zeros((n_features, n_features))
        lower[np.tril_indices(n_features)] = theta[
            offset : offset + n_features * (n_features + 1) // 2
        ]
        offset += n_features * (n_features + 1) // 2
        sigma = lower @ lower.T
        precision = np.linalg.inv(sigma)
        _, log_det = np.linalg.slogdet(sigma)
        diff = x_hat[k] - mu
        quad = np.einsum("nd,de,ne->n", diff, precision, diff)
        trace = np.einsum("nde,ed->n", c_hat[k], precision)
        total += np.sum(
            resp[:, k] * (-0.5 * (quad + trace + log_det + n_features * np.log(2 * np.pi)))
        )
    return total


def test_one_m_step_maximises_the_expected_complete_data_log_likelihood():
    X, X_missing = _data(seed=3, n_per_pattern=4)
    model = COVARIANCE_MODELS["full"]
    params = _params("full", X)
    _, resp, x_hat, c_hat = _brute_force(X_missing, params, model)
    centre = np.nanmean(X_missing, axis=0)
    with _backend(X_missing) as backend:
        stats = e_step_statistics(backend, MissingValues(model), params, centre)
    means, covariances = model.m_step(stats.nk, stats.first, stats.second, 0.0)
    means = means + centre
    theta0 = []
    for k in range(N_COMPONENTS):
        theta0 += list(params.means[k])
        theta0 += list(np.linalg.cholesky(params.covariances[k])[np.tril_indices(N_FEATURES)])
    result = minimize(
        lambda t: -_expected_complete_loglik(t, resp, x_hat, c_hat),
        np.array(theta0),
        method="BFGS",
        options={"gtol": 1e-9, "maxiter": 5000},
    )
    theta = result.x
    per = N_FEATURES + N_FEATURES * (N_FEATURES + 1) // 2
    for k in range(N_COMPONENTS):
        block = theta[k * per : (k + 1) * per]
        lower = np.zeros((N_FEATURES, N_FEATURES))
        lower[np.tril_indices(N_FEATURES)] = block[N_FEATURES:]
        np.testing.assert_allclose(means[k], block[:N_FEATURES], atol=1e-4)
        np.testing.assert_allclose(covariances[k], lower @ lower.T, atol=1e-4)
    # And the optimum is no better than the closed form.
    theta_closed = []
    for k in range(N_COMPONENTS):
        theta_closed += list(means[k]) + list(
            np.linalg.cholesky(covariances[k])[np.tril_indices(N_FEATURES)]
        )
    assert (
        _expected_complete_loglik(np.array(theta_closed), resp, x_hat, c_hat) >= -result.fun - 1e-8
    )


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    fraction=st.floats(0.05, 0.5),
    name=st.sampled_from(["full", "diag", "tied", "spherical", "VEV", "EEI"]),
)
def test_observed_log_likelihood_never_decreases(seed, fraction, name):
    rng = np.random.default_rng(seed)
    X, _ = _data(seed=seed % 7, n_per_pattern=8)
    mask = rng.random(X.shape) < fraction
    mask[mask.all(axis=1), 0] = False
    X_missing = np.where(mask, np.nan, X)
    model = COVARIANCE_MODELS[name]
    params = _params(name, np.where(mask, np.nanmean(X_missing, axis=0), X))
    centre = np.nanmean(X_missing, axis=0)
    with _backend(X_missing) as backend:
        result = run_em(
            backend,
            MissingValues(model),
            params,
            centre=centre,
            tol=0.0,
            max_iter=15,
            reg_covar=0.0,
        )
    bounds = np.array(result.lower_bounds)
    assert np.all(np.diff(bounds) >= -1e-10 * np.abs(bounds[:-1]))


def test_conditional_moments_equal_brute_force_and_count_patterns():
    X, X_missing = _data(seed=4)
    model = COVARIANCE_MODELS["full"]
    params = _params("full", X)
    log_prob, resp, x_hat, c_hat = _brute_force(X_missing, params, model)
    filled, my_resp, my_log_prob, variance = conditional_moments(
        X_missing, params, model, variances=True
    )
    mean = np.einsum("nk,knd->nd", resp, x_hat)
    np.testing.assert_allclose(filled, mean, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(my_resp, resp, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(my_log_prob, log_prob, rtol=1e-10)
    second = np.einsum("nk,knd->nd", resp, x_hat**2 + np.diagonal(c_hat, axis1=2, axis2=3))
    np.testing.assert_allclose(variance, second - mean**2, atol=1e-10)
    assert count_patterns(X_missing) == 7
    assert full_covariances_of(model, params.covariances, 2, 3).shape == (2, 3, 3)


@pytest.mark.parametrize("name", ["full", "diag", "tied"])
def test_many_patterns_of_many_missing_values_equal_brute_force(name):
    # Six features, a third missing: rows miss up to five values, in dozens of
    # patterns met chunk by chunk (pattern tables grow mid-pass) by two threads;
    # the second pass finds every pattern known and builds the tables at once.
    rng = np.random.default_rng(5)
    n_features = 6
    mixing = rng.normal(size=(n_features, n_features)) * 0.4 + np.eye(n_features)
    labels = rng.integers(0, N_COMPONENTS, 150)
    X = rng.standard_normal((150, n_features)) @ mixing + 2.0 * labels[:, None]
    mask = rng.random(X.shape) < 0.35
    mask[mask.all(axis=1), 0] = False
    X_missing = np.where(mask, np.nan, X)
    assert np.bincount(mask.sum(axis=1)).size >= 5
    model = COVARIANCE_MODELS[name]
    params = _params(name, X)
    log_prob, resp, x_hat, c_hat = _brute_force(X_missing, params, model)
    centre = np.nanmean(X_missing, axis=0)
    shifted = x_hat - centre
    second = np.einsum("nk,knd,kne->kde", resp, shifted, shifted) + np.einsum(
        "nk,knde->kde", resp, c_hat
    )
    missing_model = MissingValues(model)
    with _backend(X_missing, rows_per_chunk=7) as backend:
        for _ in range(2):
            stats = e_step_statistics(backend, missing_model, params, centre)
            np.testing.assert_allclose(stats.log_likelihood, log_prob.sum(), rtol=1e-10)
            np.testing.assert_allclose(stats.nk, resp.sum(axis=0), rtol=1e-10)
            np.testing.assert_allclose(
                stats.first, np.einsum("nk,knd->kd", resp, shifted), rtol=1e-9, atol=1e-10
            )
            np.testing.assert_allclose(
                stats.second, model_second(model, second), rtol=1e-9, atol=1e-10
            )
        mine = score_rows(backend, missing_model, params, centre)
    np.testing.assert_allclose(mine, log_prob, rtol=1e-10, atol=1e-10)
