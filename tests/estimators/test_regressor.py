"""GaussianMixtureRegressor: scikit-learn's checks, a nonlinear truth, closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from gaussmix import GaussianMixture, GaussianMixtureRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks([GaussianMixtureRegressor(n_components=2, max_iter=20, random_state=0)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_recovers_a_sine_from_noisy_samples():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 2 * np.pi, (1500, 1))
    y = np.sin(x[:, 0]) + 0.1 * rng.standard_normal(1500)
    reg = GaussianMixtureRegressor(n_components=10, random_state=0, n_init=2).fit(x, y)
    grid = np.linspace(0.3, 2 * np.pi - 0.3, 50)[:, None]
    mean, std = reg.predict(grid, return_std=True)
    assert np.sqrt(np.mean((mean - np.sin(grid[:, 0])) ** 2)) < 0.06
    # The noise is 0.1: the predicted spread is of that order, not of sin's range.
    assert 0.05 < np.median(std) < 0.2


def test_one_component_is_linear_regression_with_its_residual_spread():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 2))
    Y = np.column_stack([X @ [1.0, -2.0] + 0.3, X @ [0.5, 0.5]]) + 0.2 * rng.standard_normal(
        (500, 2)
    )
    reg = GaussianMixtureRegressor(n_components=1, random_state=0).fit(X, Y)
    joint = GaussianMixture(1, random_state=0).fit(np.hstack([X, Y]))
    mu, sigma = joint.means_[0], joint.covariances_[0]
    coef = np.linalg.solve(sigma[:2, :2], sigma[:2, 2:])
    mean, std = reg.predict(X[:10], return_std=True)
    np.testing.assert_allclose(mean, mu[2:] + (X[:10] - mu[:2]) @ coef, rtol=1e-8)
    conditional = sigma[2:, 2:] - sigma[2:, :2] @ coef
    np.testing.assert_allclose(std, np.sqrt(np.diag(conditional))[None].repeat(10, 0), rtol=1e-8)
    assert mean.shape == (10, 2)


def test_rows_without_observed_values_are_refused():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 2))
    reg = GaussianMixtureRegressor(n_components=1).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="no observed value"):
        reg.predict(np.full((2, 2), np.nan))
