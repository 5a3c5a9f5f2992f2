"""``GaussianMixture.partial_fit``: online (stepwise) EM over a stream of batches."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from gaussmix import CollapseWarning, GaussianMixture
from gaussmix.backends import InMemoryBackend
from gaussmix.covariance import COVARIANCE_MODELS, UNIVARIATE_NAMES
from gaussmix.engine.online import implied_statistics
from gaussmix.engine.passes import e_step_statistics, m_step
from gaussmix.engine.stats import SufficientStatistics
from helpers import FITTED_ARRAYS, assert_models_close

MEANS = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
SCALES = np.array([[1.0, 0.5], [0.7, 1.2], [1.0, 1.0]])


def _draw(rng, n_rows, n_features=2):
    """Rows of a known, well separated 3-component mixture (unequal weights)."""
    labels = rng.choice(3, size=n_rows, p=[0.5, 0.3, 0.2])
    X = MEANS[labels] + rng.normal(size=(n_rows, 2)) * SCALES[labels]
    return X[:, :n_features] + 10.0


def _n_features(covariance_type):
    return 1 if covariance_type in UNIVARIATE_NAMES else 2


def _fit(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(**params).fit(X)


ALL_ATTRIBUTES = [*FITTED_ARRAYS, "lower_bound_"]


# ------------------------------------------------------------------ against batch EM
@pytest.mark.parametrize("covariance_type", list(COVARIANCE_MODELS))
def test_first_batch_is_fit_with_one_iteration(covariance_type):
    """The first call draws fit's start and takes one EM step (step 1) on its batch."""
    X = _draw(np.random.RandomState(0), 300, _n_features(covariance_type))
    params = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    online = GaussianMixture(**params).partial_fit(X)
    batch = _fit(X, max_iter=1, **params)
    assert_models_close(online, batch, rtol=1e-7, attributes=ALL_ATTRIBUTES)
    np.testing.assert_array_equal(online.labels_, batch.labels_)
    assert online.n_iter_ == 1 and online.lower_bounds_ == [online.lower_bound_]
    assert online.converged_ is False
    assert online.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("covariance_type", list(COVARIANCE_MODELS))
def test_a_whole_data_batch_with_step_one_is_one_more_em_iteration(covariance_type):
    """kappa = 1, t0 = 0 give the first update (t = 1) step 1: batch EM's next iteration."""
    X = _draw(np.random.RandomState(1), 300, _n_features(covariance_type))
    params = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    online = GaussianMixture(learning_decay=1.0, learning_offset=0.0, **params)
    online.partial_fit(X).partial_fit(X)
    batch = _fit(X, max_iter=2, tol=0.0, **params)
    assert_models_close(online, batch, rtol=1e-7, attributes=ALL_ATTRIBUTES)
    np.testing.assert_allclose(online.lower_bounds_, batch.lower_bounds_, rtol=1e-10)
    assert online.n_iter_ == 2


def test_later_batches_blend_their_statistics_by_the_documented_step():
    """A manual step: (1 - g) s + g s_batch / w_batch, g = (1 + t0) ** -kappa, then the M-step."""
    rng = np.random.RandomState(2)
    first, second = _draw(rng, 400), _draw(rng, 250)
    weights = rng.uniform(0.2, 3.0, size=len(second))
    gm = GaussianMixture(3, random_state=0, learning_decay=0.6, learning_offset=3.0)
    gm.partial_fit(first)
    state = gm._online_state
    before, centre, running = state.params, state.centre, state.running
    gm.partial_fit(second, sample_weight=weights)

    model = COVARIANCE_MODELS["full"]
    with InMemoryBackend(second, weights) as backend:
        stats = e_step_statistics(backend, model, before, centre)
    g = 4.0**-0.6
    w = stats.total_weight
    blended = SufficientStatistics(
        total_weight=w,
        log_likelihood=0.0,
        nk=((1 - g) * running.nk + g * stats.nk / w) * w,
        first=((1 - g) * running.first + g * stats.first / w) * w,
        second=((1 - g) * running.second + g * stats.second / w) * w,
    )
    expected, _ = m_step(model, blended, centre, 1e-6, previous=before.covariances)
    np.testing.assert_allclose(gm.weights_, expected.weights, rtol=1e-10)
    np.testing.assert_allclose(gm.means_, expected.means, rtol=1e-10)
    np.testing.assert_allclose(gm.covariances_, expected.covariances, rtol=1e-9)
    # The bound is the batch's, under the parameters before the update.
    assert gm.lower_bound_ == pytest.approx(stats.log_likelihood / w, rel=1e-12)
    assert gm.n_iter_ == 2 and len(gm.lower_bounds_) == 2
    np.testing.assert_array_equal(gm.labels_, gm.predict(second))


# ------------------------------------------------------------------ a stationary stream
@pytest.mark.parametrize("covariance_type", ["full", "diag", "tied"])
def test_a_stationary_stream_reaches_the_batch_fit(covariance_type):
    rng = np.random.RandomState(3)
    batches = [_draw(rng, 500) for _ in range(200)]
    held_out = _draw(rng, 5000)
    params = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    online = GaussianMixture(**params)
    for batch in batches:
        online.partial_fit(batch)
    batch_fit = GaussianMixture(**params).fit(np.concatenate(batches))
    gap = batch_fit.score(held_out) - online.score(held_out)
    # Both models are scored on the same held-out rows, so the rows' own noise (the
    # held-out mean's standard error, 0.017 here) cancels from the gap. What remains
    # is the online estimate's excess loss: at the end its running statistics
    # average batches with weights of about g = 210 ** -0.7 = 0.024, an effective
    # sample of (2 - g) / g * 500 = 4e4 rows, and an estimate from n rows loses
    # about p / (2 n) nats per row, p = 17 free parameters at most: 2e-4 (measured:
    # at most 3e-4 over five streams). The batch fit's loss, from 1e5 rows, is
    # smaller. 2e-3 is ten times that, and below the loss of a fit to one batch
    # alone (5e-3 to 1e-2 here, what a stream that does not average would give).
    # One-sided: from another start, online EM may find a better optimum.
    assert gap < 2e-3
    assert online.n_iter_ == 200 and len(online.lower_bounds_) == 200
    # Each bound is the log-likelihood of a batch not yet seen: a held-out estimate.
    # The mean of the last 50 has a standard error of 1.2 / sqrt(50 * 500) = 0.008,
    # the held-out score 0.017: 0.05 is 2.6 standard errors of their difference.
    assert np.mean(online.lower_bounds_[-50:]) == pytest.approx(online.score(held_out), abs=0.05)


# ------------------------------------------------------------------ after fit
def _after_fit(**params):
    rng = np.random.RandomState(4)
    X, batch = _draw(rng, 600), _draw(rng, 200)
    gm = GaussianMixture(3, random_state=0, **params).fit(X)
    fitted = gm._fitted_params()
    before = dict(n_iter=gm.n_iter_, bounds=list(gm.lower_bounds_), score=gm.score(batch))
    gm.partial_fit(batch)
    model = COVARIANCE_MODELS["full"]
    centre = fitted.weights @ fitted.means
    with InMemoryBackend(batch) as backend:
        stats = e_step_statistics(backend, model, fitted, centre)
    return gm, fitted, centre, stats, before


def _check_continued(gm, before):
    assert gm.lower_bound_ == pytest.approx(before["score"], rel=1e-12)
    assert gm.n_iter_ == before["n_iter"] + 1
    assert gm.lower_bounds_ == [*before["bounds"], gm.lower_bound_]
    assert gm.converged_ is False
    assert gm._online_state.t == 2


def test_partial_fit_after_fit_with_step_one_is_one_em_step_on_the_batch():
    """kappa = 1, t0 = 0: the first update replaces the fit's statistics by the batch's."""
    gm, fitted, centre, stats, before = _after_fit(learning_decay=1.0, learning_offset=0.0)
    # One manual step: the batch's E-step under the fitted parameters, about the
    # fitted mixture's mean, and the M-step.
    expected, _ = m_step(
        COVARIANCE_MODELS["full"], stats, centre, 1e-6, previous=fitted.covariances
    )
    np.testing.assert_allclose(gm._online_state.centre, centre)
    np.testing.assert_allclose(gm.weights_, expected.weights, rtol=1e-10)
    np.testing.assert_allclose(gm.means_, expected.means, rtol=1e-10)
    np.testing.assert_allclose(gm.covariances_, expected.covariances, rtol=1e-9)
    _check_continued(gm, before)


def test_partial_fit_after_fit_continues_the_fitted_model():
    """The fit is batch 0: its implied statistics blend with the batch's by g = 11 ** -0.7."""
    gm, fitted, centre, stats, before = _after_fit()
    model = COVARIANCE_MODELS["full"]
    implied = implied_statistics(model, fitted, centre, 1e-6)
    g, w = 11.0**-0.7, stats.total_weight
    blended = SufficientStatistics(
        total_weight=w,
        log_likelihood=0.0,
        nk=((1 - g) * implied.nk + g * stats.nk / w) * w,
        first=((1 - g) * implied.first + g * stats.first / w) * w,
        second=((1 - g) * implied.second + g * stats.second / w) * w,
    )
    expected, _ = m_step(model, blended, centre, 1e-6, previous=fitted.covariances)
    np.testing.assert_allclose(gm.weights_, expected.weights, rtol=1e-10)
    np.testing.assert_allclose(gm.means_, expected.means, rtol=1e-10)
    np.testing.assert_allclose(gm.covariances_, expected.covariances, rtol=1e-9)
    _check_continued(gm, before)


def test_a_batch_from_one_cluster_moves_a_fitted_model_by_its_step_only():
    rng = np.random.RandomState(18)
    X = _draw(rng, 1000)
    gm = GaussianMixture(3, random_state=0).fit(X)
    means = gm.means_.copy()
    one_cluster = MEANS[1] + 10.0 + rng.normal(size=(100, 2)) * SCALES[1]
    gm.partial_fit(one_cluster)
    # The two components the batch does not touch keep their means: the fit's
    # statistics still hold 1 - g = 81% of the weight, all of theirs.
    moved = np.linalg.norm(gm.means_ - means, axis=1)
    assert np.sort(moved)[1] < 0.05


def test_a_refit_between_batches_restarts_the_stream_from_the_new_fit():
    rng = np.random.RandomState(5)
    X, batch = _draw(rng, 600), _draw(rng, 200)
    gm = GaussianMixture(3, random_state=0)
    gm.partial_fit(_draw(rng, 300)).partial_fit(_draw(rng, 300))
    gm.fit(X)
    gm.partial_fit(batch)
    reference = GaussianMixture(3, random_state=0).fit(X).partial_fit(batch)
    assert_models_close(gm, reference, rtol=1e-12, attributes=ALL_ATTRIBUTES)
    assert gm._online_state.t == 2  # the new fit is batch 0, this batch the first update


def test_changing_n_components_starts_a_new_stream():
    rng = np.random.RandomState(6)
    batch = _draw(rng, 300)
    gm = GaussianMixture(3, random_state=0).partial_fit(_draw(rng, 300))
    gm.set_params(n_components=2).partial_fit(batch)
    assert_models_close(gm, GaussianMixture(2, random_state=0).partial_fit(batch), rtol=1e-12)


# ------------------------------------------------------------------ weights
def test_integer_weights_repeat_rows_within_a_batch():
    rng = np.random.RandomState(7)
    X, batch = _draw(rng, 600), _draw(rng, 100)
    counts = rng.randint(0, 4, size=len(batch))
    fitted = GaussianMixture(3, random_state=0).fit(X)
    weighted = clone(fitted).fit(X).partial_fit(batch, sample_weight=counts)
    repeated = clone(fitted).fit(X).partial_fit(np.repeat(batch, counts, axis=0))
    assert_models_close(weighted, repeated, rtol=1e-9, attributes=ALL_ATTRIBUTES)


def test_a_batch_counts_by_its_step_whatever_its_total_weight():
    rng = np.random.RandomState(8)
    first, second = _draw(rng, 300), _draw(rng, 300)
    plain = GaussianMixture(3, random_state=0).partial_fit(first).partial_fit(second)
    heavy = GaussianMixture(3, random_state=0).partial_fit(first)
    heavy.partial_fit(second, sample_weight=np.full(len(second), 1e3))
    assert_models_close(heavy, plain, rtol=1e-10, attributes=ALL_ATTRIBUTES)


# ------------------------------------------------------------------ refusals
def test_a_batch_with_another_number_of_features_is_refused():
    rng = np.random.RandomState(9)
    gm = GaussianMixture(3, random_state=0).partial_fit(_draw(rng, 300))
    with pytest.raises(ValueError, match=r"X has 1 features.*expecting 2.*partial_fit"):
        gm.partial_fit(_draw(rng, 50, n_features=1))


@pytest.mark.parametrize(
    ("first", "later", "shown"),
    [
        (np.float64, np.float32, "float32"),
        (np.float32, np.float64, "float64"),
        (np.float32, np.int64, r"int64 \(read as float64\)"),
    ],
)
def test_a_batch_of_the_other_dtype_family_is_refused(first, later, shown):
    rng = np.random.RandomState(10)
    gm = GaussianMixture(3, random_state=0).partial_fit(_draw(rng, 300).astype(first))
    assert gm.means_.dtype == first
    wanted = np.dtype(first).name
    with pytest.raises(
        ValueError, match=rf"dtype {shown}.*fitted on {wanted}.*X\.astype\(np\.{wanted}\)"
    ):
        gm.partial_fit(_draw(rng, 50).astype(later))
    assert gm._online_state.t == 1  # the refused batch changed nothing


def test_a_float32_stream_stays_float32():
    rng = np.random.RandomState(11)
    gm = GaussianMixture(3, random_state=0)
    for _ in range(3):
        gm.partial_fit(_draw(rng, 200).astype(np.float32))
    for name in FITTED_ARRAYS:
        assert getattr(gm, name).dtype == np.float32, name
    assert gm._online_state.params.means.dtype == np.float64


def test_a_batch_of_zero_weights_is_refused():
    rng = np.random.RandomState(12)
    gm = GaussianMixture(3, random_state=0).partial_fit(_draw(rng, 300))
    with pytest.raises(ValueError, match="zero for every sample"):
        gm.partial_fit(_draw(rng, 50), sample_weight=np.zeros(50))


def test_a_first_batch_smaller_than_n_components_is_refused():
    with pytest.raises(ValueError, match="first batch has 3 samples, fewer than n_components = 4"):
        GaussianMixture(4).partial_fit(_draw(np.random.RandomState(13), 3))
    weights = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"Only 2 samples .* first batch"):
        GaussianMixture(3).partial_fit(_draw(np.random.RandomState(13), 6), sample_weight=weights)


def test_bad_step_parameters_are_refused():
    X = _draw(np.random.RandomState(14), 100)
    with pytest.raises(ValueError, match="learning_decay"):
        GaussianMixture(3, learning_decay=0.5).partial_fit(X)
    with pytest.raises(ValueError, match="learning_offset"):
        GaussianMixture(3, learning_offset=-1.0).partial_fit(X)


# ------------------------------------------------------------------ state
def _stream(gm, seed, n_batches=4):
    rng = np.random.RandomState(seed)
    for _ in range(n_batches):
        gm.partial_fit(_draw(rng, 200))
    return gm


def test_the_same_random_state_gives_the_same_model():
    first = _stream(GaussianMixture(3, init_params="random", random_state=3), seed=15)
    again = _stream(GaussianMixture(3, init_params="random", random_state=3), seed=15)
    assert_models_close(first, again, rtol=0, floor=0, attributes=ALL_ATTRIBUTES)
    other = GaussianMixture(3, init_params="random", random_state=4)
    other.partial_fit(_draw(np.random.RandomState(15), 200))
    start = GaussianMixture(3, init_params="random", random_state=3)
    start.partial_fit(_draw(np.random.RandomState(15), 200))
    assert not np.allclose(other.means_, start.means_)


def test_clone_drops_the_stream():
    gm = _stream(GaussianMixture(3, random_state=0), seed=16, n_batches=2)
    copy = clone(gm)
    assert not hasattr(copy, "_online_state") and not hasattr(copy, "means_")
    _stream(copy, seed=16, n_batches=2)
    assert_models_close(copy, gm, rtol=0, floor=0, attributes=ALL_ATTRIBUTES)


def test_a_pickled_stream_continues_where_it_stopped():
    rng = np.random.RandomState(17)
    batches = [_draw(rng, 200) for _ in range(4)]
    whole = GaussianMixture(3, random_state=0)
    for batch in batches:
        whole.partial_fit(batch)
    halves = GaussianMixture(3, random_state=0)
    for batch in batches[:2]:
        halves.partial_fit(batch)
    halves = pickle.loads(pickle.dumps(halves))
    for batch in batches[2:]:
        halves.partial_fit(batch)
    assert_models_close(halves, whole, rtol=0, floor=0, attributes=ALL_ATTRIBUTES)
    assert halves.lower_bounds_ == whole.lower_bounds_


# ------------------------------------------------------------------ collapse
def test_a_component_the_running_statistics_empty_is_reseeded_as_in_fit():
    rng = np.random.RandomState(19)
    gm = GaussianMixture(3, random_state=0, learning_decay=1.0, learning_offset=0.0)
    gm.partial_fit(_draw(rng, 300))
    # With step 1, a batch from two clusters leaves the third component empty.
    two = np.concatenate([MEANS[k] + 10.0 + rng.normal(size=(100, 2)) * SCALES[k] for k in (0, 1)])
    with pytest.warns(CollapseWarning, match=r"Component\(s\) \d \(empty\) collapsed") as record:
        gm.partial_fit(two)
    assert record[0].filename == __file__  # attributed to the caller, as in fit
    assert gm._online_state.collapse_budget == 2 * 3 - 1
    assert np.all(np.isfinite(gm.means_)) and gm.weights_.min() > 0


# ------------------------------------------------------------------ batches not in memory
def _batches(seed=20, n_batches=3):
    rng = np.random.RandomState(seed)
    return [_draw(rng, 300) for _ in range(n_batches)]


def _in_memory_stream(batches):
    gm = GaussianMixture(3, random_state=0)
    for batch in batches:
        gm.partial_fit(batch)
    return gm


def test_memory_mapped_batches_give_the_in_memory_stream(tmp_path, monkeypatch):
    # Read block by block (not loaded whole): the MappedBackend path.
    monkeypatch.setenv("GAUSSMIX_LOAD_BYTES", "1000")
    batches = _batches()
    gm = GaussianMixture(3, random_state=0)
    for i, batch in enumerate(batches):
        path = tmp_path / f"batch{i}.dat"
        mapped = np.memmap(path, dtype=np.float64, mode="w+", shape=batch.shape)
        mapped[:] = batch
        mapped.flush()
        gm.partial_fit(np.memmap(path, dtype=np.float64, mode="r", shape=batch.shape))
    assert_models_close(gm, _in_memory_stream(batches), rtol=1e-10, attributes=ALL_ATTRIBUTES)
    assert not hasattr(gm, "labels_")  # as fit: no per-row attribute for such input


def test_dask_batches_give_the_in_memory_stream():
    da = pytest.importorskip("dask.array")
    batches = _batches()
    gm = GaussianMixture(3, random_state=0)
    for batch in batches:
        gm.partial_fit(da.from_array(batch, chunks=100))
    assert_models_close(gm, _in_memory_stream(batches), rtol=1e-10, attributes=ALL_ATTRIBUTES)
