"""Densities (``gaussmix.plot.density``): contours are the exact marginal log-density, computed
here with ``scipy.stats.multivariate_normal`` on the sub-block; many rows are binned counts.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.contour import ContourSet
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gaussmix.datasets import FAITHFUL_UNITS
from gaussmix.plot import (
    MAX_SCATTER_ROWS,
    plot_density,
)
from plot_helpers import (
    fitted,
    full_covariances,
    legend_texts,
)


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
    assert [other.get_xlabel() for other in colorbar_axes] == ["log density"]
    assert legend_texts(ax) == [f"data ({len(X)} samples)", "component means"]


def test_test_rows_are_triangles_over_the_density(faithful):
    X, names, gm = faithful
    ax = plot_density(gm, X[:200], test_X=X[200:], feature_names=names)
    by_gid = {c.get_gid(): c for c in ax.collections if c.get_gid()}
    np.testing.assert_array_equal(by_gid["training rows"].get_offsets(), X[:200])
    np.testing.assert_array_equal(by_gid["test rows"].get_offsets(), X[200:])
    assert legend_texts(ax)[:2] == [
        "training rows (200 samples)",
        f"test rows ({len(X) - 200} samples)",
    ]


def test_many_rows_are_binned_counts_under_contour_lines():
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(-2, 1, (15_000, 2)), rng.normal(2, 0.5, (MAX_SCATTER_ROWS, 2))])
    gm = fitted(X[::10], 2)
    ax = plot_density(gm, X)
    (image,) = ax.get_images()
    counts = np.ma.getdata(image.get_array())
    empty = np.ma.getmaskarray(image.get_array())
    n_bins = counts.shape[0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    reference, _, _ = np.histogram2d(X[:, 1], X[:, 0], bins=n_bins, range=[[y0, y1], [x0, x1]])
    np.testing.assert_array_equal(empty, reference == 0)
    np.testing.assert_array_equal(counts[~empty], reference[~empty])
    assert image.norm.vmin == 1 and image.norm.vmax == reference.max()
    assert type(image.norm).__name__ == "LogNorm"
    # The model as lines over the data, not filled (which would hide the counts).
    (contours,) = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert not contours.filled
    assert max(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets")) <= 2
