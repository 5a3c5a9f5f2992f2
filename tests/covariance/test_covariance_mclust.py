"""mclust's 14 covariance models (and E, V) against independent truths.

The truths here share no code with gaussmix: each model's constraint set is
written out below as letters (volume, shape, orientation: Equal, Variable or
the Identity) and read three ways, as a checker of fitted covariances, as an
explicit parametrisation that scipy.optimize minimises over, and as a count
of free parameters. Simulated data from each model test the fits end to end.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix import GaussianMixture
from gaussmix.covariance import COVARIANCE_MODELS, get_covariance_model
from helpers import simulated_covariances, simulated_mixture, sklearn_start

MCLUST = "EII VII EEI VEI EVI VVI EEE VEE EVE VVE EEV VEV EVV VVV".split()
ALIASES = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}
K, D = 2, 3  # different, so that storage shapes are unambiguous


# --------------------------------------------------------------- the constraints
def expand(covariances, n_components, n_features):
    """Any storage to ``(n_components, n_features, n_features)``, read from the shape."""
    covariances = np.asarray(covariances, dtype=np.float64)
    if covariances.shape == (n_components,):
        return covariances[:, None, None] * np.eye(n_features)
    if covariances.shape == (n_components, n_features):
        return np.stack([np.diag(c) for c in covariances])
    if covariances.shape == (n_features, n_features):
        return np.repeat(covariances[None], n_components, axis=0)
    assert covariances.shape == (n_components, n_features, n_features)
    return covariances


def assert_constraint(name, covariances, n_components, n_features, rtol=1e-10):
    """``Sigma_k = lambda_k D_k A_k D_k'`` obeys the letters of ``name``."""
    volume, shape, orientation = name
    full = expand(covariances, n_components, n_features)
    np.testing.assert_allclose(full, np.swapaxes(full, 1, 2), rtol=0, atol=1e-14 * abs(full).max())
    values = np.linalg.eigvalsh(full)[:, ::-1]  # largest first
    assert values.min() > 0
    volumes = np.exp(np.mean(np.log(values), axis=1))
    shapes = values / volumes[:, None]
    normalised = full / volumes[:, None, None]
    if volume == "E":
        np.testing.assert_allclose(volumes, volumes[0], rtol=rtol)
    if shape == "I":
        np.testing.assert_allclose(shapes, 1.0, rtol=rtol)
    if shape == "E":
        np.testing.assert_allclose(shapes, shapes[:1].repeat(n_components, 0), rtol=rtol)
    if orientation == "I":
        off_diagonal = full * (1 - np.eye(n_features))
        np.testing.assert_array_equal(off_diagonal, 0.0)
    if orientation == "E" and shape == "E":
        # Equal shape and orientation: Sigma_k / lambda_k is one matrix.
        np.testing.assert_allclose(
            normalised, normalised[:1].repeat(n_components, 0), rtol=0, atol=rtol * 10
        )
    if orientation == "E":
        # Symmetric matrices share their eigenvectors if and only if they commute.
        for i in range(n_components):
            for j in range(i):
                a, b = normalised[i], normalised[j]
                commutator = a @ b - b @ a
                assert np.abs(commutator).max() <= 1e3 * rtol * np.abs(a).max() * np.abs(b).max()


def counted_parameters(name, n_components, n_features):
    """Free covariance parameters, counted letter by letter (mclust's nVarParams)."""
    volume, shape, orientation = name
    copies = {"E": 1, "V": n_components, "I": 0}
    return (
        copies[volume]
        + copies[shape] * (n_features - 1)
        + copies[orientation] * n_features * (n_features - 1) // 2
    )


def parametrised(name, theta, n_components, n_features):
    """Covariances of the model from an unconstrained vector; its length is the count."""
    volume, shape, orientation = name
    position = 0

    def take(size):
        nonlocal position
        position += size
        return np.asarray(theta[position - size : position])

    copies = {"E": 1, "V": n_components, "I": 0}
    log_volumes = np.resize(take(copies[volume]), n_components)
    free_shapes = take(copies[shape] * (n_features - 1)).reshape(-1, n_features - 1)
    log_shapes = np.zeros((n_components, n_features))
    if copies[shape]:
        log_shapes = np.hstack([free_shapes, -free_shapes.sum(axis=1, keepdims=True)])
        log_shapes = np.resize(log_shapes, (n_components, n_features))
    rows, cols = np.triu_indices(n_features, 1)
    rotations = np.repeat(np.eye(n_features)[None], n_components, axis=0)
    if copies[orientation]:
        angles = take(copies[orientation] * rows.size).reshape(-1, rows.size)
        for k in range(n_components):
            skew = np.zeros((n_features, n_features))
            skew[rows, cols] = angles[k % len(angles)]
            # Cayley's map reaches every rotation but a null set, and is cheap.
            identity = np.eye(n_features)
            rotations[k] = np.linalg.solve(identity - skew + skew.T, identity + skew - skew.T)
    assert position == len(theta)
    spectra = np.exp(log_volumes[:, None] + log_shapes)
    return np.einsum("kij,kj,klj->kil", rotations, spectra, rotations)


def objective(counts, scatters, covariances):
    """``sum_k n_k log|Sigma_k| + tr(W_k Sigma_k^-1)``: what every M-step minimises."""
    return sum(
        n * np.linalg.slogdet(s)[1] + np.trace(np.linalg.solve(s, w))
        for n, s, w in zip(counts, covariances, scatters)
    )


def scatter_form(model, scatters):
    """The part of full scatter matrices a model's estimator reads, by its storage."""
    shape = model.covariance_shape(K, D)
    if shape == (K,):
        return np.trace(scatters, axis1=1, axis2=2) / D
    if shape == (K, D):
        return np.diagonal(scatters, axis1=1, axis2=2).copy()
    if shape == (D, D):
        return scatters.sum(axis=0)
    return scatters


def random_statistics(seed, n_components=K, n_features=D):
    """Counts and scatters of samples from unrelated random covariances.

    Their spreads stay within a factor 10 of each other: a stored matrix's
    smallest eigenvalue (and so its determinant) is only as exact as
    ``eps * condition number``, and the constraint checks ask for 1e-10.
    """
    rng = np.random.RandomState(seed)
    counts = rng.uniform(30, 150, n_components).round()
    scatters = []
    for n in counts:
        rotation = np.linalg.qr(rng.normal(size=(n_features, n_features)))[0]
        root = rotation * rng.uniform(0.5, 1.6, n_features)
        rows = rng.normal(size=(int(n), n_features)) @ root
        rows -= rows.mean(axis=0)
        scatters.append(rows.T @ rows)
    return counts, np.stack(scatters)


# ------------------------------------------------------------------------ tests
def test_registry_groups_and_aliases_are_the_same_objects():
    assert list(COVARIANCE_MODELS) == [*ALIASES, *MCLUST, "E", "V"]
    for alias, name in ALIASES.items():
        assert COVARIANCE_MODELS[name] is COVARIANCE_MODELS[alias]
    for name in set(MCLUST) - set(ALIASES.values()):  # the models new to gaussmix
        assert COVARIANCE_MODELS[name].name == name


@pytest.mark.parametrize("name", MCLUST)
def test_parameter_counts_by_hand(name):
    # Written out for 3 components in 4 features: volume + shape + orientation.
    table = {
        "EII": 1,
        "VII": 3,
        "EEI": 1 + 3,
        "VEI": 3 + 3,
        "EVI": 1 + 3 * 3,
        "VVI": 3 + 3 * 3,
        "EEE": 1 + 3 + 6,
        "VEE": 3 + 3 + 6,
        "EVE": 1 + 3 * 3 + 6,
        "VVE": 3 + 3 * 3 + 6,
        "EEV": 1 + 3 + 3 * 6,
        "VEV": 3 + 3 + 3 * 6,
        "EVV": 1 + 3 * 3 + 3 * 6,
        "VVV": 3 + 3 * 3 + 3 * 6,
    }
    model = get_covariance_model(name)
    assert model.n_parameters(3, 4) == table[name]
    for n_components, n_features in [(1, 1), (2, 1), (1, 5), (4, 2), (7, 6)]:
        assert model.n_parameters(n_components, n_features) == counted_parameters(
            name, n_components, n_features
        )
    assert get_covariance_model("E").n_parameters(5, 1) == 1
    assert get_covariance_model("V").n_parameters(5, 1) == 5


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", MCLUST)
def test_m_step_attains_the_constrained_optimum(name, seed):
    """The estimate satisfies the constraint and scipy finds nothing better in it."""
    model = get_covariance_model(name)
    counts, scatters = random_statistics(seed)
    estimate = expand(model.covariances_from_scatter(counts, scatter_form(model, scatters)), K, D)
    assert_constraint(name, estimate, K, D)
    ours = objective(counts, scatters, estimate)

    n_parameters = counted_parameters(name, K, D)
    rng = np.random.RandomState(100 + seed)
    starts = [np.zeros(n_parameters)] + [rng.normal(size=n_parameters) for _ in range(2)]
    best = np.inf
    for start in starts:
        start[: K if name[0] == "V" else 1] += np.log(np.trace(scatters.sum(0)) / counts.sum() / D)
        result = minimize(
            lambda theta: objective(counts, scatters, parametrised(name, theta, K, D)),
            start,
            method="L-BFGS-B",
            # Bounded, so that no trial step makes a covariance numerically singular.
            bounds=[(value - 5.0, value + 5.0) for value in start],
            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 1000},
        )
        best = min(best, result.fun)
    assert ours <= best + 1e-9 * abs(best)


@pytest.mark.parametrize("name", MCLUST)
def test_m_step_beats_constraint_preserving_perturbations(name):
    """Random feasible covariances near the estimate, and far from it, are all worse."""
    model = get_covariance_model(name)
    counts, scatters = random_statistics(7)
    estimate = expand(model.covariances_from_scatter(counts, scatter_form(model, scatters)), K, D)
    ours = objective(counts, scatters, estimate)
    rng = np.random.RandomState(3)
    n_parameters = counted_parameters(name, K, D)
    # The estimate's coordinates in the parametrisation (angles and logs kept bounded).
    volumes = np.exp(np.mean(np.log(np.linalg.eigvalsh(estimate)), axis=1))
    start = np.zeros(n_parameters)
    start[: K if name[0] == "V" else 1] = np.log(volumes[: K if name[0] == "V" else 1])
    theta = minimize(
        lambda t: np.sum((parametrised(name, t, K, D) - estimate) ** 2) / np.sum(estimate**2),
        start,
        method="L-BFGS-B",
        bounds=[(-10, 10)] * n_parameters,
        options={"ftol": 1e-15, "gtol": 1e-12},
    ).x
    np.testing.assert_allclose(parametrised(name, theta, K, D), estimate, rtol=1e-3, atol=1e-4)
    for scale in [1e-4, 1e-2, 1.0]:
        for _ in range(20):
            candidate = parametrised(name, theta + scale * rng.normal(size=theta.size), K, D)
            assert_constraint(name, candidate, K, D, rtol=1e-8)
            assert objective(counts, scatters, candidate) >= ours - 1e-9 * abs(ours)


@pytest.mark.parametrize("name", MCLUST)
def test_m_step_from_chunk_statistics_uses_regularised_scatters(name):
    """``m_step`` = the estimator on brute-force ``W_k + n_k reg I``, means ``first / nk``."""
    model = get_covariance_model(name)
    rng = np.random.RandomState(5)
    X = rng.normal(size=(300, D)) @ rng.normal(size=(D, D)) + 4.0
    resp = rng.dirichlet(np.ones(K), size=X.shape[0])
    centre = X.mean(axis=0) + 0.2
    n_features = X.shape[1]
    means0 = rng.normal(size=(K, D))
    covariances0 = model.from_pooled(np.cov(X.T), K)
    prepared = model.prepare(
        means0 - centre, model.precisions_cholesky(covariances0)[0], np.log(np.ones(K) / K), float
    )
    work = model.workspace(X.shape[0], K, n_features, np.float64)
    XcT = np.ascontiguousarray((X - centre).T)
    model.weighted_log_prob(XcT, prepared, work)
    nk, first, second = model.moments(XcT, np.ascontiguousarray(resp.T), None, prepared, work)
    reg_covar = 1e-2
    means, covariances = model.m_step(nk, first, second, reg_covar)

    counts = resp.sum(axis=0)
    true_means = resp.T @ X / counts[:, None]
    scatters = np.stack(
        [((X - m).T * r) @ (X - m) for m, r in zip(true_means, resp.T)]
    ) + reg_covar * counts[:, None, None] * np.eye(D)
    expected = model.covariances_from_scatter(counts, scatter_form(model, scatters))
    np.testing.assert_allclose(means + centre, true_means, rtol=1e-12)
    np.testing.assert_allclose(covariances, expected, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("name", MCLUST)
def test_fits_keep_the_constraint_and_never_decrease_the_likelihood(name):
    rng = np.random.RandomState(11)
    blobs = [rng.normal(size=(200, D)) @ rng.normal(size=(D, D)) + 6 * rng.normal(size=D)]
    blobs += [rng.normal(size=(150, D)) * [0.5, 2.0, 1.0] + 6 * rng.normal(size=D)]
    X = np.vstack(blobs)
    gm = GaussianMixture(K, covariance_type=name, tol=1e-10, max_iter=300, random_state=0)
    gm.fit(X)
    assert gm.converged_
    assert_constraint(name, gm.covariances_, K, D)
    bounds = np.array(gm.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-10 * np.abs(bounds[1:]))
    assert np.all(np.isfinite(gm.precisions_cholesky_))
    # BIC counts the covariance parameters mclust counts, plus means and weights.
    n = X.shape[0]
    expected_bic = -2 * gm.score(X) * n + (counted_parameters(name, K, D) + K * D + K - 1) * np.log(
        n
    )
    np.testing.assert_allclose(gm.bic(X), expected_bic, rtol=1e-12)


@pytest.mark.parametrize("name", ["EVE", "VEE", "EVI"])
def test_float32_stays_float32(name):
    rng = np.random.RandomState(2)
    X = np.vstack([rng.normal(size=(150, D)), rng.normal(size=(150, D)) * 2 + 8]).astype(np.float32)
    gm = GaussianMixture(2, covariance_type=name, random_state=0).fit(X)
    assert gm.covariances_.dtype == np.float32 and gm.means_.dtype == np.float32
    assert_constraint(name, gm.covariances_.astype(np.float64), 2, D, rtol=1e-5)


@pytest.mark.parametrize("alias", list(ALIASES))
def test_aliases_give_identical_fits(alias):
    rng = np.random.RandomState(4)
    X = np.vstack([rng.normal(size=(120, 2)), rng.normal(size=(80, 2)) * [1, 3] + 5])
    fits = [
        GaussianMixture(2, covariance_type=name, random_state=1, n_init=2).fit(X)
        for name in (alias, ALIASES[alias])
    ]
    for attribute in ["covariances_", "means_", "weights_", "precisions_cholesky_"]:
        np.testing.assert_array_equal(getattr(fits[0], attribute), getattr(fits[1], attribute))
    assert fits[0].lower_bound_ == fits[1].lower_bound_
    assert fits[0].bic(X) == fits[1].bic(X)


@pytest.mark.parametrize("alias", list(ALIASES))
def test_mclust_names_still_match_sklearn(alias):
    rng = np.random.RandomState(8)
    X = np.vstack([rng.normal(size=(150, 3)), rng.normal(size=(100, 3)) * [1, 2, 0.5] + 4])
    start = sklearn_start(X, 2, alias)
    ours = GaussianMixture(2, covariance_type=ALIASES[alias], tol=0.0, max_iter=15, **start)
    theirs = SkGaussianMixture(2, covariance_type=alias, tol=0.0, max_iter=15, **start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X)
        theirs.fit(X)
    for attribute in ["weights_", "means_", "covariances_"]:
        np.testing.assert_allclose(
            getattr(ours, attribute), getattr(theirs, attribute), rtol=1e-7, atol=1e-10
        )
    np.testing.assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-10)


def test_univariate_models_and_multivariate_names_on_one_feature_agree():
    rng = np.random.RandomState(6)
    x = np.concatenate([rng.normal(0, 1, 200), rng.normal(6, 2.5, 150)])[:, None]
    fits = {
        name: GaussianMixture(2, covariance_type=name, random_state=0, tol=1e-9).fit(x)
        for name in ["E", "V", *MCLUST]
    }
    for name in MCLUST:
        reference = fits["E" if name[0] == "E" else "V"]
        fit = fits[name]
        np.testing.assert_allclose(fit.lower_bound_, reference.lower_bound_, rtol=1e-9)
        variances = np.resize(np.ravel(fit.covariances_), 2)  # EEE stores one (1, 1) matrix
        np.testing.assert_allclose(variances, reference.covariances_, rtol=1e-7)
        np.testing.assert_allclose(np.ravel(fit.means_), np.ravel(reference.means_), rtol=1e-7)
        assert fit._n_parameters() == reference._n_parameters()
    # Equal variance really is equal; a variance per component really differs.
    assert fits["E"].covariances_[0] == fits["E"].covariances_[1]
    assert abs(np.log(fits["V"].covariances_[0] / fits["V"].covariances_[1])) > 1.0


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown covariance_type 'XYZ'") as error:
        get_covariance_model("XYZ")
    for name in [*ALIASES, *MCLUST, "E", "V"]:
        assert re.search(rf"\b{name}\b", str(error.value))
    with pytest.raises(ValueError, match=r"'full', 'tied', 'diag', 'spherical', 'EII', 'VII'"):
        GaussianMixture(covariance_type="XYZ").fit(np.random.RandomState(0).normal(size=(20, 2)))


@pytest.mark.parametrize("name, instead", [("E", "'EII'"), ("V", "'VII'")])
def test_univariate_models_refuse_several_features(name, instead):
    X = np.random.RandomState(0).normal(size=(50, 3))
    with pytest.raises(
        ValueError, match=rf"{name!r} is mclust's model for one feature.*3 features"
    ):
        GaussianMixture(2, covariance_type=name).fit(X)
    with pytest.raises(ValueError, match=instead):
        get_covariance_model(name).check_n_features(3)


@pytest.mark.parametrize("name", MCLUST)
def test_replacing_components_keeps_the_constraint(name):
    """Re-seeded or frozen components share what the model ties across components."""
    model = get_covariance_model(name)
    counts, scatters = random_statistics(9)
    covariances = model.covariances_from_scatter(counts, scatter_form(model, scatters))
    source = model.from_pooled(scatters[0] / counts[0], K)
    for components in [np.array([1]), np.array([0]), np.arange(K)]:
        replaced = model.replace_components(covariances, source, components)
        assert replaced.shape == np.shape(covariances)
        if model.shared_covariance:
            continue
        assert_constraint(name, replaced, K, D)
        kept = np.setdiff1d(np.arange(K), components)
        np.testing.assert_array_equal(replaced[kept], covariances[kept])
    if name in ("VVV", "VVI", "VII"):
        # Nothing is shared: the replacement is the source itself.
        np.testing.assert_array_equal(replaced[1], source[1])


@pytest.mark.parametrize("name", MCLUST)
def test_degenerate_component_gets_a_zero_covariance_not_nan(name):
    """A component without a scatter (no points, no regularisation) cannot poison the rest."""
    model = get_covariance_model(name)
    counts, scatters = random_statistics(10)
    scatters[1] = 0.0
    covariances = model.covariances_from_scatter(counts, scatter_form(model, scatters))
    assert np.all(np.isfinite(covariances))
    if model.shared_covariance:
        return
    _, singular = model.precisions_cholesky(covariances)
    assert not singular[0]
    # Where its own volume or shape is free, its estimate does not exist: the engine
    # sees a singular covariance and re-seeds it. Otherwise it takes the shared ones.
    assert singular[1] == (name[0] == "V" or name[1] == "V")


# ------------------------------------------------------------------- recovery
@pytest.mark.parametrize("name", MCLUST)
def test_bic_recovers_the_simulated_model_and_number_of_components(name):
    n_components, wins = 2, 0
    covariances = simulated_covariances(name, n_components)
    assert_constraint(name, covariances, n_components, 2)
    for seed in range(3):
        X = simulated_mixture(name, 400, seed, separation=14.0)
        candidates = [(other, n_components) for other in MCLUST]
        candidates += [(name, n_components - 1), (name, n_components + 1)]
        scores = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for model, k in candidates:
                gm = GaussianMixture(
                    k, covariance_type=model, n_init=2, tol=1e-6, random_state=seed
                )
                scores[model, k] = gm.fit(X).bic(X)
        wins += min(scores, key=scores.get) == (name, n_components)
    assert wins >= 2


@pytest.mark.parametrize("name", ["EVE", "VVE"])
def test_warm_started_orientation_never_undoes_the_previous_iteration(name):
    """From the previous covariances, the M-step objective can only go down (monotone EM)."""
    model = get_covariance_model(name)
    rng = np.random.RandomState(3)
    n_components, n_features = 3, 4

    def random_scatters(seed):
        local = np.random.RandomState(seed)
        factors = local.normal(size=(n_components, n_features, n_features))
        return np.einsum("kij,klj->kil", factors, factors) + 0.5 * np.eye(n_features)

    def objective(counts, scatters, covariances):
        _, log_det = np.linalg.slogdet(covariances)
        trace = np.einsum("kij,kji->k", scatters, np.linalg.inv(covariances))
        return float(np.sum(counts * log_det + trace))

    counts = rng.uniform(20, 60, n_components)
    previous = model.covariances_from_scatter(counts, random_scatters(1))
    scatters = random_scatters(2)
    warm = model.covariances_from_scatter(counts, scatters, previous=previous)
    assert objective(counts, scatters, warm) <= objective(counts, scatters, previous) + 1e-9
    # From the optimum itself, the warm start stays there.
    cold = model.covariances_from_scatter(counts, scatters)
    again = model.covariances_from_scatter(counts, scatters, previous=cold)
    assert objective(counts, scatters, again) == pytest.approx(
        objective(counts, scatters, cold), rel=1e-10
    )


@pytest.mark.parametrize("name", ["VEE", "VEV", "VEI"])
def test_warm_started_volumes_reach_the_cold_optimum_and_never_go_up(name):
    """VEE, VEV and VEI start their alternation from the previous shared shape.

    From any previous covariances in the model the M-step's objective can only
    go down (monotone EM); the optimum is unique (the problems are convex in
    the log-volumes and log-shape, geodesically convex for VEE), so warm and
    cold starts agree to the inner tolerance; from the optimum itself the
    warm start stays there.
    """
    model = get_covariance_model(name)
    assert model.warm_starts
    counts, scatters = random_statistics(7)
    _, previous_scatters = random_statistics(8)
    scatters, previous_scatters = (
        scatter_form(model, scatters),
        scatter_form(model, previous_scatters),
    )
    previous = model.covariances_from_scatter(counts, previous_scatters)
    full_scatters = expand(scatters, K, D)

    def q(covariances):
        return objective(counts, full_scatters, expand(covariances, K, D))

    warm = model.covariances_from_scatter(counts, scatters, previous=previous)
    cold = model.covariances_from_scatter(counts, scatters)
    assert_constraint(name, warm, K, D)
    assert q(warm) <= q(previous)
    assert q(warm) == pytest.approx(q(cold), rel=1e-10)
    # Both stop where Q changes by less than 1e-10 relative: the covariances by ~1e-5.
    np.testing.assert_allclose(warm, cold, rtol=0, atol=1e-4 * abs(cold).max())
    again = model.covariances_from_scatter(counts, scatters, previous=cold)
    assert q(again) <= q(cold) + 1e-12 * abs(q(cold))
    np.testing.assert_allclose(again, cold, rtol=0, atol=1e-4 * abs(cold).max())
    # Unusable previous covariances fall back to the cold start.
    for broken in [np.full_like(previous, np.nan), np.zeros_like(previous), previous[:1]]:
        np.testing.assert_array_equal(
            model.covariances_from_scatter(counts, scatters, previous=broken), cold
        )


@pytest.mark.parametrize("name", ["VEE", "VEV", "VEI"])
def test_warm_started_m_step_stops_after_one_round_at_the_optimum(name, monkeypatch):
    """From the covariances of the optimum, one round of the alternation confirms it."""
    from gaussmix.covariance import _decomposition

    model = get_covariance_model(name)
    counts, scatters = random_statistics(9)
    scatters = scatter_form(model, scatters)
    optimum = model.covariances_from_scatter(counts, scatters)
    rounds = []
    original = _decomposition.converged

    def counting(*args, **kwargs):
        rounds.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_decomposition, "converged", counting)
    model.covariances_from_scatter(counts, scatters, previous=optimum)
    assert len(rounds) == 1
    rounds.clear()
    model.covariances_from_scatter(counts, scatters)
    assert len(rounds) >= 2


@pytest.mark.parametrize("equal_volume", [True, False])
def test_two_feature_orientation_is_the_global_minimum(monkeypatch, equal_volume):
    """The one-angle path never ends above Newton on rotations, and finds a shared axis."""
    from gaussmix.covariance import ellipsoidal_family

    def objective(counts, scatters, covariances):
        _, log_det = np.linalg.slogdet(covariances)
        trace = np.einsum("kij,kji->k", scatters, np.linalg.inv(covariances))
        return float(np.sum(counts * log_det + trace))

    rng = np.random.default_rng(4)
    for _ in range(60):
        n_components = int(rng.integers(1, 6))
        factors = rng.normal(size=(n_components, 2, 2))
        scatters = factors @ np.swapaxes(factors, 1, 2) + 0.1 * np.eye(2)
        scatters *= rng.uniform(1.0, 50.0, n_components)[:, None, None]
        counts = rng.uniform(5.0, 100.0, n_components)
        plane = ellipsoidal_family.common_orientation(counts, scatters, equal_volume)
        monkeypatch.setattr(ellipsoidal_family, "PLANE_FEATURES", -1)
        newton = ellipsoidal_family.common_orientation(counts, scatters, equal_volume)
        monkeypatch.undo()
        reference = objective(counts, scatters, newton)
        assert objective(counts, scatters, plane) <= reference + 1e-12 * abs(reference)
    # Scatters sharing their eigenvectors: the shared rotation is exactly theirs.
    rotation = np.array([[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]])
    spectra = np.array([[9.0, 1.0], [4.0, 2.0], [1.0, 0.25]])
    scatters = np.einsum("ij,kj,lj->kil", rotation, spectra, rotation)
    covariances = ellipsoidal_family.common_orientation(np.ones(3), scatters, equal_volume)
    rotated = rotation.T @ covariances @ rotation
    np.testing.assert_allclose(rotated[:, 0, 1], 0.0, atol=1e-12)
