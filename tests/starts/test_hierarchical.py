"""Model-based hierarchical clustering (mclust's ``hc``) and the ``'hc'`` start."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.cluster.hierarchy import linkage
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from gaussmix import GaussianMixture
from gaussmix.datasets import load_faithful
from gaussmix.starts.assignment import hc_assignments, initial_assignment
from gaussmix.starts.hierarchical import (
    cut_tree,
    default_model,
    hc_labels,
    merge_tree,
    svd_transform,
)
from helpers import COVARIANCE_TYPES, FITTED_ARRAYS

EPS = np.finfo(np.float64).eps
UNIVARIATE_TYPES = {"E", "V"}  # mclust's one-feature models


# ------------------------------------------------------------------ brute force
def _brute_force_term(points, masses, model, alpha):
    """The criterion of one cluster from its rows, by the textbook formulas."""
    n_features = points.shape[1]
    mass = masses.sum()
    centred = points - masses @ points / mass
    scatter = (centred * masses[:, None]).T @ centred
    if model == "EII":
        return np.trace(scatter)  # within-cluster sum of squares: Ward
    if model == "V":
        return mass * np.log((scatter[0, 0] + alpha) / mass)
    det = np.linalg.det(scatter / mass) if len(points) > n_features else 0.0
    return mass * np.log(det + (np.trace(scatter) + alpha) / mass)


def _brute_force_merges(Z, model, weights=None):
    """Every step: the criterion of every pair of current clusters from scratch.

    Ties follow mclust's Fortran as its source reads: clusters sit in slots, pairs
    are scanned column by column (slot j, then slot i < j) and the last least cost
    wins; the union takes slot i and the last slot's cluster moves to slot j.
    Costs computed from scratch round differently for clusters that are copies
    of each other, so costs within 1e-9 of the least count as tied here.
    """
    n_rows, n_features = Z.shape
    masses = np.ones(n_rows) if weights is None else weights / np.mean(weights)
    centred = Z - masses @ Z / masses.sum()
    alpha = masses @ (centred**2).sum(axis=1) / (masses.sum() * n_features)
    if model == "V":
        alpha = EPS

    def term(rows):
        return _brute_force_term(Z[rows], masses[rows], model, alpha)

    slots = [[row] for row in range(n_rows)]
    steps = []
    while len(slots) > 1:
        costs = {
            (i, j): term(slots[i] + slots[j]) - term(slots[i]) - term(slots[j])
            for j in range(len(slots))
            for i in range(j)
        }
        least = min(costs.values())
        i, j = max(pair[::-1] for pair, cost in costs.items() if cost <= least + 1e-9)[::-1]
        steps.append((tuple(sorted((min(slots[i]), min(slots[j])))), costs[(i, j)]))
        slots[i] = slots[i] + slots[j]
        slots[j] = slots[-1]
        slots.pop()
    return steps


@pytest.mark.parametrize(
    ("model", "n_rows", "n_features", "weighted"),
    [
        ("EII", 11, 3, False),
        ("VVV", 12, 2, False),
        ("VVV", 10, 3, False),
        ("VVV", 12, 2, True),
        ("V", 12, 1, False),
        ("V", 10, 1, True),
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("duplicated", [False, True])
def test_merges_match_brute_force(model, n_rows, n_features, weighted, seed, duplicated):
    rng = np.random.default_rng(seed)
    # Two loose groups of different shapes, so that merges mix small and large clusters.
    Z = rng.normal(size=(n_rows, n_features)) * rng.uniform(0.3, 2.0, size=n_features)
    Z[: n_rows // 2] += 3.0
    if duplicated:
        # Rows drawn with replacement: copies tie with each other all along the tree.
        Z = Z[rng.choice(n_rows, size=n_rows)]
    weights = rng.uniform(0.3, 3.0, size=n_rows) if weighted else None

    tree = merge_tree(Z, model, sample_weight=weights)
    expected = _brute_force_merges(Z, model, weights)

    assert [tuple(pair) for pair in tree.merges] == [pair for pair, _ in expected]
    np.testing.assert_allclose(tree.costs, [cost for _, cost in expected], rtol=1e-9, atol=1e-9)


def test_vvv_regularisation_terms_are_mclust_values():
    # Hand-computed mclust values (hcvvv/vvvtij): a singleton is log(alpha beta), a pair
    # of singletons 2 log(beta (tr W + alpha) / 2) with tr W = |x1 - x2|^2 / 2.
    Z = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [10.0, 3.0]])
    alpha = ((Z - Z.mean(axis=0)) ** 2).sum() / (4 * 2)
    tree = merge_tree(Z, "VVV", n_clusters=3)
    assert tuple(tree.merges[0]) == (0, 1)
    expected = 2 * np.log((0.5 + alpha) / 2) - 2 * np.log(alpha)
    np.testing.assert_allclose(tree.costs[0], expected, rtol=1e-12)


def test_eii_merges_are_wards_linkage():
    rng = np.random.default_rng(3)
    Z = np.vstack([rng.normal(loc, 1.0, size=(15, 3)) for loc in (0.0, 4.0, 9.0)])
    tree = merge_tree(Z, "EII")
    reference = linkage(Z, method="ward")

    n_rows = len(Z)
    ours = {row: frozenset([row]) for row in range(n_rows)}
    scipy_clusters = {row: frozenset([row]) for row in range(n_rows)}
    for step, ((i, j), (a, b, _, _)) in enumerate(zip(tree.merges, reference)):
        merged_ours = {ours[i], ours[j]}
        merged_scipy = {scipy_clusters.pop(int(a)), scipy_clusters.pop(int(b))}
        assert merged_ours == merged_scipy, f"step {step}"
        ours[i] = ours[i] | ours.pop(j)
        scipy_clusters[n_rows + step] = frozenset().union(*merged_scipy)
    # scipy's Ward height is sqrt(2 x increase of the within-cluster sum of squares).
    np.testing.assert_allclose(tree.costs, reference[:, 2] ** 2 / 2, rtol=1e-9)


def test_cut_tree_numbers_clusters_by_first_row():
    merges = np.array([[2, 4], [0, 3], [1, 2]])  # {2,4}, {0,3}, {1,2,4}
    np.testing.assert_array_equal(cut_tree(merges, 5, 5), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(cut_tree(merges, 5, 3), [0, 1, 2, 0, 2])
    np.testing.assert_array_equal(cut_tree(merges, 5, 2), [0, 1, 1, 0, 1])
    with pytest.raises(ValueError, match="Cannot cut"):
        cut_tree(merges, 5, 1)


# ---------------------------------------------------------------- transformation
def test_svd_transform_is_scaled_svd_of_standardised_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)) @ rng.normal(size=(3, 3)) * [1.0, 100.0, 0.01] + 1e3
    X = np.column_stack([X, np.full(50, 7.0)])  # constant column: dropped
    Z = svd_transform(X)
    n = len(X)
    # Z = Xs V D^{-1/2}: columns orthogonal, Z^T Z = D, the singular values of the
    # standardised data, sqrt((n - 1) x eigenvalues of the correlation matrix).
    singular = np.sqrt((n - 1) * np.sort(np.linalg.eigvalsh(np.corrcoef(X[:, :3].T)))[::-1])
    np.testing.assert_allclose(Z.T @ Z, np.diag(singular), atol=1e-9 * singular[0])
    # and Z is a linear map of the centred data.
    centred = X[:, :3] - X[:, :3].mean(axis=0)
    coef = np.linalg.lstsq(centred, Z, rcond=None)[0]
    np.testing.assert_allclose(centred @ coef, Z, atol=1e-9)


def test_svd_transform_of_uniform_weights_is_unweighted():
    X, _ = make_blobs(60, 3, random_state=0)
    np.testing.assert_allclose(svd_transform(X, np.full(60, 3.0)), svd_transform(X), atol=1e-12)


# ------------------------------------------------------------------ determinism
def test_tree_is_deterministic():
    X, _ = make_blobs(150, 3, centers=3, random_state=1)
    Z = svd_transform(X)
    first, second = merge_tree(Z), merge_tree(Z.copy())
    np.testing.assert_array_equal(first.merges, second.merges)
    np.testing.assert_array_equal(first.costs, second.costs)


# ------------------------------------------------------------- R mclust's trees
MCLUST_HC = json.loads((Path(__file__).parents[1] / "fixtures" / "mclust_hc.json").read_text())


def _fixture_data(name):
    if name == "faithful":
        return load_faithful()[0]
    if name == "acidity":
        return np.array(MCLUST_HC["acidity"])[:, None]
    return np.array(MCLUST_HC["trees"][name]["data"], dtype=np.float64)


@pytest.mark.parametrize("name", sorted(MCLUST_HC["trees"]))
def test_trees_are_mclusts(name):
    # mclust's hc() on data where ties decide the tree: duplicated rows (Old
    # Faithful's 16 among them) and sides of a square; every merge, in order, and
    # hclass()'s partitions, numbered as mclust numbers them.
    case = MCLUST_HC["trees"][name]
    data = case["data"]
    X = _fixture_data(data) if isinstance(data, str) else np.array(data, dtype=np.float64)
    Z = svd_transform(X) if case["use"] == "SVD" else X
    tree = merge_tree(Z, case["model"])
    np.testing.assert_array_equal(tree.merges, np.array(case["merges"]) - 1)
    for n_clusters, partition in case["partitions"].items():
        np.testing.assert_array_equal(cut_tree(tree.merges, len(X), int(n_clusters)) + 1, partition)


def test_the_start_is_mclusts_on_faithful():
    # What GaussianMixtureIC starts every candidate of Old Faithful from.
    partitions = MCLUST_HC["trees"]["faithful"]["partitions"]
    starts = hc_assignments(load_faithful()[0], range(1, 10), np.random.RandomState(0))
    for n_clusters, partition in partitions.items():
        np.testing.assert_array_equal(starts[int(n_clusters)] + 1, partition)


def test_duplicated_rows_stay_equal_after_the_transformation():
    # Ties between copies of rows need the copies to stay exactly equal, wherever
    # they sit in the data (a matrix product may round rows by their place).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 7)) @ rng.normal(size=(7, 7)) + 100.0
    copies = rng.integers(0, 1000, size=300)
    X = np.vstack([X, X[copies]])
    Z = svd_transform(X)
    np.testing.assert_array_equal(Z[1000:], Z[copies])


def test_small_data_start_ignores_random_state():
    X, _ = make_blobs(300, 2, centers=3, random_state=2)
    states = [np.random.RandomState(seed) for seed in (0, 1)]
    first, second = (initial_assignment(X, 3, "hc", state).labels for state in states)
    np.testing.assert_array_equal(first, second)
    # Nothing was drawn: the states are where they started.
    assert states[0].randint(2**31) == np.random.RandomState(0).randint(2**31)


def test_default_model_follows_mclust():
    assert default_model(100, 1) == "V"
    assert default_model(5, 8) == "EII"
    assert default_model(9, 8) == "VVV"
    X, _ = make_blobs(6, 8, centers=2, random_state=0)
    np.testing.assert_array_equal(
        hc_labels(X, 2), cut_tree(merge_tree(svd_transform(X), "EII").merges, 6, 2)
    )


# ---------------------------------------------------------------- the estimator
def _separated_blobs(n_samples=300, n_features=2, seed=0):
    centers = 12.0 * np.eye(3, n_features) if n_features > 1 else np.array([[0.0], [12], [24]])
    return make_blobs(n_samples, n_features, centers=centers, cluster_std=1.0, random_state=seed)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_estimator_recovers_separated_blobs(covariance_type):
    X, y = _separated_blobs(n_features=1 if covariance_type in UNIVARIATE_TYPES else 2)
    assignment = initial_assignment(X, 3, "hc", np.random.RandomState(0))
    assert adjusted_rand_score(y, assignment.labels) == 1.0
    gm = GaussianMixture(3, covariance_type=covariance_type, init_params="hc", random_state=0)
    assert adjusted_rand_score(y, gm.fit_predict(X)) == 1.0
    again = GaussianMixture(3, covariance_type=covariance_type, init_params="hc", random_state=0)
    again.fit(X)
    for name in FITTED_ARRAYS:
        np.testing.assert_array_equal(getattr(again, name), getattr(gm, name))


def test_estimator_univariate_and_float32():
    X, y = _separated_blobs(n_features=1, seed=4)
    assert adjusted_rand_score(y, initial_assignment(X, 3, "hc", None).labels) == 1.0
    gm = GaussianMixture(3, init_params="hc").fit(X.astype(np.float32))
    assert gm.means_.dtype == np.float32
    assert adjusted_rand_score(y, gm.labels_) == 1.0


def test_weights_are_masses_and_zero_weight_rows_are_left_out():
    X, y = _separated_blobs(seed=5)
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.5, 2.0, size=len(X))
    weights[::7] = 0.0
    labels = initial_assignment(X, 3, "hc", None, weights).labels
    kept = weights > 0
    assert np.all(labels[~kept] == -1)
    np.testing.assert_array_equal(labels[kept], hc_labels(X[kept], 3, sample_weight=weights[kept]))
    assert adjusted_rand_score(y[kept], labels[kept]) == 1.0
    # Uniform weights are no weights.
    np.testing.assert_array_equal(
        hc_labels(X, 3, sample_weight=np.full(len(X), 4.0)), hc_labels(X, 3)
    )
    gm = GaussianMixture(3, init_params="hc").fit(X, sample_weight=weights)
    assert adjusted_rand_score(y, gm.labels_) == 1.0


def test_large_data_clusters_a_subset(monkeypatch):
    X, y = _separated_blobs(n_samples=2100, n_features=3, seed=6)
    labels = initial_assignment(X, 3, "hc", np.random.RandomState(0)).labels
    assert np.count_nonzero(labels >= 0) == 2000
    assert adjusted_rand_score(y[labels >= 0], labels[labels >= 0]) == 1.0

    # A smaller subset keeps the rest fast. It is drawn from random_state: same seed,
    # same start; another seed, another subset. EM from it labels every row.
    monkeypatch.setattr("gaussmix.starts.assignment.SUBSET_SIZE", 150)
    X, y = _separated_blobs(n_samples=400, seed=7)
    gm = GaussianMixture(3, init_params="hc", random_state=0).fit(X)
    assert adjusted_rand_score(y, gm.labels_) == 1.0

    def subset(seed):
        labels = initial_assignment(X, 3, "hc", np.random.RandomState(seed)).labels
        assert np.count_nonzero(labels >= 0) == 150
        assert adjusted_rand_score(y[labels >= 0], labels[labels >= 0]) == 1.0
        return labels

    np.testing.assert_array_equal(subset(0), subset(0))
    assert not np.array_equal(subset(0) >= 0, subset(1) >= 0)


# ------------------------------------------------------------------- bad input
def test_bad_models_are_refused():
    Z = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match="EII, V, VVV"):
        merge_tree(Z, "XYZ")
    with pytest.raises(ValueError, match="univariate"):
        merge_tree(Z, "V")
    with pytest.raises(ValueError, match="n_clusters"):
        merge_tree(Z, "VVV", n_clusters=11)
    with pytest.raises(ValueError, match="positive weight"):
        merge_tree(Z, "VVV", sample_weight=np.r_[0.0, np.ones(9)])
