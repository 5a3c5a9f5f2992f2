"""Clusters with their sigma ellipses, and the uncertainty of each sample's assignment."""

from __future__ import annotations

from typing import NamedTuple

import matplotlib
import matplotlib.colors
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse

from ._common import (
    BINS_PER_AXIS,
    TEST_MARKER,
    TRAIN_MARKER,
    _all_points,
    _binned_handle,
    _bins,
    _checked_data,
    _checked_pair,
    _colorbar_below,
    _default_title,
    _draw_binned_labels,
    _draw_binned_mean,
    _draw_means,
    _feature_view,
    _finish,
    _is_binned,
    _legend_outside,
    _means_handle,
    _new_axes,
    _set_data_limits,
    _split_handles,
    _uncertainty,
    component_colors,
)

SIGMA_LINESTYLES = ("-", "--", ":", "-.")


UNCERTAINTY_LABEL = "uncertainty (1 - max responsibility)"


def _sigma_ellipse(mean, covariance, sigma, color, linestyle, gid):
    """The ellipse ``(x - mean)' covariance^-1 (x - mean) = sigma**2``."""
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    major = eigenvectors[:, 1]
    return Ellipse(
        xy=mean,
        width=2.0 * sigma * np.sqrt(eigenvalues[1]),
        height=2.0 * sigma * np.sqrt(eigenvalues[0]),
        angle=np.degrees(np.arctan2(major[1], major[0])),
        facecolor="none",
        edgecolor=color,
        linestyle=linestyle,
        linewidth=1.5,
        zorder=3,
        gid=gid,
        label="_" + gid,
    )


class _Labels(NamedTuple):
    """What colours the rows of a clusters panel.

    ``index`` holds, for every training row then every test row, an index into
    ``colors`` and ``names``; a last grey entry stands for rows without a label
    (test rows when the training rows' labels were given).
    """

    index: np.ndarray
    colors: np.ndarray
    names: list


def _cluster_labels(model, data, labels):
    weights = np.asarray(model.weights_, dtype=np.float64)
    n_test = 0 if data.test_values is None else len(data.test_values)
    if labels is None:
        index = np.asarray(model.predict(data.original))
        if n_test:
            index = np.concatenate([index, np.asarray(model.predict(data.test_original))])
        names = [f"component {k} (weight {weights[k]:.2f})" for k in range(len(weights))]
        return _Labels(index, component_colors(len(weights)), names)
    labels = np.asarray(labels)
    if labels.shape != (len(data.values),):
        raise ValueError(
            f"labels must hold one label per sample ({len(data.values)}), got shape {labels.shape}."
        )
    values, index = np.unique(labels, return_inverse=True)
    colors = component_colors(len(values))
    names = [f"label {value}" for value in values]
    if n_test:
        index = np.concatenate([index, np.full(n_test, len(values))])
        colors = np.vstack([colors, matplotlib.colors.to_rgba("gray")])
        names.append("test rows (no label given)")
    return _Labels(index, colors, names)


def _draw_clusters(ax, view, means_colors, labels, sigmas, n_bins):
    """Rows by label, sigma ellipses, means; returns the legend's handles."""
    low, high = _set_data_limits(ax, view)
    n_train = len(view.points)
    if _is_binned(view):
        _draw_binned_labels(
            ax, _bins(_all_points(view), low, high, n_bins), labels.index, labels.colors
        )
    else:
        for i, color in enumerate(labels.colors):
            train = labels.index[:n_train] == i
            ax.scatter(
                view.points[train, 0],
                view.points[train, 1],
                s=14,
                color=color,
                alpha=0.75,
                linewidths=0,
                marker=TRAIN_MARKER,
                label=labels.names[i],
                gid=f"{labels.names[i].split(' (')[0]} training rows",
            )
            if view.test_points is not None:
                test = labels.index[n_train:] == i
                ax.scatter(
                    view.test_points[test, 0],
                    view.test_points[test, 1],
                    s=26,
                    facecolors="none",
                    edgecolors=[color],
                    linewidths=1.0,
                    marker=TEST_MARKER,
                    label="_" + labels.names[i],
                    gid=f"{labels.names[i].split(' (')[0]} test rows",
                )
    for k in range(len(view.means)):
        for level, sigma in enumerate(sigmas):
            ax.add_patch(
                _sigma_ellipse(
                    view.means[k],
                    view.covariances[k],
                    sigma,
                    means_colors[k],
                    SIGMA_LINESTYLES[level % len(SIGMA_LINESTYLES)],
                    gid=f"component {k} {sigma:g}-sigma ellipse",
                )
            )
    _draw_means(ax, view, means_colors)
    # Ellipses reach past the data; the axes keep the data's limits and clip them.
    _set_data_limits(ax, view)
    present = np.bincount(labels.index, minlength=len(labels.colors)) > 0
    label_handles = [
        Line2D(
            [],
            [],
            linestyle="none",
            marker=TRAIN_MARKER,
            markersize=6,
            color=color,
            markeredgewidth=0,
            label=name,
        )
        for color, name, shown in zip(labels.colors, labels.names, present)
        if shown
    ]
    sigma_handles = [
        Line2D(
            [],
            [],
            color="dimgray",
            linestyle=SIGMA_LINESTYLES[level % len(SIGMA_LINESTYLES)],
            label=f"{sigma:g}\N{GREEK SMALL LETTER SIGMA} ellipse",
        )
        for level, sigma in enumerate(sigmas)
    ]
    rows = (
        [_binned_handle(view, "colour: most frequent label, opacity: log count")]
        if _is_binned(view)
        else _split_handles(view)
    )
    return [*label_handles, _means_handle(), *sigma_handles, *rows]


def _uncertainty_norm(n_components):
    # 1 - max responsibility cannot exceed 1 - 1/K: the scale's top is the most
    # uncertain a sample can be.
    top = 1.0 - 1.0 / n_components if n_components > 1 else 1.0
    return matplotlib.colors.Normalize(vmin=0.0, vmax=top)


def _draw_uncertainty(ax, view, uncertainty, n_components, n_bins):
    """Rows coloured and sized by uncertainty (training then test rows in ``uncertainty``).

    Returns the colour bar's mappable and the legend's handles.
    """
    norm = _uncertainty_norm(n_components)
    low, high = _set_data_limits(ax, view)
    n_train = len(view.points)
    if _is_binned(view):
        bins = _bins(_all_points(view), low, high, n_bins)
        mappable = _draw_binned_mean(ax, bins, uncertainty, "plasma", norm)
        rows = [_binned_handle(view, "colour: mean uncertainty in the bin")]
    else:
        if view.test_points is None:
            splits = [(view.points, uncertainty, TRAIN_MARKER, "samples")]
        else:
            splits = [
                (view.points, uncertainty[:n_train], TRAIN_MARKER, "training rows"),
                (view.test_points, uncertainty[n_train:], TEST_MARKER, "test rows"),
            ]
        rows = []
        for points, values, marker, name in splits:
            scatter = ax.scatter(
                points[:, 0],
                points[:, 1],
                c=values,
                s=8.0 + 80.0 * np.clip(norm(values), 0.0, 1.0),
                cmap="plasma",
                norm=norm,
                marker=marker,
                edgecolors="black",
                linewidths=0.3 if marker == TRAIN_MARKER else 0.8,
                zorder=2,
                label=f"{name} ({len(points)}, colour and size: uncertainty)",
                gid=name,
            )
            rows.append(scatter)
        mappable = rows[0]
    _draw_means(ax, view, component_colors(n_components))
    return mappable, [*rows, _means_handle()]


# ------------------------------------------------------------------- public plots
def plot_clusters(
    model,
    X,
    *,
    test_X=None,
    features=(0, 1),
    feature_names=None,
    units=None,
    sigmas=(1, 2, 3),
    labels=None,
    ax=None,
    title=None,
):
    """Scatter the samples by component, with each component's mean and sigma ellipses.

    The ellipses are those of each component's marginal covariance on the two
    features: ``(x - mu)' Sigma^-1 (x - mu) = sigma**2``, semi-axes ``sigma`` times
    the square roots of its eigenvalues along its eigenvectors. The axes span
    the rows (training and test), not the ellipses: a component far wider than
    the data has its ellipses clipped. Above :data:`MAX_SCATTER_ROWS` rows the
    rows are binned: each bin takes the colour of its most frequent component,
    with opacity growing with the log of its count. The legend is to the right
    of the axes.

    Parameters
    ----------
    model : fitted mixture
        ``gaussmix.GaussianMixture`` or any object with ``weights_``, ``means_``,
        ``covariances_`` and ``predict``.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Data on the model's scale (DataFrame columns name the axes): the
        training rows when ``test_X`` is given, drawn as filled circles.
    test_X : array-like of shape (n_test, n_features), default=None
        Held-out rows, drawn as open triangles in their component's colour.
    features : pair of int or str, default=(0, 1)
        The features on the x and y axes (indices or names).
    feature_names : sequence of str, default=None
        One name per feature; default the DataFrame's columns, the model's
        ``feature_names_in_``, or ``"feature i"``.
    units : mapping or sequence, default=None
        Units shown beside the names, e.g. ``{"waiting": "min"}``.
    sigmas : sequence of float, default=(1, 2, 3)
        Mahalanobis radii of the ellipses.
    labels : array-like of shape (n_samples,), default=None
        Colour the rows of ``X`` by these labels (e.g. true classes) instead of
        the predicted components; test rows are then grey.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.
    title : str, default=None
        Default: describes the model.

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.datasets import FAITHFUL_UNITS, load_faithful
    >>> from gaussmix.plot import plot_clusters
    >>> X, names = load_faithful()
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> ax = plot_clusters(gm, X, feature_names=names, units=FAITHFUL_UNITS)
    >>> ax.get_xlabel()
    'eruptions (min)'
    """
    data = _checked_data(model, X, feature_names, units, "plot_clusters", test_X)
    view = _feature_view(model, data, _checked_pair(features, data.names))
    point_labels = _cluster_labels(model, data, labels)
    ax = _new_axes(ax)
    colors = component_colors(len(model.weights_))
    handles = _draw_clusters(ax, view, colors, point_labels, sigmas, BINS_PER_AXIS)
    _legend_outside(ax, handles)
    default = _default_title("Clusters", model)
    return _finish(ax, view, default if title is None else title)


def plot_uncertainty(
    model,
    X,
    *,
    test_X=None,
    features=(0, 1),
    feature_names=None,
    units=None,
    colorbar=True,
    ax=None,
    title=None,
):
    """Each sample's classification uncertainty, ``1 - max responsibility``.

    Shown as the colour and the size of the sample's marker; 0 for a sample
    certainly in one component, at most ``1 - 1/K``. Above
    :data:`MAX_SCATTER_ROWS` rows, the mean uncertainty of the rows in each bin.

    Parameters
    ----------
    model : fitted mixture
        Needs ``predict_proba``.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Training rows when ``test_X`` is given (circles).
    test_X : array-like of shape (n_test, n_features), default=None
        Held-out rows, drawn as triangles.
    features : pair of int or str, default=(0, 1)
    feature_names : sequence of str, default=None
    units : mapping or sequence, default=None
    colorbar : bool, default=True
        A colour bar under the axes, as wide as them.
    ax : matplotlib.axes.Axes, default=None
    title : str, default=None

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.datasets import load_faithful
    >>> from gaussmix.plot import plot_uncertainty
    >>> X, names = load_faithful()
    >>> ax = plot_uncertainty(GaussianMixture(2, random_state=0).fit(X), X)
    >>> ax.get_title()
    'Classification uncertainty (1 - max responsibility)'
    """
    data = _checked_data(model, X, feature_names, units, "plot_uncertainty", test_X)
    view = _feature_view(model, data, _checked_pair(features, data.names))
    ax = _new_axes(ax)
    mappable, handles = _draw_uncertainty(
        ax, view, _uncertainty(model, data), len(model.weights_), BINS_PER_AXIS
    )
    _legend_outside(ax, handles)
    if colorbar:
        _colorbar_below(ax, mappable, UNCERTAINTY_LABEL)
    default = "Classification uncertainty (1 - max responsibility)"
    return _finish(ax, view, default if title is None else title)
