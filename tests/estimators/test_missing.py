"""GaussianMixture on data with missing values: wiring, the MCAR experiment, bad input.

Truths: the complete-data engine (bit for bit), SciPy's marginal densities,
simulated ground truth (a known correlated 3-component mixture), and
scikit-learn's mean and iterative imputers on the same data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer

from gaussmix import GaussianMixture, GaussianMixtureIC
from gaussmix.backends import InMemoryBackend
from gaussmix.covariance import COVARIANCE_MODELS
from gaussmix.engine.em import run_em
from gaussmix.engine.params import MixtureParams

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

MULTIVARIATE = [name for name in COVARIANCE_MODELS if name not in ("E", "V")]
MEANS = np.array([[0.0, 0.0, 0.0, 0.0], [5.0, 5.0, 0.0, -3.0], [0.0, 6.0, 5.0, 3.0]])
_A = np.array([[1, 0.8, 0.5, 0.2], [0, 0.6, 0.4, 0.3], [0, 0, 0.7, 0.5], [0, 0, 0, 0.5]])
COVARIANCES = [_A.T @ _A, np.diag([1.0, 0.5, 2.0, 1.0]) + 0.4, (_A.T @ _A)[::-1, ::-1]]
WEIGHTS = [0.3, 0.3, 0.4]


def _mixture_data(n=1500, fraction=0.2, seed=0):
    """A known correlated 3-component mixture, ``fraction`` of entries missing at random."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, n, p=WEIGHTS)
    X = np.array([rng.multivariate_normal(MEANS[k], COVARIANCES[k]) for k in labels])
    mask = rng.random(X.shape) < fraction
    mask[mask.all(axis=1), 0] = False  # MCAR, rows with every value missing excepted
    return X, mask, np.where(mask, np.nan, X)


def _ordered(gm):
    order = np.argsort(gm.means_[:, 0] + 10 * gm.means_[:, 1])
    return gm.weights_[order], gm.means_[order], gm.covariances_[order]


def test_complete_data_take_the_complete_data_path_bit_for_bit():
    X, _, _ = _mixture_data(n=300)
    gm = GaussianMixture(3, random_state=0, max_iter=5, tol=0.0).fit(X)
    start = GaussianMixture(3, random_state=0, max_iter=0).fit(X)
    model = COVARIANCE_MODELS["full"]
    params = MixtureParams(
        start.weights_, start.means_, start.covariances_, start.precisions_cholesky_
    )
    backend = InMemoryBackend(X, None)
    with backend:
        result = run_em(
            backend, model, params, centre=backend.centre(), tol=0.0, max_iter=5, reg_covar=1e-6
        )
    np.testing.assert_array_equal(gm.means_, result.params.means)
    np.testing.assert_array_equal(gm.covariances_, result.params.covariances)
    assert gm.lower_bounds_ == result.lower_bounds


def test_mcar_experiment_recovers_the_full_data_fit_and_beats_other_imputers():
    X, mask, X_missing = _mixture_data()
    full = GaussianMixture(3, random_state=0, n_init=2).fit(X)
    incomplete = GaussianMixture(3, random_state=0, n_init=2).fit(X_missing)
    w_full, mu_full, cov_full = _ordered(full)
    w_inc, mu_inc, cov_inc = _ordered(incomplete)
    # Tolerances ~3 standard errors of the full-data estimates (450-600 rows per
    # component, unit-order variances): a mean 1/sqrt(450) = 0.047, a weight
    # sqrt(0.3 * 0.7 / 1500) = 0.012, a covariance entry up to 2 * sqrt(2 / 450) = 0.13.
    # Missing values only widen the incomplete fit's errors by ~1/sqrt(0.8).
    assert np.abs(mu_full - mu_inc).max() < 0.15
    assert np.abs(w_full - w_inc).max() < 0.035
    assert np.abs(cov_full - cov_inc).max() < 0.4
    np.testing.assert_allclose(mu_inc, MEANS[np.argsort(MEANS[:, 0] + 10 * MEANS[:, 1])], atol=0.2)

    def rmse(filled):
        return float(np.sqrt(np.mean((filled[mask] - X[mask]) ** 2)))

    mixture = rmse(incomplete.impute(X_missing))
    mean = rmse(np.where(mask, np.nanmean(X_missing, axis=0), X_missing))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iterative = rmse(IterativeImputer(random_state=0).fit_transform(X_missing))
    # Measured: mixture 1.05, IterativeImputer 1.43, mean 2.61.
    assert mixture < 0.85 * iterative
    assert mixture < 0.5 * mean


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_every_covariance_model_fits_incomplete_data(name):
    _X, _mask, X_missing = _mixture_data(n=300, fraction=0.15, seed=1)
    gm = GaussianMixture(3, covariance_type=name, random_state=0).fit(X_missing)
    assert np.all(np.diff(gm.lower_bounds_) >= -1e-9)
    assert np.isfinite(gm.means_).all() and gm.labels_.shape == (300,)
    assert np.isclose(gm.score(X_missing), gm.score_samples(X_missing).mean())
    assert gm.predict(X_missing).shape == (300,)
    assert np.allclose(gm.predict_proba(X_missing).sum(axis=1), 1.0)
    # The labels are the most probable components under the observed coordinates.
    np.testing.assert_array_equal(gm.labels_, gm.predict_proba(X_missing).argmax(axis=1))


def test_scores_of_incomplete_rows_are_scipy_marginals():
    _X, _mask, X_missing = _mixture_data(n=200, seed=2)
    gm = GaussianMixture(3, random_state=0).fit(X_missing)
    rows = X_missing[:30]
    expected = []
    for row in rows:
        o = ~np.isnan(row)
        expected.append(
            [
                np.log(gm.weights_[k])
                + multivariate_normal(gm.means_[k][o], gm.covariances_[k][np.ix_(o, o)]).logpdf(
                    row[o]
                )
                for k in range(3)
            ]
        )
    expected = np.array(expected)
    np.testing.assert_allclose(gm.score_samples(rows), logsumexp(expected, axis=1), rtol=1e-9)
    np.testing.assert_allclose(
        gm.predict_proba(rows),
        np.exp(expected - logsumexp(expected, axis=1)[:, None]),
        atol=1e-9,
    )
    total = gm.score_samples(X_missing).sum()
    assert gm.bic(X_missing) == pytest.approx(-2 * total + gm._n_parameters() * np.log(200))


def test_model_selection_counts_observed_values():
    _X, _mask, X_missing = _mixture_data(n=400, seed=3)
    selector = GaussianMixtureIC(
        n_components=[2, 3], covariance_types=["full", "diag"], random_state=0
    ).fit(X_missing)
    assert selector.best_n_components_ == 3
    best = selector.best_estimator_
    total = best.score_samples(X_missing).sum()
    assert selector.results_["bic"][selector.best_index_] == pytest.approx(
        -2 * total + best._n_parameters() * np.log(400), rel=1e-9
    )


def test_empty_rows_are_refused_or_dropped_with_a_count():
    _X, _mask, X_missing = _mixture_data(n=200, seed=4)
    X_missing[[5, 9]] = np.nan
    with pytest.raises(ValueError, match=r"2 rows with no observed value .*rows 5, 9\. Drop"):
        GaussianMixture(3).fit(X_missing)
    with pytest.warns(UserWarning, match=r"2 of 200 rows of X have no observed value"):
        dropped = GaussianMixture(3, random_state=0, empty_rows="drop").fit(X_missing)
    kept = np.delete(X_missing, [5, 9], axis=0)
    reference = GaussianMixture(3, random_state=0).fit(kept)
    np.testing.assert_array_equal(dropped.means_, reference.means_)
    with pytest.raises(ValueError, match=r"1 row with no observed value"):
        dropped.predict(X_missing[4:6])


def test_bad_input_with_missing_values_is_named():
    _X, _mask, X_missing = _mixture_data(n=100, seed=5)
    column = X_missing.copy()
    column[:, 2] = np.nan
    with pytest.raises(ValueError, match=r"no observed value in column 2"):
        GaussianMixture(2).fit(column)
    infinite = X_missing.copy()
    infinite[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"infinite values: 1 value in column 1"):
        GaussianMixture(2).fit(infinite)
    gm = GaussianMixture(2, random_state=0).fit(X_missing)
    with pytest.raises(ValueError, match=r"infinite values"):
        gm.predict(infinite)
