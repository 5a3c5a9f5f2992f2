"""The in-memory backend: chunking and threads change nothing but the speed."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info

from gaussmix import GaussianMixture
from gaussmix.backends import InMemoryBackend, default_n_threads
from gaussmix.backends.memory import chunk_rows_for
from gaussmix.covariance import COVARIANCE_MODELS
from gaussmix.covariance._kernels import BLOCK, MAX_CHUNK_ROWS, SCRATCH_BUDGET
from gaussmix.engine.params import MixtureParams
from gaussmix.engine.passes import e_step_statistics, score_rows, workspace_bytes_per_row
from helpers import COVARIANCE_TYPES, mixture_log_prob, random_covariances, to_full

N_ROWS, N_COMPONENTS, N_FEATURES = 3000, 3, 2
SMALL_CHUNKS = SCRATCH_BUDGET // 256  # bytes per row: chunks of 256 rows, 12 chunks
LARGE_CHUNKS = 1  # the largest chunk (8192 rows): one chunk per thread


def _data(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(N_ROWS, N_FEATURES)) * 2.0 + 10.0
    sample_weight = rng.uniform(0.0, 2.0, size=N_ROWS)
    return rng, X, sample_weight


def _params(model, rng):
    covariances = random_covariances(model, rng, N_COMPONENTS, N_FEATURES)
    return MixtureParams(
        weights=rng.dirichlet(np.ones(N_COMPONENTS)),
        means=rng.normal(scale=2.0, size=(N_COMPONENTS, N_FEATURES)) + 10.0,
        covariances=covariances,
        precisions_cholesky=model.precisions_cholesky(covariances)[0],
    )


@pytest.mark.parametrize("bytes_per_row", [1, 800, SMALL_CHUNKS, 40_000, 1 << 22, 1 << 30])
def test_chunk_rows_are_the_most_that_fit_the_budget(bytes_per_row):
    """As many rows as the scratch budget holds (at most 8192), however wide a row is."""
    rows = chunk_rows_for(bytes_per_row)
    assert 1 <= rows <= MAX_CHUNK_ROWS
    if rows > 1:
        assert rows * bytes_per_row <= SCRATCH_BUDGET
    if rows < MAX_CHUNK_ROWS:
        assert (rows + 1) * bytes_per_row > SCRATCH_BUDGET


def test_default_n_threads_follows_the_environment(monkeypatch):
    monkeypatch.setenv("GAUSSMIX_NUM_THREADS", "3")
    assert default_n_threads() == 3
    monkeypatch.delenv("GAUSSMIX_NUM_THREADS")
    assert default_n_threads() >= 1


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_statistics_do_not_depend_on_chunks_or_threads(covariance_type, weighted):
    model = COVARIANCE_MODELS[covariance_type]
    rng, X, sample_weight = _data()
    sample_weight = sample_weight if weighted else None
    params = _params(model, rng)
    results = {}
    for bytes_per_row in (SMALL_CHUNKS, LARGE_CHUNKS):
        for n_threads in (1, 2):
            backend = InMemoryBackend(
                X, sample_weight, bytes_per_row=bytes_per_row, n_threads=n_threads
            )
            with backend:
                stats = e_step_statistics(backend, model, params, backend.centre())
            results[bytes_per_row, n_threads] = stats
    reference = results[LARGE_CHUNKS, 1]
    for key, stats in results.items():
        for name in ("total_weight", "log_likelihood", "nk", "first", "second"):
            want = getattr(reference, name)
            np.testing.assert_allclose(
                getattr(stats, name),
                want,
                rtol=1e-12,
                atol=1e-12 * np.abs(want).max(),
                err_msg=f"{name} with bytes_per_row, n_threads = {key}",
            )
    # And the log-likelihood is the brute-force one.
    full = to_full(model, params.covariances, N_COMPONENTS, N_FEATURES)
    log_density = logsumexp(mixture_log_prob(X, params.weights, params.means, full), axis=1)
    w = np.ones(N_ROWS) if sample_weight is None else sample_weight
    np.testing.assert_allclose(reference.log_likelihood, np.sum(w * log_density), rtol=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied", "VVE"])
def test_one_chunk_passes_keep_nothing_but_scratch(covariance_type):
    """Data in one chunk keep their centred rows and scratch between passes (small-data
    EM): pass after pass, with new parameters, a new centre and another kind of pass
    between, every result is bit for bit a fresh backend's."""
    model = COVARIANCE_MODELS[covariance_type]
    rng, X, _ = _data()
    X = X[:300]
    passes = [(_params(model, rng), centre) for centre in (X.mean(axis=0), np.array([9.0, 11.0]))]
    passes += [(_params(model, rng), X.mean(axis=0))]
    kept = InMemoryBackend(X, None, bytes_per_row=LARGE_CHUNKS, n_threads=1)
    with kept:
        for params, centre in passes:
            got = e_step_statistics(kept, model, params, centre)
            scored = score_rows(kept, model, params, centre)
            fresh = InMemoryBackend(X, None, bytes_per_row=LARGE_CHUNKS, n_threads=1)
            with fresh:
                want = e_step_statistics(fresh, model, params, centre)
                np.testing.assert_array_equal(scored, score_rows(fresh, model, params, centre))
            for name in ("log_likelihood", "nk", "first", "second"):
                np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    assert kept.chunk_rows == X.shape[0]


@pytest.mark.parametrize("n_threads", [1, 2])
def test_reduce_visits_every_row_once_centred_and_transposed(n_threads):
    _, X, sample_weight = _data()
    backend = InMemoryBackend(X, sample_weight, bytes_per_row=SMALL_CHUNKS, n_threads=n_threads)
    centre = np.array([1.0, -2.0])
    seen = np.zeros(N_ROWS, dtype=int)

    def chunk_fn(XcT, weights, rows, work):
        assert XcT.shape == (N_FEATURES, rows.stop - rows.start)
        np.testing.assert_array_equal(XcT, (X[rows] - centre).T)
        np.testing.assert_array_equal(weights, sample_weight[rows])
        assert work == {"n_rows": backend.chunk_rows}
        seen[rows] += 1  # each slice is written by one thread only
        return rows.stop - rows.start

    with backend:
        total = backend.reduce(chunk_fn, lambda n: {"n_rows": n}, centre, lambda a, b: a + b)
    assert total == N_ROWS
    np.testing.assert_array_equal(seen, 1)
    assert backend.n_threads == n_threads


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_map_keeps_row_order(covariance_type):
    model = COVARIANCE_MODELS[covariance_type]
    rng, X, _ = _data()
    params = _params(model, rng)
    full = to_full(model, params.covariances, N_COMPONENTS, N_FEATURES)
    expected = mixture_log_prob(X, params.weights, params.means, full)
    backend = InMemoryBackend(X, None, bytes_per_row=SMALL_CHUNKS, n_threads=2)
    with backend:
        log_density, log_resp = score_rows(backend, model, params, backend.centre(), with_resp=True)
    np.testing.assert_allclose(log_density, logsumexp(expected, axis=1), rtol=1e-10)
    np.testing.assert_allclose(
        log_resp, expected - logsumexp(expected, axis=1, keepdims=True), rtol=1e-9, atol=1e-9
    )


def test_centre_total_weight_and_take():
    _, X, sample_weight = _data()
    weighted = InMemoryBackend(X, sample_weight)
    np.testing.assert_allclose(weighted.centre(), np.average(X, axis=0, weights=sample_weight))
    np.testing.assert_allclose(weighted.total_weight, sample_weight.sum())
    plain = InMemoryBackend(X.astype(np.float32))
    np.testing.assert_allclose(plain.centre(), X.astype(np.float32).astype(float).mean(axis=0))
    assert plain.centre().dtype == np.float64
    assert plain.total_weight == N_ROWS
    rows = plain.take([3, 0])
    assert rows.dtype == np.float64
    np.testing.assert_array_equal(rows, X.astype(np.float32)[[3, 0]])


def test_blas_runs_single_threaded_inside_the_backend():
    _, X, _ = _data()
    with InMemoryBackend(X, None, n_threads=2):
        blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
        assert all(info["num_threads"] == 1 for info in blas)


def test_threads_never_exceed_chunks():
    X = np.zeros((10, 2))
    assert InMemoryBackend(X, None, n_threads=8).n_threads == 1


def _blas_threads():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_overlapping_backends_share_one_blas_limit():
    """The first backend in limits BLAS to one thread; only the last one out restores it."""
    X = np.zeros((10, 2))
    original = _blas_threads()
    first, second = InMemoryBackend(X), InMemoryBackend(X)
    first.__enter__()
    second.__enter__()
    assert set(_blas_threads()) == {1}
    first.__exit__(None, None, None)
    assert set(_blas_threads()) == {1}, "a backend still open lost its BLAS limit"
    second.__exit__(None, None, None)
    assert _blas_threads() == original


@pytest.mark.parametrize("n_features", [2, 40, 300, 2000])
@pytest.mark.parametrize("covariance_type", sorted(set(COVARIANCE_MODELS) - {"E", "V"}))
def test_a_chunk_scratch_stays_within_the_budget_at_any_width(covariance_type, n_features):
    """What a thread allocates per chunk (its workspace and centred rows) fits the budget."""
    model = COVARIANCE_MODELS[covariance_type]
    n_components = 2
    bytes_per_row = workspace_bytes_per_row(model, n_components, n_features, np.float64)
    X = np.empty((10_000, n_features))  # never touched: only its shape sizes the chunks
    backend = InMemoryBackend(X, None, bytes_per_row=bytes_per_row)
    work = model.workspace(backend.chunk_rows, n_components, n_features, np.float64)
    centred = backend.chunk_rows * n_features * X.itemsize
    assert sum(buffer.nbytes for buffer in work.values()) + centred <= SCRATCH_BUDGET


def test_peak_memory_of_a_wide_fit_is_the_budget_plus_a_few_parameter_copies():
    """Full covariance at D=2,000: no D(D+1)/2 features per row, no N x K x D temporary.

    tracemalloc sees NumPy's buffers. The bound: per thread, the scratch budget plus
    one ``BLOCK x D`` product of the whitening kernel; and eight stacks of K D x D
    float64 matrices, what a fit holds at once at its peak (the start's covariances
    and precision factors, which fit() keeps, the current and the next iteration's
    during an M-step, with that M-step's unpacked scatter and factors becoming the
    next ones; or, at the end, the result's two and the fitted attributes' copies).
    The packed statistics (half a stack) and rounding get a ninth. The code before
    the kernel choice allocated 60 x 2,001,000 expanded features (960 MB) on top.
    """
    n_samples, n_features, n_components = 60, 2000, 2
    X = np.random.RandomState(0).normal(size=(n_samples, n_features))
    X[: n_samples // 2] += 1.0
    stack = n_components * n_features * n_features * 8
    n_threads = default_n_threads()
    bound = n_threads * (SCRATCH_BUDGET + BLOCK * n_features * 8) + 9 * stack
    estimator = GaussianMixture(n_components, max_iter=2, tol=0.0, random_state=0)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert estimator.n_iter_ == 2 and np.isfinite(estimator.lower_bound_)
    assert peak <= bound, f"peak {peak / 2**20:.0f} MiB > bound {bound / 2**20:.0f} MiB"
