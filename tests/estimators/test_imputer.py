"""GaussianMixtureImputer: scikit-learn's checks, a Pipeline, seeded draws, a known truth."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from gaussmix import GaussianMixtureImputer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks([GaussianMixtureImputer(max_iter=20)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _correlated(n=400, seed=0):
    rng = np.random.default_rng(seed)
    covariance = np.array([[1.0, 0.9], [0.9, 1.0]])
    X = rng.multivariate_normal([1.0, -1.0], covariance, size=n)
    holes = X.copy()
    holes[::5, 1] = np.nan
    return X, holes


def test_one_component_imputes_the_gaussian_conditional_mean():
    X, holes = _correlated()
    imputer = GaussianMixtureImputer(random_state=0).fit(holes)
    mixture = imputer.mixture_
    mu, sigma = mixture.means_[0], mixture.covariances_[0]
    expected = mu[1] + sigma[1, 0] / sigma[0, 0] * (holes[::5, 0] - mu[0])
    filled = imputer.transform(holes)
    np.testing.assert_allclose(filled[::5, 1], expected, rtol=1e-10)
    np.testing.assert_array_equal(
        np.delete(filled, np.s_[::5], axis=0), np.delete(X, np.s_[::5], axis=0)
    )


def test_draws_are_seeded_and_spread_as_the_conditional():
    _X, holes = _correlated(n=2000)
    first = GaussianMixtureImputer(sample=True, random_state=1).fit_transform(holes)
    again = GaussianMixtureImputer(sample=True, random_state=1).fit_transform(holes)
    other = GaussianMixtureImputer(sample=True, random_state=2).fit_transform(holes)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[::5, 1], other[::5, 1])
    mean = GaussianMixtureImputer(random_state=1).fit_transform(holes)
    residual = first[::5, 1] - mean[::5, 1]
    # Conditional standard deviation sqrt(1 - 0.9^2) = 0.436.
    assert residual.std() == pytest.approx(np.sqrt(1 - 0.81), rel=0.1)


def test_in_a_pipeline():
    X, holes = _correlated()
    y = 2.0 * X[:, 0] + 3.0 * X[:, 1]
    pipeline = make_pipeline(GaussianMixtureImputer(random_state=0), LinearRegression())
    pipeline.fit(holes, y)
    assert pipeline.score(holes, y) > 0.95
