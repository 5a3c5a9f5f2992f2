"""Clusters and uncertainty (``gaussmix.plot.clusters``): ellipses are the marginal covariances'
level sets, labels and legends are the model's, uncertainty is 1 - max responsibility.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gaussmix.datasets import FAITHFUL_UNITS
from gaussmix.plot import (
    component_colors,
    plot_clusters,
    plot_uncertainty,
)
from plot_helpers import (
    STORAGE_TYPES,
    assert_ellipses_match,
    ellipses,
    fitted,
    full_covariances,
    legend_texts,
)


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
    assert legend_texts(ax) == [
        "samples (colour and size: uncertainty)",
        "component means",
    ]
