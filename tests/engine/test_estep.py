"""The chunk E-step: log-densities, responsibilities and statistics, against SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from gaussmix.covariance import COVARIANCE_MODELS
from gaussmix.engine.estep import chunk_statistics, log_prob_resp, normalize_in_place
from helpers import COVARIANCE_TYPES, mixture_log_prob, random_covariances, to_full

N_COMPONENTS, N_FEATURES = 3, 2


def _setup(covariance_type, dtype=np.float64, seed=0, n_rows=250):
    model = COVARIANCE_MODELS[covariance_type]
    rng = np.random.RandomState(seed)
    X = (rng.normal(size=(n_rows, N_FEATURES)) * 3.0 + 2.0).astype(dtype)
    weights = rng.dirichlet(np.ones(N_COMPONENTS))
    means = rng.normal(scale=3.0, size=(N_COMPONENTS, N_FEATURES)) + 2.0
    covariances = random_covariances(model, rng, N_COMPONENTS, N_FEATURES)
    centre = X.mean(axis=0, dtype=np.float64)
    precisions_chol, _ = model.precisions_cholesky(covariances)
    prepared = model.prepare(means - centre, precisions_chol, np.log(weights), dtype)
    work = model.workspace(n_rows, N_COMPONENTS, N_FEATURES, dtype)
    XcT = np.ascontiguousarray((X - centre.astype(dtype)).T)
    full = to_full(model, covariances, N_COMPONENTS, N_FEATURES)
    expected = mixture_log_prob(X.astype(np.float64), weights, means, full)
    return model, rng, X, XcT, prepared, work, expected


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_prob_resp_is_normalised_and_matches_scipy(covariance_type):
    model, _, X, XcT, prepared, work, expected = _setup(covariance_type)
    log_prob_norm, log_resp = log_prob_resp(model, XcT, prepared, work)
    assert log_resp.shape == (X.shape[0], N_COMPONENTS)
    np.testing.assert_allclose(logsumexp(log_resp, axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(log_prob_norm, logsumexp(expected, axis=1), rtol=1e-10)
    np.testing.assert_allclose(
        log_resp, expected - logsumexp(expected, axis=1, keepdims=True), rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_prob_resp_far_from_every_component(covariance_type):
    """A row ~1e3 standard deviations away: log-densities ~ -1e6, still normalised."""
    model, _, _, XcT, prepared, work, _ = _setup(covariance_type)
    XcT = np.ascontiguousarray(XcT.copy())
    XcT[:, :5] += 3e3
    log_prob_norm, log_resp = log_prob_resp(model, XcT, prepared, work)
    assert np.all(np.isfinite(log_prob_norm))
    assert np.all(log_prob_norm[:5] < -1e4)
    np.testing.assert_allclose(logsumexp(log_resp, axis=1), 0.0, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_normalize_in_place(covariance_type):
    *_, expected = _setup(covariance_type)
    weighted = np.ascontiguousarray(expected.T)
    log_prob_norm, row_sum = normalize_in_place(weighted)
    np.testing.assert_allclose(log_prob_norm, logsumexp(expected, axis=1), rtol=1e-12)
    resp = np.exp(expected - logsumexp(expected, axis=1, keepdims=True))
    # Responsibilities below the documented floor (~1e-154 in float64) are not represented.
    np.testing.assert_allclose((weighted / row_sum).T, resp, rtol=1e-10, atol=1e-150)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_chunk_statistics_of_the_e_step(covariance_type, weighted):
    model, rng, X, XcT, prepared, work, expected = _setup(covariance_type)
    sample_weight = rng.uniform(0.0, 2.0, size=X.shape[0]) if weighted else None
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    stats = chunk_statistics(model, XcT, sample_weight, prepared, work)
    resp = np.exp(expected - logsumexp(expected, axis=1, keepdims=True))
    np.testing.assert_allclose(stats.total_weight, w.sum(), rtol=1e-12)
    np.testing.assert_allclose(
        stats.log_likelihood, np.sum(w * logsumexp(expected, axis=1)), rtol=1e-10
    )
    np.testing.assert_allclose(stats.nk, (resp * w[:, None]).sum(axis=0), rtol=1e-10)
    for array in (stats.nk, stats.first, stats.second):
        assert array.dtype == np.float64


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_chunk_statistics_from_given_responsibilities(covariance_type):
    model, rng, X, XcT, prepared, work, _ = _setup(covariance_type)
    sample_weight = rng.uniform(0.0, 2.0, size=X.shape[0])
    resp = rng.dirichlet(np.ones(N_COMPONENTS), size=X.shape[0])
    stats = chunk_statistics(
        model, XcT, sample_weight, prepared, work, resp=np.ascontiguousarray(resp.T)
    )
    assert stats.log_likelihood == 0.0
    np.testing.assert_allclose(stats.nk, (resp * sample_weight[:, None]).sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_chunk_statistics_float32(covariance_type):
    model, _, _, XcT, prepared, work, expected = _setup(covariance_type, dtype=np.float32)
    stats = chunk_statistics(model, XcT, None, prepared, work)
    assert stats.nk.dtype == np.float64
    np.testing.assert_allclose(stats.log_likelihood, logsumexp(expected, axis=1).sum(), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kernel", COVARIANCE_MODELS["full"].kernel_names)
def test_chunk_statistics_with_each_full_kernel(kernel, dtype):
    """The E-step of a chunk run by each kernel: SciPy's log-likelihood, textbook sums."""
    n_rows, n_components, n_features = 120, 3, 40
    model = COVARIANCE_MODELS["full"].with_kernel(kernel)
    rng = np.random.RandomState(1)
    X = rng.normal(size=(n_rows, n_features)) + 2.0
    means = X[:n_components] + rng.normal(scale=0.3, size=(n_components, n_features))
    covariances = random_covariances(model, rng, n_components, n_features)
    weights = rng.dirichlet(np.ones(n_components))
    sample_weight = rng.uniform(0.0, 2.0, size=n_rows)
    centre = X.mean(axis=0)
    prepared = model.prepare(
        means - centre, model.precisions_cholesky(covariances)[0], np.log(weights), dtype
    )
    work = model.workspace(n_rows, n_components, n_features, dtype)
    XcT = np.ascontiguousarray((X - centre).T, dtype=dtype)
    stats = chunk_statistics(model, XcT, sample_weight, prepared, work)
    expected = mixture_log_prob(X, weights, means, covariances)
    resp = np.exp(expected - logsumexp(expected, axis=1, keepdims=True)) * sample_weight[:, None]
    Xc = X - centre
    rows, cols = np.triu_indices(n_features)
    scatter = np.einsum("nk,ni,nj->kij", resp, Xc, Xc)[:, rows, cols]
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(
        stats.log_likelihood, sample_weight @ logsumexp(expected, axis=1), rtol=rtol
    )
    np.testing.assert_allclose(stats.nk, resp.sum(axis=0), rtol=rtol)
    np.testing.assert_allclose(stats.first, resp.T @ Xc, rtol=rtol, atol=rtol * n_rows)
    np.testing.assert_allclose(stats.second, scatter, rtol=rtol, atol=rtol * np.abs(scatter).max())
    for array in (stats.nk, stats.first, stats.second):
        assert array.dtype == np.float64
