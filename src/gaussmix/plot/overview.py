"""Figures for any number of features: principal-component projection, pair grids, one-feature
histograms, and :func:`plot_overview`, which picks among them."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ._common import (
    BINS_PER_AXIS,
    PAIR_BINS_PER_AXIS,
    TEST_MARKER,
    TRAIN_MARKER,
    _axis_label,
    _binned_handle,
    _bins,
    _check_kind,
    _checked_data,
    _colorbar_below,
    _data_limits,
    _default_title,
    _draw_binned_counts,
    _feature_index,
    _feature_view,
    _finish,
    _is_binned,
    _legend_outside,
    _n_components_text,
    _new_axes,
    _projection_view,
    _set_title,
    _uncertainty,
    _View,
    component_colors,
    component_covariances,
    outline_histogram,
)
from .clusters import (
    UNCERTAINTY_LABEL,
    _cluster_labels,
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
    _weighted_normal_densities,
    plot_density,
)


def plot_projection(
    model,
    X,
    *,
    test_X=None,
    kind="clusters",
    sigmas=(1, 2, 3),
    labels=None,
    grid_size=200,
    ax=None,
    title=None,
):
    """The data and the mixture on the data's first two principal components.

    The projection ``A`` (the two leading right singular vectors of the centred
    ``X``) maps each component exactly: means ``A (mu_k - mean)``, covariances
    ``A Sigma_k A'``; clusters and uncertainty come from the model on all features.

    Parameters
    ----------
    model : fitted mixture
    X : array-like or DataFrame of shape (n_samples, n_features)
        The rows that define the principal components (the training rows when
        ``test_X`` is given).
    test_X : array-like of shape (n_test, n_features), default=None
        Held-out rows, projected on the same axes and drawn as triangles.
    kind : {"clusters", "density", "uncertainty"}, default="clusters"
    sigmas : sequence of float, default=(1, 2, 3)
        Ellipse radii for ``kind="clusters"``.
    labels : array-like of shape (n_samples,), default=None
        For ``kind="clusters"``: colour the rows of ``X`` by these labels instead.
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
    data = _checked_data(model, X, None, None, "plot_projection", test_X)
    view = _projection_view(model, data)
    weights = np.asarray(model.weights_, dtype=np.float64)
    ax = _new_axes(ax)
    if kind == "clusters":
        colors = component_colors(len(weights))
        point_labels = _cluster_labels(model, data, labels)
        handles = _draw_clusters(ax, view, colors, point_labels, sigmas, BINS_PER_AXIS)
        _legend_outside(ax, handles)
        what = "Clusters"
    elif kind == "density":
        mappable, handles = _draw_density(ax, view, weights, grid_size, None, BINS_PER_AXIS)
        _legend_outside(ax, handles)
        _colorbar_below(ax, mappable, "log density")
        what = "Log-density"
    else:
        uncertainty = _uncertainty(model, data)
        mappable, handles = _draw_uncertainty(ax, view, uncertainty, len(weights), BINS_PER_AXIS)
        _legend_outside(ax, handles)
        _colorbar_below(ax, mappable, UNCERTAINTY_LABEL)
        what = "Uncertainty"
    default = f"{what} on the first two principal components\nof a {_n_components_text(model)}"
    return _finish(ax, view, default if title is None else title)


def _component_correlations(covariances, i, j):
    """Each component's correlation of features ``i`` and ``j``, from its covariance."""
    return covariances[:, i, j] / np.sqrt(covariances[:, i, i] * covariances[:, j, j])


def _draw_correlations(ax, correlations):
    """One bar per component (top to bottom), its correlation written beside it."""
    colors = component_colors(len(correlations))
    positions = np.arange(len(correlations))
    ax.barh(positions, correlations, height=0.7, color=colors, gid="component correlations")
    ax.axvline(0.0, color="gray", linewidth=0.8)
    for k, value in enumerate(correlations):
        right = value >= 0
        ax.text(
            value + (0.05 if right else -0.05),
            k,
            f"{value:+.2f}",
            ha="left" if right else "right",
            va="center",
            fontsize="x-small",
        )
    # Room beside a bar of +-1 for its value.
    ax.set_xlim(-1.7, 1.7)
    ax.set_ylim(len(correlations) - 0.5, -0.5)
    ax.set_xticks([-1.0, 0.0, 1.0])
    ax.set_yticks([])
    ax.tick_params(labelsize="x-small", length=2, pad=1)
    ax.set_xlabel("correlation in each component", fontsize="x-small", labelpad=1)


def plot_pairs(
    model,
    X,
    *,
    test_X=None,
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
    1-D marginal density and its components' weighted densities; the upper
    triangle, each component's correlation of the two features (from its
    covariance), one bar per component in its colour. Panels of a column share
    the x axis (labelled on the bottom row), panels of a row the y axis
    (labelled in the first column); the diagonal's density axis is labelled,
    without ticks. One legend for the grid sits under it, one colour bar as tall as
    the grid on its right.

    Parameters
    ----------
    model : fitted mixture
    X : array-like or DataFrame of shape (n_samples, n_features)
        Training rows when ``test_X`` is given (circles; filled histograms).
    test_X : array-like of shape (n_test, n_features), default=None
        Held-out rows: triangles, and outlined histograms on the diagonal.
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
        ``n * n`` panels for ``n`` features shown, row by row (plus a colour bar
        for "density" and "uncertainty").

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
    16
    """
    _check_kind(kind)
    data = _checked_data(model, X, feature_names, units, "plot_pairs", test_X)
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
    colors = component_colors(len(weights))

    point_labels = uncertainty = levels = None
    if kind == "clusters":
        point_labels = _cluster_labels(model, data, labels)
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

    side = max(PAIR_PANEL_INCHES * n_shown, 4.0)
    figure, axes = plt.subplots(
        n_shown, n_shown, figsize=(side, side), squeeze=False, layout="constrained"
    )
    mappable = None
    legend_handles = {}
    for row in range(n_shown):
        for column in range(n_shown):
            ax = axes[row, column]
            if column > row:
                _draw_correlations(
                    ax, _component_correlations(covariances, shown[row], shown[column])
                )
                continue
            feature = shown[row]
            if column == row:
                handles = _draw_marginal_histogram(
                    ax,
                    data.values[:, feature],
                    weights,
                    means[:, feature],
                    covariances[:, feature, feature],
                    None if data.test_values is None else data.test_values[:, feature],
                )
                ax.set_title(data.names[feature], fontsize="medium")
                # The density's scale is the panel's own: its numbers would
                # crowd the next panel, its label says what the height is.
                ax.set_yticks([])
                ax.set_ylabel("density", fontsize="small", labelpad=2)
            else:
                view = _feature_view(model, data, (shown[column], feature))
                if kind == "clusters":
                    handles = _draw_clusters(
                        ax, view, colors, point_labels, sigmas, PAIR_BINS_PER_AXIS
                    )
                elif kind == "density":
                    mappable, handles = _draw_density(
                        ax, view, weights, grid_size, levels, PAIR_BINS_PER_AXIS
                    )
                else:
                    mappable, handles = _draw_uncertainty(
                        ax, view, uncertainty, len(weights), PAIR_BINS_PER_AXIS
                    )
                if column == 0:
                    ax.set_ylabel(_axis_label(data.names[feature], data.units[feature]))
                else:
                    ax.tick_params(labelleft=False)
            for handle in handles:
                legend_handles.setdefault(handle.get_label(), handle)
            if row == n_shown - 1:
                ax.set_xlabel(_axis_label(data.names[shown[column]], data.units[shown[column]]))
            else:
                ax.tick_params(labelbottom=False)
    if mappable is not None:
        label = "log density" if kind == "density" else UNCERTAINTY_LABEL
        figure.colorbar(mappable, ax=axes.ravel().tolist(), label=label, aspect=50)
    figure.legend(
        handles=list(legend_handles.values()),
        loc="outside lower center",
        # About one column per panel's width: wider rows would run past the figure.
        ncol=max(1, min(len(legend_handles), n_shown - 1, 4)),
        fontsize="small",
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
    model,
    X,
    *,
    test_X=None,
    kind="clusters",
    feature_names=None,
    units=None,
    ax=None,
    title=None,
):
    """The figures of a one-feature mixture: histogram and densities, or uncertainty.

    ``kind="clusters"``: the histogram of each component's rows (stacked, in
    the component's colour) under the weighted component densities;
    ``kind="density"``: the histogram of all rows and the mixture density;
    ``kind="uncertainty"``: each row's uncertainty (1 - max responsibility)
    against its value, with the mixture density's shape for reference (scaled so
    that its peak reaches the top of the uncertainty scale). Histograms are of
    the training rows (``X``); test rows add an outlined histogram, or
    triangles for the uncertainty. Above :data:`MAX_SCATTER_ROWS` rows the
    uncertainty's rows are binned.

    Parameters
    ----------
    model : fitted mixture on one feature
    X : array-like of shape (n_samples, 1)
    test_X : array-like of shape (n_test, 1), default=None
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
    data = _checked_data(model, X, feature_names, units, "plot_univariate", test_X)
    if data.values.shape[1] != 1:
        raise ValueError(
            f"plot_univariate draws one feature, X has {data.values.shape[1]}: use "
            "plot_clusters, plot_pairs or plot_projection."
        )
    values = data.values[:, 0]
    test_values = None if data.test_values is None else data.test_values[:, 0]
    everything = values if test_values is None else np.r_[values, test_values]
    weights = np.asarray(model.weights_, dtype=np.float64)
    n_components = len(weights)
    means = np.asarray(model.means_, dtype=np.float64)[:, 0]
    variances = component_covariances(model)[:, 0, 0]
    colors = component_colors(n_components)
    ax = _new_axes(ax)
    low, high = _data_limits(everything)
    grid = np.linspace(low, high, 400)
    component_density = _weighted_normal_densities(grid, weights, means, variances)
    edges = np.histogram_bin_edges(values, bins="auto")
    handles = []
    if kind in ("clusters", "density"):
        if kind == "clusters":
            labels = np.asarray(model.predict(data.original))
            _, _, bars = ax.hist(
                [values[labels == k] for k in range(n_components)],
                bins=edges,
                stacked=True,
                density=True,
                color=colors,
                alpha=0.6,
                label=[f"component {k} (weight {weights[k]:.2f})" for k in range(n_components)],
            )
            handles.extend(container[0] for container in bars if len(container))
            for k in range(n_components):
                ax.plot(grid, component_density[k], color=colors[k], linewidth=1.5)
            what = "Clusters"
        else:
            _, _, bars = ax.hist(
                values,
                bins=edges,
                density=True,
                color="lightgray",
                edgecolor="gray",
                label=f"{'training rows' if test_values is not None else 'data'} "
                f"({values.size} samples)",
            )
            (mixture,) = ax.plot(
                grid,
                component_density.sum(axis=0),
                color="black",
                linewidth=1.8,
                label="mixture density",
            )
            handles.extend([bars[0], mixture])
            what = "Density"
        if test_values is not None:
            label = f"test rows ({test_values.size} samples, outline)"
            handles.append(outline_histogram(ax, test_values, edges, label, linewidth=1.2))
        ax.set_ylabel("density")
    else:
        uncertainty = _uncertainty(model, data)
        top = 1.0 - 1.0 / n_components if n_components > 1 else 1.0
        density = component_density.sum(axis=0)
        (reference,) = ax.plot(
            grid,
            top * density / density.max(),
            color="black",
            linewidth=1.0,
            alpha=0.5,
            label="mixture density, scaled to the plot's height",
        )
        points = np.column_stack([everything, uncertainty])
        view = _View(points[: values.size], np.empty((0, 2)), np.empty((0, 2, 2)), "", "")
        if test_values is not None:
            view = view._replace(test_points=points[values.size :])
        if _is_binned(view):
            low2, high2 = _data_limits(points)
            low2[1], high2[1] = -0.02 * top, 1.02 * top
            _draw_binned_counts(ax, _bins(points, low2, high2, BINS_PER_AXIS))
            handles.append(_binned_handle(view, "grey: rows per bin, log scale"))
        else:
            split = test_values is not None
            handles.append(
                ax.scatter(
                    values,
                    uncertainty[: values.size],
                    s=12,
                    c="tab:purple",
                    marker=TRAIN_MARKER,
                    label=f"{'training rows' if split else 'samples'} ({values.size})",
                )
            )
            if split:
                handles.append(
                    ax.scatter(
                        test_values,
                        uncertainty[values.size :],
                        s=22,
                        facecolors="none",
                        edgecolors="tab:purple",
                        marker=TEST_MARKER,
                        label=f"test rows ({test_values.size})",
                    )
                )
        handles.append(reference)
        ax.set_ylim(-0.02 * top, 1.02 * top)
        ax.set_ylabel(UNCERTAINTY_LABEL)
        what = "Uncertainty"
    ax.set_xlim(low, high)
    ax.set_xlabel(_axis_label(data.names[0], data.units[0]))
    _legend_outside(ax, handles)
    _set_title(ax, _default_title(what, model) if title is None else title)
    return ax


# ----------------------------------------------------------------------- overview
# Single panels are FIGURE_INCHES at the caller's dpi; pair grids PAIR_PANEL_INCHES
# per feature, square.
FIGURE_INCHES = (8.0, 6.0)


PAIR_PANEL_INCHES = 3.0


MAX_PAIR_FEATURES = 5


def plot_overview(
    model, X, *, test_X=None, kind="clusters", feature_names=None, units=None, title=None
):
    """One figure of ``kind`` for data of any number of features.

    One feature: :func:`plot_univariate`; two: :func:`plot_clusters`,
    :func:`plot_density` or :func:`plot_uncertainty`; three to
    :data:`MAX_PAIR_FEATURES`: :func:`plot_pairs` of all of them; more:
    :func:`plot_projection` on the first two principal components of ``X``.

    Parameters
    ----------
    model : fitted mixture
    X : array-like or DataFrame of shape (n_samples, n_features)
        The training rows when ``test_X`` is given.
    test_X : array-like of shape (n_test, n_features), default=None
        Held-out rows, told apart from the training rows in every figure
        (triangles instead of circles, outlined histograms).
    kind : {"clusters", "density", "uncertainty"}, default="clusters"
    feature_names, units : as in :func:`plot_clusters` (not used for projections)
    title : str, default=None

    Returns
    -------
    figure : matplotlib.figure.Figure
        :data:`FIGURE_INCHES`, or :data:`PAIR_PANEL_INCHES` per feature for a
        grid; laid out by matplotlib's constrained layout.

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
            test_X=test_X,
            kind=kind,
            feature_names=feature_names,
            units=units,
            max_features=n_features,
            title=title,
        )
        side = PAIR_PANEL_INCHES * n_features
        figure.set_size_inches(side, side)
        return figure
    figure, ax = plt.subplots(figsize=FIGURE_INCHES, layout="constrained")
    if n_features == 1:
        plot_univariate(
            model,
            X,
            test_X=test_X,
            kind=kind,
            feature_names=feature_names,
            units=units,
            ax=ax,
            title=title,
        )
    elif n_features == 2:
        function = {
            "clusters": plot_clusters,
            "density": plot_density,
            "uncertainty": plot_uncertainty,
        }[kind]
        function(
            model, X, test_X=test_X, feature_names=feature_names, units=units, ax=ax, title=title
        )
    else:
        plot_projection(model, X, test_X=test_X, kind=kind, ax=ax, title=title)
    return figure
