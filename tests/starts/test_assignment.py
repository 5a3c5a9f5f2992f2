"""Initial assignments: the same draws as scikit-learn from the same RandomState."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix.starts.assignment import (
    Assignment,
    hc_assignments,
    initial_assignment,
    same_partition,
)
from helpers import INIT_PARAMS

N_COMPONENTS = 4


class _CapturingGaussianMixture(SkGaussianMixture):
    """scikit-learn's GaussianMixture, stopped where its start is drawn."""

    def _initialize(self, X, resp, xp=None):
        self.captured_resp = resp


def _sklearn_resp(X, init_params, random_state):
    sk = _CapturingGaussianMixture(N_COMPONENTS, init_params=init_params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk._initialize_parameters(X, random_state)
    return np.asarray(sk.captured_resp)


def _dense(assignment, n_samples):
    return assignment.chunk(slice(0, n_samples), N_COMPONENTS, np.float64).T


@pytest.mark.parametrize("init_params", INIT_PARAMS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_start_as_sklearn(init_params, seed):
    X, _ = make_blobs(200, 3, centers=N_COMPONENTS, cluster_std=2.0, random_state=seed)
    ours_state, theirs_state = np.random.RandomState(seed), np.random.RandomState(seed)
    assignment = initial_assignment(X, N_COMPONENTS, init_params, ours_state)
    np.testing.assert_allclose(
        _dense(assignment, len(X)), _sklearn_resp(X, init_params, theirs_state)
    )
    # Both drew the same amount of randomness: the next start (n_init > 1) matches too.
    assert ours_state.randint(2**31) == theirs_state.randint(2**31)


@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_uniform_weights_draw_the_unweighted_start(init_params):
    X, _ = make_blobs(200, 2, centers=N_COMPONENTS, random_state=0)
    plain = initial_assignment(X, N_COMPONENTS, init_params, np.random.RandomState(3))
    uniform = initial_assignment(
        X, N_COMPONENTS, init_params, np.random.RandomState(3), np.full(len(X), 2.5)
    )
    np.testing.assert_array_equal(_dense(plain, len(X)), _dense(uniform, len(X)))


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_seeds_never_have_weight_zero(init_params):
    X, _ = make_blobs(200, 2, centers=N_COMPONENTS, random_state=0)
    weights = np.zeros(len(X))
    weights[::3] = 1.0
    for seed in range(20):
        assignment = initial_assignment(
            X, N_COMPONENTS, init_params, np.random.RandomState(seed), weights
        )
        seeds = np.flatnonzero(assignment.labels >= 0)
        assert len(seeds) == N_COMPONENTS
        assert np.all(weights[seeds] > 0)
        np.testing.assert_array_equal(np.sort(assignment.labels[seeds]), np.arange(N_COMPONENTS))


def test_kmeans_uses_the_weights():
    """A big cluster of weight zero does not take a component from the two that count."""
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [40.0, 0.0]])
    X, y = make_blobs([50, 50, 600], 2, centers=centres, random_state=0)
    weights = (y != 2).astype(float)

    def separates_0_and_1(labels):
        return (
            len(set(labels[y == 0])) == 1
            and len(set(labels[y == 1])) == 1
            and labels[y == 0][0] != labels[y == 1][0]
        )

    # Without the weights, k-means spends a centre on the big cluster.
    unweighted = initial_assignment(X, 2, "kmeans", np.random.RandomState(0))
    assert not separates_0_and_1(unweighted.labels)
    weighted = initial_assignment(X, 2, "kmeans", np.random.RandomState(0), weights)
    assert separates_0_and_1(weighted.labels)


def test_random_responsibilities_are_normalised():
    X = np.random.RandomState(0).normal(size=(50, 2))
    assignment = initial_assignment(X, 3, "random", np.random.RandomState(0))
    np.testing.assert_allclose(assignment.resp.sum(axis=1), 1.0)
    chunk = assignment.chunk(slice(10, 20), 3, np.float32)
    assert chunk.shape == (3, 10) and chunk.dtype == np.float32
    np.testing.assert_allclose(chunk, assignment.resp[10:20].T, rtol=1e-6)


def test_unknown_init_params():
    with pytest.raises(ValueError, match="init_params"):
        initial_assignment(np.zeros((5, 2)), 2, "bogus", np.random.RandomState(0))


# ------------------------------------------------------------- shared starts of a search
@pytest.mark.parametrize("weighted", [False, True])
def test_one_tree_cut_at_every_count_equals_a_tree_per_count(weighted):
    X, _ = make_blobs(120, 3, centers=4, random_state=3)
    weights = np.random.default_rng(0).uniform(0.2, 3.0, 120) if weighted else None
    counts = [1, 2, 3, 5, 9]
    shared = hc_assignments(X, counts, np.random.RandomState(0), weights)
    for k in counts:
        alone = initial_assignment(X, k, "hc", np.random.RandomState(0), weights)
        np.testing.assert_array_equal(shared[k], alone.labels)
        assert np.unique(shared[k]).size == k


def test_one_tree_on_a_subset_of_large_data_matches_a_tree_per_count(monkeypatch):
    monkeypatch.setattr("gaussmix.starts.assignment.SUBSET_SIZE", 60)
    X, _ = make_blobs(150, 2, centers=3, random_state=4)
    shared = hc_assignments(X, [2, 4], np.random.RandomState(7))
    for k in (2, 4):
        alone = initial_assignment(X, k, "hc", np.random.RandomState(7))
        np.testing.assert_array_equal(shared[k], alone.labels)
        assert np.count_nonzero(shared[k] >= 0) == 60


def test_same_partition_ignores_the_names_of_the_labels():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 50)
    renamed = np.array([3, 0, 2, 1])[labels]
    assert same_partition(Assignment(labels, None), Assignment(renamed, None))
    moved = labels.copy()
    moved[0] = (moved[0] + 1) % 4
    assert not same_partition(Assignment(labels, None), Assignment(moved, None))
    # Rows outside every component (-1, seeds of k-means++) must match too.
    seeds = np.full(50, -1)
    seeds[[4, 9]] = [0, 1]
    other = np.full(50, -1)
    other[[4, 9]] = [1, 0]
    assert same_partition(Assignment(seeds, None), Assignment(other, None))
    other[10] = 0
    assert not same_partition(Assignment(seeds, None), Assignment(other, None))
    resp = np.full((50, 2), 0.5)
    assert not same_partition(Assignment(None, resp), Assignment(None, resp))
