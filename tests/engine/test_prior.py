"""Conjugate-prior regularisation: mclust's default prior, posterior-mode M-steps, EM."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import optimize, stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from gaussmix import GaussianMixture, GaussianMixtureIC
from gaussmix.backends import InMemoryBackend
from gaussmix.covariance import COVARIANCE_MODELS
from gaussmix.engine.collapse import CollapseError, CollapseWarning
from gaussmix.engine.criteria import component_covariance_matrices
from gaussmix.engine.passes import e_step_statistics, initial_params, m_step
from gaussmix.engine.prior import ConjugatePrior, default_prior, log_prior
from gaussmix.starts.assignment import Assignment

MULTIVARIATE = [name for name in COVARIANCE_MODELS if name not in ("E", "V")]


# ------------------------------------------------------------------ default prior
def test_default_prior_matches_mclust_formulas():
    # mclust R/mclust.R, defaultPrior(data, G, modelName): shrinkage 0.01, mean
    # colMeans(data); E/V: dof 3, scale var(data)/G^2; EII..VVI: dof p+2, scale
    # (1/G)^(2/p) * sum(apply(data, 2, var))/p; EEE..VVV: dof p+2, scale
    # (1/G)^(2/p) * var(data) if n > p else (1/G)^(2/p) * diag(apply(data, 2, var)).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3)) * [1.0, 2.0, 0.5] + [3.0, -1.0, 10.0]
    G, p = 4, 3
    factor = (1.0 / G) ** (2.0 / p)
    column_var = X.var(axis=0, ddof=1)

    full = default_prior(X, G, "VVV")
    assert full.shrinkage == 0.01 and full.dof == p + 2
    np.testing.assert_allclose(full.mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(full.scale, factor * np.cov(X, rowvar=False), rtol=1e-12)
    for name in ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "diag", "spherical"):
        prior = default_prior(X, G, name)
        assert prior.dof == p + 2
        assert prior.scale == pytest.approx(factor * column_var.sum() / p, rel=1e-12)
    # n <= p: the ellipsoidal scale is diagonal.
    few = X[:3]
    np.testing.assert_allclose(
        default_prior(few, 2, "EEV").scale,
        (1.0 / 2) ** (2.0 / p) * np.diag(few.var(axis=0, ddof=1)),
        rtol=1e-12,
    )
    univariate = X[:, :1]
    prior = default_prior(univariate, 3, "V")
    assert prior.dof == 3.0
    assert prior.scale == pytest.approx(univariate.var(ddof=1) / 9.0, rel=1e-12)
    # priorControl(shrinkage = 0.1): one key overrides, the rest default.
    assert default_prior(X, G, "VVV", shrinkage=0.1).shrinkage == 0.1


# ------------------------------------------------------------------ posterior mode vs brute force
N_POINTS, N_COMPONENTS, N_FEATURES = 25, 2, 2


def _fixed_responsibilities(seed=0):
    rng = np.random.RandomState(seed)
    X = np.vstack(
        [rng.normal(0.0, 1.0, (12, 2)), rng.normal(3.0, 0.7, (13, 2)) @ [[1, 0.5], [0, 1]]]
    )
    X += [20.0, -5.0]  # away from the origin: the centring must shift the prior mean
    resp = rng.dirichlet([1.0, 1.0], size=N_POINTS)
    resp[:12] = 0.2 * resp[:12] + [0.8, 0.0]
    resp[12:] = 0.2 * resp[12:] + [0.0, 0.8]
    prior = ConjugatePrior(
        shrinkage=0.5,
        mean=np.array([21.0, -4.0]),
        dof=N_FEATURES + 2.0,
        scale=np.array([[2.0, 0.3], [0.3, 1.0]]),
    )
    return X, resp, prior


def _posterior_mode(name, X, resp, prior):
    model = COVARIANCE_MODELS[name]
    backend = InMemoryBackend(X)
    with backend:
        params, _, _ = initial_params(
            backend,
            model,
            Assignment(labels=None, resp=resp),
            backend.centre(),
            N_COMPONENTS,
            0.0,
            prior,
        )
    return params


def _complete_log_likelihood(X, resp, means, covariances):
    return sum(
        np.dot(resp[:, k], stats.multivariate_normal.logpdf(X, means[k], covariances[k]))
        for k in range(len(means))
    )


def _mean_log_prior(prior, means, covariances):
    return sum(
        stats.multivariate_normal.logpdf(m, prior.mean, c / prior.shrinkage)
        for m, c in zip(means, covariances)
    )


def _rotation(angle):
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


# Each case: covariance_type, a parametrisation theta -> K covariance matrices, its size,
# and the prior's log-density of the covariances (independent of gaussmix's code):
# scipy's inverse Wishart / inverse gamma for the closed-form models, the stated
# per-block form -c/2 log|S| - tr(S^-1 L)/2 for the constrained ones.
def _vvv(t):
    out = []
    for k in range(2):
        lower = np.array([[np.exp(t[3 * k]), 0.0], [t[3 * k + 1], np.exp(t[3 * k + 2])]])
        out.append(lower @ lower.T)
    return np.array(out)


def _eee(t):
    lower = np.array([[np.exp(t[0]), 0.0], [t[1], np.exp(t[2])]])
    return np.array([lower @ lower.T] * 2)


def _vvi(t):
    return np.array([np.diag(np.exp(t[2 * k : 2 * k + 2])) for k in range(2)])


def _eii(t):
    return np.array([np.exp(t[0]) * np.eye(2)] * 2)


def _vii(t):
    return np.array([np.exp(t[k]) * np.eye(2) for k in range(2)])


def _vei(t):
    shape = np.diag([np.exp(t[2]), np.exp(-t[2])])
    return np.array([np.exp(t[k]) * shape for k in range(2)])


def _eev(t):
    shape = np.diag([np.exp(t[1]), np.exp(-t[1])])
    return np.array(
        [np.exp(t[0]) * _rotation(t[2 + k]) @ shape @ _rotation(t[2 + k]).T for k in range(2)]
    )


def _vev(t):
    shape = np.diag([np.exp(t[2]), np.exp(-t[2])])
    return np.array(
        [np.exp(t[k]) * _rotation(t[3 + k]) @ shape @ _rotation(t[3 + k]).T for k in range(2)]
    )


def _evi(t):
    return np.array(
        [np.exp(t[0]) * np.diag([np.exp(t[1 + k]), np.exp(-t[1 + k])]) for k in range(2)]
    )


def _iw(prior, covariances):
    return sum(stats.invwishart.logpdf(c, df=prior.dof, scale=prior.scale) for c in covariances)


def _ig(prior, variances):
    return np.sum(stats.invgamma.logpdf(variances, a=prior.dof / 2, scale=prior.scale / 2))


def _block(prior, covariances, exponent, scale_matrix):
    return sum(
        -0.5 * exponent * np.linalg.slogdet(c)[1] - 0.5 * np.trace(np.linalg.solve(c, scale_matrix))
        for c in covariances
    )


def _scalar_prior(prior):
    return ConjugatePrior(prior.shrinkage, prior.mean, prior.dof, 1.3)


CASES = {
    "VVV": (_vvv, 6, lambda p, c: _iw(p, c)),
    "EEE": (_eee, 3, lambda p, c: _iw(p, c[:1])),
    "VVI": (_vvi, 4, lambda p, c: _ig(p, np.array([np.diag(m) for m in c]))),
    "EII": (_eii, 1, lambda p, c: _ig(p, c[0, 0, 0])),
    "VII": (_vii, 2, lambda p, c: _ig(p, c[:, 0, 0])),
    # Variable covariances, one block each: ellipsoidal c = nu + d + 1, L = Lambda;
    # diagonal c = nu + 2, L = zeta^2 I.
    "EEV": (_eev, 4, lambda p, c: _block(p, c, p.dof + 3, p.scale)),
    "VEV": (_vev, 5, lambda p, c: _block(p, c, p.dof + 3, p.scale)),
    "VEI": (_vei, 3, lambda p, c: _block(p, c, p.dof + 2, p.scale * np.eye(2))),
    "EVI": (_evi, 3, lambda p, c: _block(p, c, p.dof + 2, p.scale * np.eye(2))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_posterior_mode_maximises_complete_log_posterior(name):
    parametrise, n_theta, covariance_log_prior = CASES[name]
    X, resp, prior = _fixed_responsibilities()
    if name in ("VVI", "EII", "VII", "VEI", "EVI"):
        prior = _scalar_prior(prior)
    params = _posterior_mode(name, X, resp, prior)

    def negative_log_posterior(theta):
        means = theta[:4].reshape(2, 2)
        covariances = parametrise(theta[4:])
        return -(
            _complete_log_likelihood(X, resp, means, covariances)
            + _mean_log_prior(prior, means, covariances)
            + covariance_log_prior(prior, covariances)
        )

    # Start away from the answer: the unweighted sample means, unit covariances.
    start = np.concatenate(
        [np.tile(X.mean(axis=0), 2) + np.array([0.5, 0.0, 0.0, 0.5]), np.full(n_theta, 0.1)]
    )
    best = None
    for offset in (0.0, 0.7):  # rotations: two starts guard against a local optimum
        result = optimize.minimize(
            negative_log_posterior,
            start + offset * (np.arange(start.size) % 3 == 2),
            method="BFGS",
            options={"gtol": 1e-9, "maxiter": 5000},
        )
        if best is None or result.fun < best.fun:
            best = result
    matrices = component_covariance_matrices(params.covariances, name, 2, 2)
    np.testing.assert_allclose(params.means.ravel(), best.x[:4], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(matrices, parametrise(best.x[4:]), rtol=1e-4, atol=1e-6)
    # And gaussmix's mode is at least as good as the optimiser's.
    theta_value = negative_log_posterior(best.x)
    own = -(
        _complete_log_likelihood(X, resp, params.means, matrices)
        + _mean_log_prior(prior, params.means, matrices)
        + covariance_log_prior(prior, matrices)
    )
    assert own <= theta_value + 1e-7 * abs(theta_value)


def test_shared_models_add_the_prior_once():
    # EEE (Fraley & Raftery 2007): Sigma = (Lambda + sum_k B_k + W) / (nu + n + K + d + 1).
    X, resp, prior = _fixed_responsibilities()
    params = _posterior_mode("EEE", X, resp, prior)
    nk = resp.sum(axis=0)
    xbar = resp.T @ X / nk[:, None]
    scatter = prior.scale.copy()
    for k in range(2):
        centred = X - xbar[k]
        scatter += (resp[:, k, None] * centred).T @ centred
        offset = xbar[k] - prior.mean
        scatter += prior.shrinkage * nk[k] / (nk[k] + prior.shrinkage) * np.outer(offset, offset)
    expected = scatter / (prior.dof + N_POINTS + 2 + N_FEATURES + 1)
    np.testing.assert_allclose(params.covariances, expected, rtol=1e-10)
    expected_means = (nk[:, None] * xbar + prior.shrinkage * prior.mean) / (nk + prior.shrinkage)[
        :, None
    ]
    np.testing.assert_allclose(params.means, expected_means, rtol=1e-12)


# ------------------------------------------------------------------ EM with a prior
def _broken_data(seed=0):
    """Two clusters and a third of two distinct points repeated: rank 1 in 4 features."""
    rng = np.random.RandomState(seed)
    repeated = np.repeat(np.array([[20.0, 20, 20, 20], [20, 21, 20, 20]]), 5, axis=0)
    return np.vstack([rng.normal(0, 1, (40, 4)), rng.normal(8, 1, (40, 4)), repeated])


@pytest.mark.parametrize("name", ["VVV", "EEE", "VVI", "EII", "VEV", "EVE", "VEI", "EVV"])
def test_em_never_decreases_the_log_posterior(name):
    rng = np.random.RandomState(1)
    X = np.vstack([rng.normal(0, 1, (30, 3)), rng.normal(2.5, 0.6, (30, 3))])
    model = COVARIANCE_MODELS[name]
    prior = default_prior(X, 3, name)
    backend = InMemoryBackend(X)
    with backend:
        centre = backend.centre()
        labels = rng.randint(3, size=len(X))
        params, _, _ = initial_params(
            backend, model, Assignment(labels=labels, resp=None), centre, 3, 0.0, prior
        )
        values = []
        for _ in range(40):
            statistics = e_step_statistics(backend, model, params, centre)
            values.append(
                statistics.log_likelihood + log_prior(prior, name, params.means, params.covariances)
            )
            params, singular = m_step(model, statistics, centre, 0.0, prior)
            assert not singular.any()
    steps = np.diff(values)
    assert np.all(steps >= -1e-9 * np.abs(values[1:])), steps.min()
    assert values[-1] > values[0]


def _fit_quietly(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


def test_broken_data_break_plain_em():
    # The check below is meaningful: without a prior these data end in a singular covariance.
    with pytest.raises(CollapseError):
        _fit_quietly(
            GaussianMixture(3, covariance_type="VVV", reg_covar=0.0, random_state=0), _broken_data()
        )


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_prior_finishes_finite_on_data_that_break_plain_em(name):
    X = _broken_data()
    estimator = _fit_quietly(
        GaussianMixture(3, covariance_type=name, reg_covar=0.0, prior="default", random_state=0),
        X,
    )
    for value in (
        estimator.means_,
        estimator.covariances_,
        estimator.precisions_,
        estimator.weights_,
    ):
        assert np.all(np.isfinite(value))
    assert np.isfinite(estimator.lower_bound_)
    assert isinstance(estimator.prior_, ConjugatePrior)
    # A component with fewer distinct points than features still has a
    # positive-definite covariance.
    matrices = component_covariance_matrices(estimator.covariances_, name, 3, 4)
    assert np.linalg.eigvalsh(matrices).min() > 0.0


@pytest.mark.parametrize("name", ["E", "V"])
def test_univariate_prior_survives_repeated_values(name):
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(0, 1, 50), np.full(6, 9.0)])[:, None]
    estimator = _fit_quietly(
        GaussianMixture(2, covariance_type=name, reg_covar=0.0, prior="default", random_state=0),
        X,
    )
    assert np.all(np.isfinite(estimator.covariances_)) and np.all(estimator.covariances_ > 0)


def test_no_prior_is_plain_em():
    rng = np.random.RandomState(3)
    X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(4, 1, (100, 2))])
    ours = GaussianMixture(2, prior=None, random_state=0).fit(X)
    theirs = SklearnGaussianMixture(2, random_state=0).fit(X)
    assert ours.prior_ is None
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-10)
    np.testing.assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-9)
    # And the prior does move the fit (towards the prior mean and scale).
    regularised = GaussianMixture(2, prior={"shrinkage": 50.0}, random_state=0).fit(X)
    assert not np.allclose(regularised.means_, ours.means_, rtol=1e-3)


def test_float32_stays_float32():
    rng = np.random.RandomState(4)
    X = np.vstack([rng.normal(0, 1, (100, 3)), rng.normal(5, 1, (100, 3))])
    single = GaussianMixture(2, prior="default", random_state=0).fit(X.astype(np.float32))
    double = GaussianMixture(2, prior="default", random_state=0).fit(X)
    assert single.means_.dtype == np.float32 and single.covariances_.dtype == np.float32
    np.testing.assert_allclose(single.means_, double.means_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(single.covariances_, double.covariances_, rtol=1e-3, atol=1e-4)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "prior, match",
    [
        ({"shrinkage": 0.1, "bogus": 1}, "bogus"),
        ({"shrinkage": -1.0}, "shrinkage"),
        ({"dof": 0.0}, "dof"),
        ({"mean": [0.0, 0.0, 0.0]}, "mean"),
        ({"scale": [[1.0, 2.0], [2.0, 1.0]]}, "scale"),
        ({"scale": -1.0}, "scale"),
        ("flat", "prior"),
        (3, "prior"),
    ],
)
def test_bad_prior_is_refused(prior, match):
    X = np.random.RandomState(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2, prior=prior).fit(X)


def test_prior_in_model_selection():
    X = _broken_data()
    search = GaussianMixtureIC(
        n_components=[2, 3],
        covariance_types=["VVV", "EII"],
        prior="default",
        reg_covar=0.0,
        n_init=1,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X)
    assert not any(reason.startswith("fit failed") for reason in search.results_["reason"])
    scales = {
        (e.n_components, e.covariance_type): np.ndim(e.prior_.scale) for e in search.estimators_
    }
    assert scales == {(2, "VVV"): 2, (2, "EII"): 0, (3, "VVV"): 2, (3, "EII"): 0}
    # Criteria as mclust: log-likelihood at the posterior mode, usual parameter count.
    best = search.best_estimator_
    log_likelihood = best.score_samples(X).sum()
    expected = -2 * log_likelihood + best._n_parameters() * np.log(len(X))
    assert best.bic(X) == pytest.approx(expected, rel=1e-12)


def test_saving_a_prior_fit(tmp_path):
    X = np.random.RandomState(0).normal(size=(40, 2))
    fitted = GaussianMixture(2, prior="default", random_state=0).fit(X)
    fitted.save(tmp_path / "model.gaussmix")
    from gaussmix import load

    loaded = load(tmp_path / "model.gaussmix")
    assert loaded.prior == "default"
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    custom = GaussianMixture(2, prior={"shrinkage": 0.1}, random_state=0).fit(X)
    with pytest.raises(TypeError, match="prior"):
        custom.save(tmp_path / "custom.gaussmix")
