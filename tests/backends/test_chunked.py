"""Data read block by block (ChunkedBackend, memory maps) against the same fit in memory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gaussmix import GaussianMixture, GaussianMixtureIC
from gaussmix.backends import ChunkedBackend, InMemoryBackend, MappedBackend, make_backend
from gaussmix.covariance import COVARIANCE_MODELS, UNIVARIATE_NAMES
from gaussmix.engine.em import run_em
from gaussmix.engine.passes import initial_params, score_rows, workspace_bytes_per_row
from gaussmix.starts import initial_assignment

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class Rows:
    """The smallest array-like the backends accept: shape, dtype and row slicing."""

    def __init__(self, X):
        self.X = X
        self.shape = X.shape
        self.dtype = X.dtype
        self.reads = 0

    def __getitem__(self, rows):
        self.reads += 1
        return self.X[rows]


def _data(n_features, n_samples=301, seed=0):
    rng = np.random.default_rng(seed)
    means = np.array([np.zeros(n_features), np.full(n_features, 4.0), np.full(n_features, -3.0)])
    labels = rng.integers(0, 3, n_samples)
    X = means[labels] + rng.normal(size=(n_samples, n_features)) * (1.0 + labels[:, None] * 0.3)
    return X


def _fit_engine(backend, model, X, sample_weight, n_components=3):
    assignment = initial_assignment(X, n_components, "kmeans", np.random.RandomState(0))
    with backend:
        centre = backend.centre()
        params, _, _ = initial_params(backend, model, assignment, centre, n_components, 1e-6)
        return run_em(
            backend, model, params, centre=centre, tol=0.0, max_iter=8, reg_covar=1e-6
        ), centre


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("rows_per_block", [43, 301, 1000], ids=["43-rows", "one-block", "over"])
@pytest.mark.parametrize("covariance_type", list(COVARIANCE_MODELS))
def test_block_by_block_equals_in_memory_for_every_model(covariance_type, rows_per_block, weighted):
    # 43 does not divide 301 rows; chunks of 16 rows also split blocks unevenly.
    n_features = 1 if covariance_type in UNIVARIATE_NAMES else 3
    X = _data(n_features)
    weights = np.random.default_rng(1).uniform(0.2, 2.0, X.shape[0]) if weighted else None
    model = COVARIANCE_MODELS[covariance_type]
    bytes_per_row = workspace_bytes_per_row(model, 3, n_features, X.dtype)
    memory, _ = _fit_engine(InMemoryBackend(X, weights), model, X, weights)
    source = Rows(X)
    chunked_backend = ChunkedBackend(
        source, weights, bytes_per_row=bytes_per_row, rows_per_block=rows_per_block
    )
    chunked_backend.chunk_rows = 16
    chunked, _ = _fit_engine(chunked_backend, model, X, weights)
    assert source.reads > 0
    np.testing.assert_allclose(chunked.lower_bounds, memory.lower_bounds, rtol=1e-9)
    for name in ("weights", "means", "covariances", "precisions_cholesky"):
        np.testing.assert_allclose(
            getattr(chunked.params, name), getattr(memory.params, name), rtol=1e-9, atol=1e-12
        )


def test_map_keeps_row_order_and_take_reads_any_rows():
    X = _data(2, n_samples=257)
    model = COVARIANCE_MODELS["full"]
    params = GaussianMixture(3, random_state=0).fit(X)._fitted_params()
    centre = X.mean(axis=0)
    backend = ChunkedBackend(Rows(X), rows_per_block=50)
    with backend:
        log_prob = score_rows(backend, model, params, centre)
        rows = backend.take([200, 3, 57, 3])
    with InMemoryBackend(X) as memory:
        expected = score_rows(memory, model, params, centre)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-12)
    np.testing.assert_array_equal(rows, X[[200, 3, 57, 3]])


@pytest.fixture
def stream(monkeypatch):
    """Every array-like and memory map streamed (none small enough to load whole)."""
    monkeypatch.setenv("GAUSSMIX_LOAD_BYTES", "0")
    monkeypatch.setenv("GAUSSMIX_BLOCK_BYTES", "4000")


@pytest.mark.parametrize("covariance_type", ["full", "VEV", "EEI", "spherical"])
def test_estimator_on_an_array_like_equals_the_fit_in_memory_from_the_same_start(
    stream, covariance_type
):
    X = _data(3, n_samples=400)
    start = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    options = dict(
        n_components=3,
        covariance_type=covariance_type,
        weights_init=start.weights_,
        means_init=start.means_,
        precisions_init=start.precisions_,
        tol=0.0,
        max_iter=10,
    )
    weights = np.random.default_rng(2).uniform(0.5, 1.5, X.shape[0])
    memory = GaussianMixture(**options).fit(X, sample_weight=weights)
    source = Rows(X)
    chunked = GaussianMixture(**options).fit(source, sample_weight=weights)
    np.testing.assert_allclose(chunked.lower_bounds_, memory.lower_bounds_, rtol=1e-9)
    np.testing.assert_allclose(chunked.covariances_, memory.covariances_, rtol=1e-9, atol=1e-13)
    assert not hasattr(chunked, "labels_")  # no N-sized attribute for streamed data
    np.testing.assert_array_equal(chunked.predict(source), memory.predict(X))
    np.testing.assert_allclose(chunked.score_samples(source), memory.score_samples(X), rtol=1e-10)
    np.testing.assert_allclose(chunked.predict_proba(source), memory.predict_proba(X), atol=1e-12)
    assert chunked.score(source) == pytest.approx(memory.score(X), rel=1e-12)
    assert chunked.bic(source) == pytest.approx(memory.bic(X), rel=1e-12)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data", "hc"])
def test_sampled_starts_are_reproducible_and_find_separated_components(stream, init_params):
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 3000)
    X = np.array([[0.0, 0.0], [8.0, 8.0]])[truth] + rng.normal(size=(3000, 2))
    first = GaussianMixture(2, init_params=init_params, random_state=5).fit(Rows(X))
    again = GaussianMixture(2, init_params=init_params, random_state=5).fit(Rows(X))
    np.testing.assert_array_equal(first.means_, again.means_)
    if init_params == "random":
        # Like scikit-learn's (which stops after 2 iterations here, 66% of rows right),
        # uniform random responsibilities start every component at the data's mean;
        # what matters is that the draws belong to the rows, not to the blocks read.
        other_blocks = GaussianMixture(2, init_params=init_params, random_state=5)
        os.environ["GAUSSMIX_BLOCK_BYTES"] = "1000"
        np.testing.assert_allclose(other_blocks.fit(Rows(X)).means_, first.means_, rtol=1e-9)
        return
    # The simulated truth: every row labelled as its generating component.
    labels = first.predict(X)
    agreement = max(np.mean(labels == truth), np.mean(labels != truth))
    assert agreement > 0.999


def test_memmap_of_another_dtype_and_float32_are_streamed(stream, tmp_path):
    X = np.round(_data(2, n_samples=500) * 100).astype(np.int32)
    path = tmp_path / "x.int32"
    mapped = np.memmap(path, dtype=np.int32, mode="w+", shape=X.shape)
    mapped[:] = X
    mapped.flush()
    mapped = np.memmap(path, dtype=np.int32, mode="r", shape=X.shape)
    fitted = GaussianMixture(3, random_state=0).fit(mapped)
    assert fitted.means_.dtype == np.float64
    in_memory = GaussianMixture(3, random_state=0).fit(Rows(X.astype(np.float64)))
    np.testing.assert_allclose(fitted.means_, in_memory.means_, rtol=1e-9)
    as32 = GaussianMixture(3, random_state=0).fit(Rows(X.astype(np.float32)))
    assert as32.means_.dtype == np.float32


def test_a_memmap_is_read_in_place_and_its_file_checked(stream, tmp_path):
    X = _data(2, n_samples=600)
    path = tmp_path / "x.f8"
    X.tofile(path)
    mapped = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    backend = make_backend(mapped)
    assert isinstance(backend, MappedBackend)
    fitted = GaussianMixture(2, random_state=0).fit(mapped)
    assert np.isfinite(fitted.lower_bound_)
    with open(path, "r+b") as handle:
        handle.truncate(100)
    with pytest.raises(ValueError, match="shrank from 9600 to 100 bytes"):
        with backend:
            backend.centre()


def test_an_array_like_that_shrinks_or_cannot_be_read_gives_a_clear_error(stream):
    X = _data(2, n_samples=600)

    class Shrinking(Rows):
        def __getitem__(self, rows):
            self.reads += 1
            if self.reads > 30:  # after validation and the start: mid-fit
                return self.X[rows][: max(0, (rows.stop or 0) - (rows.start or 0) - 5)]
            return self.X[rows]

    with pytest.raises(ValueError, match="did the file shrink during the fit"):
        GaussianMixture(2, random_state=0, max_iter=200, tol=0).fit(Shrinking(X))

    class Unreadable(Rows):
        def __getitem__(self, rows):
            raise PermissionError(13, "Permission denied", "x.dat")

    with pytest.raises(ValueError, match=r"Could not read rows 0:.*Permission denied"):
        GaussianMixture(2).fit(Unreadable(X))


def test_array_likes_are_validated_like_arrays(stream):
    X = _data(2, n_samples=500)
    bad = X.copy()
    bad[321, 1] = np.nan
    with pytest.raises(ValueError, match=r"missing values.*column 1"):
        GaussianMixture(2).fit(Rows(bad))
    fitted = GaussianMixture(2, random_state=0).fit(Rows(X))
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is expecting 2"):
        fitted.predict(Rows(np.ones((500, 3))))
    with pytest.raises(TypeError, match="not numeric"):
        GaussianMixture(2).fit(Rows(X.astype("datetime64[s]")))
    with pytest.raises(ValueError, match="prior='default' computes its defaults"):
        GaussianMixture(2, prior="default").fit(Rows(X))


def test_model_search_on_an_array_like_searches_a_sample_and_refits_on_all_rows(stream):
    X = _data(2, n_samples=3000)
    search = GaussianMixtureIC(
        n_components=range(1, 4), covariance_types=["VVV", "EEI"], max_search_samples=800
    )
    streamed = search.set_params(random_state=0).fit(Rows(X))
    assert streamed.n_search_samples_ == 800
    assert streamed.best_n_components_ == 3
    # The refit's criteria come from one reduction over all rows: the chosen model's BIC
    # on all rows computed in memory.
    refit_bic = streamed.refit_results_["bic"][0]
    assert refit_bic == pytest.approx(streamed.best_estimator_.bic(X), rel=1e-10)
    np.testing.assert_array_equal(streamed.fit_predict(Rows(X)), streamed.predict(X))


MEMORY_LIMITED_FIT = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from gaussmix import GaussianMixture

    path, n_rows, headroom = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(n_rows, 16))
    # Warm up (thread pools, BLAS buffers, imports) on a small in-memory fit, then
    # allow only `headroom` more bytes of address space than the process now has.
    # The warm-up data span several chunks so that the worker threads (and their
    # malloc arenas) exist before the limit, as they do in any process that fitted once.
    warm = np.asarray(X[:100_000])
    GaussianMixture(2, covariance_type="VVI", max_iter=2).fit(warm).score(warm)
    with open("/proc/self/status") as status:
        vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + headroom, resource.RLIM_INFINITY))
    model = GaussianMixture(3, covariance_type="VVI", max_iter=4, tol=0, random_state=0).fit(X)
    score = model.score(X)
    # predict returns one int64 label per row: its output, and the same headroom.
    resource.setrlimit(resource.RLIMIT_AS, (vm + headroom + 8 * n_rows, resource.RLIM_INFINITY))
    labels = model.predict(X)
    print(labels.shape[0], np.bincount(labels, minlength=3).min(), score)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, sets RLIMIT_AS")
def test_a_memmap_several_times_larger_than_the_memory_limit_is_fitted(tmp_path):
    # 128 MB of float32 rows; the fit and score may use 32 MB more address space than
    # the warmed-up process had (thread stacks included), predict 16 MB more for its labels.
    n_rows = 2_000_000
    rng = np.random.default_rng(0)
    path = tmp_path / "big.f4"
    with open(path, "wb") as handle:
        for _ in range(8):
            centres = np.array([0.0, 6.0, -6.0], dtype=np.float32)[rng.integers(0, 3, n_rows // 8)]
            values = centres[:, None] + rng.standard_normal((n_rows // 8, 16), dtype=np.float32)
            values.tofile(handle)
    headroom = 32 * 2**20
    # One malloc arena: glibc otherwise reserves 64 MB of address space per thread
    # arena at moments that vary run to run, which RLIMIT_AS counts like memory used.
    # One OpenMP thread for the start's k-means: an OpenMP team that cannot get its
    # stacks under the limit was seen spinning in scikit-learn's Lloyd loop.
    env = {
        **os.environ,
        "GAUSSMIX_NUM_THREADS": "2",
        "MALLOC_ARENA_MAX": "1",
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_LIMITED_FIT, str(path), str(n_rows), str(headroom)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    n_labelled, smallest, score = done.stdout.split()
    assert int(n_labelled) == n_rows
    assert int(smallest) > n_rows // 4  # three balanced simulated components found
    assert np.isfinite(float(score))
