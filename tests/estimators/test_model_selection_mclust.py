"""GaussianMixtureIC against R's mclust on the data sets R and mclust ship (issue 14).

The reference numbers are R mclust 6.0.0's ``Mclust(X, G = 1:9)`` over all its
models, from ``tests/fixtures/mclust_reference.R`` (committed as
``mclust_reference.json``; the tests never run R). BIC values there are in
mclust's sign (higher is better); gaussmix's ``results_['bic']`` has
scikit-learn's (lower is better).
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from gaussmix import GaussianMixtureIC, SpuriousFitWarning
from gaussmix.covariance import get_covariance_model
from gaussmix.datasets import load_faithful
from gaussmix.starts.assignment import Assignment, hc_assignments, same_partition

FIXTURES = Path(__file__).parents[1] / "fixtures"
REFERENCE = json.loads((FIXTURES / "mclust_reference.json").read_text())["data"]
# The full search on the searched data sets; wdbc's (30 features, 569 rows) is
# too slow for the suite and is checked on part of its grid below.
NAMES = sorted(REFERENCE)
REFERENCE["wdbc"] = json.loads((FIXTURES / "mclust_reference_wdbc.json").read_text())
ALL_NAMES = sorted(REFERENCE)
COUNTS = range(1, 10)


@functools.cache
def _data(name):
    entry = REFERENCE[name]
    if name == "faithful":
        X = np.asarray(load_faithful()[0], dtype=np.float64)
    elif name == "wdbc":
        X = load_breast_cancer().data
    else:
        # R's JSON writer unboxes one-feature rows to numbers: reshape.
        X = np.asarray(entry["X"], dtype=np.float64).reshape(entry["n"], entry["d"])
    return X


@pytest.mark.parametrize("name", ALL_NAMES)
def test_data_are_the_numbers_mclust_saw(name):
    X = _data(name)
    entry = REFERENCE[name]
    assert X.shape == (entry["n"], entry["d"])
    np.testing.assert_allclose(X.sum(axis=0), entry["column_sums"], rtol=1e-12)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_parameter_counts_equal_mclust_in_every_cell(name):
    entry = REFERENCE[name]
    n_features = entry["d"]
    for model_name, counts in entry["n_parameters"].items():
        model = get_covariance_model(model_name)
        ours = [model.n_parameters(k, n_features) + k * n_features + k - 1 for k in COUNTS]
        assert ours == counts, model_name


# Known differences: on wreath (1000 rows) the trees agree merge for merge but for
# the last three (G = 3 -> 1). At 4 clusters both have the same partition; from
# there mclust's Fortran updates its merge costs incrementally and misstates one
# (it merges a pair 0.512 dearer than the cheapest), while R's own
# hcVVV(Z, partition = hclass(h, 4)), recomputing from the clusters, merges
# exactly as gaussmix does. gaussmix computes every cost from the clusters.
DIFFERENT_STARTS = {"wreath": {2, 3}}


@pytest.mark.parametrize("name", ALL_NAMES)
def test_hc_starts_equal_mclust_starts(name):
    X = _data(name)
    ours = hc_assignments(X, list(COUNTS), np.random.RandomState(0))
    different = set()
    for k, labels in zip(COUNTS, REFERENCE[name]["mclust_starts"]):
        theirs = np.array(labels.split(), dtype=np.intp)
        if not same_partition(
            Assignment(labels=ours[k], resp=None), Assignment(labels=theirs, resp=None)
        ):
            different.add(k)
    assert different == DIFFERENT_STARTS.get(name, set())


# Where gaussmix's choice falls short of mclust's by more than 0.5 BIC, and why: the
# spurious-fit guard excludes mclust's choice. The test checks each explanation:
# gaussmix reaches mclust's BIC in that very cell and flags it for this reason.
EXPLAINED = {
    # 31 countries in 3 dimensions: mclust's VEV,6 gives a component 2 rows, fewer
    # than the D + 1 = 4 that make its own scatter non-singular; gaussmix finds the
    # same maximum and does not choose it.
    "EuroUnemployment": "2.00 effective points, fewer than the 4",
}


@functools.cache
def _search(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpuriousFitWarning)
        return GaussianMixtureIC(n_components=COUNTS, random_state=0).fit(_data(name))


@pytest.mark.parametrize("name", NAMES)
def test_search_reaches_mclust_choice(name):
    entry = REFERENCE[name]
    selector = _search(name)
    results = selector.results_
    ours = -results["bic"][selector.best_index_]  # mclust's sign
    if name not in EXPLAINED:
        assert ours >= entry["BIC"] - 0.5, (
            f"gaussmix chose {selector.best_covariance_type_},{selector.best_n_components_} "
            f"(BIC {ours:.3f}); mclust {entry['model']},{entry['G']} (BIC {entry['BIC']:.3f})"
        )
        return
    assert ours < entry["BIC"] - 0.5, "explained but not needed: remove the entry"
    cell = next(
        i
        for i, (k, model) in enumerate(zip(results["n_components"], results["covariance_type"]))
        if (k, model) == (entry["G"], entry["model"])
    )
    assert -results["bic"][cell] >= entry["BIC"] - 0.5
    assert results["spurious"][cell]
    assert EXPLAINED[name] in results["reason"][cell]


def _gaussian_log_density(X, mean, covariance):
    """log N(x; mean, covariance) per row, through the correlation matrix's Cholesky.

    scipy's ``multivariate_normal`` calls these covariances singular: their
    eigenvalues span 14 decades, as the features' variances do.
    """
    scale = np.sqrt(np.diag(covariance))
    factor = np.linalg.cholesky(covariance / np.outer(scale, scale))
    whitened = np.linalg.solve(factor, ((X - mean) / scale).T)
    return (
        -0.5 * np.sum(whitened**2, axis=0)
        - np.log(np.diag(factor)).sum()
        - np.log(scale).sum()
        - 0.5 * X.shape[1] * np.log(2 * np.pi)
    )


def test_wdbc_search_on_mclusts_best_cells_reaches_beyond_its_choice():
    """wdbc on part of the grid: mclust's choice (VEE,7) and runner-up model (VVE).

    The full search (153 s on this 2-core machine; R's ``Mclust`` took 9,701 s)
    chooses VVE,5 at BIC 42,611.9, 1,358 above mclust's VEE,7 (41,253.5). From
    the same start (the partitions are equal, test above) mclust's VVE,5 ends at
    a log-likelihood of 22,967.0 (its BIC cell) and gaussmix's at 23,650.0
    (recomputed below from the fitted parameters alone). mclust's orientation M-step is the
    majorise-minimise iteration stopped at a relative change of 1.5e-8 (emControl's
    ``tol[2]``), gaussmix's a Newton solve; on these unscaled features (variances
    from 1e-7 to 1e5) the former's steps are small, the likely cause.
    mclust's VEE,7 itself is reached and flagged: a component of 11 rows in 30
    dimensions.
    """
    entry = REFERENCE["wdbc"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpuriousFitWarning)
        selector = GaussianMixtureIC(
            n_components=[5, 7], covariance_types=["VEE", "VVE"], random_state=0
        ).fit(_data("wdbc"))
    results = selector.results_
    ours = -results["bic"][selector.best_index_]
    assert ours >= entry["BIC"] - 0.5
    assert ours >= max(v for v in entry["bic_table"]["VVE"] if v is not None) - 0.5
    X = _data("wdbc")
    best = selector.best_estimator_
    log_densities = [
        np.log(weight) + _gaussian_log_density(X, mean, covariance)
        for weight, mean, covariance in zip(best.weights_, best.means_, best.covariances_)
    ]
    log_likelihood = np.logaddexp.reduce(log_densities, axis=0).sum()
    np.testing.assert_allclose(log_likelihood, results["log_likelihood"][selector.best_index_])
    cell = next(
        i
        for i, (k, model) in enumerate(zip(results["n_components"], results["covariance_type"]))
        if (k, model) == (entry["G"], entry["model"])
    )
    assert -results["bic"][cell] >= entry["BIC"] - 0.5
    assert results["spurious"][cell]
    assert "effective points, fewer than the 31" in results["reason"][cell]
