"""The mixture's density: exact marginals on two features, contours and histograms."""

from __future__ import annotations

import matplotlib
import matplotlib.colors
import matplotlib.ticker
import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp

from ._common import (
    _checked_data,
    _checked_pair,
    _draw_means,
    _feature_view,
    _finish,
    _means_handle,
    _n_components_text,
    _new_axes,
    component_colors,
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
    low = view.points.min(axis=0)
    high = view.points.max(axis=0)
    pad = 0.08 * np.where(high > low, high - low, 1.0)
    x = np.linspace(low[0] - pad[0], high[0] + pad[0], grid_size)
    y = np.linspace(low[1] - pad[1], high[1] + pad[1], grid_size)
    xx, yy = np.meshgrid(x, y)
    points = np.column_stack([xx.ravel(), yy.ravel()])
    log_density = marginal_log_density(weights, view.means, view.covariances, points)
    return xx, yy, log_density.reshape(xx.shape)


def _density_levels(top, bottom):
    bottom = max(bottom, top - DENSITY_RANGE)
    if not bottom < top:
        bottom = top - 1.0
    return matplotlib.ticker.MaxNLocator(N_DENSITY_LEVELS).tick_values(bottom, top)


def _draw_density(ax, view, weights, grid_size, levels, colorbar):
    xx, yy, log_density = _density_grid(view, grid_size, weights)
    if levels is None:
        levels = _density_levels(log_density.max(), log_density.min())
    contours = ax.contourf(xx, yy, log_density, levels=levels, cmap="viridis", extend="both")
    if colorbar:
        ax.figure.colorbar(contours, ax=ax, label="log density")
    ax.scatter(
        view.points[:, 0],
        view.points[:, 1],
        s=8,
        color="white",
        edgecolors="black",
        linewidths=0.4,
        alpha=0.8,
        zorder=3,
        label=f"data ({len(view.points)} samples)",
    )
    _draw_means(ax, view, component_colors(len(weights)))
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=[*handles, _means_handle()], fontsize="small")
    return contours


def plot_density(
    model,
    X,
    *,
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
    two: the mixture of the components' marginals.

    Parameters
    ----------
    model : fitted mixture
    X : array-like or DataFrame of shape (n_samples, n_features)
    features : pair of int or str, default=(0, 1)
    feature_names : sequence of str, default=None
    units : mapping or sequence, default=None
    grid_size : int, default=200
        Grid points per axis, over the data's range plus a margin.
    levels : array-like, default=None
        Contour levels of the log-density; default: about 14 rounded levels
        from the peak down to 10 below it (or to the grid's minimum).
    colorbar : bool, default=True
        Draw a colorbar labelled "log density".
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
    data = _checked_data(model, X, feature_names, units, "plot_density")
    pair = _checked_pair(features, data.names)
    view = _feature_view(model, data, pair)
    ax = _new_axes(ax)
    _draw_density(
        ax, view, np.asarray(model.weights_, dtype=np.float64), grid_size, levels, colorbar
    )
    marginal = " (marginal)" if data.values.shape[1] > 2 else ""
    default = f"Log-density{marginal} of a {_n_components_text(model)}"
    return _finish(ax, view, default if title is None else title)


def _draw_marginal_histogram(ax, values, weights, means, variances):
    ax.hist(
        values,
        bins="auto",
        density=True,
        color="lightgray",
        edgecolor="gray",
        label="data histogram",
    )
    low, high = values.min(), values.max()
    pad = 0.08 * (high - low if high > low else 1.0)
    grid = np.linspace(low - pad, high + pad, 300)
    stds = np.sqrt(variances)
    component_density = (
        weights[:, None]
        * np.exp(-0.5 * ((grid[None, :] - means[:, None]) / stds[:, None]) ** 2)
        / (stds[:, None] * np.sqrt(2.0 * np.pi))
    )
    for k, color in enumerate(component_colors(len(weights))):
        ax.plot(
            grid,
            component_density[k],
            color=color,
            linewidth=1.0,
            linestyle="--",
            label="_component density",
        )
    ax.plot(
        grid,
        component_density.sum(axis=0),
        color="black",
        linewidth=1.5,
        label="mixture density (1-D marginal)",
    )
    ax.legend()
