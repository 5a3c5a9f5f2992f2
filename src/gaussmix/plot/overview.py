"""Figures for any number of features: principal-component projection, pair grids, one-feature
histograms, and :func:`plot_overview`, which picks among them."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ._common import (
    _axis_label,
    _check_kind,
    _checked_data,
    _feature_index,
    _feature_view,
    _finish,
    _n_components_text,
    _new_axes,
    _point_labels,
    _projection_view,
    _uncertainty,
    component_colors,
    component_covariances,
)
from .clusters import (
    UNCERTAINTY_LABEL,
    _draw_clusters,
    _draw_uncertainty,
    plot_clusters,
    plot_uncertainty,
)
from .density import (
    _density_grid,
    _density_levels,
    _draw_density,
    _draw_marginal_histogram,
    plot_density,
)


def plot_projection(
    model,
    X,
    *,
    kind="clusters",
    sigmas=(1, 2, 3),
    labels=None,
    grid_size=200,
    ax=None,
    title=None,
):
    """The data and the mixture on the data's first two principal components.

    The projection ``A`` (the two leading right singular vectors of the centred
    data) maps each component exactly: means ``A (mu_k - mean)``, covariances
    ``A Sigma_k A'``; clusters and uncertainty come from the model on all features.

    Parameters
    ----------
    model : fitted mixture
    X : array-like or DataFrame of shape (n_samples, n_features)
    kind : {"clusters", "density", "uncertainty"}, default="clusters"
    sigmas : sequence of float, default=(1, 2, 3)
        Ellipse radii for ``kind="clusters"``.
    labels : array-like of shape (n_samples,), default=None
        For ``kind="clusters"``: colour by these labels instead.
    grid_size : int, default=200
        For ``kind="density"``.
    ax : matplotlib.axes.Axes, default=None
    title : str, default=None

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.plot import plot_projection
    >>> X = load_iris().data
    >>> ax = plot_projection(GaussianMixture(3, random_state=0).fit(X), X)
    >>> ax.get_xlabel()
    'PC1 (92.5% of variance)'
    """
    _check_kind(kind)
    data = _checked_data(model, X, None, None, "plot_projection")
    view = _projection_view(model, data)
    weights = np.asarray(model.weights_, dtype=np.float64)
    ax = _new_axes(ax)
    if kind == "clusters":
        point_labels, from_model = _point_labels(model, data, labels)
        _draw_clusters(ax, view, weights, point_labels, from_model, sigmas)
        what = "Clusters"
    elif kind == "density":
        _draw_density(ax, view, weights, grid_size, None, True)
        what = "Log-density (projected)"
    else:
        _draw_uncertainty(ax, view, _uncertainty(model, data), len(weights), True)
        what = "Uncertainty (1 - max responsibility)"
    default = f"{what} on the first two principal components\n{_n_components_text(model)}"
    return _finish(ax, view, default if title is None else title)


def plot_pairs(
    model,
    X,
    *,
    kind="clusters",
    features=None,
    feature_names=None,
    units=None,
    max_features=5,
    sigmas=(1, 2, 3),
    labels=None,
    grid_size=100,
    title=None,
):
    """A grid of two-feature panels for data with more than two features.

    The lower triangle holds one panel per pair of features (``kind`` chooses
    :func:`plot_clusters`, :func:`plot_density` or :func:`plot_uncertainty`'s
    drawing); the diagonal, each feature's histogram with the mixture's exact
    1-D marginal density and its components' weighted densities.

    Parameters
    ----------
    model : fitted mixture
    X : array-like or DataFrame of shape (n_samples, n_features)
    kind : {"clusters", "density", "uncertainty"}, default="clusters"
    features : sequence of int or str, default=None
        The features to show; default the first ``max_features``.
    feature_names : sequence of str, default=None
    units : mapping or sequence, default=None
    max_features : int, default=5
        At most this many features, to keep the panels legible.
    sigmas : sequence of float, default=(1, 2, 3)
    labels : array-like of shape (n_samples,), default=None
    grid_size : int, default=100
        Grid points per axis of the density panels.
    title : str, default=None
        Default: the kind, the model and which features are shown.

    Returns
    -------
    figure : matplotlib.figure.Figure
        ``n (n + 1) / 2`` panels for ``n`` features shown (plus a colorbar for
        "density" and "uncertainty"); the upper triangle is left empty.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.plot import plot_pairs
    >>> iris = load_iris()
    >>> gm = GaussianMixture(3, random_state=0).fit(iris.data)
    >>> figure = plot_pairs(gm, iris.data, feature_names=iris.feature_names)
    >>> len(figure.axes)
    10
    """
    _check_kind(kind)
    data = _checked_data(model, X, feature_names, units, "plot_pairs")
    n_total = data.values.shape[1]
    if features is None:
        if not isinstance(max_features, (int, np.integer)) or max_features < 1:
            raise ValueError(f"max_features must be a positive integer, got {max_features!r}.")
        shown = list(range(min(n_total, max_features)))
    else:
        shown = [_feature_index(feature, data.names) for feature in features]
        if len(set(shown)) != len(shown) or not shown:
            raise ValueError(f"features must be distinct columns of X; got {features!r}.")
    n_shown = len(shown)
    weights = np.asarray(model.weights_, dtype=np.float64)
    covariances = component_covariances(model)
    means = np.asarray(model.means_, dtype=np.float64)

    point_labels = from_model = uncertainty = levels = None
    if kind == "clusters":
        point_labels, from_model = _point_labels(model, data, labels)
    elif kind == "uncertainty":
        uncertainty = _uncertainty(model, data)
    else:
        # One colour scale for every panel: levels from the highest peak of all pairs.
        tops, bottoms = [], []
        for row in range(n_shown):
            for column in range(row):
                view = _feature_view(model, data, (shown[column], shown[row]))
                log_density = _density_grid(view, grid_size, weights)[2]
                tops.append(log_density.max())
                bottoms.append(log_density.min())
        if tops:
            levels = _density_levels(max(tops), min(bottoms))

    size = max(2.4 * n_shown, 4.0)
    figure, axes = plt.subplots(
        n_shown, n_shown, figsize=(size + 1.5, size), squeeze=False, layout="constrained"
    )
    mappable = None
    legend_handles = {}
    for row in range(n_shown):
        for column in range(n_shown):
            ax = axes[row, column]
            if column > row:
                figure.delaxes(ax)
                continue
            if column == row:
                _draw_marginal_histogram(
                    ax,
                    data.values[:, shown[row]],
                    weights,
                    means[:, shown[row]],
                    covariances[:, shown[row], shown[row]],
                )
            else:
                view = _feature_view(model, data, (shown[column], shown[row]))
                if kind == "clusters":
                    _draw_clusters(ax, view, weights, point_labels, from_model, sigmas)
                elif kind == "density":
                    mappable = _draw_density(ax, view, weights, grid_size, levels, False)
                else:
                    mappable = _draw_uncertainty(ax, view, uncertainty, len(weights), False)
            for handle in ax.get_legend().legend_handles:
                legend_handles.setdefault(handle.get_label(), handle)
            ax.get_legend().remove()
            name = data.names[shown[row]]
            if row == n_shown - 1:
                ax.set_xlabel(_axis_label(data.names[shown[column]], data.units[shown[column]]))
            if column == 0:
                ax.set_ylabel("density" if row == 0 else _axis_label(name, data.units[shown[row]]))
            if row == column:
                ax.set_title(name, fontsize="medium")
    if mappable is not None:
        label = "log density" if kind == "density" else UNCERTAINTY_LABEL
        figure.colorbar(mappable, ax=axes.ravel().tolist(), label=label, shrink=0.6)
    figure.legend(
        handles=list(legend_handles.values()), loc="outside right upper", fontsize="small"
    )
    if title is None:
        shown_names = ", ".join(data.names[i] for i in shown)
        of_total = f" ({n_shown} of {n_total})" if n_shown < n_total else ""
        title = (
            f"{kind.capitalize()} of a {_n_components_text(model)}\n"
            f"features shown{of_total}: {shown_names}"
        )
    figure.suptitle(title)
    return figure


# ---------------------------------------------------------------------- one feature
def plot_univariate(
    model, X, *, kind="clusters", feature_names=None, units=None, ax=None, title=None
):
    """The figures of a one-feature mixture: histogram and densities, or uncertainty.

    ``kind="clusters"``: the histogram of each component's samples (stacked, in
    the component's colour) under the weighted component densities;
    ``kind="density"``: the histogram of all samples and the mixture density;
    ``kind="uncertainty"``: each sample's uncertainty (1 - max responsibility)
    against its value, with the mixture density for reference.

    Parameters
    ----------
    model : fitted mixture on one feature
    X : array-like of shape (n_samples, 1)
    kind : {"clusters", "density", "uncertainty"}, default="clusters"
    feature_names, units : as in :func:`plot_clusters`
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
    >>> from gaussmix.plot import plot_univariate
    >>> X, names = load_faithful()
    >>> gm = GaussianMixture(2, random_state=0).fit(X[:, :1])
    >>> plot_univariate(gm, X[:, :1], feature_names=names[:1]).get_ylabel()
    'density'
    """
    _check_kind(kind)
    data = _checked_data(model, X, feature_names, units, "plot_univariate")
    if data.values.shape[1] != 1:
        raise ValueError(
            f"plot_univariate draws one feature, X has {data.values.shape[1]}: use "
            "plot_clusters, plot_pairs or plot_projection."
        )
    values = data.values[:, 0]
    weights = np.asarray(model.weights_, dtype=np.float64)
    n_components = len(weights)
    means = np.asarray(model.means_, dtype=np.float64)[:, 0]
    variances = component_covariances(model)[:, 0, 0]
    colors = component_colors(n_components)
    ax = _new_axes(ax)
    low, high = values.min(), values.max()
    pad = 0.08 * (high - low if high > low else 1.0)
    grid = np.linspace(low - pad, high + pad, 400)
    stds = np.sqrt(variances)
    component_density = (
        weights[:, None]
        * np.exp(-0.5 * ((grid[None, :] - means[:, None]) / stds[:, None]) ** 2)
        / (stds[:, None] * np.sqrt(2.0 * np.pi))
    )
    if kind == "clusters":
        labels = np.asarray(model.predict(data.original))
        groups = [values[labels == k] for k in range(n_components)]
        ax.hist(
            groups,
            bins=np.histogram_bin_edges(values, bins="auto"),
            stacked=True,
            density=True,
            color=colors,
            alpha=0.6,
            label=[f"component {k} (weight {weights[k]:.2f})" for k in range(n_components)],
        )
        for k in range(n_components):
            ax.plot(grid, component_density[k], color=colors[k], linewidth=1.5)
        ax.set_ylabel("density")
        what = "Clusters"
    elif kind == "density":
        ax.hist(
            values,
            bins="auto",
            density=True,
            color="lightgray",
            edgecolor="gray",
            label=f"data ({values.size} samples)",
        )
        ax.plot(
            grid,
            component_density.sum(axis=0),
            color="black",
            linewidth=1.8,
            label="mixture density",
        )
        ax.set_ylabel("density")
        what = "Density"
    else:
        uncertainty = 1.0 - np.asarray(model.predict_proba(data.original)).max(axis=1)
        ax.scatter(values, uncertainty, s=12, c="tab:purple", label="samples")
        ax.set_ylabel(UNCERTAINTY_LABEL)
        twin = ax.twinx()
        twin.plot(grid, component_density.sum(axis=0), color="black", linewidth=1.0, alpha=0.5)
        twin.set_ylabel("mixture density")
        ax.plot([], [], color="black", alpha=0.5, label="mixture density (right axis)")
        what = "Uncertainty"
    ax.set_xlabel(_axis_label(data.names[0], data.units[0]))
    ax.legend(fontsize="small")
    ax.set_title(f"{what} of a {_n_components_text(model)}" if title is None else title)
    return ax


# ----------------------------------------------------------------------- overview
# Single panels are FIGURE_INCHES at the caller's dpi; pair grids PAIR_PANEL_INCHES
# per feature, square.
FIGURE_INCHES = (8.0, 6.0)


PAIR_PANEL_INCHES = 3.0


MAX_PAIR_FEATURES = 5


def plot_overview(model, X, *, kind="clusters", feature_names=None, units=None, title=None):
    """One figure of ``kind`` for data of any number of features.

    One feature: :func:`plot_univariate`; two: :func:`plot_clusters`,
    :func:`plot_density` or :func:`plot_uncertainty`; three to
    :data:`MAX_PAIR_FEATURES`: :func:`plot_pairs` of all of them; more:
    :func:`plot_projection` on the first two principal components of ``X``.

    Parameters
    ----------
    model : fitted mixture
    X : array-like or DataFrame of shape (n_samples, n_features)
    kind : {"clusters", "density", "uncertainty"}, default="clusters"
    feature_names, units : as in :func:`plot_clusters` (not used for projections)
    title : str, default=None

    Returns
    -------
    figure : matplotlib.figure.Figure
        :data:`FIGURE_INCHES`, or :data:`PAIR_PANEL_INCHES` per feature for a grid.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.plot import plot_overview
    >>> X = load_iris().data
    >>> figure = plot_overview(GaussianMixture(3, random_state=0).fit(X), X)
    >>> len(figure.axes) > 1
    True
    """
    _check_kind(kind)
    n_features = np.shape(X)[1]
    if 3 <= n_features <= MAX_PAIR_FEATURES:
        figure = plot_pairs(
            model,
            X,
            kind=kind,
            feature_names=feature_names,
            units=units,
            max_features=n_features,
            title=title,
        )
        side = PAIR_PANEL_INCHES * n_features
        figure.set_size_inches(side, side)
        return figure
    figure, ax = plt.subplots(figsize=FIGURE_INCHES)
    if n_features == 1:
        plot_univariate(
            model, X, kind=kind, feature_names=feature_names, units=units, ax=ax, title=title
        )
    elif n_features == 2:
        function = {
            "clusters": plot_clusters,
            "density": plot_density,
            "uncertainty": plot_uncertainty,
        }[kind]
        function(model, X, feature_names=feature_names, units=units, ax=ax, title=title)
    else:
        plot_projection(model, X, kind=kind, ax=ax, title=title)
    return figure
