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


# ------------------------------------------------------- marginal and condition
@pytest.mark.parametrize("name", ["full", "tied", "diag", "spherical", "VEV"])
def test_marginal_densities_are_scipy_marginals(name, tmp_path):
    X, _, _ = _mixture_data(n=300, seed=6)
    gm = GaussianMixture(3, covariance_type=name, random_state=0).fit(X)
    features = [3, 1]
    marginal = gm.marginal(features)
    full = COVARIANCE_MODELS[name]
    covariances = np.asarray(gm.covariances_)
    if full.shared_covariance:
        covariances = np.stack([covariances] * 3)
    elif covariances.ndim == 1:
        covariances = np.stack([c * np.eye(4) for c in covariances])
    elif covariances.ndim == 2:
        covariances = np.stack([np.diag(c) for c in covariances])
    rows = X[:20][:, features]
    expected = logsumexp(
        [
            np.log(gm.weights_[k])
            + multivariate_normal(
                gm.means_[k][features], covariances[k][np.ix_(features, features)]
            ).logpdf(rows)
            for k in range(3)
        ],
        axis=0,
    )
    np.testing.assert_allclose(marginal.score_samples(rows), expected, rtol=1e-9)
    assert marginal.predict(rows).shape == (20,)
    assert marginal.sample(5)[0].shape == (5, 2)
    marginal.save(tmp_path / "marginal.gaussmix")
    import gaussmix

    loaded = gaussmix.load(tmp_path / "marginal.gaussmix")
    np.testing.assert_array_equal(loaded.score_samples(rows), marginal.score_samples(rows))


def test_condition_with_one_component_is_the_gaussian_conditional():
    X, _, _ = _mixture_data(n=300, seed=7)
    gm = GaussianMixture(1, random_state=0).fit(X)
    mu, sigma = gm.means_[0], gm.covariances_[0]
    f, r = [2, 0], [1, 3]
    values = np.array([0.5, -1.0])
    solve = np.linalg.solve(sigma[np.ix_(f, f)], sigma[np.ix_(f, r)])
    expected_mean = mu[r] + solve.T @ (values - mu[f])
    expected_cov = sigma[np.ix_(r, r)] - sigma[np.ix_(r, f)] @ solve
    conditional = gm.condition(f, values)
    np.testing.assert_allclose(conditional.means_[0], expected_mean, rtol=1e-10)
    np.testing.assert_allclose(conditional.covariances_[0], expected_cov, rtol=1e-9, atol=1e-12)
    assert conditional.weights_ == pytest.approx([1.0])
    assert conditional.n_features_in_ == 2


def test_condition_weights_are_the_components_posteriors_given_the_values():
    X, _, _ = _mixture_data(n=300, seed=8)
    gm = GaussianMixture(3, random_state=0).fit(X)
    values = np.array([4.0, 0.5])
    conditional = gm.condition([1, 2], values)
    joint = [
        np.log(gm.weights_[k])
        + multivariate_normal(gm.means_[k][[1, 2]], gm.covariances_[k][1:3, 1:3]).logpdf(values)
        for k in range(3)
    ]
    np.testing.assert_allclose(conditional.weights_, np.exp(joint - logsumexp(joint)), atol=1e-12)


def test_marginal_and_condition_refuse_bad_features_and_values():
    X, _, _ = _mixture_data(n=100, seed=9)
    gm = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"index \[4\] out of range .* 4 features"):
        gm.marginal([0, 4])
    with pytest.raises(ValueError, match=r"listed twice"):
        gm.condition([1, 1], [0.0, 0.0])
    with pytest.raises(ValueError, match=r"values has shape \(3,\), expected \(2,\)"):
        gm.condition([0, 1], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"nothing is left to condition"):
        gm.condition([0, 1, 2, 3], [0.0] * 4)
    with pytest.raises(ValueError, match=r"finite"):
        gm.condition([0], [np.nan])
    with pytest.raises(ValueError, match=r"without column names"):
        gm.marginal(["a"])
