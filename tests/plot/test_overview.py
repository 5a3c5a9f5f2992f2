"""Pair grids and projections (``gaussmix.plot.overview``): panels are the pairs' marginals,
the diagonal the one-feature marginal, the projection scikit-learn's PCA.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.patches import Rectangle
from scipy.stats import multivariate_normal
from sklearn.datasets import load_iris
from sklearn.decomposition import PCA

from gaussmix.plot import (
    component_colors,
    plot_pairs,
    plot_projection,
)
from plot_helpers import (
    assert_ellipses_match,
    fitted,
    full_covariances,
)


# ------------------------------------------------------------------- pairs grid
@pytest.mark.parametrize("kind", ["clusters", "density", "uncertainty"])
def test_pairs_grid_panels_and_labels(kind):
    iris = load_iris(as_frame=True)
    X = iris.data.rename(columns=lambda name: name.removesuffix(" (cm)"))
    gm = fitted(X, 3, "diag")
    figure = plot_pairs(gm, X, kind=kind, max_features=3, units={"sepal length": "cm"})
    n_colorbars = 0 if kind == "clusters" else 1
    assert len(figure.axes) == 9 + n_colorbars
    grid = np.array(figure.axes[:9]).reshape(3, 3)  # row by row
    assert [ax.get_xlabel() for ax in grid[2]] == [
        "sepal length (cm)",
        "sepal width",
        "petal length",
    ]
    # Every row's y axis is labelled: the feature where the row has a pair panel,
    # "density" on the diagonal.
    assert [grid[row, 0].get_ylabel() for row in (1, 2)] == ["sepal width", "petal length"]
    assert [grid[i, i].get_ylabel() for i in range(3)] == ["density"] * 3
    assert [grid[i, i].get_title() for i in range(3)] == [
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
    full = full_covariances(gm.covariances_, "diag", 3, 4)
    if kind == "clusters":
        # The (petal length, sepal length) panel has that pair's marginal ellipses.
        assert_ellipses_match(
            grid[2, 0], gm.means_[:, [0, 2]], full[:, [0, 2]][:, :, [0, 2]], (1, 2, 3)
        )
    else:
        label = "log density" if kind == "density" else "uncertainty (1 - max responsibility)"
        assert figure.axes[9].get_ylabel() == label


def test_upper_panels_are_each_components_correlation(blobs3d):
    gm = fitted(blobs3d, 3, "full")
    figure = plot_pairs(gm, blobs3d)
    grid = np.array(figure.axes[:9]).reshape(3, 3)
    colors = component_colors(3)
    for row, column in [(0, 1), (0, 2), (1, 2)]:
        bars = [p for p in grid[row, column].patches if isinstance(p, Rectangle)]
        assert len(bars) == 3
        for k, bar in enumerate(bars):
            covariance = np.cov(
                rng_draws(gm.means_[k], gm.covariances_[k])[:, [row, column]], rowvar=False
            )
            sampled = covariance[0, 1] / np.sqrt(covariance[0, 0] * covariance[1, 1])
            exact = gm.covariances_[k][row, column] / np.sqrt(
                gm.covariances_[k][row, row] * gm.covariances_[k][column, column]
            )
            assert bar.get_width() == pytest.approx(exact, abs=1e-12)
            assert bar.get_width() == pytest.approx(sampled, abs=0.02)
            np.testing.assert_allclose(bar.get_facecolor()[:3], colors[k, :3])
        written = [text.get_text() for text in grid[row, column].texts]
        assert written == [f"{bar.get_width():+.2f}" for bar in bars]


def rng_draws(mean, covariance, n=200_000):
    """Draws of one Gaussian: an estimate of its correlations that shares no code with ours."""
    return np.random.default_rng(0).multivariate_normal(mean, covariance, size=n)


def test_pairs_test_rows_are_outlined_histograms_and_triangles(blobs3d):
    gm = fitted(blobs3d, 3, "full")
    train, test = blobs3d[:220], blobs3d[220:]
    figure = plot_pairs(gm, train, test_X=test)
    grid = np.array(figure.axes[:9]).reshape(3, 3)
    for i in range(3):
        (outline,) = [
            p for p in grid[i, i].patches if p.get_label().startswith("histogram of the test")
        ]
        vertices = outline.get_path().vertices
        edges = np.histogram_bin_edges(train[:, i], bins="auto")
        heights, _ = np.histogram(test[:, i], bins=edges, density=True)
        # A step outline visits (edge, height) pairs: its top corners are the bars.
        tops = vertices[1:-1:2, 1]
        np.testing.assert_allclose(tops[: len(heights)], heights, rtol=1e-12)
    offsets = {c.get_gid(): c.get_offsets() for c in grid[2, 0].collections if c.get_gid()}
    expected = np.concatenate([test[gm.predict(test) == k][:, [0, 2]] for k in range(3)])
    shown = np.concatenate([offsets[f"component {k} test rows"] for k in range(3)])
    np.testing.assert_array_equal(shown, expected)
    texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "training rows (220)" in texts and f"test rows ({len(test)})" in texts


def test_pairs_diagonal_is_the_one_dimensional_marginal(blobs3d):
    gm = fitted(blobs3d, 3, "tied")
    figure = plot_pairs(gm, blobs3d, features=[2, 0])
    diagonal = figure.axes[0]
    assert len(figure.axes) == 4
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


def test_projection_places_test_rows_on_the_training_rows_axes():
    X = load_iris().data
    train, test = X[::2], X[1::2]
    gm = fitted(train, 3, "full")
    ax = plot_projection(gm, train, test_X=test)
    pca = PCA(2).fit(train)
    shown = np.concatenate(
        [c.get_offsets() for c in ax.collections if str(c.get_gid()).endswith("test rows")]
    )
    expected = np.concatenate([pca.transform(test[gm.predict(test) == k]) for k in range(3)])
    signs = np.sign(shown[0] / expected[0])
    np.testing.assert_allclose(shown, expected * signs, rtol=1e-9, atol=1e-12)
