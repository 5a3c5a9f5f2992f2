"""Tests of ``GaussianMixtureIC``: choosing the number of components and the covariance model.

Truths: data simulated from known mixtures, individually fitted ``GaussianMixture``
models, scikit-learn's ``GaussianMixture`` converged tightly (the under-convergence
trap), the geometry of discretised data (the spurious-maximum trap), repeated rows
(sample weights) and hand-run cross-validation.
"""

from __future__ import annotations

import functools
import itertools
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import gaussmix
from gaussmix import GaussianMixture, GaussianMixtureIC, SpuriousFitWarning
from gaussmix.datasets import load_faithful
from gaussmix.estimators.model_selection import (
    SCREEN_MARGIN,
    SETTLE_CRITERION,
    SETTLE_SLACK,
    SMALL_SEARCH_FEATURES,
    SMALL_SEARCH_ROWS,
    search_n_jobs,
)
from helpers import FITTED_ARRAYS, assert_models_close, simulated_mixture

CRITERIA = ("bic", "aic", "icl")


def _n_parameters(covariance_type, n_components, n_features):
    """Free parameters of a mixture, counted by hand: weights, means, covariances."""
    K, D = n_components, n_features
    covariance = {
        "full": K * D * (D + 1) // 2,
        "tied": D * (D + 1) // 2,
        "diag": K * D,
        "spherical": K,
    }[covariance_type]
    return (K - 1) + K * D + covariance


def _own_parameters(covariance_type, n_features):
    """Points a component needs: D + 1 (a non-singular scatter) when it has covariance
    parameters of its own, 1 (somewhere to put its mean) when it shares them all."""
    return 1 if covariance_type == "tied" else n_features + 1


def _two_blobs(n_per_blob=100, seed=0):
    rng = np.random.RandomState(seed)
    return np.vstack(
        [rng.normal(-4.0, 1.0, (n_per_blob, 2)), rng.normal(4.0, [1.0, 2.0], (n_per_blob, 2))]
    )


def _assert_results_equal(actual, expected):
    assert list(actual) == list(expected)
    for column in expected:
        np.testing.assert_array_equal(
            np.asarray(actual[column]), np.asarray(expected[column]), err_msg=column
        )


# ------------------------------------------------------------------------ Old Faithful
@functools.cache
def _faithful():
    """Standardised Old Faithful and a selector fitted to it over K = 1..4 and all four types."""
    X, _ = load_faithful()
    X = StandardScaler().fit_transform(X)
    selector = GaussianMixtureIC(
        n_components=range(1, 5), covariance_types="scikit-learn", random_state=0
    ).fit(X)
    return X, selector


@functools.cache
def _faithful_exhaustive():
    """The same search with every start of every candidate run to convergence."""
    X, _ = _faithful()
    selector = GaussianMixtureIC(
        n_components=range(1, 5),
        covariance_types="scikit-learn",
        random_state=0,
        screen_starts=False,
    ).fit(X)
    return X, selector


def _sklearn_converged_bic(X, covariance_type, n_components, fitted):
    """BIC of scikit-learn's GaussianMixture converged properly on ``X``.

    The best of two tightly converged scikit-learn fits: one polished (tol 1e-10) from
    ``fitted``'s parameters, which shows whether ``fitted`` had stopped short of its
    maximum, and one from ten k-means starts of its own (seeds unrelated to the
    selector's), which shows whether a better maximum exists.
    """
    polished = SkGaussianMixture(
        n_components,
        covariance_type=covariance_type,
        tol=1e-10,
        max_iter=10_000,
        weights_init=fitted.weights_,
        means_init=fitted.means_,
        precisions_init=fitted.precisions_,
    ).fit(X)
    values = [polished.bic(X)]
    if n_components > 1:  # one component has a single maximum, in closed form
        restarted = SkGaussianMixture(
            n_components,
            covariance_type=covariance_type,
            tol=1e-6,
            max_iter=2000,
            n_init=10,
            random_state=12345,
        ).fit(X)
        values.append(restarted.bic(X))
    return min(values)


@functools.cache
def _faithful_references():
    """Per candidate of ``_faithful()``: (scikit-learn defaults BIC, converged BIC)."""
    X, selector = _faithful()
    defaults, converged = [], []
    # Tiny data: BLAS and OpenMP threads only add contention to these many small fits.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k, name, fitted in zip(
            selector.results_["n_components"],
            selector.results_["covariance_type"],
            selector.estimators_,
        ):
            default_fit = SkGaussianMixture(k, covariance_type=name, random_state=0).fit(X)
            defaults.append(default_fit.bic(X))
            converged.append(_sklearn_converged_bic(X, name, k, fitted))
    return np.array(defaults), np.array(converged)


def test_trap_under_convergence_bic_values_are_converged_ones():
    _, selector = _faithful()
    _, converged = _faithful_references()
    bic = np.asarray(selector.results_["bic"])
    done = np.asarray(selector.results_["converged"])
    np.testing.assert_allclose(bic[done], converged[done], rtol=0, atol=0.1)
    # The others settled (Aitken's projection of the remaining gain below
    # SETTLE_CRITERION): close to their converged value, never past it, and out of
    # reach of the best.
    settled = ~done
    assert 0 < settled.sum() < done.sum()
    assert np.all(bic[settled] >= converged[settled] - 1e-6)
    assert np.all(bic[settled] <= converged[settled] + 2 * SETTLE_CRITERION)
    assert np.all(bic[settled] > bic.min() + SCREEN_MARGIN)
    assert not np.any(np.asarray(selector.results_["all_starts"])[settled])


def test_trap_under_convergence_ranking_agrees_with_converged_fits():
    _, selector = _faithful()
    defaults, converged = _faithful_references()
    bic = np.asarray(selector.results_["bic"])
    labels = [
        f"{k} {name}"
        for k, name in zip(selector.results_["n_components"], selector.results_["covariance_type"])
    ]
    # Pairs whose converged BICs differ clearly (1 'tied' and 1 'full' are the same model).
    pairs = [
        (i, j)
        for i, j in itertools.combinations(range(len(bic)), 2)
        if abs(converged[i] - converged[j]) > 0.2
    ]
    flipped_by_defaults = [
        (labels[i], labels[j])
        for i, j in pairs
        if np.sign(defaults[i] - defaults[j]) != np.sign(converged[i] - converged[j])
    ]
    # The trap is real on this data: scikit-learn's defaults (tol=1e-3, one k-means start)
    # rank 3 'diag' above 3 'full', the converged fits the other way round.
    assert ("3 diag", "3 full") in flipped_by_defaults
    # Converged candidates rank as converged fits do; settled ones (more than
    # SCREEN_MARGIN behind the best) may be up to SETTLE_SLACK short of theirs.
    done = np.asarray(selector.results_["converged"])
    for i, j in pairs:
        if not (done[i] and done[j]) and abs(converged[i] - converged[j]) <= SETTLE_SLACK:
            continue
        assert np.sign(bic[i] - bic[j]) == np.sign(converged[i] - converged[j]), (
            labels[i],
            labels[j],
        )


@pytest.mark.parametrize(
    ("n_components", "covariance_type"),
    [(1, "full"), (2, "spherical"), (3, "diag"), (4, "tied"), (3, "full")],
)
def test_results_table_matches_individually_fitted_models(n_components, covariance_type):
    X, selector = _faithful_exhaustive()
    results = selector.results_
    row = next(
        i
        for i, (k, name) in enumerate(zip(results["n_components"], results["covariance_type"]))
        if k == n_components and name == covariance_type
    )
    alone = GaussianMixture(
        n_components=n_components,
        covariance_type=covariance_type,
        tol=selector.tol,
        max_iter=selector.max_iter,
        reg_covar=selector.reg_covar,
        n_init=1 if n_components == 1 else selector.n_init,
        init_params=selector.init_params,
        random_state=selector.random_state,
    ).fit(X)
    # The search adds mclust's start to the draws; the later start wins only when
    # strictly better, as among a GaussianMixture's own starts.
    hc_alone = clone(alone).set_params(n_init=1, init_params="hc").fit(X)
    if hc_alone.lower_bound_ > alone.lower_bound_:
        alone = hc_alone
    n = X.shape[0]
    np.testing.assert_allclose(results["bic"][row], alone.bic(X), rtol=1e-10)
    np.testing.assert_allclose(results["aic"][row], alone.aic(X), rtol=1e-10)
    np.testing.assert_allclose(results["icl"][row], alone.icl(X), rtol=1e-10)
    np.testing.assert_allclose(results["log_likelihood"][row], alone.score(X) * n, rtol=1e-10)
    assert results["n_parameters"][row] == _n_parameters(covariance_type, n_components, 2)
    assert results["n_iter"][row] == alone.n_iter_
    assert results["converged"][row] == alone.converged_
    # Starts that partition the rows alike are run once; the copies reach the same
    # maximum with the components in another order and bounds equal up to rounding.
    assert_models_close(
        selector.estimators_[row], _in_order_of(alone, selector.estimators_[row]), 1e-10, 1e-12
    )


def _in_order_of(model, reference):
    """``model``'s fitted arrays with its components in ``reference``'s order (by means)."""
    distances = np.linalg.norm(reference.means_[:, None, :] - model.means_[None, :, :], axis=2)
    _, order = linear_sum_assignment(distances)
    ordered = clone(model)
    for name in FITTED_ARRAYS:
        value = getattr(model, name)
        shared = name != "weights_" and name != "means_" and model.covariance_type == "tied"
        setattr(ordered, name, value if shared else value[order])
    return ordered


def test_chosen_model_is_the_best_eligible_bic_and_methods_delegate_to_it():
    X, selector = _faithful()
    results = selector.results_
    bic = np.asarray(results["bic"])
    eligible = ~np.asarray(results["spurious"]) & np.isfinite(bic)
    best = int(np.flatnonzero(eligible)[np.argmin(bic[eligible])])
    assert selector.best_index_ == best
    assert selector.best_n_components_ == results["n_components"][best]
    assert selector.best_covariance_type_ == results["covariance_type"][best]
    chosen = selector.best_estimator_
    assert chosen is selector.estimators_[best]

    X_new = np.random.RandomState(1).normal(size=(40, 2))
    for points in (X, X_new):
        np.testing.assert_array_equal(selector.predict(points), chosen.predict(points))
        np.testing.assert_array_equal(selector.predict_proba(points), chosen.predict_proba(points))
        np.testing.assert_array_equal(selector.score_samples(points), chosen.score_samples(points))
        assert selector.score(points) == chosen.score(points)
        for criterion in CRITERIA:
            for convention in ("scikit-learn", "mclust"):
                assert getattr(selector, criterion)(points, convention=convention) == getattr(
                    chosen, criterion
                )(points, convention=convention)
    samples, components = selector.sample(25)
    expected_samples, expected_components = chosen.sample(25)
    np.testing.assert_array_equal(samples, expected_samples)
    np.testing.assert_array_equal(components, expected_components)
    for attribute in [*FITTED_ARRAYS, "labels_"]:
        np.testing.assert_array_equal(getattr(selector, attribute), getattr(chosen, attribute))
    assert selector.n_iter_ == chosen.n_iter_ and selector.converged_ == chosen.converged_
    # The training criteria of the chosen model are what the table says.
    assert selector.bic(X) == pytest.approx(bic[best], rel=1e-12)
    with pytest.raises(ValueError, match="features"):
        selector.predict(np.ones((3, 5)))


def test_results_frame_in_both_conventions():
    _, selector = _faithful()
    frame = selector.results_frame()
    mclust = selector.results_frame(convention="mclust")
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == len(selector.results_["bic"]) == 16
    assert list(frame.columns) == [*selector.results_, "chosen"]
    for column in selector.results_:
        expected = np.asarray(selector.results_[column])
        np.testing.assert_array_equal(frame[column].to_numpy(), expected)
        if column in CRITERIA:
            np.testing.assert_array_equal(mclust[column].to_numpy(), -expected)
        else:
            np.testing.assert_array_equal(mclust[column].to_numpy(), expected)
    for table in (frame, mclust):
        assert table["chosen"].dtype == bool
        assert np.flatnonzero(table["chosen"].to_numpy()).tolist() == [selector.best_index_]
    # mclust's sign: higher is better, so the chosen row has the largest BIC.
    assert mclust["bic"].idxmax() == selector.best_index_
    with pytest.raises(ValueError, match="'scikit-learn' or 'mclust'"):
        selector.results_frame(convention="R")


# ----------------------------------------------------------------------------- recovery
def _rotation(degrees):
    angle = np.deg2rad(degrees)
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def _rotated(degrees, variances):
    R = _rotation(degrees)
    return R @ np.diag(variances) @ R.T


# Each truth is the most parsimonious of the four types that contains it, so every
# more constrained type misfits it by O(n) in log-likelihood, while a more flexible
# type (or an extra component) gains only chi-square noise, about half a unit of
# log-likelihood per extra parameter, and pays log(n)/2 > 3 per extra parameter.
# The clusters are separated by several standard deviations, so no type can imitate
# the truth with more components of its own within the grid (up to K + 1).
RECOVERY = {
    # Three orientations and equal shapes: 'tied' cannot share one matrix, 'diag' and
    # 'spherical' have no correlation.
    "3 full": (
        [(0, 0), (10, 0), (0, 10)],
        [_rotated(30, (4, 0.25)), _rotated(-45, (4, 0.25)), _rotated(80, (4, 0.25))],
        900,
    ),
    # Round clusters of different sizes in 3-D: 'diag' and 'full' add 4 and 10 unused
    # parameters, 'tied' needs the two sizes equal.
    "2 spherical": ([(0, 0, 0), (8, 0, 0)], [np.eye(3), 4 * np.eye(3)], 600),
    # Axis-aligned ellipses, each with its own variances: 'spherical' needs equal
    # variances along the axes, 'tied' one shared matrix, 'full' adds 4 unused parameters.
    "4 diag": (
        [(0, 0), (10, 0), (0, 10), (10, 10)],
        [np.diag(v) for v in [(4, 0.25), (0.25, 4), (1, 2.25), (2.25, 0.5)]],
        1200,
    ),
    # One shared, strongly correlated covariance: 'diag' and 'spherical' have no
    # correlation, 'full' adds 6 unused parameters.
    "3 tied": ([(0, 0), (4, -4), (-4, 4)], [np.array([[2.0, 1.6], [1.6, 2.0]])] * 3, 900),
}


@pytest.mark.parametrize("truth", list(RECOVERY))
def test_recovers_the_simulated_number_of_components_and_covariance_type(truth):
    means, covariances, n_samples = RECOVERY[truth]
    rng = np.random.RandomState(0)
    n_components = len(means)
    X = np.vstack(
        [
            rng.multivariate_normal(mean, covariance, size=n_samples // n_components)
            for mean, covariance in zip(means, covariances)
        ]
    )
    selector = GaussianMixtureIC(
        n_components=range(1, n_components + 2),
        covariance_types="scikit-learn",
        n_init=2,
        random_state=0,
    ).fit(X)
    assert f"{selector.best_n_components_} {selector.best_covariance_type_}" == truth
    # The chosen model found the simulated means (matched one to one).
    distances = np.linalg.norm(selector.means_[:, None] - np.array(means)[None], axis=2)
    rows, columns = linear_sum_assignment(distances)
    assert distances[rows, columns].max() < 0.35


# ------------------------------------------------------------------------ spurious fits
def _discretised_gaussian():
    """One Gaussian whose second feature is rounded to whole numbers, like Old Faithful's
    waiting times (whole minutes): few distinct values, each repeated many times."""
    rng = np.random.RandomState(6)
    return np.column_stack([rng.normal(size=400), np.round(1.5 * rng.normal(size=400))])


def _spurious_selector(**params):
    # Every start to tol (screen_starts=False): screened candidates out of reach of
    # the best may settle before they creep onto a degenerate maximum, and this trap
    # is about the maxima EM reaches when it is run to convergence.
    return GaussianMixtureIC(
        n_components=[1, 2],
        covariance_types=["diag", "full"],
        n_init=2,
        random_state=0,
        screen_starts=False,
        **params,
    )


@functools.cache
def _spurious_fits():
    X = _discretised_gaussian()
    with pytest.warns(SpuriousFitWarning, match="kept eligible"):
        naive = _spurious_selector(exclude_spurious=False).fit(X)
    with pytest.warns(SpuriousFitWarning, match="excluded from the choice"):
        guarded = _spurious_selector().fit(X)
    return X, naive, guarded


def test_trap_spurious_maximum_wins_bic_when_not_excluded():
    X, naive, _ = _spurious_fits()
    results = naive.results_
    best = naive.best_index_
    assert results["spurious"][best]
    assert results["min_variance_ratio"][best] < 1e-10
    # Its BIC beats the truth (one Gaussian) by far: a meaningless win.
    single = [i for i, k in enumerate(results["n_components"]) if k == 1]
    assert results["bic"][best] < min(results["bic"][i] for i in single) - 100
    # What it is: a component whose covariance sits at the reg_covar floor, holding
    # the rows of one repeated value of the rounded feature.
    chosen = naive.best_estimator_
    matrices = chosen.covariances_
    if naive.best_covariance_type_ == "diag":
        matrices = [np.diag(row) for row in matrices]
    variances = np.array([np.linalg.eigvalsh(matrix) for matrix in matrices])
    flat = int(np.argmin(variances.min(axis=1)))
    # The floor is relative to each feature's variance: at most the largest of them.
    assert variances[flat].min() <= 2 * naive.reg_covar_.max()
    members = X[chosen.predict(X) == flat]
    assert len(members) > 10
    assert np.unique(members[:, 1]).size == 1


def test_trap_spurious_maximum_is_flagged_warned_and_excluded_by_default():
    X, naive, guarded = _spurious_fits()
    assert guarded.best_n_components_ == 1
    assert not guarded.results_["spurious"][guarded.best_index_]
    bic = np.asarray(guarded.results_["bic"])
    eligible = ~np.asarray(guarded.results_["spurious"])
    assert guarded.best_index_ == int(np.flatnonzero(eligible)[np.argmin(bic[eligible])])
    # The guard changes the choice, never the fits.
    _assert_results_equal(guarded.results_, naive.results_)
    assert guarded.best_index_ != naive.best_index_

    # Each row is flagged exactly when its fit is degenerate, judged from the fitted
    # model: a covariance eigenvalue at the floor (the data's variances are about 1 and
    # 2), or too few effective points for a non-singular scatter of its own.
    frame = guarded.results_frame()
    for row, estimator in zip(frame.itertuples(), guarded.estimators_):
        covariances = np.asarray(estimator.covariances_)
        if row.covariance_type == "diag":
            smallest = covariances.min()
        else:
            smallest = min(np.linalg.eigvalsh(c).min() for c in covariances)
        points = estimator.weights_ * X.shape[0]
        degenerate = smallest < 10 * guarded.reg_covar or (
            row.n_components > 1 and points.min() < _own_parameters(row.covariance_type, X.shape[1])
        )
        assert row.spurious == degenerate, row
        assert bool(row.reason) == degenerate, row
        if not degenerate:
            assert smallest > 1e-2
    assert frame["spurious"].sum() >= 1


def test_screened_search_on_repeated_values_chooses_as_the_guarded_exhaustive_one():
    X, _, guarded = _spurious_fits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpuriousFitWarning)
        screened = _spurious_selector().set_params(screen_starts=True).fit(X)
    assert screened.best_index_ == guarded.best_index_
    np.testing.assert_array_equal(screened.means_, guarded.means_)
    # Settled candidates never pass their converged (exhaustive) values.
    assert np.all(
        np.asarray(screened.results_["bic"]) >= np.asarray(guarded.results_["bic"]) - 1e-6
    )


# ------------------------------------------------------------------------- failed fits
def _constant_feature_data():
    rng = np.random.RandomState(0)
    first = np.r_[rng.normal(-4, 1, size=40), rng.normal(4, 1, size=40)]
    return np.column_stack([first, np.zeros(80)])


def test_failed_candidates_are_recorded_and_not_chosen():
    # Without regularisation a constant feature makes every 'full' covariance singular,
    # while a spherical covariance still has the first feature's variance.
    X = _constant_feature_data()
    selector = GaussianMixtureIC(
        n_components=[1, 2],
        covariance_types=["full", "spherical"],
        reg_covar=0.0,
        n_init=1,
        random_state=0,
    ).fit(X)
    frame = selector.results_frame()
    failed = frame["covariance_type"] == "full"
    assert failed.sum() == 2
    for column in ["bic", "aic", "icl", "log_likelihood"]:
        assert frame.loc[failed, column].isna().all(), column
        assert frame.loc[~failed, column].notna().all(), column
    assert frame.loc[failed, "reason"].str.startswith("fit failed: ").all()
    assert frame.loc[failed, "reason"].str.contains("reg_covar").all()
    assert not frame.loc[failed, "spurious"].any()
    assert [selector.estimators_[i] for i in np.flatnonzero(failed)] == [None, None]
    assert selector.best_covariance_type_ == "spherical"
    assert selector.best_n_components_ == 2


def test_a_contender_failing_as_its_starts_are_finished_is_recorded_as_failed(monkeypatch):
    # A screened candidate's other starts are run to convergence only when it may
    # win; one that collapses there fails the candidate, as in the exhaustive
    # search (found on raw breast-cancer features: it used to abort the search).
    X = load_faithful()[0]
    kwargs = dict(n_components=[2, 3], covariance_types=["EEE", "VVV"], random_state=0)
    unpatched = GaussianMixtureIC(**kwargs).fit(X)
    winner = (unpatched.best_n_components_, unpatched.best_covariance_type_)
    original = GaussianMixture._finish_starts
    raised = []

    def finish(self, X, sample_weight=None):
        if (self.n_components, self.covariance_type) == winner and self._unfinished_starts():
            raised.append(winner)
            raise gaussmix.CollapseError("Component 1 collapsed (test).")
        return original(self, X, sample_weight)

    monkeypatch.setattr(GaussianMixture, "_finish_starts", finish)
    selector = GaussianMixtureIC(**kwargs).fit(X)
    assert raised == [winner]
    frame = selector.results_frame()
    failed = (frame["n_components"] == winner[0]) & (frame["covariance_type"] == winner[1])
    assert frame.loc[failed, "bic"].isna().all()
    assert frame.loc[failed, "reason"].str.startswith("fit failed: Component 1").all()
    assert selector.estimators_[int(np.flatnonzero(failed)[0])] is None
    others = frame.loc[~failed & ~frame["spurious"], "bic"]
    assert selector.results_["bic"][selector.best_index_] == others.min()
    assert (selector.best_n_components_, selector.best_covariance_type_) != winner


def test_every_candidate_failing_raises():
    with pytest.raises(ValueError, match="No candidate could be chosen"):
        GaussianMixtureIC(
            n_components=[1, 2], covariance_types=["full", "diag"], reg_covar=0.0, n_init=1
        ).fit(_constant_feature_data())


# -------------------------------------------------------------- options and determinism
def test_n_jobs_and_random_state_give_identical_results():
    X = _two_blobs()
    params = dict(n_components=[1, 2], covariance_types=["diag", "full"], n_init=2, random_state=3)
    first = GaussianMixtureIC(**params).fit(X)
    again = GaussianMixtureIC(**params).fit(X)
    parallel = GaussianMixtureIC(**params, n_jobs=2).fit(X)
    for other in (again, parallel):
        _assert_results_equal(other.results_, first.results_)
        for mine, theirs in zip(other.estimators_, first.estimators_):
            for attribute in FITTED_ARRAYS:
                np.testing.assert_array_equal(getattr(mine, attribute), getattr(theirs, attribute))
        assert other.best_index_ == first.best_index_


@pytest.mark.parametrize("criterion", ["aic", "icl"])
def test_criterion_chooses_the_smallest_value_of_its_column(criterion):
    # On Old Faithful BIC, AIC and ICL prefer different models: AIC (the lightest
    # penalty) more components, ICL (which penalises overlap) fewer.
    X, _ = _faithful()
    selector = GaussianMixtureIC(
        n_components=[2, 3, 4],
        covariance_types=["tied", "full"],
        criterion=criterion,
        n_init=2,
        random_state=0,
    ).fit(X)
    results = selector.results_
    values = np.asarray(results[criterion])
    eligible = ~np.asarray(results["spurious"]) & np.isfinite(values)
    best = int(np.flatnonzero(eligible)[np.argmin(values[eligible])])
    assert selector.best_index_ == best
    bic = np.asarray(results["bic"])
    assert best != int(np.flatnonzero(eligible)[np.argmin(bic[eligible])])
    # Each criterion column is its definition applied to the same fit.
    n = X.shape[0]
    ll = np.asarray(results["log_likelihood"])
    p = np.asarray(results["n_parameters"])
    np.testing.assert_allclose(bic, -2 * ll + p * np.log(n), rtol=1e-12)
    np.testing.assert_allclose(results["aic"], -2 * ll + 2 * p, rtol=1e-12)
    for row, estimator in enumerate(selector.estimators_):
        entropy = -np.sum(np.log(estimator.predict_proba(X).max(axis=1)))
        np.testing.assert_allclose(results["icl"][row], bic[row] + 2 * entropy, rtol=1e-10)


def test_int_n_components_means_one_to_n():
    selector = GaussianMixtureIC(
        n_components=3, covariance_types=("spherical", "tied"), n_init=1, random_state=0
    ).fit(_two_blobs())
    assert selector.results_["n_components"] == [1, 2, 3, 1, 2, 3]
    assert selector.results_["covariance_type"] == ["spherical"] * 3 + ["tied"] * 3
    single = GaussianMixtureIC(
        n_components=2, covariance_types="diag", n_init=1, random_state=0
    ).fit(_two_blobs())
    assert single.results_["covariance_type"] == ["diag", "diag"]


def test_integer_weights_give_the_criteria_of_repeated_rows():
    X = _two_blobs(60, seed=1)
    weights = np.random.RandomState(2).randint(1, 4, size=len(X))
    repeated = np.repeat(X, weights, axis=0)
    params = dict(
        n_components=[1, 2], covariance_types=["full", "diag"], n_init=2, tol=1e-10, random_state=0
    )
    weighted = GaussianMixtureIC(**params).fit(X, sample_weight=weights)
    plain = GaussianMixtureIC(**params).fit(repeated)
    for column in ["log_likelihood", "bic", "aic", "icl", "min_component_points"]:
        np.testing.assert_allclose(
            weighted.results_[column], plain.results_[column], rtol=1e-8, err_msg=column
        )
    assert weighted.results_["n_parameters"] == plain.results_["n_parameters"]
    assert weighted.best_index_ == plain.best_index_


def test_weights_are_used_by_every_candidate():
    # Relative weights (here, up-weighting one blob) change the fits exactly as they
    # change a plain GaussianMixture fitted with the same weights.
    X = _two_blobs(60, seed=1)
    weights = np.where(X[:, 0] > 0, 3.0, 1.0)
    selector = GaussianMixtureIC(
        n_components=[2], covariance_types=["diag"], n_init=2, random_state=0
    ).fit(X, sample_weight=weights)
    alone = GaussianMixture(2, covariance_type="diag", tol=1e-6, max_iter=1000, n_init=2)
    # The search's floor is relative to the weighted variances: the same floor here.
    alone.set_params(random_state=0, reg_covar=selector.reg_covar_).fit(X, sample_weight=weights)
    assert_models_close(selector.best_estimator_, alone, rtol=1e-10, floor=1e-12)


# ------------------------------------------------------------------- scikit-learn API
def _small_selector(**params):
    return GaussianMixtureIC(
        n_components=[1, 2], covariance_types=["full"], n_init=1, random_state=0, **params
    )


def test_clone_copies_parameters_not_the_fit():
    selector = _small_selector(criterion="aic").fit(_two_blobs())
    copy = clone(selector)
    assert copy.get_params() == selector.get_params()
    assert not hasattr(copy, "results_") and not hasattr(copy, "best_estimator_")


def test_pipeline_with_standard_scaler():
    rng = np.random.RandomState(0)
    X = _two_blobs() * [100.0, 0.01] + [5000.0, -3.0]
    X_new = X[rng.permutation(len(X))[:30]] + rng.normal(size=(30, 2)) * [50.0, 0.005]
    pipeline = make_pipeline(StandardScaler(), _small_selector()).fit(X)
    scaler = StandardScaler().fit(X)
    direct = _small_selector().fit(scaler.transform(X))
    _assert_results_equal(pipeline[-1].results_, direct.results_)
    np.testing.assert_array_equal(pipeline.predict(X_new), direct.predict(scaler.transform(X_new)))
    np.testing.assert_array_equal(
        pipeline.score_samples(X_new), direct.score_samples(scaler.transform(X_new))
    )


def test_grid_search_over_the_criterion_matches_hand_run_cross_validation():
    X = _two_blobs()
    cv = KFold(2, shuffle=True, random_state=0)
    search = GridSearchCV(_small_selector(), {"criterion": ["bic", "aic"]}, cv=cv).fit(X)
    for index, criterion in enumerate(search.cv_results_["param_criterion"]):
        scores = [
            _small_selector(criterion=criterion).fit(X[train]).score(X[test])
            for train, test in cv.split(X)
        ]
        np.testing.assert_allclose(
            search.cv_results_["mean_test_score"][index], np.mean(scores), rtol=1e-12
        )
    best = int(np.argmax(search.cv_results_["mean_test_score"]))
    assert search.best_params_ == {"criterion": search.cv_results_["param_criterion"][best]}
    assert search.best_estimator_.criterion == search.best_params_["criterion"]


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"covariance_types": ["full", "oval"]}, "Unknown covariance_type 'oval'.*full.*VVV"),
        ({"covariance_types": []}, "covariance_types is empty"),
        ({"n_components": [0, 1]}, "n_components must be positive"),
        ({"n_components": []}, "n_components must be positive"),
        ({"n_components": 0}, "n_components"),
        ({"criterion": "foo"}, "criterion"),
        ({"n_components": [5, 6]}, "exceeds the 4 samples"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(params, match):
    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    with pytest.raises(ValueError, match=match):
        GaussianMixtureIC(**params).fit(X)


def test_methods_before_fit_raise_not_fitted():
    from sklearn.exceptions import NotFittedError

    for method in ("predict", "predict_proba", "score_samples", "bic"):
        with pytest.raises(NotFittedError):
            getattr(GaussianMixtureIC(), method)(np.ones((3, 2)))
    with pytest.raises(NotFittedError):
        GaussianMixtureIC().results_frame()


def test_default_search_covers_mclusts_models_and_reduces_to_e_and_v_on_one_feature():
    from gaussmix.covariance import MCLUST_NAMES

    X = _two_blobs(60, seed=3)
    selector = GaussianMixtureIC(n_components=[2], n_init=1, random_state=0).fit(X)
    assert selector.results_["covariance_type"] == list(MCLUST_NAMES)
    univariate = GaussianMixtureIC(n_components=[1, 2], n_init=1, random_state=0).fit(X[:, :1])
    assert sorted(set(univariate.results_["covariance_type"])) == ["E", "V"]
    sklearn_named = GaussianMixtureIC(
        n_components=[2], covariance_types="scikit-learn", n_init=1, random_state=0
    ).fit(X)
    assert sorted(sklearn_named.results_["covariance_type"]) == sorted(
        ["spherical", "diag", "tied", "full"]
    )
    # The aliases are the same models: VVV's row equals full's.
    by_name = dict(zip(selector.results_["covariance_type"], selector.results_["bic"]))
    sklearn_by_name = dict(
        zip(sklearn_named.results_["covariance_type"], sklearn_named.results_["bic"])
    )
    for alias, name in {"VVV": "full", "EEE": "tied", "VVI": "diag", "VII": "spherical"}.items():
        assert by_name[alias] == sklearn_by_name[name]


# Storage of each mclust model's covariances_ (written out here, independently of the
# registry) and what one more component adds to its covariance parameters (mclust's
# counts for D = 2: the difference between K + 1 and K components).
MCLUST_STORAGE = {
    **dict.fromkeys(["EII", "VII"], "spherical"),
    **dict.fromkeys(["EEI", "VEI", "EVI", "VVI"], "diagonal"),
    "EEE": "shared",
    **dict.fromkeys(["VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV"], "full"),
}
MCLUST_OWN_COVARIANCE_2D = {
    "EII": 0, "VII": 1, "EEI": 0, "VEI": 1, "EVI": 1, "VVI": 2, "EEE": 0,
    "VEE": 1, "EVE": 1, "VVE": 2, "EEV": 1, "VEV": 2, "EVV": 2, "VVV": 3,
}  # fmt: skip


def _smallest_eigenvalues(covariances, storage, n_components, n_features):
    covariances = np.asarray(covariances, dtype=np.float64)
    if storage == "spherical":
        return covariances
    if storage == "diagonal":
        return covariances.min(axis=1)
    if storage == "shared":
        return np.full(n_components, np.linalg.eigvalsh(covariances)[0])
    return np.array([np.linalg.eigvalsh(c)[0] for c in covariances])


def test_spurious_guard_covers_all_14_mclust_models_on_repeated_values():
    X = _discretised_gaussian()
    with pytest.warns(SpuriousFitWarning):
        # Every start to tol, so that the degenerate maxima are reached (see
        # _spurious_selector).
        selector = GaussianMixtureIC(
            n_components=[1, 2, 3],
            n_init=1,
            random_state=0,
            exclude_spurious=False,
            screen_starts=False,
        ).fit(X)
    frame = selector.results_frame()
    assert set(frame.covariance_type) == set(MCLUST_STORAGE)
    n_features = X.shape[1]
    for row, estimator in zip(frame.itertuples(), selector.estimators_):
        smallest = _smallest_eigenvalues(
            estimator.covariances_,
            MCLUST_STORAGE[row.covariance_type],
            row.n_components,
            n_features,
        ).min()
        points = estimator.weights_ * X.shape[0]
        needed = n_features + 1 if MCLUST_OWN_COVARIANCE_2D[row.covariance_type] else 1
        degenerate = smallest < 10 * selector.reg_covar or (
            row.n_components > 1 and points.min() < needed
        )
        assert row.spurious == degenerate, row
    # Models whose volume or shape may vary per component can flatten one onto a
    # repeated value; such a fit then wins the naive BIC by far.
    flagged = frame[frame.spurious]
    assert len(flagged) >= 3
    assert frame.loc[selector.best_index_, "spurious"]
    # With the guard on (the default), the truth -- one Gaussian -- is chosen. From
    # k-means starts only: mclust's hierarchical start reaches a VEV-3 fit with a thin
    # component on the repeated values (R's Mclust picks VII-3 there) that these rules
    # do not flag.
    with pytest.warns(SpuriousFitWarning, match="excluded"):
        guarded = GaussianMixtureIC(
            n_components=[1, 2, 3], n_init=1, random_state=0, hc_start=False
        ).fit(X)
    assert guarded.best_n_components_ == 1


# ------------------------------------------------------------------ mclust's start
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_search_reaches_the_model_mclust_selects_on_diabetes():
    """k-means starts alone stop at VVE-5 (BIC -4755.3); mclust's start reaches VVV-3."""
    X = pd.read_csv(FIXTURES / "diabetes.csv")[["glucose", "insulin", "sspg"]].to_numpy(float)
    reference = json.loads((FIXTURES / "mclust_search.json").read_text())["data"]["diabetes"]
    params = dict(n_components=range(1, 6), covariance_types=["VVE", "VVV"], random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpuriousFitWarning)
        selector = GaussianMixtureIC(**params).fit(X)
        every_start = GaussianMixtureIC(**params, screen_starts=False).fit(X)
        draws_only = GaussianMixtureIC(**params, hc_start=False, screen_starts=False).fit(X)
    chosen = selector.results_frame(convention="mclust").loc[selector.best_index_]
    assert (selector.best_covariance_type_, selector.best_n_components_) == (
        reference["model"],
        reference["G"],
    )
    assert chosen.bic == pytest.approx(reference["BIC"], abs=0.05)
    # Adding a start never lowers a candidate's likelihood (every start run).
    with_hc = np.asarray(every_start.results_["log_likelihood"])
    without = np.asarray(draws_only.results_["log_likelihood"])
    assert np.all(with_hc >= without - 1e-8 * np.abs(without))
    assert (draws_only.best_covariance_type_, draws_only.best_n_components_) != ("VVV", 3)


# ------------------------------------------------------------------ large data
def test_search_on_a_subsample_chooses_as_the_full_search_and_refits_on_all_rows(capsys):
    rng = np.random.default_rng(11)
    centres = np.array([[0.0, 0.0], [6.0, 1.0], [2.0, 7.0]])
    X = np.vstack([rng.multivariate_normal(c, [[1.0, 0.4], [0.4, 1.5]], 600) for c in centres])
    params = dict(n_components=range(1, 6), covariance_types=["EII", "EEE", "VVV"], random_state=0)
    full = GaussianMixtureIC(**params).fit(X)
    sampled = GaussianMixtureIC(**params, max_search_samples=400, progress="log").fit(X)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 15 and lines[-1].startswith("gaussmix: candidate 15/15")
    assert sampled.n_search_samples_ == 400 and full.n_search_samples_ == X.shape[0]
    assert (sampled.best_covariance_type_, sampled.best_n_components_) == (
        full.best_covariance_type_,
        full.best_n_components_,
    )
    # The chosen model is fitted on every row, as the full search's is.
    assert sampled.labels_.shape == (X.shape[0],)
    assert sampled.best_index_ in sampled.refit_results_["index"]
    assert sampled.bic(X) == pytest.approx(full.bic(X), rel=1e-6)
    np.testing.assert_allclose(
        np.sort(sampled.weights_), np.sort(full.weights_), rtol=1e-4, atol=1e-6
    )
    again = GaussianMixtureIC(**params, max_search_samples=400).fit(X)
    np.testing.assert_array_equal(again.means_, sampled.means_)


def test_screened_search_chooses_as_the_exhaustive_one_and_its_contenders_are_exact():
    _, screened = _faithful()
    _, exhaustive = _faithful_exhaustive()
    assert screened.best_index_ == exhaustive.best_index_
    np.testing.assert_array_equal(screened.means_, exhaustive.means_)
    screened_bic = np.asarray(screened.results_["bic"])
    exhaustive_bic = np.asarray(exhaustive.results_["bic"])
    # Screening can only lose likelihood, never gain it.
    assert np.all(screened_bic >= exhaustive_bic - 1e-9 * np.abs(exhaustive_bic))
    eligible = ~np.asarray(exhaustive.results_["spurious"])
    contenders = eligible & (screened_bic <= screened_bic[eligible].min() + SCREEN_MARGIN)
    assert contenders.sum() >= 2
    for column in ("bic", "log_likelihood", "n_iter"):
        np.testing.assert_array_equal(
            np.asarray(screened.results_[column])[contenders],
            np.asarray(exhaustive.results_[column])[contenders],
        )
    # And it runs fewer EM iterations in all.
    ran = sum(est._iterations_run for est in screened.estimators_ if est is not None)
    assert ran < 0.8 * sum(est._iterations_run for est in exhaustive.estimators_ if est is not None)


@pytest.mark.parametrize("name", sorted(MCLUST_STORAGE))
def test_screened_search_chooses_as_the_exhaustive_one_on_each_mclust_model(name):
    X = simulated_mixture(name, 240, seed=1, separation=6.0)
    params = dict(
        n_components=[1, 2, 3],
        covariance_types=sorted({name, "EII", "EEE", "VVV"}),
        n_init=3,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpuriousFitWarning)
        screened = GaussianMixtureIC(**params).fit(X)
        exhaustive = GaussianMixtureIC(**params, screen_starts=False).fit(X)
    assert screened.best_index_ == exhaustive.best_index_
    np.testing.assert_array_equal(screened.means_, exhaustive.means_)


# ------------------------------------------------------------- scale-free floor
def _clusters_along_a_tiny_feature():
    # Three clusters told apart by feature 0 alone, then feature 0 measured in a unit
    # 10^4 times larger: its whole variance (about 1e-7) is below reg_covar = 1e-6.
    rng = np.random.RandomState(0)
    labels = rng.randint(3, size=300)
    X = rng.normal(size=(300, 3))
    X[:, 0] += 6.0 * labels
    return X, labels, np.array([1e-4, 1.0, 30.0])


def test_floor_relative_to_each_feature_finds_clusters_in_any_unit():
    X, labels, scales = _clusters_along_a_tiny_feature()
    grid = dict(n_components=range(1, 5), covariance_types=["VVV", "EEE", "VVI", "EEI"])
    plain = GaussianMixtureIC(**grid, random_state=0).fit(X)
    rescaled = GaussianMixtureIC(**grid, random_state=0).fit(X * scales)
    np.testing.assert_allclose(rescaled.reg_covar_, 1e-6 * np.var(X * scales, axis=0))
    assert (rescaled.best_n_components_, rescaled.best_covariance_type_) == (
        plain.best_n_components_,
        plain.best_covariance_type_,
    )
    assert adjusted_rand_score(labels, rescaled.predict(X * scales)) > 0.95
    # The same model in other units: BIC = -2 log L + ..., and log L drops by
    # N log|det S|, so the BIC rises by 2 N sum(log s).
    shift = 2 * X.shape[0] * np.log(scales).sum()
    assert rescaled.results_["bic"][rescaled.best_index_] == pytest.approx(
        plain.results_["bic"][plain.best_index_] + shift, abs=1e-6
    )
    # scikit-learn's absolute floor flattens the tiny feature and loses the clusters.
    absolute = GaussianMixtureIC(**grid, random_state=0, reg_covar_scale="absolute")
    absolute.fit(X * scales)
    np.testing.assert_array_equal(absolute.reg_covar_, np.full(3, 1e-6))
    assert adjusted_rand_score(labels, absolute.predict(X * scales)) < 0.1


def test_constant_feature_borrows_the_mean_floor_of_the_others():
    X = np.column_stack([np.random.RandomState(1).normal(size=(50, 2)) * [1.0, 3.0], np.ones(50)])
    selector = GaussianMixtureIC(
        n_components=[1], covariance_types=["diag"], random_state=0, exclude_spurious=False
    )
    with pytest.warns(SpuriousFitWarning, match="kept eligible"):
        selector.fit(X)  # flat in the constant feature: spurious by construction
    variances = np.var(X[:, :2], axis=0)
    np.testing.assert_allclose(selector.reg_covar_, 1e-6 * np.append(variances, variances.mean()))
    np.testing.assert_allclose(selector.best_estimator_.reg_covar, selector.reg_covar_)


def test_chosen_model_with_per_feature_floor_round_trips(tmp_path):
    X = load_faithful()[0]
    selector = GaussianMixtureIC(
        n_components=[2, 3], covariance_types=["VVV", "EEE"], random_state=0
    ).fit(X)
    best = selector.best_estimator_
    best.save(tmp_path / "chosen.gaussmix")
    loaded = gaussmix.load(tmp_path / "chosen.gaussmix")
    np.testing.assert_array_equal(loaded.reg_covar, selector.reg_covar_)
    np.testing.assert_array_equal(loaded.score_samples(X), best.score_samples(X))


# ------------------------------------------------------- few points in many dimensions
def _tight_trio_in_six_dimensions():
    """200 rows of N(0, I) in 6 dimensions and 3 nearly equal rows far away."""
    rng = np.random.RandomState(3)
    trio = 12.0 + 0.05 * rng.normal(size=(3, 6))
    return np.vstack([rng.normal(size=(200, 6)), trio]), trio


def test_component_with_at_most_d_points_is_spurious_when_it_has_its_own_covariance():
    X, trio = _tight_trio_in_six_dimensions()
    # The truth the rule rests on: 3 rows span 2 directions, so their scatter is
    # singular in 6 dimensions (rank 2).
    assert np.linalg.matrix_rank(np.cov(trio, rowvar=False)) == 2
    types = ["EII", "EEE", "VII", "VEE"]
    with pytest.warns(SpuriousFitWarning) as caught:
        selector = GaussianMixtureIC(
            n_components=[2], covariance_types=types, n_init=2, random_state=0
        ).fit(X)
    frame = selector.results_frame()
    for row, estimator in zip(frame.itertuples(), selector.estimators_):
        points = np.sort(estimator.weights_ * X.shape[0])
        # Every model puts the trio in a component of its own.
        assert points[0] == pytest.approx(3.0, abs=1e-3), row
        # A volume of its own (VII, VEE) is fitted to 2 of 6 directions: spurious;
        # a component that only places its mean (EII, EEE) is not.
        own = row.covariance_type in ("VII", "VEE")
        assert row.spurious == own, row
        if own:
            assert "3.00 effective points, fewer than the 7" in row.reason
            assert "in 6 dimensions" in row.reason
    assert selector.best_covariance_type_ in ("EII", "EEE")
    # One sentence that stands on its own, plural agreement, the Python pointer last.
    assert str(caught[0].message) == (
        "2 candidates are spurious (degenerate) fits, excluded from the choice: 2 VII, 2 VEE. "
        "Details per candidate in results_['reason']."
    )


def test_spurious_warning_agrees_in_number_for_one_candidate():
    X, _ = _tight_trio_in_six_dimensions()
    with pytest.warns(SpuriousFitWarning) as caught:
        GaussianMixtureIC(
            n_components=[2], covariance_types=["EII", "VII"], n_init=1, random_state=0
        ).fit(X)
    assert str(caught[0].message).startswith(
        "1 candidate is a spurious (degenerate) fit, excluded from the choice: 2 VII."
    )


def test_search_n_jobs_keeps_small_data_in_one_process():
    """Worker processes (each importing scikit-learn again) only for data past the thresholds."""
    assert search_n_jobs(SMALL_SEARCH_ROWS, SMALL_SEARCH_FEATURES) == 1
    assert search_n_jobs(272, 2) == 1
    assert search_n_jobs(SMALL_SEARCH_ROWS + 1, 2) == -1
    assert search_n_jobs(100, SMALL_SEARCH_FEATURES + 1) == -1
