"""Clusters and uncertainty (``gaussmix.plot.clusters``): ellipses are the marginal covariances'
level sets, labels and legends are the model's, uncertainty is 1 - max responsibility; the axes
span the data, test rows are told apart, many rows are binned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import AxesImage
from matplotlib.markers import MarkerStyle

from gaussmix import GaussianMixture
from gaussmix.datasets import FAITHFUL_UNITS
from gaussmix.plot import (
    MAX_SCATTER_ROWS,
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
    # The colour bar lies under the axes: its label is on its x axis.
    colorbar_labels = [other.get_xlabel() for other in ax.figure.axes if other is not ax]
    assert colorbar_labels == ["uncertainty (1 - max responsibility)"]
    assert legend_texts(ax) == [
        f"samples ({len(blobs3d)}, colour and size: uncertainty)",
        "component means",
    ]


# ----------------------------------------------------------------- axis limits
def test_axes_span_the_data_and_clip_a_huge_component(faithful):
    X, _, gm = faithful
    # A third component, 1% of the weight, 50 times wider than the data.
    wide = GaussianMixture(3, covariance_type="full")
    wide.weights_ = np.r_[gm.weights_ * 0.99, 0.01]
    wide.means_ = np.vstack([gm.means_, X.mean(axis=0)])
    wide.covariances_ = np.concatenate([gm.covariances_, [np.diag(2500.0 * X.var(axis=0))]])
    wide.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(wide.covariances_))
    wide.n_features_in_ = 2
    ax = plot_clusters(wide, X)
    low, high = X.min(axis=0), X.max(axis=0)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    # Every row inside, and the axes no wider than the data plus a tenth of its range.
    assert x0 <= low[0] and x1 >= high[0] and y0 <= low[1] and y1 >= high[1]
    assert x1 - x0 <= 1.1 * (high[0] - low[0]) + 1e-9
    assert y1 - y0 <= 1.1 * (high[1] - low[1]) + 1e-9
    (huge,) = [p for p in ellipses(ax) if p.get_gid() == "component 2 1-sigma ellipse"]
    assert huge.width > 10 * (x1 - x0)  # drawn, and clipped by the axes
    assert huge.get_clip_on()


# ------------------------------------------------------------------- test rows
def test_test_rows_are_open_triangles_in_their_components_colour(faithful):
    X, _, gm = faithful
    train, test = X[:200], X[200:]
    ax = plot_clusters(gm, train, test_X=test)
    by_gid = {c.get_gid(): c for c in ax.collections if c.get_gid()}
    triangle = MarkerStyle("^").get_path().transformed(MarkerStyle("^").get_transform())
    for k, color in enumerate(component_colors(2)):
        members = gm.predict(test) == k
        rows = by_gid[f"component {k} test rows"]
        np.testing.assert_array_equal(rows.get_offsets(), test[members])
        np.testing.assert_allclose(rows.get_paths()[0].vertices, triangle.vertices)
        assert rows.get_facecolor().size == 0 or rows.get_facecolor()[0, 3] == 0
        np.testing.assert_allclose(rows.get_edgecolor()[0, :3], color[:3])
        np.testing.assert_array_equal(
            by_gid[f"component {k} training rows"].get_offsets(), train[gm.predict(train) == k]
        )
    texts = legend_texts(ax)
    assert "training rows (200)" in texts and f"test rows ({len(test)})" in texts


def test_uncertainty_of_test_rows_is_theirs(faithful):
    X, _, gm = faithful
    train, test = X[:200], X[200:]
    ax = plot_uncertainty(gm, train, test_X=test)
    (rows,) = [c for c in ax.collections if c.get_gid() == "test rows"]
    np.testing.assert_array_equal(rows.get_offsets(), test)
    np.testing.assert_allclose(rows.get_array(), 1 - gm.predict_proba(test).max(axis=1))


# ---------------------------------------------------------------- binned rows
def _two_blobs(n_rows, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.choice([-2.0, 2.0], size=(n_rows, 1))
    return centres + rng.normal(size=(n_rows, 2)) * np.where(centres > 0, 0.6, 1.0)


def _reference_histograms(points, ax, n_bins, weights=None):
    """numpy's 2-D histogram on the axes' limits, rows y and columns x as an image has them."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    counts, _, _ = np.histogram2d(
        points[:, 1], points[:, 0], bins=n_bins, range=[[y0, y1], [x0, x1]], weights=weights
    )
    return counts


def test_two_million_rows_are_one_image_coloured_by_the_most_frequent_component():
    X = _two_blobs(2_000_000)
    gm = fitted(X[:2000], 2)
    ax = plot_clusters(gm, X[:1_500_000], test_X=X[1_500_000:])
    # No marker per row: every collection left is small (the means).
    assert max(len(c.get_offsets()) for c in ax.collections) <= 2
    (image,) = [i for i in ax.get_images() if i.get_gid() == "binned rows"]
    assert isinstance(image, AxesImage)
    rgba = np.asarray(image.get_array())
    n_bins = rgba.shape[0]
    labels = gm.predict(X)
    per_component = np.stack(
        [_reference_histograms(X[labels == k], ax, n_bins) for k in range(2)], axis=-1
    )
    total = per_component.sum(axis=-1)
    np.testing.assert_array_equal(rgba[..., 3] > 0, total > 0)
    occupied = total > 0
    expected = component_colors(2)[per_component.argmax(axis=-1)]
    # Ties between two components may go either way; elsewhere the colour is the majority's.
    clear = occupied & (per_component.max(axis=-1) > per_component.min(axis=-1))
    np.testing.assert_allclose(rgba[clear][:, :3], expected[clear][:, :3])
    assert np.all(np.diff(rgba[..., 3][occupied][np.argsort(total[occupied])]) >= -1e-12)
    texts = legend_texts(ax)
    assert any(
        "1,500,000 training + 500,000 test rows, binned" in text.replace("\n", " ")
        for text in texts
    )


def test_uncertainty_is_binned_above_the_threshold_only():
    X = _two_blobs(MAX_SCATTER_ROWS + 1, seed=1)
    gm = fitted(X[:2000], 2)
    at_threshold = plot_uncertainty(gm, X[:MAX_SCATTER_ROWS])
    assert not at_threshold.get_images()
    assert max(len(c.get_offsets()) for c in at_threshold.collections) == MAX_SCATTER_ROWS
    above = plot_uncertainty(gm, X)
    (image,) = above.get_images()
    mean = np.ma.getdata(image.get_array())
    empty = np.ma.getmaskarray(image.get_array())
    n_bins = mean.shape[0]
    uncertainty = 1 - gm.predict_proba(X).max(axis=1)
    counts = _reference_histograms(X, above, n_bins)
    sums = _reference_histograms(X, above, n_bins, weights=uncertainty)
    np.testing.assert_array_equal(empty, counts == 0)
    np.testing.assert_allclose(mean[~empty], sums[~empty] / counts[~empty], rtol=1e-9)
    assert max(len(c.get_offsets()) for c in above.collections) <= 2
