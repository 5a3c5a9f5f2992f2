"""Figures of ``gaussmix.plot`` checked against the model's numbers computed independently.

Covariances are expanded here from each storage type by its definition, marginal
densities come from ``scipy.stats.multivariate_normal`` on the sub-block, the
projection from scikit-learn's PCA: none of it shares code with the module.
"""

from __future__ import annotations

import importlib
import sys
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.contour import ContourSet
from matplotlib.patches import Ellipse
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.datasets import load_iris, make_blobs
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix import GaussianMixture
from gaussmix.covariance import COVARIANCE_MODELS
from gaussmix.datasets import FAITHFUL_UNITS, load_faithful
from gaussmix.plot import (
    component_colors,
    component_covariances,
    plot_clusters,
    plot_criterion,
    plot_density,
    plot_pairs,
    plot_projection,
    plot_uncertainty,
)

# scikit-learn's four storages, expanded below by their definitions.
STORAGE_TYPES = ["full", "tied", "diag", "spherical"]


def multivariate_models():
    names = []
    for name, model in COVARIANCE_MODELS.items():
        try:
            model.check_n_features(3)
        except ValueError:
            continue
        names.append(name)
    return names


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def full_covariances(covariances, covariance_type, n_components, n_features):
    """(K, D, D) covariances from scikit-learn's storage of ``covariance_type``."""
    if covariance_type == "full":
        return np.array(covariances)
    if covariance_type == "tied":
        return np.array([covariances] * n_components)
    if covariance_type == "diag":
        return np.array([np.diag(row) for row in covariances])
    return np.array([value * np.eye(n_features) for value in covariances])


def fitted(X, n_components, covariance_type="full"):
    return GaussianMixture(n_components, covariance_type=covariance_type, random_state=0).fit(X)


@pytest.fixture(scope="module")
def faithful():
    X, names = load_faithful()
    return X, names, fitted(X, 2)


@pytest.fixture(scope="module")
def blobs3d():
    # Three components in three features: the tied (D, D) and diagonal (K, D)
    # storages have the same shape, the case where shape alone is ambiguous.
    X, _ = make_blobs(300, 3, centers=3, cluster_std=[1.0, 1.5, 0.7], random_state=5)
    X = X @ np.array([[1.0, 0.4, 0.0], [0.0, 1.0, -0.5], [0.3, 0.0, 1.0]])
    return X


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def ellipses(ax):
    return [patch for patch in ax.patches if isinstance(patch, Ellipse)]


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


# --------------------------------------------------------------------- clusters
def assert_ellipses_match(ax, means, covariances, sigmas):
    """Each ellipse is ``{x : (x - mu)' Sigma^-1 (x - mu) = sigma^2}`` of its component."""
    patches = {patch.get_gid(): patch for patch in ellipses(ax)}
    assert len(patches) == len(means) * len(sigmas)
    for k, (mean, covariance) in enumerate(zip(means, covariances)):
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        precision = np.linalg.inv(covariance)
        for sigma in sigmas:
            patch = patches[f"component {k} {sigma:g}-sigma ellipse"]
            np.testing.assert_allclose(patch.center, mean, rtol=1e-12)
            np.testing.assert_allclose(patch.width / 2, sigma * np.sqrt(eigenvalues[1]), rtol=1e-10)
            np.testing.assert_allclose(
                patch.height / 2, sigma * np.sqrt(eigenvalues[0]), rtol=1e-10
            )
            direction = np.array([np.cos(np.radians(patch.angle)), np.sin(np.radians(patch.angle))])
            assert abs(direction @ eigenvectors[:, 1]) == pytest.approx(1.0, abs=1e-10)
            # Points the patch's own transform puts on the ellipse, in data coordinates.
            angles = np.linspace(0, 2 * np.pi, 13)
            unit_circle = np.column_stack([np.cos(angles), np.sin(angles)])
            on_ellipse = patch.get_patch_transform().transform(unit_circle) - mean
            squared_distance = np.einsum("ni,ij,nj->n", on_ellipse, precision, on_ellipse)
            np.testing.assert_allclose(squared_distance, sigma**2, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", STORAGE_TYPES)
def test_ellipses_are_the_marginal_covariance_levels(faithful, blobs3d, covariance_type):
    X, names, _ = faithful
    gm = fitted(X, 2, covariance_type)
    full = full_covariances(gm.covariances_, covariance_type, 2, 2)
    ax = plot_clusters(gm, X, feature_names=names)
    assert_ellipses_match(ax, gm.means_, full, (1, 2, 3))

    gm3 = fitted(blobs3d, 3, covariance_type)
    full = full_covariances(gm3.covariances_, covariance_type, 3, 3)
    block = np.ix_([0, 2], [0, 2])
    ax = plot_clusters(gm3, blobs3d, features=(0, 2), sigmas=(1, 2.5))
    assert_ellipses_match(ax, gm3.means_[:, [0, 2]], full[:, block[0], block[1]], (1, 2.5))


def test_clusters_labels_title_legend_and_points(faithful):
    X, names, gm = faithful
    ax = plot_clusters(gm, X, feature_names=names, units=FAITHFUL_UNITS)
    assert ax.get_xlabel() == "eruptions (min)"
    assert ax.get_ylabel() == "waiting (min)"
    assert "2-component" in ax.get_title()
    texts = legend_texts(ax)
    assert [text.split(" (")[0] for text in texts[:2]] == ["component 0", "component 1"]
    assert f"weight {gm.weights_[0]:.2f}" in texts[0]
    assert "component means" in texts
    sigma = "\N{GREEK SMALL LETTER SIGMA}"
    ellipse_texts = [text for text in texts if text.endswith("ellipse")]
    assert ellipse_texts == [f"{level}{sigma} ellipse" for level in (1, 2, 3)]
    labels = gm.predict(X)
    colors = component_colors(2)
    scatters = [c for c in ax.collections if c.get_label().startswith("component ")]
    for k, scatter in enumerate(scatters):
        np.testing.assert_array_equal(scatter.get_offsets(), X[labels == k])
        np.testing.assert_allclose(scatter.get_facecolor()[0, :3], colors[k, :3])
    for patch in ellipses(ax):
        k = int(patch.get_gid().split()[1])
        np.testing.assert_allclose(patch.get_edgecolor()[:3], colors[k, :3])


def test_clusters_by_given_labels_and_dataframe_names(blobs3d):
    frame = pd.DataFrame(blobs3d, columns=["alpha", "beta", "gamma"])
    gm = fitted(frame, 3)
    true_labels = np.repeat(["a", "b", "c"], 100)
    ax = plot_clusters(gm, frame, features=("gamma", "alpha"), labels=true_labels, title="T")
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("gamma", "alpha", "T")
    assert legend_texts(ax)[:3] == ["label a", "label b", "label c"]
    ax = plot_clusters(fitted(blobs3d, 2), blobs3d, features=(1, 2))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("feature 1", "feature 2")


# ---------------------------------------------------------------------- density
@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_density_contours_are_the_exact_marginal_log_density(blobs3d, covariance_type):
    gm = fitted(blobs3d, 3, covariance_type)
    features = [0, 2]
    ax = plot_density(gm, blobs3d, features=features, grid_size=60)
    (contours,) = [c for c in ax.collections if isinstance(c, ContourSet)]
    vertices = np.concatenate([path.vertices for path in contours.get_paths() if len(path)])
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    xx, yy = np.meshgrid(np.linspace(low[0], high[0], 60), np.linspace(low[1], high[1], 60))
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    full = full_covariances(gm.covariances_, covariance_type, 3, 3)
    component_log_pdf = [
        np.log(weight)
        + multivariate_normal(mean[features], cov[np.ix_(features, features)]).logpdf(grid)
        for weight, mean, cov in zip(gm.weights_, gm.means_, full)
    ]
    exact = logsumexp(component_log_pdf, axis=0).reshape(xx.shape)
    _, reference_ax = plt.subplots()
    reference = reference_ax.contourf(xx, yy, exact, levels=contours.levels, extend="both")
    plotted_paths = contours.get_paths()
    reference_paths = reference.get_paths()
    assert len(plotted_paths) == len(reference_paths)
    for plotted, expected in zip(plotted_paths, reference_paths):
        np.testing.assert_allclose(plotted.vertices, expected.vertices, rtol=1e-9, atol=1e-9)
    # The colour scale reaches the peak of the marginal density.
    assert contours.levels.max() >= exact.max()


def test_density_labels_colorbar_and_legend(faithful):
    X, names, gm = faithful
    ax = plot_density(gm, X, feature_names=names, units=FAITHFUL_UNITS)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("eruptions (min)", "waiting (min)")
    assert "Log-density" in ax.get_title()
    colorbar_axes = [other for other in ax.figure.axes if other is not ax]
    assert [other.get_ylabel() for other in colorbar_axes] == ["log density"]
    assert legend_texts(ax) == [f"data ({len(X)} samples)", "component means"]


# ------------------------------------------------------------------ uncertainty
@pytest.mark.parametrize("covariance_type", STORAGE_TYPES)
def test_uncertainty_is_one_minus_max_responsibility(blobs3d, covariance_type):
    gm = fitted(blobs3d, 3, covariance_type)
    ax = plot_uncertainty(gm, blobs3d, features=(2, 1))
    (points,) = [c for c in ax.collections if c.get_label().startswith("samples")]
    expected = 1.0 - gm.predict_proba(blobs3d).max(axis=1)
    np.testing.assert_allclose(points.get_array(), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(points.get_offsets(), blobs3d[:, [2, 1]])
    assert points.norm.vmax == pytest.approx(2 / 3)  # the largest possible with 3 components
    assert ax.get_title() == "Classification uncertainty (1 - max responsibility)"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("feature 2", "feature 1")
    colorbar_labels = [other.get_ylabel() for other in ax.figure.axes if other is not ax]
    assert colorbar_labels == ["uncertainty (1 - max responsibility)"]
    assert legend_texts(ax) == ["samples (colour and size: uncertainty)", "component means"]


# -------------------------------------------------------------------- criterion
RESULTS = {
    "n_components": [1, 2, 3, 4, 1, 2, 3, 4],
    "covariance_type": ["full"] * 4 + ["diag"] * 4,
    "bic": [120.0, 95.0, 99.0, 104.0, 130.0, 101.0, 90.0, np.nan],
    "aic": [110.0, 80.0, 78.0, 77.0, 125.0, 92.0, 70.0, np.nan],
    "spurious": [False, False, False, False, False, False, True, False],
}


class FittedSelector:
    """What plot_criterion reads from a fitted GaussianMixtureIC."""

    results_ = RESULTS
    criterion = "bic"
    best_index_ = 1


def criterion_lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


@pytest.mark.parametrize(
    "source", ["mapping", "dataframe", "selector"], ids=["mapping", "dataframe", "selector"]
)
def test_criterion_lines_best_and_spurious(source):
    if source == "selector":
        ax = plot_criterion(FittedSelector())
    else:
        table = RESULTS if source == "mapping" else pd.DataFrame(RESULTS)
        ax = plot_criterion(table, best_index=1)
    lines = criterion_lines(ax)
    # Full: every candidate joined in order. Diag: the spurious 3 and the failed 4 left out.
    np.testing.assert_array_equal(lines["full"].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(lines["full"].get_ydata(), [120, 95, 99, 104])
    np.testing.assert_array_equal(lines["diag"].get_xdata(), [1, 2])
    np.testing.assert_array_equal(lines["diag"].get_ydata(), [130, 101])
    spurious = lines["spurious fit (excluded)"]
    assert spurious.get_linestyle() == "None"
    np.testing.assert_array_equal(np.column_stack(spurious.get_data()), [[3, 90.0]])
    (chosen_label,) = [label for label in lines if label.startswith("chosen")]
    np.testing.assert_array_equal(np.column_stack(lines[chosen_label].get_data()), [[2, 95.0]])
    assert "2 components, full" in chosen_label
    assert ax.get_xlabel() == "number of components"
    assert ax.get_ylabel() == "BIC (lower is better)"
    assert ax.get_title() == "BIC of every candidate model"
    texts = legend_texts(ax)
    assert texts[:3] == ["full", "diag", "spurious fit (excluded)"]
    assert texts[3] == chosen_label


def test_criterion_other_column_and_unmarked_table():
    ax = plot_criterion(RESULTS, criterion="aic")
    lines = criterion_lines(ax)
    np.testing.assert_array_equal(lines["full"].get_ydata(), [110, 80, 78, 77])
    assert not any(label.startswith("chosen") for label in lines)
    assert ax.get_ylabel() == "AIC (lower is better)"
    with pytest.raises(ValueError, match="'icl'"):
        plot_criterion(RESULTS, criterion="icl")
    with pytest.raises(ValueError, match="best_index 8"):
        plot_criterion(RESULTS, best_index=8)


# ------------------------------------------------------------------- pairs grid
@pytest.mark.parametrize("kind", ["clusters", "density", "uncertainty"])
def test_pairs_grid_panels_and_labels(kind):
    iris = load_iris(as_frame=True)
    X = iris.data.rename(columns=lambda name: name.removesuffix(" (cm)"))
    gm = fitted(X, 3, "diag")
    figure = plot_pairs(gm, X, kind=kind, max_features=3, units={"sepal length": "cm"})
    n_colorbars = 0 if kind == "clusters" else 1
    assert len(figure.axes) == 6 + n_colorbars
    panels = figure.axes[:6]  # row by row over the lower triangle
    bottom_row = panels[3:]
    assert [ax.get_xlabel() for ax in bottom_row] == [
        "sepal length (cm)",
        "sepal width",
        "petal length",
    ]
    assert [panels[i].get_ylabel() for i in (0, 1, 3)] == ["density", "sepal width", "petal length"]
    assert [panels[i].get_title() for i in (0, 2, 5)] == [
        "sepal length",
        "sepal width",
        "petal length",
    ]
    suptitle = figure.get_suptitle()
    assert "3 of 4" in suptitle and "sepal length, sepal width, petal length" in suptitle
    assert kind.capitalize() in suptitle
    (legend,) = figure.legends
    texts = [text.get_text() for text in legend.get_texts()]
    assert "mixture density (1-D marginal)" in texts and "component means" in texts
    if kind == "clusters":
        # The (petal length, sepal length) panel has that pair's marginal ellipses.
        full = full_covariances(gm.covariances_, "diag", 3, 4)
        assert_ellipses_match(
            panels[3], gm.means_[:, [0, 2]], full[:, [0, 2]][:, :, [0, 2]], (1, 2, 3)
        )
    else:
        label = "log density" if kind == "density" else "uncertainty (1 - max responsibility)"
        assert figure.axes[6].get_ylabel() == label


def test_pairs_diagonal_is_the_one_dimensional_marginal(blobs3d):
    gm = fitted(blobs3d, 3, "tied")
    figure = plot_pairs(gm, blobs3d, features=[2, 0])
    diagonal = figure.axes[0]
    assert diagonal.get_title() == "feature 2"
    (line,) = [line for line in diagonal.get_lines() if line.get_label().startswith("mixture")]
    x, density = line.get_data()
    sd = np.sqrt(gm.covariances_[2, 2])
    expected = sum(
        w * multivariate_normal(m[2], sd**2).pdf(x) for w, m in zip(gm.weights_, gm.means_)
    )
    np.testing.assert_allclose(density, expected, rtol=1e-12)


# ------------------------------------------------------------------- projection
@pytest.mark.parametrize("kind", ["clusters", "density", "uncertainty"])
def test_projection_axes_match_pca(kind):
    X = load_iris().data
    gm = fitted(X, 3, "full")
    ax = plot_projection(gm, X, kind=kind)
    pca = PCA(2).fit(X)
    ratio = pca.explained_variance_ratio_
    assert ax.get_xlabel() == f"PC1 ({100 * ratio[0]:.1f}% of variance)"
    assert ax.get_ylabel() == f"PC2 ({100 * ratio[1]:.1f}% of variance)"
    assert "principal components" in ax.get_title()
    assert ax.get_legend() is not None
    if kind == "clusters":
        # Exact projection of every component, up to the sign of each principal axis.
        projected = pca.transform(X)
        (first,) = [c for c in ax.collections if c.get_label().startswith("component 0")]
        members = gm.predict(X) == 0
        offsets = np.asarray(first.get_offsets())
        signs = np.sign(offsets[0] / projected[members][0])
        np.testing.assert_allclose(offsets, projected[members] * signs, rtol=1e-9, atol=1e-12)
        A = pca.components_ * signs[:, None]
        means = (gm.means_ - pca.mean_) @ A.T
        assert_ellipses_match(ax, means, A @ gm.covariances_ @ A.T, (1, 2, 3))


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
