"""Pair grids and projections (``gaussmix.plot.overview``): panels are the pairs' marginals,
the diagonal the one-feature marginal, the projection scikit-learn's PCA.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.datasets import load_iris
from sklearn.decomposition import PCA

from gaussmix.plot import (
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
    assert len(figure.axes) == 6 + n_colorbars
    panels = figure.axes[:6]  # row by row over the lower triangle
    bottom_row = panels[3:]
    assert [ax.get_xlabel() for ax in bottom_row] == [
        "sepal length (cm)",
        "sepal width",
        "petal length",
    ]
    assert [panels[i].get_ylabel() for i in (0, 1, 3)] == [
        "density",
        "sepal width",
        "petal length",
    ]
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
