"""Online EM's numerics: step sizes, the blend of statistics, one stepwise step."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from gaussmix.backends import InMemoryBackend
from gaussmix.covariance import COVARIANCE_MODELS, UNIVARIATE_NAMES
from gaussmix.engine.online import (
    at_weight,
    blend_statistics,
    implied_statistics,
    per_unit_weight,
    step_size,
    stepwise_em_step,
)
from gaussmix.engine.passes import e_step_statistics, empty_components, initial_params, m_step
from gaussmix.engine.stats import SufficientStatistics, merge_statistics
from gaussmix.starts.assignment import Assignment

N_COMPONENTS = 3


def _stats(total_weight, log_likelihood, nk, first, second):
    return SufficientStatistics(
        total_weight=float(total_weight),
        log_likelihood=float(log_likelihood),
        nk=np.asarray(nk, dtype=float),
        first=np.asarray(first, dtype=float),
        second=np.asarray(second, dtype=float),
    )


def _assert_stats_close(actual, expected, rtol=1e-12):
    assert actual.total_weight == pytest.approx(expected.total_weight, rel=rtol)
    assert actual.log_likelihood == pytest.approx(expected.log_likelihood, rel=rtol)
    for name in ("nk", "first", "second"):
        np.testing.assert_allclose(
            getattr(actual, name), getattr(expected, name), rtol=rtol, atol=1e-14, err_msg=name
        )


# ------------------------------------------------------------------ step sizes
@pytest.mark.parametrize(
    ("t", "kappa", "t0", "expected"),
    [
        (0, 0.7, 10.0, 1.0),  # the first batch is taken whole
        (0, 1.0, 0.0, 1.0),  # ... even where (t + t0) ** -kappa is undefined
        (1, 0.7, 10.0, 11.0**-0.7),
        (1, 1.0, 0.0, 1.0),
        (2, 1.0, 1.0, 1.0 / 3.0),  # kappa = 1, t0 = 1: the plain running mean of batches
        (2, 1.0, 0.0, 0.5),  # t0 = 0: the first update (t = 1) replaces batch 0's statistics
        (4, 0.5, 5.0, 1.0 / 3.0),  # 9 ** -0.5
        (90, 1.0, 10.0, 0.01),
    ],
)
def test_step_size_closed_form(t, kappa, t0, expected):
    assert step_size(t, kappa, t0) == pytest.approx(expected, rel=1e-15)


def test_step_size_refuses_a_negative_batch_index():
    with pytest.raises(ValueError, match="t must be >= 0"):
        step_size(-1, 0.7, 10.0)


def test_steps_decrease_and_stay_in_the_unit_interval():
    steps = [step_size(t, 0.51, 0.0) for t in range(200)]
    assert steps[0] == steps[1] == 1.0
    assert all(0.0 < b < a <= 1.0 for a, b in itertools.pairwise(steps[1:]))


# ------------------------------------------------------------------ the blend
def test_per_unit_weight_and_at_weight_by_hand():
    stats = _stats(4.0, -8.0, [1.0, 3.0], [[2.0], [-6.0]], [[4.0], [12.0]])
    unit = per_unit_weight(stats)
    _assert_stats_close(unit, _stats(1.0, -2.0, [0.25, 0.75], [[0.5], [-1.5]], [[1.0], [3.0]]))
    _assert_stats_close(at_weight(unit, 4.0), stats)


def test_blend_by_hand():
    running = _stats(1.0, -2.0, [0.25, 0.75], [[0.5], [-1.5]], [[1.0], [3.0]])
    # A batch of total weight 4: per unit weight nk = [0.5, 0.5], first = [1, 0], ...
    batch = _stats(4.0, -12.0, [2.0, 2.0], [[4.0], [0.0]], [[8.0], [4.0]])
    blended = blend_statistics(running, batch, 0.2)
    expected = _stats(
        1.0,
        0.8 * -2.0 + 0.2 * -3.0,
        [0.8 * 0.25 + 0.2 * 0.5, 0.8 * 0.75 + 0.2 * 0.5],  # [0.3, 0.7]
        [[0.8 * 0.5 + 0.2 * 1.0], [0.8 * -1.5 + 0.2 * 0.0]],
        [[0.8 * 1.0 + 0.2 * 2.0], [0.8 * 3.0 + 0.2 * 1.0]],
    )
    _assert_stats_close(blended, expected)
    assert blended.nk.sum() == pytest.approx(1.0)


def test_first_batch_is_taken_whole():
    batch = _stats(4.0, -12.0, [2.0, 2.0], [[4.0], [0.0]], [[8.0], [4.0]])
    _assert_stats_close(blend_statistics(None, batch, 1.0), per_unit_weight(batch))
    with pytest.raises(ValueError, match="step must be 1"):
        blend_statistics(None, batch, 0.5)


@pytest.mark.parametrize("step", [0.0, -0.1, 1.5])
def test_blend_refuses_steps_outside_the_unit_interval(step):
    batch = _stats(4.0, -12.0, [2.0, 2.0], [[4.0], [0.0]], [[8.0], [4.0]])
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        blend_statistics(per_unit_weight(batch), batch, step)


def test_blend_refuses_a_batch_without_weight():
    empty = _stats(0.0, 0.0, [0.0, 0.0], [[0.0], [0.0]], [[0.0], [0.0]])
    with pytest.raises(ValueError, match="total weight is zero"):
        blend_statistics(None, empty, 1.0)


# ------------------------------------------------------------------ on data
def _data(n_features, seed=0, n_rows=300):
    rng = np.random.RandomState(seed)
    centres = np.array([[0.0, 0.0], [8.0, 1.0], [1.0, 8.0]])[:, :n_features]
    labels = rng.randint(N_COMPONENTS, size=n_rows)
    X = centres[labels] + rng.normal(size=(n_rows, n_features)) * rng.uniform(0.5, 1.5, n_features)
    return X + 20.0, labels  # away from the origin: the centre matters


def _start(model, X, labels, centre, reg_covar=1e-6):
    # A start that is not the fixed point: parameters from noisy labels.
    noisy = np.where(np.arange(len(labels)) % 7 == 0, (labels + 1) % N_COMPONENTS, labels)
    with InMemoryBackend(X) as backend:
        params, _, _ = initial_params(
            backend, model, Assignment(labels=noisy, resp=None), centre, N_COMPONENTS, reg_covar
        )
    return params


def _n_features(covariance_type):
    return 1 if covariance_type in UNIVARIATE_NAMES else 2


@pytest.mark.parametrize("covariance_type", list(COVARIANCE_MODELS))
def test_step_one_is_one_batch_em_iteration(covariance_type):
    """With step 1 the online step is batch EM's E-step and M-step on the batch."""
    model = COVARIANCE_MODELS[covariance_type]
    X, labels = _data(_n_features(covariance_type))
    sample_weight = np.random.RandomState(1).uniform(0.5, 2.0, size=len(X))
    reg_covar = 1e-6
    backend = InMemoryBackend(X, sample_weight)
    centre = backend.centre()
    params = _start(model, X, labels, centre)
    with backend:
        outcome = stepwise_em_step(backend, model, params, centre, None, 1.0, reg_covar)
        stats = e_step_statistics(backend, model, params, centre)
    expected, singular = m_step(model, stats, centre, reg_covar, previous=params.covariances)
    # Only the division by the batch's weight and the product by it differ: rounding.
    for name in ("weights", "means", "covariances", "precisions_cholesky"):
        np.testing.assert_allclose(
            getattr(outcome.params, name), getattr(expected, name), rtol=1e-9, err_msg=name
        )
    assert outcome.lower_bound == pytest.approx(stats.log_likelihood / stats.total_weight)
    np.testing.assert_array_equal(outcome.singular, singular)
    np.testing.assert_array_equal(outcome.empty, empty_components(stats, backend))
    _assert_stats_close(outcome.running, per_unit_weight(stats), rtol=1e-13)


def test_equal_batches_with_step_one_half_give_the_statistics_of_their_union():
    """Centred moments about one centre average: a half step merges two equal batches."""
    model = COVARIANCE_MODELS["full"]
    X, labels = _data(2, n_rows=400)
    centre = X.mean(axis=0)
    params = _start(model, X, labels, centre)
    halves = [InMemoryBackend(X[:200]), InMemoryBackend(X[200:])]
    stats = []
    for backend in halves:
        with backend:
            stats.append(e_step_statistics(backend, model, params, centre))
    running = blend_statistics(None, stats[0], step_size(0, 1.0, 0.0))
    running = blend_statistics(running, stats[1], step_size(1, 1.0, 1.0))
    _assert_stats_close(running, per_unit_weight(merge_statistics(*stats)))


@pytest.mark.parametrize("reg_covar", [1e-6, 0.3, "per feature"])
@pytest.mark.parametrize("covariance_type", list(COVARIANCE_MODELS))
def test_implied_statistics_give_the_parameters_back(covariance_type, reg_covar):
    """The statistics a fitted mixture implies are a fixed point of the model's M-step."""
    model = COVARIANCE_MODELS[covariance_type]
    n_features = _n_features(covariance_type)
    if reg_covar == "per feature":
        reg_covar = np.array([0.05, 0.4])[:n_features]
    X, labels = _data(n_features)
    # An M-step's output: the covariances satisfy the model's constraints.
    params = _start(model, X, labels, X.mean(axis=0), reg_covar)
    centre = params.weights @ params.means
    implied = implied_statistics(model, params, centre, reg_covar, log_likelihood=-3.5)
    assert implied.total_weight == 1.0 and implied.log_likelihood == -3.5
    np.testing.assert_allclose(implied.nk, params.weights, rtol=1e-13)
    # At any scale: the M-step's count floor is negligible at 1 as at 1e4.
    for weight in (1.0, 1e4):
        again, singular = m_step(
            model, at_weight(implied, weight), centre, reg_covar, previous=params.covariances
        )
        assert not singular.any()
        for name in ("weights", "means", "covariances", "precisions_cholesky"):
            np.testing.assert_allclose(
                getattr(again, name), getattr(params, name), rtol=1e-9, atol=1e-12, err_msg=name
            )


def test_a_component_emptied_in_the_running_statistics_is_reported():
    model = COVARIANCE_MODELS["full"]
    X, labels = _data(2)
    centre = X.mean(axis=0)
    params = _start(model, X, labels, centre)
    with InMemoryBackend(X) as backend:
        stats = e_step_statistics(backend, model, params, centre)
    # Running statistics in which component 0 holds nothing; a tiny step keeps it so.
    running = per_unit_weight(stats)
    nk = running.nk.copy()
    nk[0] = 0.0
    first = running.first.copy()
    first[0] = 0.0
    second = running.second.copy()
    second[0] = 0.0
    running = SufficientStatistics(1.0, running.log_likelihood, nk / nk.sum(), first, second)
    with InMemoryBackend(X) as backend:
        outcome = stepwise_em_step(backend, model, params, centre, running, 1e-9, 1e-6)
    np.testing.assert_array_equal(outcome.empty, [True, False, False])
    assert math.isfinite(outcome.lower_bound)
