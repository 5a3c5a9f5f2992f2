"""Whole-data passes: initial parameters, the M-step, scoring, empty components."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from gaussmix.backends import InMemoryBackend
from gaussmix.covariance import COVARIANCE_MODELS
from gaussmix.engine.params import MixtureParams
from gaussmix.engine.passes import (
    EMPTY_FRACTION,
    e_step_statistics,
    empty_components,
    initial_params,
    m_step,
    score_rows,
)
from gaussmix.starts.assignment import Assignment
from helpers import (
    COVARIANCE_TYPES,
    brute_force_m_step,
    mixture_log_prob,
    random_covariances,
    to_full,
)

N_COMPONENTS, N_FEATURES = 3, 2


def _data(seed=0, n_rows=400):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_rows, N_FEATURES)) * 2.0 + 50.0
    return rng, X


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_initial_params_from_labels(covariance_type, weighted):
    model = COVARIANCE_MODELS[covariance_type]
    rng, X = _data()
    sample_weight = rng.uniform(0.5, 2.0, size=len(X)) if weighted else None
    labels = rng.randint(N_COMPONENTS, size=len(X))
    reg_covar = 1e-4
    backend = InMemoryBackend(X, sample_weight)
    with backend:
        params, empty, singular = initial_params(
            backend,
            model,
            Assignment(labels=labels, resp=None),
            backend.centre(),
            N_COMPONENTS,
            reg_covar,
        )
    resp = np.eye(N_COMPONENTS)[labels]
    nk, means, covariances = brute_force_m_step(model, X, resp, sample_weight, reg_covar)
    np.testing.assert_allclose(params.weights, nk / nk.sum(), rtol=1e-12)
    np.testing.assert_allclose(params.means, means, rtol=1e-12)
    np.testing.assert_allclose(params.covariances, covariances, rtol=1e-9)
    assert not empty.any() and not np.any(singular)
    np.testing.assert_allclose(
        model.covariances_from_cholesky(params.precisions_cholesky), covariances, rtol=1e-9
    )


def test_initial_params_flag_empty_and_singular_components():
    model = COVARIANCE_MODELS["diag"]
    rng, X = _data()
    X[:, 1] = np.where(np.arange(len(X)) < 10, 3.0, X[:, 1])  # rows 0-9: constant feature 1
    labels = np.zeros(len(X), dtype=int)
    labels[:10] = 1  # component 1: variance exactly zero in feature 1 with reg_covar=0
    labels[10:] = rng.choice([0, 1], size=len(X) - 10)
    labels[labels == 1] = np.where(np.flatnonzero(labels == 1) < 10, 1, 0)
    backend = InMemoryBackend(X, None)  # component 2: no row at all
    with backend:
        _, empty, singular = initial_params(
            backend, model, Assignment(labels, None), backend.centre(), N_COMPONENTS, 0.0
        )
    np.testing.assert_array_equal(empty, [False, False, True])
    assert singular[1] and not singular[0]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_e_step_and_m_step_equal_brute_force(covariance_type):
    model = COVARIANCE_MODELS[covariance_type]
    rng, X = _data()
    covariances = random_covariances(model, rng, N_COMPONENTS, N_FEATURES)
    params = MixtureParams(
        weights=rng.dirichlet(np.ones(N_COMPONENTS)),
        means=rng.normal(size=(N_COMPONENTS, N_FEATURES)) * 2.0 + 50.0,
        covariances=covariances,
        precisions_cholesky=model.precisions_cholesky(covariances)[0],
    )
    backend = InMemoryBackend(X, None)
    with backend:
        centre = backend.centre()
        stats = e_step_statistics(backend, model, params, centre)
        eps = np.finfo(np.float64).eps
        new, singular = m_step(model, stats, centre, 1e-6)
    full = to_full(model, covariances, N_COMPONENTS, N_FEATURES)
    weighted = mixture_log_prob(X, params.weights, params.means, full)
    resp = np.exp(weighted - logsumexp(weighted, axis=1, keepdims=True))
    np.testing.assert_allclose(stats.log_likelihood, logsumexp(weighted, axis=1).sum())
    nk, means, covariances = brute_force_m_step(model, X, resp, None, 1e-6)
    # scikit-learn's convention: nk + 10 eps, then normalised.
    np.testing.assert_allclose(new.weights, (nk + 10 * eps) / (nk + 10 * eps).sum(), rtol=1e-10)
    np.testing.assert_allclose(new.means, means, rtol=1e-10)
    np.testing.assert_allclose(new.covariances, covariances, rtol=1e-8)
    assert not np.any(singular)


@pytest.mark.parametrize("n_rows", [90, 400])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_score_rows_with_a_zero_weight_component(covariance_type, n_rows):
    """A component of weight zero has log-weight -inf: it must drop out, silently.

    (The collapse handler scores rows this way when it re-seeds a component.)
    """
    model = COVARIANCE_MODELS[covariance_type]
    rng, X = _data(n_rows=n_rows)
    covariances = random_covariances(model, rng, N_COMPONENTS, N_FEATURES)
    weights = np.array([0.4, 0.0, 0.6])
    params = MixtureParams(
        weights=weights,
        means=rng.normal(size=(N_COMPONENTS, N_FEATURES)) + 50.0,
        covariances=covariances,
        precisions_cholesky=model.precisions_cholesky(covariances)[0],
    )
    backend = InMemoryBackend(X, None)
    with backend:
        log_density, log_resp = score_rows(backend, model, params, backend.centre(), with_resp=True)
    full = to_full(model, covariances, N_COMPONENTS, N_FEATURES)
    kept = [0, 2]
    expected = mixture_log_prob(X, weights[kept], params.means[kept], full[kept])
    np.testing.assert_allclose(log_density, logsumexp(expected, axis=1), rtol=1e-10)
    np.testing.assert_array_equal(np.exp(log_resp[:, 1]), 0.0)


def test_empty_components_threshold():
    _, X = _data(n_rows=100)
    sample_weight = np.full(100, 2.0)
    backend = InMemoryBackend(X, sample_weight)
    average = backend.total_weight / backend.n_samples  # 2.0

    class Stats:
        nk = np.array([EMPTY_FRACTION * average * 0.99, EMPTY_FRACTION * average * 1.01, 50.0])

    np.testing.assert_array_equal(empty_components(Stats, backend), [True, False, False])
