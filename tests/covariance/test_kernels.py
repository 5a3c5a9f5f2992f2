"""Every chunk kernel of every covariance model, forced in turn, against SciPy and brute force.

A model may run its log-densities and statistics with several kernels (the
expanded features, the per-component whitening, ...), chosen by cost. Each is
forced here with ``model.with_kernel``: the log-densities must be SciPy's, the
statistics the textbook weighted sums, and the kernels must agree with each
other, from one feature to a few hundred.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp
from threadpoolctl import threadpool_limits

from gaussmix.covariance import COVARIANCE_MODELS
from gaussmix.covariance._kernels import SCRATCH_BUDGET
from gaussmix.covariance.full import TABLE_FEATURES
from helpers import (
    brute_force_m_step,
    mixture_log_prob,
    near_zero_atol,
    random_covariances,
    shape_kind,
    to_full,
)

FEATURES = [1, 2, 5, 40, 300]


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # The kernels run with BLAS on one thread inside the backend; here too. On a busy
    # 2-core machine, OpenBLAS's own threads made a 300 x 300 eigh or Cholesky take
    # 1-2 s instead of 30 ms.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _accepts(model, n_features):
    try:
        model.check_n_features(n_features)
    except ValueError:
        return False
    return True


CASES = [
    (name, n_features)
    for name, model in COVARIANCE_MODELS.items()
    for n_features in FEATURES
    if _accepts(model, n_features)
]


def _chunk(model, n_features, seed=0):
    """A weighted chunk, parameters, and the SciPy log-densities, kept small at D=300."""
    n_rows, n_components = (24, 2) if n_features >= 300 else (60, 3)
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_rows, n_features)) * 1.5 + 3.0
    means = X[rng.choice(n_rows, n_components, replace=False)] + rng.normal(
        scale=0.5, size=(n_components, n_features)
    )
    covariances = random_covariances(model, rng, n_components, n_features)
    weights = rng.dirichlet(np.ones(n_components))
    sample_weight = rng.uniform(0.5, 2.0, size=n_rows)
    full = to_full(model, covariances, n_components, n_features)
    expected = mixture_log_prob(X, weights, means, full)
    resp = np.exp(expected - logsumexp(expected, axis=1, keepdims=True))
    return X, weights, means, covariances, sample_weight, expected, resp * sample_weight[:, None]


def _textbook_moments(model, Xc, resp_weighted, sample_weight):
    """``(nk, first, second)`` by the definitions, in the model's storage of ``second``."""
    n_components, n_features = resp_weighted.shape[1], Xc.shape[1]
    kind = shape_kind(model, n_components, n_features) if n_components != n_features else None
    nk = resp_weighted.sum(axis=0)
    first = resp_weighted.T @ Xc
    if kind is None:
        # K == D only for one feature and one component: never built below.
        raise AssertionError("ambiguous storage")
    if kind == "per-component matrix":
        upper = np.triu_indices(n_features)
        second = np.stack([((Xc.T * resp_weighted[:, k]) @ Xc)[upper] for k in range(n_components)])
    elif kind == "shared matrix":
        second = (Xc.T * sample_weight) @ Xc
    elif kind == "per-component diagonal":
        second = resp_weighted.T @ Xc**2
    else:
        second = (resp_weighted.T @ np.sum(Xc**2, axis=1))[:, None]
    return nk, first, second


def _run_kernel(
    model, kernel, X, centre, weights, means, covariances, sample_weight, resp_w, dtype
):
    forced = model.with_kernel(kernel)
    n_components, n_features = means.shape
    precisions_chol, singular = forced.precisions_cholesky(covariances)
    assert not singular.any()
    prepared = forced.prepare(means - centre, precisions_chol, np.log(weights), dtype)
    assert prepared.kernel.name == kernel
    # A workspace for longer chunks than this one, as the backend's last chunk gets.
    work = forced.workspace(X.shape[0] + 7, n_components, n_features, dtype)
    XcT = np.ascontiguousarray((X - centre).T, dtype=dtype)
    log_prob = forced.weighted_log_prob(XcT, prepared, work).copy()
    moments = forced.moments(
        XcT, np.ascontiguousarray(resp_w.T, dtype=dtype), sample_weight, prepared, work
    )
    return log_prob, [np.asarray(moment, dtype=np.float64) for moment in moments]


@pytest.mark.parametrize("name, n_features", CASES)
def test_every_kernel_gives_scipy_log_densities_and_textbook_statistics(name, n_features):
    model = COVARIANCE_MODELS[name]
    X, weights, means, covariances, sample_weight, expected, resp_w = _chunk(model, n_features)
    centre = X.mean(axis=0)
    truth = _textbook_moments(model, X - centre, resp_w, sample_weight)
    results = {}
    for kernel in model.kernel_names:
        log_prob, moments = _run_kernel(
            model,
            kernel,
            X,
            centre,
            weights,
            means,
            covariances,
            sample_weight,
            resp_w,
            np.float64,
        )
        np.testing.assert_allclose(log_prob, expected.T, rtol=1e-10, err_msg=kernel)
        for label, got, want in zip(("nk", "first", "second"), moments, truth):
            np.testing.assert_allclose(
                got, want, rtol=1e-10, atol=near_zero_atol(want, 1e-12), err_msg=f"{kernel} {label}"
            )
        results[kernel] = log_prob, moments
    # The kernels agree with each other as closely as each with the truth.
    (reference_log_prob, reference_moments), *others = results.values()
    for log_prob, moments in others:
        np.testing.assert_allclose(log_prob, reference_log_prob, rtol=1e-10)
        for got, want in zip(moments, reference_moments):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=near_zero_atol(want, 1e-12))


@pytest.mark.parametrize("n_features", [2, 40])
@pytest.mark.parametrize("name", ["full", "EEV", "tied", "diag", "spherical"])
def test_every_kernel_keeps_float32(name, n_features):
    model = COVARIANCE_MODELS[name]
    X, weights, means, covariances, sample_weight, _, resp_w = _chunk(model, n_features)
    X32 = X.astype(np.float32)
    full = to_full(model, covariances, *means.shape)
    expected = mixture_log_prob(X32.astype(np.float64), weights, means, full)
    centre = X32.mean(axis=0, dtype=np.float64)
    for kernel in model.kernel_names:
        log_prob, _ = _run_kernel(
            model,
            kernel,
            X32,
            centre,
            weights,
            means,
            covariances,
            sample_weight,
            resp_w,
            np.float32,
        )
        assert log_prob.dtype == np.float32
        # float32 rounding (6e-8) of sums of ~D^2 terms of the size of the result.
        np.testing.assert_allclose(
            log_prob, expected.T, rtol=1e-4, atol=1e-5 * np.abs(expected).max(), err_msg=kernel
        )


def test_full_statistics_unpack_beyond_the_index_tables():
    """The M-step at more features than the cached index tables serve: the textbook estimate."""
    n_features = TABLE_FEATURES + 44
    model = COVARIANCE_MODELS["full"]
    X, weights, means, covariances, sample_weight, _, resp_w = _chunk(model, n_features)
    centre = X.mean(axis=0)
    _, (nk, first, second) = _run_kernel(
        model,
        "whitening",
        X,
        centre,
        weights,
        means,
        covariances,
        sample_weight,
        resp_w,
        np.float64,
    )
    reg_covar = np.linspace(1e-3, 2e-3, n_features)
    means_shifted, fitted = model.m_step(nk, first, second, reg_covar)
    resp = resp_w / sample_weight[:, None]
    _, want_means, want = brute_force_m_step(model, X, resp, sample_weight, 0.0)
    want += np.diag(reg_covar)
    np.testing.assert_allclose(means_shifted + centre, want_means, rtol=1e-10)
    np.testing.assert_allclose(fitted, want, rtol=1e-9, atol=near_zero_atol(want, 1e-10))
    scatters = model.scatters(nk + 0.0, means_shifted, second, reg_covar)
    np.testing.assert_allclose(
        scatters, want * nk[:, None, None], rtol=1e-9, atol=near_zero_atol(scatters, 1e-10)
    )


@pytest.mark.parametrize("n_features", [1100, 2000])
def test_a_row_too_wide_for_the_budget_is_never_chosen(n_features):
    """D(D+1)/2 expanded features per row exceed the scratch budget: whitening runs."""
    model = COVARIANCE_MODELS["full"]
    expanded = model.with_kernel("expanded").workspace(1, 2, n_features, np.float64)
    assert sum(buffer.nbytes for buffer in expanded.values()) > SCRATCH_BUDGET
    chosen = model.kernel_for(2, n_features, np.float64)
    assert chosen.name == "whitening"
    work = model.workspace(1, 2, n_features, np.float64)
    assert sum(buffer.nbytes for buffer in work.values()) <= SCRATCH_BUDGET


def test_forcing_an_unknown_kernel_names_the_known_ones():
    with pytest.raises(ValueError, match=r"'full' has no kernel 'gpu'.*expanded, whitening"):
        COVARIANCE_MODELS["full"].with_kernel("gpu")
    # The registry's model is untouched by a forced copy.
    forced = COVARIANCE_MODELS["full"].with_kernel("whitening")
    assert forced.forced_kernel == "whitening"
    assert COVARIANCE_MODELS["full"].forced_kernel is None
