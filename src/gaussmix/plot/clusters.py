"""Clusters with their sigma ellipses, and the uncertainty of each sample's assignment."""

from __future__ import annotations

import matplotlib
import matplotlib.colors
import matplotlib.ticker
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse

from ._common import (
    _checked_data,
    _checked_pair,
    _draw_means,
    _feature_view,
    _finish,
    _means_handle,
    _n_components_text,
    _new_axes,
    _point_labels,
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


def _draw_clusters(ax, view, weights, point_labels, from_model, sigmas):
    n_components = len(weights)
    colors = component_colors(n_components)
    point_handles = []
    if from_model:
        for k in range(n_components):
            members = point_labels == k
            point_handles.append(
                ax.scatter(
                    view.points[members, 0],
                    view.points[members, 1],
                    s=14,
                    color=colors[k],
                    alpha=0.75,
                    linewidths=0,
                    label=f"component {k} (weight {weights[k]:.2f})",
                )
            )
    else:
        values = np.unique(point_labels)
        label_colors = component_colors(len(values))
        for value, color in zip(values, label_colors):
            members = point_labels == value
            point_handles.append(
                ax.scatter(
                    view.points[members, 0],
                    view.points[members, 1],
                    s=14,
                    color=color,
                    alpha=0.75,
                    linewidths=0,
                    label=f"label {value}",
                )
            )
    for k in range(n_components):
        for level, sigma in enumerate(sigmas):
            ax.add_patch(
                _sigma_ellipse(
                    view.means[k],
                    view.covariances[k],
                    sigma,
                    colors[k],
                    SIGMA_LINESTYLES[level % len(SIGMA_LINESTYLES)],
                    gid=f"component {k} {sigma:g}-sigma ellipse",
                )
            )
    _draw_means(ax, view, colors)
    ax.autoscale_view()
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
    ax.legend(handles=[*point_handles, _means_handle(), *sigma_handles], fontsize="small")


def _uncertainty_norm(n_components):
    # 1 - max responsibility cannot exceed 1 - 1/K: the scale's top is the most
    # uncertain a sample can be.
    top = 1.0 - 1.0 / n_components if n_components > 1 else 1.0
    return matplotlib.colors.Normalize(vmin=0.0, vmax=top)


def _draw_uncertainty(ax, view, uncertainty, n_components, colorbar):
    norm = _uncertainty_norm(n_components)
    sizes = 8.0 + 80.0 * np.clip(norm(uncertainty), 0.0, 1.0)
    points = ax.scatter(
        view.points[:, 0],
        view.points[:, 1],
        c=uncertainty,
        s=sizes,
        cmap="plasma",
        norm=norm,
        edgecolors="black",
        linewidths=0.3,
        zorder=2,
        label="samples (colour and size: uncertainty)",
    )
    if colorbar:
        ax.figure.colorbar(points, ax=ax, label=UNCERTAINTY_LABEL)
    _draw_means(ax, view, component_colors(n_components))
    ax.legend(handles=[points, _means_handle()], fontsize="small")
    return points


# ------------------------------------------------------------------- public plots
def plot_clusters(
    model,
    X,
    *,
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
    the square roots of its eigenvalues along its eigenvectors.

    Parameters
    ----------
    model : fitted mixture
        ``gaussmix.GaussianMixture`` or any object with ``weights_``, ``means_``,
        ``covariances_`` and ``predict``.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Data on the model's scale (DataFrame columns name the axes).
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
        Colour the samples by these labels (e.g. true classes) instead of the
        predicted components.
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
    data = _checked_data(model, X, feature_names, units, "plot_clusters")
    view = _feature_view(model, data, _checked_pair(features, data.names))
    point_labels, from_model = _point_labels(model, data, labels)
    ax = _new_axes(ax)
    _draw_clusters(ax, view, np.asarray(model.weights_), point_labels, from_model, sigmas)
    default = f"Clusters of a {_n_components_text(model)}"
    return _finish(ax, view, default if title is None else title)


def plot_uncertainty(
    model,
    X,
    *,
    features=(0, 1),
    feature_names=None,
    units=None,
    colorbar=True,
    ax=None,
    title=None,
):
    """Each sample's classification uncertainty, ``1 - max responsibility``.

    Shown as the colour and the size of the sample's marker; 0 for a sample
    certainly in one component, at most ``1 - 1/K``.

    Parameters
    ----------
    model : fitted mixture
        Needs ``predict_proba``.
    X : array-like or DataFrame of shape (n_samples, n_features)
    features : pair of int or str, default=(0, 1)
    feature_names : sequence of str, default=None
    units : mapping or sequence, default=None
    colorbar : bool, default=True
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
    data = _checked_data(model, X, feature_names, units, "plot_uncertainty")
    view = _feature_view(model, data, _checked_pair(features, data.names))
    ax = _new_axes(ax)
    _draw_uncertainty(ax, view, _uncertainty(model, data), len(model.weights_), colorbar)
    default = "Classification uncertainty (1 - max responsibility)"
    return _finish(ax, view, default if title is None else title)
