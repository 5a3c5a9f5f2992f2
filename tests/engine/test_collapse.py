"""Collapsed components: re-seeded on the worst-explained rows, frozen, or explained."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.special import logsumexp

from gaussmix.backends import InMemoryBackend
from gaussmix.covariance import COVARIANCE_MODELS
from gaussmix.engine.collapse import (
    CollapseError,
    CollapseHandler,
    CollapseWarning,
    pooled_covariance,
)
from gaussmix.engine.params import MixtureParams
from helpers import COVARIANCE_TYPES, mixture_log_prob, random_covariances, to_full

N_COMPONENTS, N_FEATURES = 3, 2


def _setup(covariance_type, seed=0, n_rows=90, sample_weight=None):
    model = COVARIANCE_MODELS[covariance_type]
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_rows, N_FEATURES)) * 2.0 + 5.0
    covariances = random_covariances(model, rng, N_COMPONENTS, N_FEATURES)
    params = MixtureParams(
        weights=np.array([0.5, 0.5 - 1e-12, 1e-12]),
        means=rng.normal(size=(N_COMPONENTS, N_FEATURES)) + 5.0,
        covariances=covariances,
        precisions_cholesky=model.precisions_cholesky(covariances)[0],
    )
    backend = InMemoryBackend(X, sample_weight)
    return model, X, params, backend


def test_pooled_covariance_is_the_weighted_covariance():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 3)) @ rng.normal(size=(3, 3)) + 100.0
    weights = rng.uniform(0.0, 2.0, size=500)
    backend = InMemoryBackend(X, weights)
    with backend:
        pooled = pooled_covariance(backend, backend.centre(), 1e-3)
    expected = np.cov(X.T, aweights=weights, bias=True) + 1e-3 * np.eye(3)
    np.testing.assert_allclose(pooled, expected, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_nothing_collapsed_changes_nothing(covariance_type):
    model, _, params, backend = _setup(covariance_type)
    handler = CollapseHandler(backend, model, backend.centre(), 1e-6, N_COMPONENTS)
    none = np.zeros(N_COMPONENTS, dtype=bool)
    with backend:
        repaired, reseeded = handler.resolve(params, params, none, none, 4)
    assert repaired is params and not reseeded


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_empty_component_moves_to_the_worst_explained_row(covariance_type):
    model, X, params, backend = _setup(covariance_type)
    handler = CollapseHandler(backend, model, backend.centre(), 1e-6, N_COMPONENTS)
    empty = np.array([False, False, True])
    singular = np.zeros(N_COMPONENTS, dtype=bool)
    with backend, pytest.warns(CollapseWarning, match=r"Component\(s\) 2 \(empty\)") as record:
        repaired, reseeded = handler.resolve(params, params, empty, singular, 4)
    assert reseeded
    assert "np.int64" not in str(record[0].message)

    # Brute force: the row with the lowest density under the two healthy components.
    full = to_full(model, params.covariances, N_COMPONENTS, N_FEATURES)
    healthy = [0, 1]
    weights = params.weights[healthy] / params.weights[healthy].sum()
    density = logsumexp(mixture_log_prob(X, weights, params.means[healthy], full[healthy]), axis=1)
    np.testing.assert_array_equal(repaired.means[2], X[np.argmin(density)])
    np.testing.assert_array_equal(repaired.means[:2], params.means[:2])
    # Its covariance is the pooled one (the model's form of it), its weight one row's.
    pooled = np.cov(X.T, bias=True) + 1e-6 * np.eye(N_FEATURES)
    if not model.shared_covariance:
        np.testing.assert_allclose(
            repaired.covariances[2], model.from_pooled(pooled, N_COMPONENTS)[2], rtol=1e-10
        )
    expected_weights = params.weights.copy()
    expected_weights[2] = 1.0 / len(X)
    np.testing.assert_allclose(repaired.weights, expected_weights / expected_weights.sum())
    assert handler.budget == 2 * N_COMPONENTS - 1


@pytest.mark.parametrize("covariance_type", ["diag", "full", "spherical"])
def test_reseeded_components_get_distinct_rows(covariance_type):
    """Every component collapsed, on data with repeated rows: seeds are distinct rows."""
    model = COVARIANCE_MODELS[covariance_type]
    rng = np.random.RandomState(0)
    points = rng.normal(size=(4, N_FEATURES)) * 3
    X = np.repeat(points, 25, axis=0)
    backend = InMemoryBackend(X, None)
    covariances = model.from_pooled(np.eye(N_FEATURES), N_COMPONENTS)
    params = MixtureParams(
        weights=np.full(N_COMPONENTS, 1 / 3),
        means=np.zeros((N_COMPONENTS, N_FEATURES)),
        covariances=covariances,
        precisions_cholesky=model.precisions_cholesky(covariances)[0],
    )
    handler = CollapseHandler(backend, model, backend.centre(), 1e-6, N_COMPONENTS)
    every = np.ones(N_COMPONENTS, dtype=bool)
    with backend, pytest.warns(CollapseWarning):
        repaired, _ = handler.resolve(params, None, every, ~every, 0)
    assert len({tuple(mean) for mean in repaired.means}) == N_COMPONENTS
    for mean in repaired.means:
        assert any(np.array_equal(mean, point) for point in points)


def test_shared_covariance_singular_raises():
    model, _, params, backend = _setup("tied")
    handler = CollapseHandler(backend, model, backend.centre(), 0.0, N_COMPONENTS)
    with backend, pytest.raises(CollapseError, match=r"shared.*singular.*reg_covar"):
        handler.resolve(params, params, np.zeros(3, dtype=bool), np.array([True]), 2)


@pytest.mark.parametrize("covariance_type", ["diag", "full", "spherical"])
def test_singular_component_after_the_budget_raises(covariance_type):
    model, _, params, backend = _setup(covariance_type)
    handler = CollapseHandler(backend, model, backend.centre(), 1e-6, N_COMPONENTS)
    handler.budget = 0
    singular = np.array([False, True, False])
    with backend, pytest.raises(CollapseError) as info:
        handler.resolve(params, params, np.zeros(3, dtype=bool), singular, 9)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert re.search(r"Component 1\b", message)
    assert "iteration 9" in message and "reg_covar" in message


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_empty_component_after_the_budget_is_frozen(covariance_type):
    model, _, params, backend = _setup(covariance_type)
    old = params
    moved = MixtureParams(
        weights=params.weights,
        means=params.means + 1.0,
        covariances=params.covariances,
        precisions_cholesky=params.precisions_cholesky,
    )
    handler = CollapseHandler(backend, model, backend.centre(), 1e-6, N_COMPONENTS)
    handler.budget = 0
    empty = np.array([False, False, True])
    with backend, pytest.warns(CollapseWarning, match=r"\[2\] stay empty"):
        frozen, reseeded = handler.resolve(moved, old, empty, np.zeros(3, dtype=bool), 5)
    assert not reseeded
    np.testing.assert_array_equal(frozen.means[2], old.means[2])
    np.testing.assert_array_equal(frozen.means[:2], moved.means[:2])
    np.testing.assert_array_equal(frozen.weights, moved.weights)


def test_unseedable_components_are_named_readably():
    """A constant feature with reg_covar=0: the pooled covariance is singular too."""
    model = COVARIANCE_MODELS["diag"]
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.normal(size=60), np.full(60, 2.0)])
    backend = InMemoryBackend(X, None)
    covariances = np.ones((2, N_FEATURES))
    params = MixtureParams(
        weights=np.full(2, 0.5),
        means=np.zeros((2, N_FEATURES)),
        covariances=covariances,
        precisions_cholesky=model.precisions_cholesky(covariances)[0],
    )
    handler = CollapseHandler(backend, model, backend.centre(), 0.0, 2)
    every = np.ones(2, dtype=bool)
    with backend, pytest.raises(CollapseError, match=r"\[0, 1\] cannot be re-seeded"):
        handler.resolve(params, None, ~every, every, 0)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_frozen_component_spends_no_budget_and_blocks_no_reseed(covariance_type):
    """A component frozen as empty stays frozen, silently; a new singular one is re-seeded."""
    model, X, params, backend = _setup(covariance_type)
    handler = CollapseHandler(backend, model, backend.centre(), 1e-6, N_COMPONENTS)
    handler.frozen.add(2)
    handler.budget = 1
    empty = np.array([False, False, True])
    singular = np.array([True, False, False])
    with backend, pytest.warns(CollapseWarning, match=r"Component\(s\) 0 \(singular"):
        repaired, reseeded = handler.resolve(params, params, empty, singular, 7)
    assert reseeded and handler.budget == 0
    # The frozen component kept its previous mean; the singular one moved onto a row.
    np.testing.assert_array_equal(repaired.means[2], params.means[2])
    assert any(np.array_equal(repaired.means[0], row) for row in X)
