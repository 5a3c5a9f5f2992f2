"""The EM loop (``run_em``) on its own, against scikit-learn and EM's monotonicity."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix.backends import InMemoryBackend
from gaussmix.covariance import COVARIANCE_MODELS
from gaussmix.engine.em import aitken_remaining, aitken_settled, run_em
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


# ------------------------------------------------------------------ settling early
def test_aitken_remaining_is_exact_on_a_geometric_approach():
    # l_k = L - c r^k: the changes shrink by exactly r, so the projection is exact.
    limit, scale, rate = -3.0, 2.0, 0.8
    bounds = [limit - scale * rate**k for k in range(12)]
    for end in range(3, 13):
        assert aitken_remaining(bounds[:end]) == pytest.approx(limit - bounds[end - 1], rel=1e-9)


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ([-2.0, -1.0], np.inf),  # too few values for a rate
        ([-2.0, -1.0, -1.5], np.inf),  # a decrease
        ([-2.0, -1.0, 0.0], np.inf),  # rate one: no limit in sight
        ([-2.0, -1.0, -1.0], 0.0),  # stopped
    ],
)
def test_aitken_remaining_refuses_what_it_cannot_project(bounds, expected):
    assert aitken_remaining(bounds) == expected


def test_aitken_settled_does_not_stop_at_a_saddle():
    # The bound (total log-likelihood) of VVV with 3 components on mclust's diabetes
    # data from mclust's start: changes shrink steadily, Aitken projects less than
    # 0.5 to go, then EM leaves the saddle and gains 36 more.
    totals = [
        -2346.0874, -2344.2582, -2342.7910, -2341.7119, -2340.9895, -2340.5400,
        -2340.2699, -2340.1066, -2340.0034, -2339.9325, -2339.8768, -2339.8239,
        -2339.7608, -2339.6661, -2339.4880, -2339.0698, -2337.7460, -2330.8951,
    ]  # fmt: skip
    bounds = [total / 145 for total in totals]
    gain = 0.5 / 145  # one unit of BIC
    assert min(aitken_remaining(bounds[:end]) for end in range(3, 13)) < gain
    rule = aitken_settled(gain, 1e-4)
    assert not any(rule(bounds[:end]) for end in range(1, len(bounds) + 1))
    # Without the cap on the changes the projection alone would have stopped it.
    assert any(aitken_settled(gain, np.inf)(bounds[:end]) for end in range(1, len(bounds) + 1))


def test_settled_run_resumes_into_the_uninterrupted_one():
    kwargs = dict(tol=1e-10, max_iter=200, reg_covar=1e-6)
    _, _, whole = _run("full", **kwargs)
    _, _, head = _run("full", **kwargs, settle=aitken_settled(1e-3, 1e-3))
    assert head.settled and not head.converged
    assert 4 <= head.n_iter < whole.n_iter
    # What was left is of the order projected: on these heavily overlapping blobs
    # EM slows down as it goes, so Aitken's projection (below 1e-3) is short by a
    # factor that the model search's SETTLE_SLACK (5) covers.
    assert 1e-4 < whole.lower_bound - head.lower_bound < 5e-3
    X, _ = dataset("overlapping")
    model = COVARIANCE_MODELS["full"]
    backend = InMemoryBackend(X, None)
    with backend:
        tail = run_em(
            backend,
            model,
            head.params,
            centre=backend.centre(),
            lower_bound=head.lower_bound,
            **{**kwargs, "max_iter": kwargs["max_iter"] - head.n_iter},
        )
    assert not tail.settled and head.n_iter + tail.n_iter == whole.n_iter
    np.testing.assert_array_equal([*head.lower_bounds, *tail.lower_bounds], whole.lower_bounds)
    np.testing.assert_array_equal(tail.params.means, whole.params.means)
