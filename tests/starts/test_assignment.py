"""Initial assignments: the same draws as scikit-learn from the same RandomState."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix import CollapseError, GaussianMixture
from gaussmix.starts.assignment import (
    Assignment,
    hc_assignments,
    initial_assignment,
    quantile_classes,
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


# ------------------------------------------------- one feature: mclust's quantile classes
MCLUST_HC = json.loads((Path(__file__).parents[1] / "fixtures" / "mclust_hc.json").read_text())
ACIDITY = np.array(MCLUST_HC["acidity"])


def _qclass_case(name):
    case = MCLUST_HC["qclass"][name]
    x = ACIDITY if case["data"] == "acidity" else np.array(case["data"], dtype=np.float64)
    weights = np.array(case["weights"], dtype=np.float64) if "weights" in case else None
    return x, weights, case["labels"]


@pytest.mark.parametrize("name", sorted(MCLUST_HC["qclass"]))
def test_quantile_classes_are_mclusts_qclass(name):
    # R's qclass(x, k), k = 1..9: mclust's class 0 (no class) is our -1. The cases
    # cover heavy repeats (a long search over quantile grids, empty classes), the
    # widening by sd * sqrt(eps) that rounds away at 1e10 (the largest values in no
    # class), and integer weights against R on the values repeated.
    x, weights, labels = _qclass_case(name)
    for n_classes, expected in labels.items():
        np.testing.assert_array_equal(quantile_classes(x, int(n_classes), weights) + 1, expected)


def test_one_feature_hc_start_is_qclass_as_in_mclustbic():
    labels = hc_assignments(ACIDITY[:, None], range(1, 10), np.random.RandomState(0))
    np.testing.assert_array_equal(labels[1], np.zeros(ACIDITY.size))  # mvn on all rows
    for n_classes, expected in MCLUST_HC["qclass"]["acidity"]["labels"].items():
        if n_classes != "1":
            np.testing.assert_array_equal(labels[int(n_classes)] + 1, expected)
    alone = initial_assignment(ACIDITY[:, None], 3, "hc", np.random.RandomState(0))
    np.testing.assert_array_equal(alone.labels, labels[3])


def test_one_feature_weights_are_relative_and_zero_weights_left_out():
    # The start sees the weights rescaled to mean one (repeats summing to the rows).
    x, weights, _ = _qclass_case("weighted")
    X = x[:, None]
    expected = quantile_classes(x, 4, weights / weights.mean())
    for scale in (1.0, 0.01, 7.0):
        np.testing.assert_array_equal(hc_assignments(X, [4], None, scale * weights)[4], expected)
    np.testing.assert_array_equal(
        hc_assignments(X, [4], None, np.full(x.size, 2.5))[4], quantile_classes(x, 4)
    )
    weights[::3] = 0.0
    labels = hc_assignments(X, [4], None, weights)[4]
    kept = weights > 0
    assert np.all(labels[~kept] == -1)
    kept_weights = weights[kept] / weights[kept].mean()
    np.testing.assert_array_equal(labels[kept], quantile_classes(x[kept], 4, kept_weights))


def test_one_feature_large_data_takes_qclass_of_a_subset(monkeypatch):
    monkeypatch.setattr("gaussmix.starts.assignment.SUBSET_SIZE", 60)
    x = np.random.default_rng(0).gamma(2.0, size=150)
    labels = hc_assignments(x[:, None], [3], np.random.RandomState(7))[3]
    drawn = labels >= 0
    assert np.count_nonzero(drawn) == 60
    np.testing.assert_array_equal(labels[drawn], quantile_classes(x[drawn], 3))


def test_quantile_classes_of_one_value_put_every_row_in_the_first_class():
    # mclust's qclass never returns here (no grid of quantiles has two values).
    np.testing.assert_array_equal(quantile_classes(np.full(10, 3.0), 4), np.zeros(10))
    # Repeated 0.6 and 0.9 times, the values sorted are 1 (positions up to 0.6)
    # then 2 (up to 1.5): the only order statistic, at position 1, is 2.
    np.testing.assert_array_equal(quantile_classes([1.0, 2.0], 2, [0.6, 0.9]), [0, 0])
    with pytest.raises(ValueError, match="at least 1"):
        quantile_classes(np.arange(5.0), 0)
    with pytest.raises(ValueError, match="positive weight"):
        quantile_classes(np.arange(5.0), 2, np.r_[0.0, np.ones(4)])
    with pytest.raises(ValueError, match="scale them up"):
        quantile_classes([1.0, 2.0], 2, [0.3, 0.4])


def _acidity_fit(n_components, covariance_type, tol):
    X = ACIDITY[:, None]
    model = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        init_params="hc",
        tol=tol,
        max_iter=20_000,
        reg_covar=0.0,
    )
    return model.fit(X), X


def test_acidity_e2_reaches_mclusts_bic():
    # Issue 14: from a tree this fit ended at BIC -471.745; mclust's Mclust gives -392.072.
    model, X = _acidity_fit(2, "E", 1e-8)
    mclust_bic = MCLUST_HC["acidity_bic"]["default"]["E"][1]
    assert -model.bic(X) == pytest.approx(mclust_bic, abs=1e-3)


@pytest.mark.parametrize("covariance_type", ["E", "V"])
def test_acidity_bic_table_is_mclusts_from_the_same_start(covariance_type):
    # Both run to convergence (mclust with emControl(tol = 1e-10)) from the same
    # quantile classes: every cell agrees. Where mclust gives NA, its EM hit a
    # singular variance, and ours stops the same way: a component closes in on
    # one repeated value until its variance is rounding (reg_covar is 0 here).
    table = MCLUST_HC["acidity_bic"]["tight"][covariance_type]
    for n_components, mclust_bic in enumerate(table, start=1):
        if mclust_bic is None:
            with pytest.raises(CollapseError, match="singular covariance"):
                _acidity_fit(n_components, covariance_type, 1e-10)
        else:
            model, X = _acidity_fit(n_components, covariance_type, 1e-10)
            assert -model.bic(X) == pytest.approx(mclust_bic, abs=1e-3), n_components
