"""The contract every registered covariance model fulfils, checked against brute force.

Parametrised over the registry, so a model added to ``COVARIANCE_MODELS`` is tested
without touching this file (``helpers.shape_kind`` says how its covariance array
expands to full matrices; a new shape makes that helper fail loudly).
"""

from __future__ import annotations

import numpy as np
import pytest

from gaussmix.covariance import COVARIANCE_MODELS, CovarianceModel, get_covariance_model
from helpers import (
    COVARIANCE_TYPES,
    brute_force_m_step,
    mixture_log_prob,
    random_covariances,
    shape_kind,
    textbook_n_parameters,
    to_full,
)

N_COMPONENTS, N_FEATURES = 3, 4  # different, so that covariance shapes are unambiguous


@pytest.fixture(params=COVARIANCE_TYPES)
def model(request):
    return COVARIANCE_MODELS[request.param]


def _problem(model, seed=0, n_rows=200):
    rng = np.random.RandomState(seed)
    means = rng.normal(scale=2.0, size=(N_COMPONENTS, N_FEATURES)) + 5.0
    covariances = random_covariances(model, rng, N_COMPONENTS, N_FEATURES)
    weights = rng.dirichlet(np.ones(N_COMPONENTS))
    X = rng.normal(size=(n_rows, N_FEATURES)) * 2.0 + 5.0
    return rng, X, weights, means, covariances


def _kernel_log_prob(model, X, centre, weights, means, covariances, dtype, work_rows=None):
    precisions_chol, singular = model.precisions_cholesky(covariances)
    assert not singular.any()
    prepared = model.prepare(means - centre, precisions_chol, np.log(weights), dtype)
    n_rows = X.shape[0]
    work = model.workspace(work_rows or n_rows, N_COMPONENTS, N_FEATURES, dtype)
    XcT = np.ascontiguousarray((X - centre).T, dtype=dtype)
    return model.weighted_log_prob(XcT, prepared, work), prepared, work, XcT


def test_registry_names_and_lookup():
    assert set(COVARIANCE_TYPES) <= set(COVARIANCE_MODELS)
    for name, model in COVARIANCE_MODELS.items():
        assert isinstance(model, CovarianceModel)
        assert get_covariance_model(name) is model
    for name in COVARIANCE_TYPES:  # the mclust aliases carry scikit-learn's names
        assert COVARIANCE_MODELS[name].name == name
    with pytest.raises(ValueError, match=r"Unknown covariance_type 'bogus'.*full"):
        get_covariance_model("bogus")


@pytest.mark.parametrize("work_rows", [None, 512])
def test_weighted_log_prob_equals_scipy(model, work_rows):
    """log w_k + log N(x | mu_k, Sigma_k), also from a workspace sized for a longer chunk."""
    _, X, weights, means, covariances = _problem(model)
    centre = X.mean(axis=0)
    log_prob, *_ = _kernel_log_prob(
        model, X, centre, weights, means, covariances, np.float64, work_rows
    )
    full = to_full(model, covariances, N_COMPONENTS, N_FEATURES)
    expected = mixture_log_prob(X, weights, means, full)
    assert log_prob.shape == (N_COMPONENTS, X.shape[0])
    np.testing.assert_allclose(log_prob, expected.T, rtol=1e-10)


def test_weighted_log_prob_float32(model):
    _, X, weights, means, covariances = _problem(model)
    centre = X.mean(axis=0)
    log_prob, *_ = _kernel_log_prob(model, X, centre, weights, means, covariances, np.float32)
    assert log_prob.dtype == np.float32
    full = to_full(model, covariances, N_COMPONENTS, N_FEATURES)
    expected = mixture_log_prob(X.astype(np.float32).astype(np.float64), weights, means, full)
    # float32 rounding (6e-8) of terms of magnitude ~|expected|: 1e-5 relative is ample.
    np.testing.assert_allclose(log_prob, expected.T, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_weighted_log_prob_does_not_depend_on_the_centre(model):
    """The kernels take rows minus any centre: the result is the same for every centre."""
    _, X, weights, means, covariances = _problem(model)
    at_mean, *_ = _kernel_log_prob(
        model, X, X.mean(axis=0), weights, means, covariances, np.float64
    )
    at_mean = at_mean.copy()
    at_zero, *_ = _kernel_log_prob(
        model, X, np.zeros(N_FEATURES), weights, means, covariances, np.float64
    )
    np.testing.assert_allclose(at_mean, at_zero, rtol=1e-10)


def test_precisions_cholesky_round_trip(model):
    _, _, _, _, covariances = _problem(model)
    precisions_chol, singular = model.precisions_cholesky(covariances)
    assert precisions_chol.shape == covariances.shape
    assert not singular.any()
    np.testing.assert_allclose(
        model.covariances_from_cholesky(precisions_chol), covariances, rtol=1e-10, atol=1e-13
    )
    precisions = model.precisions_from_cholesky(precisions_chol)
    np.testing.assert_allclose(
        model.precisions_cholesky_from_precisions(precisions),
        precisions_chol,
        rtol=1e-10,
        atol=1e-13,
    )
    # The precisions are the inverses of the covariances ...
    full_cov = to_full(model, covariances, N_COMPONENTS, N_FEATURES)
    full_prec = to_full(model, precisions, N_COMPONENTS, N_FEATURES)
    np.testing.assert_allclose(
        full_prec @ full_cov, np.broadcast_to(np.eye(N_FEATURES), full_cov.shape), atol=1e-10
    )
    # ... and, for matrices, the factor is upper triangular with P @ P.T = precision
    # (scikit-learn's convention for precisions_cholesky_).
    if shape_kind(model, N_COMPONENTS, N_FEATURES) in ("per-component matrix", "shared matrix"):
        factors = precisions_chol.reshape(-1, N_FEATURES, N_FEATURES)
        for factor in factors:
            np.testing.assert_array_equal(np.tril(factor, -1), 0.0)
            assert np.all(np.diag(factor) > 0)


def test_precisions_cholesky_flags_singular_covariances(model):
    _, _, _, _, covariances = _problem(model)
    broken = np.array(covariances, copy=True)
    kind = shape_kind(model, N_COMPONENTS, N_FEATURES)
    if kind == "shared matrix":
        broken[:] = 0.0
        expected = np.array([True])
    else:
        broken[1] = 0.0
        expected = np.array([False, True, False])
    precisions_chol, singular = model.precisions_cholesky(broken)
    np.testing.assert_array_equal(np.ravel(singular), expected)
    assert np.all(np.isfinite(precisions_chol))


def test_n_parameters_is_the_textbook_count(model):
    for n_components, n_features in [(3, 4), (1, 2), (5, 1), (2, 7)]:
        if n_components == n_features:
            continue
        assert model.n_parameters(n_components, n_features) == textbook_n_parameters(
            model, n_components, n_features
        )


def test_log_det_cholesky_equals_brute_force(model):
    _, _, _, _, covariances = _problem(model)
    precisions_chol, _ = model.precisions_cholesky(covariances)
    full = to_full(model, covariances, N_COMPONENTS, N_FEATURES)
    # log det(P) = 1/2 log det(Sigma^-1) = -1/2 log det(Sigma)
    expected = -0.5 * np.linalg.slogdet(full)[1]
    got = np.broadcast_to(model.log_det_cholesky(precisions_chol, N_FEATURES), expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reg_covar", [0.0, 1e-3])
def test_m_step_from_statistics_equals_brute_force(model, weighted, reg_covar):
    rng, X, weights, means, covariances = _problem(model)
    sample_weight = rng.uniform(0.0, 3.0, size=X.shape[0]) if weighted else None
    resp = rng.dirichlet(np.ones(N_COMPONENTS), size=X.shape[0])
    centre = X.mean(axis=0) + 0.3  # any shift: the M-step must undo it

    _, prepared, work, XcT = _kernel_log_prob(
        model, X, centre, weights, means, covariances, np.float64
    )
    resp_weighted = resp.T if sample_weight is None else resp.T * sample_weight
    resp_weighted = np.ascontiguousarray(resp_weighted)
    nk, first, second = model.moments(XcT, resp_weighted, sample_weight, prepared, work)
    means_shifted, new_covariances = model.m_step(nk, first, second, reg_covar)

    nk_expected, means_expected, covariances_expected = brute_force_m_step(
        model, X, resp, sample_weight, reg_covar
    )
    np.testing.assert_allclose(nk, nk_expected, rtol=1e-12)
    np.testing.assert_allclose(means_shifted + centre, means_expected, rtol=1e-10)
    assert np.shape(new_covariances) == tuple(model.covariance_shape(N_COMPONENTS, N_FEATURES))
    np.testing.assert_allclose(new_covariances, covariances_expected, rtol=1e-9, atol=1e-12)


def test_from_pooled_and_replace_components(model):
    _, X, _, _, covariances = _problem(model)
    pooled = np.cov(X.T, bias=True)
    resp = np.ones((X.shape[0], N_COMPONENTS)) / N_COMPONENTS
    # from_pooled is the model's estimate when every component holds all the data.
    _, _, expected = brute_force_m_step(model, X, resp, None, 0.0)
    np.testing.assert_allclose(model.from_pooled(pooled, N_COMPONENTS), expected, rtol=1e-10)

    source = model.from_pooled(pooled, N_COMPONENTS)
    replaced = model.replace_components(covariances, source, np.array([1]))
    if shape_kind(model, N_COMPONENTS, N_FEATURES) == "shared matrix":
        np.testing.assert_array_equal(replaced, covariances)
    else:
        np.testing.assert_array_equal(replaced[1], source[1])
        np.testing.assert_array_equal(replaced[[0, 2]], covariances[[0, 2]])


def test_check_precisions(model):
    _, _, _, _, covariances = _problem(model)
    precisions = model.precisions_from_cholesky(model.precisions_cholesky(covariances)[0])
    checked = model.check_precisions(precisions.tolist(), N_COMPONENTS, N_FEATURES)
    np.testing.assert_array_equal(checked, precisions)
    with pytest.raises(ValueError, match="shape"):
        model.check_precisions(np.ones((7,)), N_COMPONENTS, N_FEATURES)
    negated = -np.asarray(precisions)
    with pytest.raises(ValueError, match="positive"):
        model.check_precisions(negated, N_COMPONENTS, N_FEATURES)
    with pytest.raises(ValueError, match="NaN"):
        model.check_precisions(np.full_like(precisions, np.nan), N_COMPONENTS, N_FEATURES)


def test_sample_has_the_component_moments(model):
    """Draws of one component have its mean and covariance (simulated truth)."""
    _, _, _, means, covariances = _problem(model)
    counts = np.array([0, 6000, 3])
    X = model.sample(np.random.RandomState(1), means, covariances, counts)
    assert X.shape == (counts.sum(), N_FEATURES)
    full = to_full(model, covariances, N_COMPONENTS, N_FEATURES)
    rows = X[:6000]
    se = np.sqrt(np.diag(full[1]) / 6000)
    assert np.all(np.abs(rows.mean(axis=0) - means[1]) < 5 * se)
    np.testing.assert_allclose(np.cov(rows.T), full[1], atol=0.1 * np.abs(full[1]).max())


@pytest.mark.parametrize("n_features", [4, 2, 1])
def test_full_precisions_cholesky_matches_a_per_block_reference(n_features):
    """Factors = per block ``inv(cholesky(Sigma_k)).T``; float32 stays float32.

    At four features the batched LAPACK path; at one and two the closed form,
    on valid stacks, and the LAPACK path it falls back to on broken ones.
    """
    from scipy.linalg import solve_triangular

    model = get_covariance_model("full")
    rng = np.random.RandomState(3)
    factors = rng.normal(size=(6, n_features, n_features + 2))
    valid = factors @ np.swapaxes(factors, 1, 2) + 0.1 * np.eye(n_features)
    last = n_features - 1
    expected_singular = [False, True, True, True, n_features == 1, False]
    for dtype in (np.float64, np.float32):
        broken = valid.astype(dtype)
        broken[1] = 0.0  # not positive definite
        broken[2, last, last] = np.inf  # an infinite factor
        broken[3, last, 0] = np.nan  # NaN in the lower triangle, the one that is read
        broken[4, 0, last] = np.nan  # NaN in the upper triangle, read only where n_features = 1
        broken[5] *= np.finfo(dtype).max ** 0.75  # products of the entries overflow
        for stack, singular_blocks in (
            (valid.astype(dtype), [False] * 6),
            (broken, expected_singular),
        ):
            precisions_chol, singular = model.precisions_cholesky(stack)
            assert precisions_chol.dtype == dtype and precisions_chol.flags.c_contiguous
            assert precisions_chol.shape == stack.shape
            np.testing.assert_array_equal(singular, singular_blocks)
            for k, covariance in enumerate(stack):
                if singular[k]:
                    np.testing.assert_array_equal(precisions_chol[k], np.eye(n_features))
                    continue
                symmetric = np.tril(covariance) + np.tril(covariance, -1).T
                lower = np.linalg.cholesky(symmetric.astype(np.float64))
                expected = solve_triangular(lower, np.eye(n_features), lower=True).T
                np.testing.assert_array_equal(np.tril(precisions_chol[k], -1), 0.0)
                rtol = 1e-5 if dtype == np.float32 else 1e-13
                np.testing.assert_allclose(
                    precisions_chol[k], expected, rtol=rtol, atol=rtol * np.abs(expected).max()
                )


def test_index_tables_are_cached_read_only_and_match_numpy():
    from gaussmix.covariance._base import identity, triangle

    for n_features in (1, 2, 5):
        table = triangle(n_features)
        assert triangle(n_features) is table
        rows, cols = np.triu_indices(n_features)
        np.testing.assert_array_equal(table.rows, rows)
        np.testing.assert_array_equal(table.cols, cols)
        np.testing.assert_array_equal(table.upper_flat, rows * n_features + cols)
        np.testing.assert_array_equal(table.diagonal, np.arange(n_features))
        np.testing.assert_array_equal(table.quadratic_scale, np.where(rows == cols, -0.5, -1.0))
        for got, expected in zip(table.pairs, np.triu_indices(n_features, 1)):
            np.testing.assert_array_equal(got, expected)
        packed = np.arange(rows.size, dtype=float) + 1.0
        matrix = np.zeros((n_features, n_features))
        matrix[rows, cols] = packed
        matrix[cols, rows] = packed
        np.testing.assert_array_equal(packed[table.unpack].reshape(n_features, -1), matrix)
        np.testing.assert_array_equal(identity(n_features), np.eye(n_features))
        for array in [*table[:-1], *table.pairs, identity(n_features)]:
            assert not array.flags.writeable


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_variance_within_rounding_of_zero_is_zero_and_small_spread_is_kept(covariance_type):
    # A feature constant within a component: E[x^2] - mu^2 leaves a residue of a
    # few epsilons times E[x^2], whose sign and size depend on the BLAS's summation
    # order; it must read as zero (singular), not as a variance of 1e-12.
    model = get_covariance_model(covariance_type)
    value, count = -47.0123, 10.0
    eps = np.finfo(np.float64).eps
    for residue in (-2.0, 0.0, 2.0, 4.0):
        second = np.array([[count * value * value * (1.0 + residue * eps)]])
        _, variances = model.m_step(np.array([count]), np.array([[count * value]]), second, 0.0)
        assert np.all(variances == 0.0)
        assert model.precisions_cholesky(variances)[1][0]
        scatter = model.scatters(np.array([count]), np.array([[value]]), second)
        assert np.all(scatter == 0.0)
    # A real spread 1e6 standard deviations from the centre (variance / E[x^2] =
    # 1e-12, 4,500 epsilons) is kept: within what E[x^2] - mu^2 resolves (1%).
    rng = np.random.default_rng(0)
    x = 1e3 + 1e-3 * rng.standard_normal(1000)
    _, variances = model.m_step(
        np.array([1000.0]), np.array([[x.sum()]]), np.array([[np.dot(x, x)]]), 0.0
    )
    np.testing.assert_allclose(np.ravel(variances)[0], np.var(x), rtol=0.01)
