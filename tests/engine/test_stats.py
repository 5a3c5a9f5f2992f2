"""Sufficient statistics: plain sums, so statistics of disjoint row sets merge by addition."""

from __future__ import annotations

import numpy as np
import pytest

from gaussmix.covariance import COVARIANCE_MODELS
from gaussmix.engine.estep import chunk_statistics
from gaussmix.engine.stats import SufficientStatistics, merge_statistics
from helpers import COVARIANCE_TYPES, random_covariances

N_COMPONENTS, N_FEATURES = 3, 2


def _statistics(model, X, sample_weight, centre, params, resp=None):
    weights, means, covariances = params
    precisions_chol, _ = model.precisions_cholesky(covariances)
    prepared = model.prepare(means - centre, precisions_chol, np.log(weights), X.dtype)
    work = model.workspace(X.shape[0], N_COMPONENTS, N_FEATURES, X.dtype)
    XcT = np.ascontiguousarray((X - centre).T)
    return chunk_statistics(model, XcT, sample_weight, prepared, work, resp=resp)


def _assert_statistics_close(a: SufficientStatistics, b: SufficientStatistics, rtol=1e-12):
    np.testing.assert_allclose(a.total_weight, b.total_weight, rtol=rtol)
    np.testing.assert_allclose(a.log_likelihood, b.log_likelihood, rtol=rtol)
    for name in ("nk", "first", "second"):
        want = getattr(b, name)
        np.testing.assert_allclose(
            getattr(a, name), want, rtol=rtol, atol=rtol * np.abs(want).max(), err_msg=name
        )


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_merging_two_halves_gives_the_whole(covariance_type, weighted):
    model = COVARIANCE_MODELS[covariance_type]
    rng = np.random.RandomState(0)
    X = rng.normal(size=(301, N_FEATURES)) * 3.0 + 1.0
    sample_weight = rng.uniform(0.0, 2.0, size=X.shape[0]) if weighted else None
    params = (
        rng.dirichlet(np.ones(N_COMPONENTS)),
        rng.normal(size=(N_COMPONENTS, N_FEATURES)),
        random_covariances(model, rng, N_COMPONENTS, N_FEATURES),
    )
    centre = X.mean(axis=0)
    whole = _statistics(model, X, sample_weight, centre, params)
    for split in (1, 150, 300):
        halves = [
            _statistics(
                model,
                X[rows],
                None if sample_weight is None else sample_weight[rows],
                centre,
                params,
            )
            for rows in (slice(0, split), slice(split, None))
        ]
        _assert_statistics_close(merge_statistics(*halves), whole)
        _assert_statistics_close(merge_statistics(*halves[::-1]), whole)
    expected_total = X.shape[0] if sample_weight is None else sample_weight.sum()
    np.testing.assert_allclose(whole.total_weight, expected_total, rtol=1e-12)


def test_merge_is_elementwise_addition():
    rng = np.random.RandomState(1)

    def random_stats():
        return SufficientStatistics(
            total_weight=float(rng.rand()),
            log_likelihood=float(rng.randn()),
            nk=rng.rand(3),
            first=rng.randn(3, 2),
            second=rng.randn(3, 3),
        )

    a, b, c = random_stats(), random_stats(), random_stats()
    merged = merge_statistics(merge_statistics(a, b), c)
    _assert_statistics_close(merged, merge_statistics(a, merge_statistics(b, c)))
    np.testing.assert_allclose(merged.nk, a.nk + b.nk + c.nk)
    np.testing.assert_allclose(merged.second, a.second + b.second + c.second)
    np.testing.assert_allclose(
        merged.total_weight, a.total_weight + b.total_weight + c.total_weight
    )
