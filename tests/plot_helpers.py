"""Shared by the figure tests (``tests/plot/``): covariances expanded by their definitions, what
a figure drew (legend texts, ellipses and their level sets), a model-selection table.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.patches import Ellipse

from gaussmix import GaussianMixture
from gaussmix.covariance import COVARIANCE_MODELS

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


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def ellipses(ax):
    return [patch for patch in ax.patches if isinstance(patch, Ellipse)]


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


# -------------------------------------------------------------------- criterion
RESULTS = {
    "n_components": [1, 2, 3, 4, 1, 2, 3, 4],
    "covariance_type": ["full"] * 4 + ["diag"] * 4,
    "bic": [120.0, 95.0, 99.0, 104.0, 130.0, 101.0, 98.0, np.nan],
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


# ---------------------------------------------------------------------- geometry
# Everything below measures a drawn figure with matplotlib's own renderer: window
# extents in display pixels, as the saved image has them.
PIXEL_SLACK = 1.0


def drawn(figure):
    """Draw ``figure`` (so that layout engines run) and return its renderer."""
    figure.canvas.draw()
    return figure.canvas.get_renderer()


def overlap_area(a, b):
    """Area in square pixels shared by two display bounding boxes."""
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(width, 0.0) * max(height, 0.0)


def titles(figure):
    """Every non-empty title of ``figure``: its suptitle and each axes' three titles."""
    texts = [figure._suptitle] if figure._suptitle is not None else []
    for ax in figure.axes:
        texts += [ax.title, ax._left_title, ax._right_title]
    return [text for text in texts if text.get_visible() and text.get_text()]


def legends(figure):
    return [*figure.legends, *(ax.get_legend() for ax in figure.axes if ax.get_legend())]


def panels(figure):
    """The axes that hold data (every axes but colour bars)."""
    return [ax for ax in figure.axes if not hasattr(ax, "_colorbar")]


def colorbar_axes(figure):
    return [ax for ax in figure.axes if hasattr(ax, "_colorbar")]


def assert_layout(figure):
    """Draw ``figure`` once and check its legends, texts and axis labels."""
    renderer = drawn(figure)
    assert_legends_clear(figure, renderer)
    assert_texts_inside(figure, renderer)
    assert_every_axis_labelled(figure)


def assert_legends_clear(figure, renderer):
    """No legend over a title, over any panel's data area, or past the figure's edge."""
    page = figure.bbox
    for legend in legends(figure):
        box = legend.get_window_extent(renderer)
        assert page.x0 - PIXEL_SLACK <= box.x0 and box.x1 <= page.x1 + PIXEL_SLACK, box
        assert page.y0 - PIXEL_SLACK <= box.y0 and box.y1 <= page.y1 + PIXEL_SLACK, box
        for title in titles(figure):
            assert overlap_area(box, title.get_window_extent(renderer)) == 0, title.get_text()
        for ax in figure.axes:
            assert overlap_area(box, ax.get_window_extent(renderer)) == 0, ax


def assert_texts_inside(figure, renderer):
    """Titles and axis labels are drawn whole, inside the figure."""
    page = figure.bbox
    texts = titles(figure)
    for ax in figure.axes:
        texts += [axis.label for axis in (ax.xaxis, ax.yaxis) if axis.label.get_text()]
    for text in texts:
        box = text.get_window_extent(renderer)
        assert page.x0 - PIXEL_SLACK <= box.x0 and box.x1 <= page.x1 + PIXEL_SLACK, text
        assert page.y0 - PIXEL_SLACK <= box.y0 and box.y1 <= page.y1 + PIXEL_SLACK, text


def assert_every_axis_labelled(figure):
    """Every axis that shows numbers has a label, and every panel a title above it.

    An axis whose tick labels are hidden (an inner panel of a grid, sharing the
    labelled axis of its row or column) shows no numbers and needs none. Call
    on a drawn figure.
    """
    for ax in figure.axes:
        if not ax.axison:
            continue
        for axis in (ax.xaxis, ax.yaxis):
            numbers = [label for label in axis.get_ticklabels() if label.get_text()]
            if numbers and axis.get_visible():
                assert axis.label.get_text(), f"unlabelled {axis.axis_name} axis on {ax}"
    assert figure.get_suptitle() or all(ax.get_title() for ax in panels(figure))
