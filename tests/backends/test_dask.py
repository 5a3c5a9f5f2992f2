"""The Dask backend: the same fits as in memory, on every Dask scheduler, and clear refusals.

The EM loop is driven directly (``initial_params`` then ``run_em``), as in
tests/engine/test_em.py, on an :class:`InMemoryBackend` and a :class:`DaskBackend`
over the same rows: the two must agree to rounding (rtol 1e-8) whatever the block
sizes, weights, covariance model or scheduler.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from gaussmix.backends import InMemoryBackend
from gaussmix.covariance import COVARIANCE_MODELS, UNIVARIATE_NAMES
from gaussmix.covariance._kernels import SCRATCH_BUDGET
from gaussmix.engine.collapse import CollapseHandler, CollapseWarning
from gaussmix.engine.em import run_em
from gaussmix.engine.params import MixtureParams
from gaussmix.engine.passes import initial_params, label_rows, score_rows
from gaussmix.starts import Assignment
from helpers import near_zero_atol

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

from gaussmix.backends.dask import (  # noqa: E402  (after the skip when Dask is missing)
    DaskBackend,
    as_dask_array,
    is_dask_collection,
    lazy_rows,
)

N_ROWS, N_COMPONENTS = 200, 3
# Chunks of 32 rows inside each block: chunk and block boundaries do not line up.
BYTES_PER_ROW = SCRATCH_BUDGET // 32
RTOL, FLOOR = 1e-8, 1e-12
REG_COVAR = 1e-6
N_ITER = 4


def _data(n_features, seed=0):
    X, labels = make_blobs(
        N_ROWS, n_features, centers=N_COMPONENTS, cluster_std=1.5, random_state=seed
    )
    rng = np.random.RandomState(seed)
    # A start that is not the answer: a tenth of the rows in the wrong component.
    flipped = rng.choice(N_ROWS, N_ROWS // 10, replace=False)
    labels[flipped] = (labels[flipped] + 1) % N_COMPONENTS
    return X, rng.uniform(0.2, 2.0, N_ROWS), Assignment(labels=labels, resp=None)


def _fit(backend, model, assignment, start=None, max_iter=N_ITER):
    """``initial_params`` from ``assignment``, ``max_iter`` EM steps, then scores and labels."""
    with backend:
        centre = backend.centre()
        first, _, _ = initial_params(backend, model, assignment, centre, N_COMPONENTS, REG_COVAR)
        collapse = CollapseHandler(backend, model, centre, REG_COVAR, N_COMPONENTS)
        result = run_em(
            backend,
            model,
            first if start is None else start,
            centre=centre,
            tol=0.0,
            max_iter=max_iter,
            reg_covar=REG_COVAR,
            collapse=collapse,
        )
        scores, log_resp = score_rows(backend, model, result.params, centre, with_resp=True)
        labels = label_rows(backend, model, result.params, centre)
    return {
        "centre": centre,
        "first": first,
        "result": result,
        "scores": scores,
        "log_resp": log_resp,
        "labels": labels,
    }


def _assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=near_zero_atol(expected, FLOOR))


def _assert_params_close(mine, reference):
    for field in ("weights", "means", "covariances", "precisions_cholesky"):
        _assert_close(getattr(mine, field), getattr(reference, field))


def _assert_same_fit(mine, reference):
    _assert_close(mine["centre"], reference["centre"])
    _assert_params_close(mine["first"], reference["first"])
    _assert_params_close(mine["result"].params, reference["result"].params)
    np.testing.assert_allclose(
        mine["result"].lower_bounds, reference["result"].lower_bounds, rtol=RTOL
    )
    _assert_close(mine["scores"], reference["scores"])
    _assert_close(mine["log_resp"], reference["log_resp"])
    np.testing.assert_array_equal(mine["labels"], reference["labels"])


def _in_memory_fit(X, sample_weight, model, assignment, **kwargs):
    backend = InMemoryBackend(X, sample_weight, bytes_per_row=BYTES_PER_ROW, n_threads=2)
    return _fit(backend, model, assignment, **kwargs)


def _dask_fit(X, sample_weight, model, assignment, chunks, **kwargs):
    backend = DaskBackend(
        da.from_array(X, chunks=(chunks, -1)), sample_weight, bytes_per_row=BYTES_PER_ROW
    )
    assert backend.n_samples == X.shape[0] and backend.n_features == X.shape[1]
    return _fit(backend, model, assignment, **kwargs)


def _n_features(covariance_type):
    return 1 if covariance_type in UNIVARIATE_NAMES else 2


# ------------------------------------------------------------------ local schedulers
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("chunks", [50, 70], ids=["blocks-divide-N", "blocks-do-not-divide-N"])
@pytest.mark.parametrize("covariance_type", sorted(COVARIANCE_MODELS))
def test_fit_equals_in_memory_on_threads(covariance_type, chunks, weighted):
    model = COVARIANCE_MODELS[covariance_type]
    X, sample_weight, assignment = _data(_n_features(covariance_type))
    sample_weight = sample_weight if weighted else None
    reference = _in_memory_fit(X, sample_weight, model, assignment)
    with dask.config.set(scheduler="threads"):
        mine = _dask_fit(X, sample_weight, model, assignment, chunks)
    _assert_same_fit(mine, reference)


def test_float32_data_and_dask_weights_in_other_blocks():
    """float32 stays float32; weights given as a Dask array with other blocks are aligned."""
    model = COVARIANCE_MODELS["full"]
    X, sample_weight, assignment = _data(2)
    X = X.astype(np.float32)
    reference = _in_memory_fit(X, sample_weight, model, assignment)
    backend = DaskBackend(
        da.from_array(X, chunks=(64, 1)),
        da.from_array(sample_weight, chunks=45),
        bytes_per_row=BYTES_PER_ROW,
    )
    assert backend.dtype == np.float32
    assert isinstance(backend.sample_weight, np.ndarray)
    assert backend.total_weight == pytest.approx(sample_weight.sum(), rel=1e-12)
    with dask.config.set(scheduler="threads"):
        mine = _fit(backend, model, assignment)
    # float32 rounding differs with the order of the sums, not only in the last bit.
    np.testing.assert_allclose(
        mine["result"].params.means, reference["result"].params.means, rtol=1e-5
    )
    np.testing.assert_array_equal(mine["labels"], reference["labels"])


def test_collapse_reseeds_as_in_memory():
    """An empty component is re-seeded on the same row: ``take`` and the weights as N-vector."""
    model = COVARIANCE_MODELS["full"]
    X, sample_weight, assignment = _data(2)
    covariances = np.tile(np.eye(2), (N_COMPONENTS, 1, 1))
    means = np.array([[0.0, 0.0], [5.0, 5.0], [1e4, 1e4]])  # the last holds no row
    start = MixtureParams(
        weights=np.full(N_COMPONENTS, 1.0 / N_COMPONENTS),
        means=means + X.mean(axis=0),
        covariances=covariances,
        precisions_cholesky=model.precisions_cholesky(covariances)[0],
    )
    fits = []
    for make in (
        lambda: _in_memory_fit(X, sample_weight, model, assignment, start=start, max_iter=2),
        lambda: _dask_fit(X, sample_weight, model, assignment, 70, start=start, max_iter=2),
    ):
        with pytest.warns(CollapseWarning, match="re-seeded"), dask.config.set(scheduler="threads"):
            fits.append(make())
    _assert_same_fit(*fits)


def test_take_gives_rows_in_the_order_asked():
    X = np.arange(60.0).reshape(20, 3).astype(np.float32)
    backend = DaskBackend(da.from_array(X, chunks=(6, 2)))
    indices = [17, 2, 2, 0, 19, 7]
    rows = backend.take(indices)
    assert rows.dtype == np.float64
    np.testing.assert_array_equal(rows, X[indices])
    assert backend.take([]).shape == (0, 3)


def test_integer_data_become_float64_and_blocks_hold_all_columns():
    X = np.arange(40).reshape(10, 4)
    converted = as_dask_array(da.from_array(X > 20, chunks=(3, 2)))
    assert converted.dtype == np.float64 and converted.chunks == ((3, 3, 3, 1), (4,))
    backend = DaskBackend(da.from_array(X, chunks=(3, 2)))
    assert backend.dtype == np.float64
    assert backend.X.chunks[1] == (4,)
    with backend:
        np.testing.assert_allclose(backend.centre(), X.mean(axis=0), rtol=1e-15)


def test_processes_scheduler_fit_equals_in_memory():
    model = COVARIANCE_MODELS["VVV"]
    X, sample_weight, assignment = _data(2)
    reference = _in_memory_fit(X, sample_weight, model, assignment, max_iter=2)
    # A pool of our own: without one, Dask starts (and imports into) new processes every pass.
    context = multiprocessing.get_context("spawn")
    with (
        concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool,
        dask.config.set(scheduler="processes", pool=pool),
    ):
        mine = _dask_fit(X, sample_weight, model, assignment, 70, max_iter=2)
    _assert_same_fit(mine, reference)


# ------------------------------------------------------------------ unknown chunk sizes
def test_unknown_block_lengths_are_computed_and_empty_blocks_skipped():
    model = COVARIANCE_MODELS["diag"]
    X, sample_weight, _ = _data(2)
    keep = np.ones(N_ROWS, dtype=bool)
    keep[:70] = False  # the whole first block
    keep[100:130] = False
    masked = da.from_array(X, chunks=(70, -1))
    masked = masked[da.from_array(keep, chunks=70)]
    assert np.isnan(masked.chunks[0]).all()
    backend = DaskBackend(masked, sample_weight[keep], bytes_per_row=BYTES_PER_ROW)
    assert backend.n_samples == keep.sum()
    assert not np.isnan(backend.X.chunks[0]).any()
    labels = np.arange(keep.sum()) % N_COMPONENTS
    assignment = Assignment(labels=labels, resp=None)
    reference = _in_memory_fit(X[keep], sample_weight[keep], model, assignment)
    with dask.config.set(scheduler="threads"):
        mine = _fit(backend, model, assignment)
    _assert_same_fit(mine, reference)


# ------------------------------------------------------------------ DataFrames
def test_dataframe_is_converted_and_filtered_rows_counted():
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, _, _ = _data(2)
    frame = dd.from_pandas(pd.DataFrame(X, columns=["a", "b"]), npartitions=3)
    filtered = frame[frame["a"] > np.median(X[:, 0])]
    backend = DaskBackend(filtered)
    assert backend.n_samples == (X[:, 0] > np.median(X[:, 0])).sum()
    assert backend.n_features == 2
    with backend:
        np.testing.assert_allclose(
            backend.centre(), X[X[:, 0] > np.median(X[:, 0])].mean(axis=0), rtol=1e-14
        )


def test_dataframe_with_a_text_column_is_refused_naming_it():
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    table = pd.DataFrame({"x": [1.0, 2.0, 3.0], "city": ["a", "b", "c"], "y": [1, 2, 3]})
    with pytest.raises(ValueError, match=r"non-numeric columns \['city'\].*drop"):
        DaskBackend(dd.from_pandas(table, npartitions=2))


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: np.zeros((5, 2)), TypeError, "dask.array.from_array"),
        (lambda: da.zeros(5, chunks=2), ValueError, r"2-D.*X\[:, None\]"),
        (lambda: da.zeros((5, 2), chunks=2, dtype=complex), TypeError, "astype"),
        (lambda: da.zeros((0, 2), chunks=2), ValueError, "no rows"),
        (lambda: da.zeros((5, 0), chunks=2), ValueError, "no columns"),
    ],
    ids=["numpy", "1-D", "complex", "no-rows", "no-columns"],
)
def test_unusable_X_is_refused_with_the_fix(make, error, match):
    with pytest.raises(error, match=match):
        DaskBackend(make())


def test_weights_of_the_wrong_length_are_refused():
    with pytest.raises(ValueError, match=r"sample_weight has shape \(4,\), expected \(5,\)"):
        DaskBackend(da.zeros((5, 2), chunks=2), np.ones(4))


def test_non_finite_values_are_found_by_the_first_pass():
    X = np.ones((10, 2))
    X[7, 1] = np.nan
    backend = DaskBackend(da.from_array(X, chunks=4))
    with backend, pytest.raises(ValueError, match=r"NaN or infinity.*isfinite"):
        backend.centre()


# ------------------------------------------------------------------ helpers for the estimator
def test_is_dask_collection():
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    frame = dd.from_pandas(pd.DataFrame({"a": [1.0, 2.0]}), npartitions=1)
    assert is_dask_collection(da.zeros((2, 2)))
    assert is_dask_collection(frame) and is_dask_collection(frame["a"])
    assert not is_dask_collection(np.zeros((2, 2)))
    assert not is_dask_collection(pd.DataFrame({"a": [1.0]}))
    assert not is_dask_collection(dask.delayed(1))


def test_is_dask_collection_does_not_import_dask():
    code = (
        "import sys, numpy\n"
        "from gaussmix.backends.dask import is_dask_collection\n"
        "assert not is_dask_collection(numpy.zeros(3))\n"
        "assert 'dask' not in sys.modules, sorted(m for m in sys.modules if 'dask' in m)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_lazy_rows_compute_nothing_until_asked_and_equal_the_eager_results():
    X = np.random.RandomState(0).normal(size=(25, 3))
    calls = []

    def row_sums(block):
        calls.append(block.shape[0])
        return block.sum(axis=1)

    Xd = da.from_array(X, chunks=(7, 2))
    sums = lazy_rows(Xd, row_sums)
    doubled = lazy_rows(Xd, lambda block: 2 * block, n_columns=3, dtype=np.float32)
    assert calls == []
    assert sums.shape == (25,) and doubled.shape == (25, 3) and doubled.dtype == np.float32
    with dask.config.set(scheduler="threads"):
        np.testing.assert_allclose(sums.compute(), X.sum(axis=1), rtol=1e-15)
        np.testing.assert_array_equal(doubled.compute(), (2 * X).astype(np.float32))
    assert sorted(calls) == [4, 7, 7, 7]
    # The function is one key of the graph, which every block task depends on.
    graph = dict(sums.__dask_graph__())
    holding = [key for key in graph if isinstance(key, str) and key.startswith("gaussmix-rows-")]
    assert len(holding) == 1


def test_lazy_rows_keep_unknown_block_lengths_unknown():
    X = np.arange(20.0).reshape(10, 2)
    Xd = da.from_array(X, chunks=(3, 2))
    masked = Xd[Xd[:, 0] > 5]
    firsts = lazy_rows(masked, lambda block: block[:, 0])
    assert np.isnan(firsts.shape[0])
    with dask.config.set(scheduler="threads"):
        np.testing.assert_array_equal(firsts.compute(), X[X[:, 0] > 5, 0])


def test_each_pass_ships_its_closure_as_one_key_all_block_tasks_depend_on():
    X = np.random.RandomState(1).normal(size=(100, 2))
    backend = DaskBackend(da.from_array(X, chunks=(10, 2)), np.ones(100))
    name, _, tasks = backend._block_tasks(lambda *args: None, object())
    assert len(tasks) == 10
    graph = {}
    for task in tasks:
        graph.update(dict(task.__dask_graph__()))
    assert name in graph
    for i in range(10):
        assert name in graph[f"{name}-{i}"].dependencies


def test_tree_merge_with_many_blocks_gives_the_same_sums():
    X = np.random.RandomState(2).normal(size=(300, 2)) + 3.0
    backend = DaskBackend(da.from_array(X, chunks=(7, 2)))  # 43 blocks: two merge levels
    with backend, dask.config.set(scheduler="threads"):
        np.testing.assert_allclose(backend.centre(), X.mean(axis=0), rtol=1e-14)


# ------------------------------------------------------------------ distributed
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        # Port and resource warnings while a loaded machine starts the workers.
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.mark.parametrize("covariance_type", ["full", "VEV", "spherical", "V"])
def test_fit_on_a_distributed_cluster_equals_in_memory(client, covariance_type):
    model = COVARIANCE_MODELS[covariance_type]
    X, sample_weight, assignment = _data(_n_features(covariance_type))
    reference = _in_memory_fit(X, sample_weight, model, assignment)
    mine = _dask_fit(X, sample_weight, model, assignment, 70)
    _assert_same_fit(mine, reference)


def _kill_worker_once(chunk_fn, marker, parent_pid, row):
    """``chunk_fn``, but the first worker process to reach ``row`` dies there, once."""

    def killing(XcT, sample_weight, rows, work):
        if os.getpid() != parent_pid and rows.start <= row < rows.stop:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass
            else:
                os._exit(1)
        return chunk_fn(XcT, sample_weight, rows, work)

    return killing


class _KillingBackend(DaskBackend):
    """A Dask backend whose ``kill_at``-th reduce kills the worker running one block."""

    def __init__(self, *args, kill_at, marker, **kwargs):
        super().__init__(*args, **kwargs)
        self.kill_at, self.marker, self.n_reduces = kill_at, marker, 0

    def reduce(self, chunk_fn, make_work, centre, merge, dtype=None):
        self.n_reduces += 1
        if self.n_reduces == self.kill_at:
            chunk_fn = _kill_worker_once(chunk_fn, self.marker, os.getpid(), row=150)
        return super().reduce(chunk_fn, make_work, centre, merge, dtype=dtype)


def test_a_worker_killed_mid_fit_gives_the_same_fit(client, tmp_path):
    model = COVARIANCE_MODELS["full"]
    X, sample_weight, assignment = _data(2)
    reference = _in_memory_fit(X, sample_weight, model, assignment)
    pids_before = set(client.run(os.getpid).values())
    marker = str(tmp_path / "killed")
    backend = _KillingBackend(
        da.from_array(X, chunks=(70, -1)),
        sample_weight,
        bytes_per_row=BYTES_PER_ROW,
        kill_at=4,  # centre, initial_params, two EM steps, then in the third
        marker=marker,
    )
    mine = _fit(backend, model, assignment)
    assert os.path.exists(marker), "no worker was killed: the test tested nothing"
    _assert_same_fit(mine, reference)
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != pids_before


def test_an_error_in_a_task_propagates(client):
    X = np.ones((30, 2))
    backend = DaskBackend(da.from_array(X, chunks=10))

    def failing(XcT, sample_weight, rows, work):
        if rows.start >= 10:
            raise ArithmeticError(f"block at row {rows.start} failed")
        return XcT.sum(axis=1)

    with backend, pytest.raises(ArithmeticError, match="block at row"):
        backend.reduce(failing, lambda n_rows: None, np.zeros(2), np.add)


# ------------------------------------------------------------------ the estimator on Dask input
def _estimator_start(X, covariance_type):
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    start = SkGaussianMixture(
        N_COMPONENTS, covariance_type=covariance_type, max_iter=1, random_state=0
    ).fit(X)
    return {
        "weights_init": start.weights_,
        "means_init": start.means_,
        "precisions_init": start.precisions_,
    }


def _assert_estimators_close(mine, reference):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        _assert_close(getattr(mine, name), getattr(reference, name))
    assert mine.n_iter_ == reference.n_iter_
    assert mine.lower_bound_ == pytest.approx(reference.lower_bound_, rel=RTOL)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("weights", ["none", "numpy", "dask"])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_estimator_fit_on_a_dask_array_equals_the_numpy_fit(covariance_type, weights):
    from gaussmix import GaussianMixture

    X, sample_weight, _ = _data(2)
    options = {"covariance_type": covariance_type, "tol": 0.0, "max_iter": N_ITER}
    options.update(_estimator_start(X, covariance_type))
    given = {"none": None, "numpy": sample_weight, "dask": da.from_array(sample_weight, 45)}
    reference = GaussianMixture(N_COMPONENTS, **options).fit(
        X, sample_weight=None if weights == "none" else sample_weight
    )
    with dask.config.set(scheduler="threads"):
        mine = GaussianMixture(N_COMPONENTS, **options).fit(
            da.from_array(X, chunks=(70, -1)), sample_weight=given[weights]
        )
    _assert_estimators_close(mine, reference)


def test_estimator_predictions_on_dask_input_are_lazy_and_equal_the_eager_ones():
    from gaussmix import GaussianMixture

    X, _, _ = _data(2)
    model = GaussianMixture(N_COMPONENTS, random_state=0).fit(X)
    Xd = da.from_array(X, chunks=(70, -1))
    lazy = {
        "predict": model.predict(Xd),
        "predict_proba": model.predict_proba(Xd),
        "score_samples": model.score_samples(Xd),
    }
    for name, result in lazy.items():
        assert is_dask_collection(result), name
        with dask.config.set(scheduler="threads"):
            computed = result.compute()
        eager = getattr(model, name)(X)
        assert computed.shape == eager.shape and computed.dtype == eager.dtype, name
        np.testing.assert_allclose(computed, eager, rtol=1e-12, err_msg=name)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_fit_on_a_distributed_cluster_equals_the_numpy_fit(client):
    from gaussmix import GaussianMixture

    X, sample_weight, _ = _data(2)
    options = {"covariance_type": "full", "tol": 0.0, "max_iter": N_ITER}
    options.update(_estimator_start(X, "full"))
    reference = GaussianMixture(N_COMPONENTS, **options).fit(X, sample_weight=sample_weight)
    mine = GaussianMixture(N_COMPONENTS, **options).fit(
        da.from_array(X, chunks=(70, -1)).persist(), sample_weight=sample_weight
    )
    _assert_estimators_close(mine, reference)
    predicted = mine.predict(da.from_array(X, chunks=(70, -1))).compute()
    np.testing.assert_array_equal(predicted, reference.predict(X))


def test_estimator_predictions_on_a_filter_that_empties_a_block():
    from gaussmix import GaussianMixture

    X, _, _ = _data(2)
    model = GaussianMixture(N_COMPONENTS, random_state=0).fit(X)
    keep = np.arange(N_ROWS) >= 70  # the whole first block goes
    Xd = da.from_array(X, chunks=(70, -1))[da.from_array(keep, chunks=70)]
    with dask.config.set(scheduler="threads"):
        np.testing.assert_array_equal(model.predict(Xd).compute(), model.predict(X[keep]))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_model_search_on_dask_input_runs_on_the_cluster_and_matches_the_numpy_search(client):
    from gaussmix import GaussianMixtureIC

    X, _, _ = _data(2)
    X = np.concatenate([X, X + 0.01])  # 400 rows: searched on a 300-row sample
    options = dict(n_components=[1, 2, 3], covariance_types=["VVV", "EII"], max_search_samples=300)
    numpy_search = GaussianMixtureIC(random_state=0, **options).fit(X)
    dask_search = GaussianMixtureIC(random_state=0, **options).fit(
        da.from_array(X, chunks=(100, -1))
    )
    # The same seeded sample, candidates and choice; the refit ran on the blocks.
    assert dask_search.n_search_samples_ == 300
    assert dask_search.best_index_ == numpy_search.best_index_
    np.testing.assert_allclose(dask_search.means_, numpy_search.means_, rtol=1e-8)
