"""Figures of a fitted Gaussian mixture: clusters, density, uncertainty, model selection.

Every function takes a fitted mixture (``gaussmix.GaussianMixture``, scikit-learn's,
or any object with ``weights_``, ``means_``, ``covariances_``, ``predict`` and
``predict_proba``) and the data, draws on the matplotlib ``Axes`` passed as ``ax``
(or on a new figure), and returns that ``Axes``; the grid of :func:`plot_pairs`
returns its ``Figure``. Every figure has a title, labelled axes (feature names
with units where known) and a legend, and a component keeps its colour in every
figure (:func:`component_colors`).

Two-feature panels show the exact *marginal* of the mixture on those features: a
marginal of a Gaussian mixture is the mixture of the components' marginals (the
means' entries and the covariances' sub-blocks of those features), so nothing is
sampled. :func:`plot_projection` uses the same fact for the linear projection on
the data's first two principal components (``A mu_k`` and ``A Sigma_k A'``).

matplotlib is an optional dependency: ``pip install 'gaussmix[plot]'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp
from sklearn.exceptions import NotFittedError

try:
    import matplotlib
    import matplotlib.colors
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    from matplotlib.lines import Line2D
    from matplotlib.patches import Ellipse
except ImportError as error:
    raise ImportError(
        "gaussmix.plot needs matplotlib, which is not installed: pip install 'gaussmix[plot]'"
    ) from error

from .covariance import COVARIANCE_MODELS
from .criteria import component_covariance_matrices

__all__ = [
    "component_colors",
    "component_covariances",
    "marginal_log_density",
    "plot_clusters",
    "plot_criterion",
    "plot_density",
    "plot_overview",
    "plot_pairs",
    "plot_projection",
    "plot_uncertainty",
    "plot_univariate",
]

KINDS = ("clusters", "density", "uncertainty")
SIGMA_LINESTYLES = ("-", "--", ":", "-.")
# Log-density contours span this many natural-log units below the peak: e^-10 of
# the peak density is beyond 4 standard deviations of a 2-D Gaussian, and lower
# values would spend the colour scale on empty tails.
DENSITY_RANGE = 10.0
N_DENSITY_LEVELS = 14
UNCERTAINTY_LABEL = "uncertainty (1 - max responsibility)"
CRITERION_LABELS = {"bic": "BIC", "aic": "AIC", "icl": "ICL"}


# ------------------------------------------------------------------------ helpers
def component_colors(n_components):
    """Colour of each component, the same in every figure.

    Parameters
    ----------
    n_components : int

    Returns
    -------
    colors : ndarray of shape (n_components, 4)
        RGBA colours: matplotlib's qualitative ``tab10`` indexed by component
        (``tab20`` beyond ten components).

    Examples
    --------
    >>> from gaussmix.plot import component_colors
    >>> component_colors(3).shape
    (3, 4)
    """
    cmap = matplotlib.colormaps["tab10" if n_components <= 10 else "tab20"]
    return np.array([cmap(k % cmap.N) for k in range(n_components)])


def component_covariances(model):
    """Every component's full covariance matrix, whatever the model stores.

    The storage is recognised by its shape, so that any covariance model with
    one of the four storage shapes works: ``(K, D, D)`` one matrix per
    component, ``(D, D)`` one matrix shared by all, ``(K, D)`` diagonals,
    ``(K,)`` one variance per component. When ``K == D`` the shapes
    ``(D, D)`` and ``(K, D)`` coincide; the storage shape of the model
    registered under ``model.covariance_type`` (or a selector's
    ``best_covariance_type_``), asked for ``K != D``, then tells them apart.

    Parameters
    ----------
    model : fitted mixture
        Needs ``means_`` (K, D) and ``covariances_``.

    Returns
    -------
    covariances : ndarray of shape (K, D, D), float64

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.plot import component_covariances
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    >>> component_covariances(gm).shape
    (2, 3, 3)
    """
    _check_fitted(model, "component_covariances")
    n_components, n_features = np.shape(model.means_)
    name = _covariance_type(model)
    return component_covariance_matrices(
        model.covariances_,
        name if name in COVARIANCE_MODELS else None,
        n_components,
        n_features,
    )


def _covariance_type(model):
    """The model's covariance type name; a selector names its chosen model's."""
    for attribute in ("covariance_type", "best_covariance_type_"):
        name = getattr(model, attribute, None)
        if isinstance(name, str):
            return name
    return None


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


def _check_fitted(model, function_name):
    missing = [name for name in ("weights_", "means_", "covariances_") if not hasattr(model, name)]
    if missing:
        raise NotFittedError(
            f"{function_name} needs a fitted mixture, but this {type(model).__name__} has no "
            f"{', '.join(missing)}: call its fit(X) first."
        )


class _Data(NamedTuple):
    """The user's ``X`` as given (for the model's methods) and as float64 with names."""

    original: object
    values: np.ndarray
    names: list
    units: list


def _checked_data(model, X, feature_names, units, function_name):
    _check_fitted(model, function_name)
    n_features = int(getattr(model, "n_features_in_", np.shape(model.means_)[1]))
    columns = getattr(X, "columns", None)
    values = np.asarray(X, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features), got shape {values.shape}; "
            "reshape one feature with X.reshape(-1, 1)."
        )
    if values.shape[1] != n_features:
        raise ValueError(
            f"X has {values.shape[1]} features but the model was fitted on {n_features}: "
            "pass the data the model was fitted on (same columns, same preprocessing)."
        )
    if not np.isfinite(values).all():
        raise ValueError("X contains NaN or infinity: impute or drop those rows before plotting.")
    if feature_names is None:
        if columns is not None:
            feature_names = [str(name) for name in columns]
        elif hasattr(model, "feature_names_in_"):
            feature_names = [str(name) for name in model.feature_names_in_]
        else:
            feature_names = [f"feature {i}" for i in range(n_features)]
    feature_names = list(feature_names)
    if len(feature_names) != n_features:
        raise ValueError(
            f"feature_names has {len(feature_names)} names for {n_features} features: "
            "give one name per column of X."
        )
    if units is None:
        unit_list = [None] * n_features
    elif isinstance(units, Mapping):
        unit_list = [units.get(name) for name in feature_names]
    elif isinstance(units, str):
        unit_list = [units] * n_features
    else:
        unit_list = list(units)
        if len(unit_list) != n_features:
            raise ValueError(
                f"units has {len(unit_list)} entries for {n_features} features: give one "
                "unit per column of X (None where there is none), or a mapping name -> unit."
            )
    return _Data(X, values, feature_names, unit_list)


def _feature_index(feature, names):
    if isinstance(feature, str):
        if feature not in names:
            raise ValueError(f"Unknown feature {feature!r}; the features are {names}.")
        return names.index(feature)
    if not isinstance(feature, (int, np.integer)) or not -len(names) <= feature < len(names):
        raise ValueError(
            f"Feature {feature!r} is not a column of X: give an index in "
            f"0..{len(names) - 1} or one of the names {names}."
        )
    return int(feature) % len(names)


def _checked_pair(features, names):
    if isinstance(features, str) or len(features) != 2:
        raise ValueError(
            f"features must be two columns of X, e.g. features=(0, 1); got {features!r}."
        )
    pair = tuple(_feature_index(feature, names) for feature in features)
    if pair[0] == pair[1]:
        raise ValueError(f"features must be two different columns of X; got {features!r}.")
    return pair


def _axis_label(name, unit):
    return f"{name} ({unit})" if unit else str(name)


class _View(NamedTuple):
    """The data and the mixture seen on two axes (two features or a projection)."""

    points: np.ndarray  # (n, 2)
    means: np.ndarray  # (K, 2)
    covariances: np.ndarray  # (K, 2, 2)
    xlabel: str
    ylabel: str


def _feature_view(model, data, pair):
    covariances = component_covariances(model)
    index = np.array(pair)
    names = [data.names[i] for i in pair]
    return _View(
        points=data.values[:, index],
        means=np.asarray(model.means_, dtype=np.float64)[:, index],
        covariances=covariances[:, index[:, None], index[None, :]],
        xlabel=_axis_label(names[0], data.units[pair[0]]),
        ylabel=_axis_label(names[1], data.units[pair[1]]),
    )


def _projection_view(model, data):
    if data.values.shape[1] < 2:
        raise ValueError("plot_projection needs at least two features.")
    centre = data.values.mean(axis=0)
    _, singular_values, components = np.linalg.svd(data.values - centre, full_matrices=False)
    variance = singular_values**2
    explained = variance / variance.sum()
    # Same orientation as scikit-learn's PCA: each axis's largest loading is positive.
    signs = np.sign(components[np.arange(2), np.argmax(np.abs(components[:2]), axis=1)])
    projection = components[:2] * signs[:, None]  # A, shape (2, D)
    covariances = component_covariances(model)
    return _View(
        points=(data.values - centre) @ projection.T,
        means=(np.asarray(model.means_, dtype=np.float64) - centre) @ projection.T,
        covariances=projection @ covariances @ projection.T,
        xlabel=f"PC1 ({100 * explained[0]:.1f}% of variance)",
        ylabel=f"PC2 ({100 * explained[1]:.1f}% of variance)",
    )


def _new_axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 5.2), layout="constrained")
    return ax


def _n_components_text(model):
    n_components = len(model.weights_)
    covariance_type = _covariance_type(model)
    text = f"{n_components}-component Gaussian mixture"
    return f"{text}, {covariance_type} covariance" if covariance_type else text


def _finish(ax, view, title):
    ax.set_xlabel(view.xlabel)
    ax.set_ylabel(view.ylabel)
    ax.set_title(title)
    return ax


# ------------------------------------------------------------------------- drawing
def _means_handle():
    return Line2D(
        [],
        [],
        linestyle="none",
        marker="X",
        markersize=9,
        markerfacecolor="white",
        markeredgecolor="black",
        label="component means",
    )


def _draw_means(ax, view, colors):
    ax.scatter(
        view.means[:, 0],
        view.means[:, 1],
        c=colors,
        marker="X",
        s=110,
        edgecolors="black",
        linewidths=1.2,
        zorder=4,
        label="_component means",
    )


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


def _uncertainty(model, data):
    return 1.0 - np.asarray(model.predict_proba(data.original)).max(axis=1)


def _point_labels(model, data, labels):
    if labels is None:
        return np.asarray(model.predict(data.original)), True
    labels = np.asarray(labels)
    if labels.shape != (len(data.values),):
        raise ValueError(
            f"labels must hold one label per sample ({len(data.values)}), got shape {labels.shape}."
        )
    return labels, False


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}; choose one of: {', '.join(KINDS)}.")


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


# ----------------------------------------------------------------------- criterion
def _results_columns(selector, best_index):
    """``(columns, best_index, default criterion)`` of a selector or a results table."""
    if isinstance(selector, Mapping) or hasattr(selector, "columns"):
        columns = {str(name): list(selector[name]) for name in _table_keys(selector)}
        return columns, best_index, "bic"
    if not hasattr(selector, "results_"):
        raise NotFittedError(
            f"plot_criterion needs a fitted selector, but this {type(selector).__name__} has "
            "no results_: call its fit(X) first, or pass its results table."
        )
    if best_index is None:
        best_index = getattr(selector, "best_index_", None)
    results = selector.results_
    columns = {str(name): list(results[name]) for name in _table_keys(results)}
    return columns, best_index, getattr(selector, "criterion", "bic")


def _table_keys(table):
    return list(table.columns) if hasattr(table, "columns") else list(table.keys())


def plot_criterion(selector, *, criterion=None, best_index=None, ax=None, title=None):
    """The information criterion of every candidate model, by number of components.

    One line per covariance type; the chosen candidate is marked; candidates
    flagged spurious are drawn as grey crosses, not joined to the lines.

    Parameters
    ----------
    selector : fitted GaussianMixtureIC, mapping or DataFrame
        A selector with ``results_``, ``criterion`` and ``best_index_``, or its
        results table: equal-length columns ``"n_components"``,
        ``"covariance_type"``, the criterion's column and optionally
        ``"spurious"``.
    criterion : {"bic", "aic", "icl"}, default=None
        The column plotted; default the selector's criterion ("bic" for a table).
        Lower is better (scikit-learn's sign).
    best_index : int, default=None
        Row of the chosen candidate; default the selector's ``best_index_``.
        With a table and no ``best_index``, no candidate is marked.
    ax : matplotlib.axes.Axes, default=None
    title : str, default=None

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from gaussmix.plot import plot_criterion
    >>> results = {"n_components": [1, 2, 1, 2], "covariance_type": ["full"] * 2 + ["diag"] * 2,
    ...            "bic": [10.0, 8.0, 11.0, 9.0], "spurious": [False] * 4}
    >>> ax = plot_criterion(results, best_index=1)
    >>> ax.get_ylabel()
    'BIC (lower is better)'
    """
    columns, best_index, default_criterion = _results_columns(selector, best_index)
    criterion = default_criterion if criterion is None else criterion
    missing = [
        name for name in ("n_components", "covariance_type", criterion) if name not in columns
    ]
    if missing:
        raise ValueError(
            f"The results table has no column {', '.join(map(repr, missing))}; it needs "
            "'n_components', 'covariance_type' and the criterion's column "
            f"(has: {', '.join(columns)})."
        )
    n_components = np.asarray(columns["n_components"], dtype=np.float64)
    values = np.asarray(columns[criterion], dtype=np.float64)
    covariance_types = [str(name) for name in columns["covariance_type"]]
    spurious = np.asarray(columns.get("spurious", [False] * len(values)), dtype=bool)
    if not len(n_components) == len(values) == len(covariance_types) == len(spurious):
        raise ValueError("The results table's columns must all have the same length.")
    name = CRITERION_LABELS.get(criterion, criterion.upper())

    ax = _new_axes(ax)
    distinct_types = list(dict.fromkeys(covariance_types))
    # Up to 8 types: Dark2; mclust's 14: tab20, whose pairs of shades still differ
    # by marker and line style.
    palette = matplotlib.colormaps["Dark2" if len(distinct_types) <= 8 else "tab20"]
    markers = ("o", "s", "^", "D", "v", "P", "X", "h")
    linestyles = ("-", "--", "-.", ":")
    finite = np.isfinite(values)
    for i, covariance_type in enumerate(distinct_types):
        rows = np.flatnonzero((np.array(covariance_types) == covariance_type) & finite & ~spurious)
        rows = rows[np.argsort(n_components[rows], kind="stable")]
        ax.plot(
            n_components[rows],
            values[rows],
            color=palette(i % palette.N),
            marker=markers[i % len(markers)],
            linestyle=linestyles[(i // len(markers)) % len(linestyles)],
            label=covariance_type,
        )
    flagged = spurious & finite
    if flagged.any():
        ax.plot(
            n_components[flagged],
            values[flagged],
            linestyle="none",
            marker="x",
            markersize=8,
            color="gray",
            label="spurious fit (excluded)",
        )
    if best_index is not None:
        best_index = int(best_index)
        if not 0 <= best_index < len(values):
            raise ValueError(
                f"best_index {best_index} is not a row of the results table (0..{len(values) - 1})."
            )
        ax.plot(
            [n_components[best_index]],
            [values[best_index]],
            linestyle="none",
            marker="*",
            markersize=18,
            markerfacecolor="gold",
            markeredgecolor="black",
            zorder=5,
            label=f"chosen: {int(n_components[best_index])} components, "
            f"{covariance_types[best_index]} ({name} {values[best_index]:.1f})",
        )
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("number of components")
    ax.set_ylabel(f"{name} (lower is better)")
    ax.set_title(f"{name} of every candidate model" if title is None else title)
    _focus_on_the_best(ax, values[finite])
    many = len(distinct_types) > 6
    if many:
        # Below the axes, where a long list does not hide the curves.
        ax.legend(
            title="covariance type",
            fontsize="small",
            ncol=5,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
        )
        if ax.figure.get_layout_engine() is None:
            # Without a layout engine the legend below needs the room made by hand.
            ax.figure.subplots_adjust(bottom=0.34)
    else:
        ax.legend(title="covariance type", fontsize="small")
    return ax


def _focus_on_the_best(ax, values):
    """Cut the y-axis above the bulk of the candidates, so that the best ones are readable.

    A one-component model's criterion is often far above the rest and would
    squeeze every other candidate into a thin band; candidates above the cut
    are counted in a note instead of being drawn off-scale.
    """
    if values.size < 8:
        return
    low, q75 = float(values.min()), float(np.quantile(values, 0.75))
    top = q75 + 0.5 * (q75 - low)
    hidden = int(np.sum(values > top))
    if hidden == 0 or top <= low:
        return
    ax.set_ylim(low - 0.05 * (top - low), top)
    ax.annotate(
        f"{hidden} candidate{'s' if hidden != 1 else ''} above the axis",
        xy=(0.01, 0.99),
        xycoords="axes fraction",
        ha="left",
        va="top",
        fontsize="small",
        color="0.3",
    )
