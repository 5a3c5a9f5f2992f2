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

REFERENCE = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "mclust_reference.json").read_text()
)["data"]
NAMES = sorted(REFERENCE)
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


@pytest.mark.parametrize("name", NAMES)
def test_data_are_the_numbers_mclust_saw(name):
    X = _data(name)
    entry = REFERENCE[name]
    assert X.shape == (entry["n"], entry["d"])
    np.testing.assert_allclose(X.sum(axis=0), entry["column_sums"], rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
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


@pytest.mark.parametrize("name", NAMES)
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
