"""What every figure of ``gaussmix.plot`` shares: covariances expanded from any storage,
given axes, refusals of unfitted models and bad input, the missing-matplotlib message, and
the layout measured by matplotlib itself (legends, titles, labels, colour bars).
"""

from __future__ import annotations

import importlib
import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix import GaussianMixture
from gaussmix.covariance import MCLUST_NAMES
from gaussmix.plot import (
    FIGURE_INCHES,
    KINDS,
    MAX_SCATTER_ROWS,
    component_covariances,
    plot_clusters,
    plot_criterion,
    plot_density,
    plot_overview,
    plot_pairs,
    plot_projection,
    plot_uncertainty,
)
from plot_helpers import (
    RESULTS,
    STORAGE_TYPES,
    assert_layout,
    colorbar_axes,
    drawn,
    fitted,
    full_covariances,
    multivariate_models,
    panels,
)


# ------------------------------------------------------------------ covariances
@pytest.mark.parametrize("covariance_type", STORAGE_TYPES)
@pytest.mark.parametrize("n_components", [2, 3])
def test_component_covariances_expand_every_storage_shape(blobs3d, covariance_type, n_components):
    gm = fitted(blobs3d, n_components, covariance_type)
    expected = full_covariances(gm.covariances_, covariance_type, n_components, 3)
    np.testing.assert_array_equal(component_covariances(gm), expected)
    sk = SkGaussianMixture(n_components, covariance_type=covariance_type, random_state=0)
    sk.fit(blobs3d)
    expected = full_covariances(sk.covariances_, covariance_type, n_components, 3)
    np.testing.assert_array_equal(component_covariances(sk), expected)


@pytest.mark.parametrize("covariance_type", multivariate_models())
def test_component_covariances_reproduce_the_models_density(blobs3d, covariance_type):
    """Any registered model, with K == D: the expanded covariances give score_samples."""
    gm = GaussianMixture(3, covariance_type=covariance_type, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(blobs3d)
    covariances = component_covariances(gm)
    component_log_pdf = [
        np.log(weight) + multivariate_normal(mean, covariance).logpdf(blobs3d)
        for weight, mean, covariance in zip(gm.weights_, gm.means_, covariances)
    ]
    np.testing.assert_allclose(
        logsumexp(component_log_pdf, axis=0), gm.score_samples(blobs3d), rtol=1e-9
    )


class DuckMixture:
    """A fitted mixture that is not a scikit-learn estimator and has no covariance_type."""

    def __init__(self, weights, means, covariances):
        self.weights_ = np.asarray(weights)
        self.means_ = np.asarray(means)
        self.covariances_ = np.asarray(covariances)
        self.n_features_in_ = self.means_.shape[1]


def test_component_covariances_by_shape_without_a_covariance_type():
    means = np.zeros((3, 2))
    diagonals = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(
        component_covariances(DuckMixture([0.2, 0.3, 0.5], means, diagonals)),
        [np.diag(row) for row in diagonals],
    )
    shared = np.array([[2.0, 0.5], [0.5, 1.0]])
    np.testing.assert_array_equal(
        component_covariances(DuckMixture([0.2, 0.3, 0.5], means, shared)), [shared] * 3
    )
    # A selector names its chosen model's type: enough to read an ambiguous shape.
    selector = DuckMixture([0.5, 0.5], np.zeros((2, 2)), diagonals[:2])
    selector.best_covariance_type_ = "diag"
    np.testing.assert_array_equal(
        component_covariances(selector), [np.diag(row) for row in diagonals[:2]]
    )
    selector.best_covariance_type_ = "tied"
    np.testing.assert_array_equal(component_covariances(selector), [diagonals[:2]] * 2)
    # Two components in two features: (2, 2) is either storage; refused, not guessed.
    with pytest.raises(ValueError, match="ambiguous"):
        component_covariances(DuckMixture([0.5, 0.5], np.zeros((2, 2)), shared))
    with pytest.raises(ValueError, match="storage shapes"):
        component_covariances(DuckMixture([0.5, 0.5], np.zeros((2, 2)), np.ones((2, 3))))


# ------------------------------------------------------------------------ misc
ALL_PANELS = [plot_clusters, plot_density, plot_uncertainty, plot_projection]


@pytest.mark.parametrize("plot", ALL_PANELS, ids=lambda f: f.__name__)
def test_given_axes_are_used_and_returned(faithful, plot):
    X, _, gm = faithful
    _, (left, right) = plt.subplots(1, 2)
    assert plot(gm, X, ax=right) is right
    assert right.has_data() and not left.has_data()
    assert plot_criterion(RESULTS, ax=left) is left


@pytest.mark.parametrize("plot", [*ALL_PANELS, plot_pairs], ids=lambda f: f.__name__)
def test_unfitted_model_is_refused(faithful, plot):
    X = faithful[0]
    with pytest.raises(NotFittedError, match=r"fit\(X\)"):
        plot(GaussianMixture(2), X)
    with pytest.raises(NotFittedError, match="no results_"):
        plot_criterion(GaussianMixture(2))


def test_bad_input_names_the_problem(faithful, blobs3d):
    X, _, gm = faithful
    with pytest.raises(ValueError, match="fitted on 2"):
        plot_clusters(gm, blobs3d)
    with pytest.raises(ValueError, match="two different columns"):
        plot_clusters(gm, X, features=(1, 1))
    with pytest.raises(ValueError, match="not a column"):
        plot_density(gm, X, features=(0, 5))
    with pytest.raises(ValueError, match="one label per sample"):
        plot_clusters(gm, X, labels=[0, 1])
    with pytest.raises(ValueError, match="one unit per column"):
        plot_uncertainty(gm, X, units=["min"])
    with pytest.raises(ValueError, match="Unknown kind"):
        plot_pairs(gm, X, kind="scatter")
    with pytest.raises(ValueError, match="NaN"):
        plot_clusters(gm, np.where(X > 90, np.nan, X))


def test_missing_matplotlib_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    monkeypatch.delitem(sys.modules, "gaussmix.plot")
    with pytest.raises(ImportError, match=r"gaussmix\[plot\]"):
        importlib.import_module("gaussmix.plot")


# --------------------------------------------------------------------- geometry
def _blobs(n_features, n_rows=240, seed=5):
    X, _ = make_blobs(n_rows, n_features, centers=3, cluster_std=1.0, random_state=seed)
    return X


def _split(X):
    return X[: 3 * len(X) // 4], X[3 * len(X) // 4 :]


def _grid(kind, n_features):
    def draw():
        train, test = _split(_blobs(n_features))
        return plot_overview(fitted(train, 3), train, test_X=test, kind=kind)

    return draw


def _single(kind, n_features):
    def draw():
        train, test = _split(_blobs(n_features))
        return plot_overview(fitted(train, 3), train, test_X=test, kind=kind)

    return draw


def _ten_components():
    train, test = _split(_blobs(2, n_rows=600))
    gm = GaussianMixture(10, random_state=0).fit(train)
    return plot_overview(gm, train, test_X=test, feature_names=["width", "height"])


def _binned():
    X = np.random.default_rng(0).normal(size=(MAX_SCATTER_ROWS + 1, 2))
    return plot_overview(fitted(X[:2000], 2), X, kind="clusters")


def _criterion_as_the_lab_draws_it():
    # The lab's figure: no layout engine of its own.
    figure, ax = plt.subplots(figsize=FIGURE_INCHES)
    names = list(MCLUST_NAMES)
    table = {
        "n_components": [k for _ in names for k in range(1, 10)],
        "covariance_type": [name for name in names for _ in range(1, 10)],
        "bic": [float(100 * (k == 1) + (k - 3) ** 2 + i) for i in range(14) for k in range(1, 10)],
    }
    plot_criterion(table, best_index=2, ax=ax)
    return figure


FIGURES = {
    **{f"{kind} 2 features": _single(kind, 2) for kind in KINDS},
    **{f"{kind} 1 feature": _single(kind, 1) for kind in KINDS},
    **{f"{kind} 6 features (projection)": _single(kind, 6) for kind in KINDS},
    # Grids of 3, 4 and 5 features, one kind each.
    **{f"{kind} grid of {n}": _grid(kind, n) for kind, n in zip(KINDS, (5, 4, 3))},
    "10 components": _ten_components,
    "binned rows": _binned,
    "criterion of 14 models": _criterion_as_the_lab_draws_it,
}


@pytest.mark.parametrize("name", FIGURES)
def test_legends_never_cover_titles_or_panels_and_every_axis_is_labelled(name):
    assert_layout(FIGURES[name]())


@pytest.mark.parametrize("kind", ["density", "uncertainty"])
def test_colour_bar_is_as_long_as_its_panels(kind):
    renderer = drawn(grid := _grid(kind, 3)())
    (colorbar,) = colorbar_axes(grid)
    # The outline: the bar with its end triangles ("extend"), as the eye sees it.
    bar = colorbar._colorbar.outline.get_window_extent(renderer)
    boxes = [ax.get_window_extent(renderer) for ax in panels(grid)]
    top, bottom = max(box.y1 for box in boxes), min(box.y0 for box in boxes)
    assert bar.y1 == pytest.approx(top, abs=2) and bar.y0 == pytest.approx(bottom, abs=2)
    assert bar.x0 > max(box.x1 for box in boxes)  # beside the grid, not over it

    single = _single(kind, 2)()
    renderer = drawn(single)
    (colorbar,) = colorbar_axes(single)
    (panel,) = panels(single)
    bar = colorbar._colorbar.outline.get_window_extent(renderer)
    box = panel.get_window_extent(renderer)
    assert bar.x0 == pytest.approx(box.x0, abs=2) and bar.x1 == pytest.approx(box.x1, abs=2)
    assert bar.y1 < box.y0  # under the panel
