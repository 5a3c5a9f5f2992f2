"""The mixture's density: exact marginals on two features, contours and histograms."""

from __future__ import annotations

import matplotlib
import matplotlib.ticker
import numpy as np
from matplotlib.lines import Line2D
from scipy.linalg import solve_triangular
from scipy.special import logsumexp

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
    _data_limits,
    _default_title,
    _draw_binned_counts,
    _draw_means,
    _feature_view,
    _finish,
    _is_binned,
    _legend_outside,
    _means_handle,
    _new_axes,
    _set_data_limits,
    component_colors,
    outline_histogram,
)

# Log-density contours span this many natural-log units below the peak: e^-10 of
# the peak density is beyond 4 standard deviations of a 2-D Gaussian, and lower
# values would spend the colour scale on empty tails.
DENSITY_RANGE = 10.0


N_DENSITY_LEVELS = 14


def marginal_log_density(weights, means, covariances, points):
    """Log-density of a Gaussian mixture at ``points``.

    Called with the means' columns and the covariances' sub-blocks of some
    features, it is the exact log-density of the mixture's marginal on them.

    Parameters
    ----------
    weights : array-like of shape (K,)
    means : array-like of shape (K, d)
    covariances : array-like of shape (K, d, d)
    points : array-like of shape (n, d)

    Returns
    -------
    log_density : ndarray of shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix.plot import marginal_log_density
    >>> value = marginal_log_density([1.0], [[0.0]], [[[1.0]]], [[0.0]])
    >>> bool(np.isclose(value[0], -0.5 * np.log(2 * np.pi)))
    True
    """
    weights = np.asarray(weights, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    covariances = np.asarray(covariances, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64)
    n_features = means.shape[1]
    component_log_density = np.empty((len(weights), len(points)))
    for k, (mean, covariance) in enumerate(zip(means, covariances)):
        cholesky = np.linalg.cholesky(covariance)
        whitened = solve_triangular(cholesky, (points - mean).T, lower=True)
        log_det = 2.0 * np.sum(np.log(np.diagonal(cholesky)))
        component_log_density[k] = -0.5 * (
            n_features * np.log(2.0 * np.pi) + log_det + np.sum(whitened**2, axis=0)
        )
    # b= weights: an empty component (weight 0) adds nothing, without log(0).
    return logsumexp(component_log_density, b=weights[:, None], axis=0)


def _density_grid(view, grid_size, weights):
    """The marginal log-density on a ``grid_size`` square grid over the axes' data limits."""
    low, high = _data_limits(_all_points(view))
    x = np.linspace(low[0], high[0], grid_size)
    y = np.linspace(low[1], high[1], grid_size)
    xx, yy = np.meshgrid(x, y)
    points = np.column_stack([xx.ravel(), yy.ravel()])
    log_density = marginal_log_density(weights, view.means, view.covariances, points)
    return xx, yy, log_density.reshape(xx.shape)


def _density_levels(top, bottom):
    bottom = max(bottom, top - DENSITY_RANGE)
    if not bottom < top:
        bottom = top - 1.0
    return matplotlib.ticker.MaxNLocator(N_DENSITY_LEVELS).tick_values(bottom, top)


def _draw_density(ax, view, weights, grid_size, levels, n_bins):
    """Log-density contours and the rows; returns the colour bar's mappable and legend handles.

    Up to :data:`MAX_SCATTER_ROWS` rows: filled contours, rows as white markers
    on top. Beyond: the rows binned in greys (log count) under contour lines,
    so that the data's density and the model's can be compared.
    """
    xx, yy, log_density = _density_grid(view, grid_size, weights)
    if levels is None:
        levels = _density_levels(log_density.max(), log_density.min())
    low, high = _set_data_limits(ax, view)
    if _is_binned(view):
        _draw_binned_counts(ax, _bins(_all_points(view), low, high, n_bins))
        contours = ax.contour(
            xx, yy, log_density, levels=levels, cmap="viridis", linewidths=1.2, zorder=2
        )
        handles = [
            _binned_handle(view, "grey: rows per bin, log scale"),
            Line2D([], [], color="tab:green", label="log-density contours (colour bar)"),
        ]
    else:
        contours = ax.contourf(xx, yy, log_density, levels=levels, cmap="viridis", extend="both")
        splits = [(view.points, TRAIN_MARKER, "training rows", 8)]
        if view.test_points is not None:
            splits.append((view.test_points, TEST_MARKER, "test rows", 18))
        else:
            splits[0] = (view.points, TRAIN_MARKER, "data", 8)
        handles = []
        for points, marker, name, size in splits:
            handles.append(
                ax.scatter(
                    points[:, 0],
                    points[:, 1],
                    s=size,
                    marker=marker,
                    color="white",
                    edgecolors="black",
                    linewidths=0.4 if marker == TRAIN_MARKER else 0.7,
                    alpha=0.8,
                    zorder=3,
                    label=f"{name} ({len(points)} samples)",
                    gid=name,
                )
            )
    _draw_means(ax, view, component_colors(len(weights)))
    return contours, [*handles, _means_handle()]


def plot_density(
    model,
    X,
    *,
    test_X=None,
    features=(0, 1),
    feature_names=None,
    units=None,
    grid_size=200,
    levels=None,
    colorbar=True,
    ax=None,
    title=None,
):
    """Filled contours of the mixture's log-density on two features, data on top.

    With more than two features the density shown is the exact marginal on the
    two: the mixture of the components' marginals. Above
    :data:`MAX_SCATTER_ROWS` rows the data are binned (greys, log count) under
    contour lines instead.

    Parameters
    ----------
    model : fitted mixture
    X : array-like or DataFrame of shape (n_samples, n_features)
        Training rows when ``test_X`` is given (circles).
    test_X : array-like of shape (n_test, n_features), default=None
        Held-out rows, drawn as triangles.
    features : pair of int or str, default=(0, 1)
    feature_names : sequence of str, default=None
    units : mapping or sequence, default=None
    grid_size : int, default=200
        Grid points per axis, over the data's range plus a margin.
    levels : array-like, default=None
        Contour levels of the log-density; default: about 14 rounded levels
        from the peak down to 10 below it (or to the grid's minimum).
    colorbar : bool, default=True
        Draw a colour bar labelled "log density" under the axes.
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
    >>> from gaussmix.plot import plot_density
    >>> X, names = load_faithful()
    >>> ax = plot_density(GaussianMixture(2, random_state=0).fit(X), X, feature_names=names)
    >>> ax.get_ylabel()
    'waiting'
    """
    data = _checked_data(model, X, feature_names, units, "plot_density", test_X)
    pair = _checked_pair(features, data.names)
    view = _feature_view(model, data, pair)
    ax = _new_axes(ax)
    weights = np.asarray(model.weights_, dtype=np.float64)
    mappable, handles = _draw_density(ax, view, weights, grid_size, levels, BINS_PER_AXIS)
    _legend_outside(ax, handles)
    if colorbar:
        _colorbar_below(ax, mappable, "log density")
    marginal = " (marginal)" if data.values.shape[1] > 2 else ""
    default = _default_title(f"Log-density{marginal}", model)
    return _finish(ax, view, default if title is None else title)


def _weighted_normal_densities(grid, weights, means, variances):
    """``w_k N(grid; mu_k, sigma_k^2)`` of every component, shape (K, len(grid))."""
    stds = np.sqrt(variances)
    return (
        weights[:, None]
        * np.exp(-0.5 * ((grid[None, :] - means[:, None]) / stds[:, None]) ** 2)
        / (stds[:, None] * np.sqrt(2.0 * np.pi))
    )


def _draw_marginal_histogram(ax, values, weights, means, variances, test_values=None):
    """Histogram of one feature under the mixture's 1-D marginal; returns legend handles.

    The filled histogram holds the training rows (``values``); test rows, when
    given, are an outlined histogram on the same bins.
    """
    edges = np.histogram_bin_edges(values, bins="auto")
    _, _, bars = ax.hist(
        values,
        bins=edges,
        density=True,
        color="lightgray",
        edgecolor="gray",
        label="histogram of the training rows" if test_values is not None else "data histogram",
    )
    handles = [bars[0]] if len(bars) else []
    if test_values is not None:
        handles.append(
            outline_histogram(ax, test_values, edges, "histogram of the test rows (outline)")
        )
    low, high = _data_limits(values if test_values is None else np.r_[values, test_values])
    grid = np.linspace(low, high, 300)
    component_density = _weighted_normal_densities(grid, weights, means, variances)
    for k, color in enumerate(component_colors(len(weights))):
        ax.plot(
            grid,
            component_density[k],
            color=color,
            linewidth=1.0,
            linestyle="--",
            label=f"_component {k} density",
        )
    (mixture,) = ax.plot(
        grid,
        component_density.sum(axis=0),
        color="black",
        linewidth=1.5,
        label="mixture density (1-D marginal)",
    )
    components = Line2D(
        [], [], color="dimgray", linestyle="--", label="weighted component densities (1-D)"
    )
    ax.set_xlim(low, high)
    return [*handles, mixture, components]
