"""Densities (``gaussmix.plot.density``): contours are the exact marginal log-density, computed
here with ``scipy.stats.multivariate_normal`` on the sub-block.
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
    assert [other.get_ylabel() for other in colorbar_axes] == ["log density"]
    assert legend_texts(ax) == [f"data ({len(X)} samples)", "component means"]
