"""The EM loop (``run_em``) on its own, against scikit-learn and EM's monotonicity."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix.backends import InMemoryBackend
from gaussmix.covariance import COVARIANCE_MODELS
from gaussmix.engine.em import run_em
from gaussmix.engine.params import MixtureParams
from helpers import COVARIANCE_TYPES, dataset, near_zero_atol, sklearn_start

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _start_params(model, start):
    precisions_chol = model.precisions_cholesky_from_precisions(
        np.asarray(start["precisions_init"], dtype=float)
    )
    return MixtureParams(
        weights=np.asarray(start["weights_init"], dtype=float),
        means=np.asarray(start["means_init"], dtype=float),
        covariances=model.covariances_from_cholesky(precisions_chol),
        precisions_cholesky=precisions_chol,
    )


def _run(covariance_type, data_name="overlapping", **kwargs):
    X, n_components = dataset(data_name)
    model = COVARIANCE_MODELS[covariance_type]
    start = sklearn_start(X, n_components, covariance_type)
    backend = InMemoryBackend(X, None)
    with backend:
        result = run_em(
            backend, model, _start_params(model, start), centre=backend.centre(), **kwargs
        )
    return X, start, result


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_lower_bound_never_decreases(covariance_type):
    # reg_covar=0: plain maximum-likelihood EM, whose likelihood cannot decrease.
    _, _, result = _run(covariance_type, tol=0.0, max_iter=30, reg_covar=0.0)
    bounds = np.array(result.lower_bounds)
    assert len(bounds) == result.n_iter == 30
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[:-1]))
    assert bounds[-1] > bounds[0]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_run_em_equals_sklearn_from_the_same_start(covariance_type):
    X, start, result = _run(covariance_type, tol=1e-3, max_iter=100, reg_covar=1e-6)
    n_components = len(start["weights_init"])
    sk = SkGaussianMixture(n_components, covariance_type=covariance_type, tol=1e-3, **start).fit(X)
    assert result.n_iter == sk.n_iter_
    assert result.converged == sk.converged_
    np.testing.assert_allclose(result.lower_bounds, sk.lower_bounds_, rtol=1e-6)
    for mine, theirs in [
        (result.params.weights, sk.weights_),
        (result.params.means, sk.means_),
        (result.params.covariances, sk.covariances_),
        (result.params.precisions_cholesky, sk.precisions_cholesky_),
    ]:
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=near_zero_atol(theirs, 1e-9))


def test_on_iteration_reports_every_iteration_and_change():
    calls = []
    _, _, result = _run(
        "full",
        tol=0.0,
        max_iter=6,
        reg_covar=1e-6,
        lower_bound=-50.0,
        on_iteration=lambda *args: calls.append(args),
    )
    assert [n for n, _, _ in calls] == list(range(1, 7))
    np.testing.assert_array_equal([lb for _, lb, _ in calls], result.lower_bounds)
    previous = [-50.0, *result.lower_bounds[:-1]]
    np.testing.assert_allclose(
        [change for _, _, change in calls], np.subtract(result.lower_bounds, previous)
    )


@pytest.mark.parametrize("tol", [1e-2, 1e-4])
def test_stops_at_the_first_change_below_tol(tol):
    _, _, result = _run("diag", tol=tol, max_iter=500, reg_covar=1e-6)
    changes = np.abs(np.diff(result.lower_bounds))
    assert result.converged
    assert changes[-1] < tol
    assert np.all(changes[:-1] >= tol)
    assert result.lower_bound == result.lower_bounds[-1]
