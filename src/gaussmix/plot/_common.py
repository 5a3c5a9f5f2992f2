"""What every figure shares: checked inputs, colours, views of the data, axes finishing."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import NamedTuple

import matplotlib
import matplotlib.colors
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from sklearn.exceptions import NotFittedError

from ..covariance import COVARIANCE_MODELS
from ..engine.criteria import component_covariance_matrices

KINDS = ("clusters", "density", "uncertainty")

#: Above this many rows (training and test together) a panel bins its points into
#: an image (a 2-D histogram) instead of drawing one marker per row: past a few
#: tens of thousands of markers the points hide the ellipses and contours under
#: them, and drawing millions takes minutes.
MAX_SCATTER_ROWS = 20_000

# Bins per axis of the images of binned rows: about 4 pixels per bin on an
# 800 x 600 figure's panel, 3 on a pair grid's.
BINS_PER_AXIS = 120
PAIR_BINS_PER_AXIS = 60

# Axis limits reach this fraction of the data's range beyond its extremes.
LIMIT_PAD = 0.05

# Markers of the two splits, the same in every figure.
TRAIN_MARKER = "o"
TEST_MARKER = "^"


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


def _check_fitted(model, function_name):
    missing = [name for name in ("weights_", "means_", "covariances_") if not hasattr(model, name)]
    if missing:
        raise NotFittedError(
            f"{function_name} needs a fitted mixture, but this {type(model).__name__} has no "
            f"{', '.join(missing)}: call its fit(X) first."
        )


class _Data(NamedTuple):
    """The user's ``X`` (and ``test_X``) as given, for the model's methods, and as float64."""

    original: object
    values: np.ndarray
    names: list
    units: list
    test_original: object = None
    test_values: np.ndarray | None = None


def _checked_values(model, X, what):
    n_features = int(getattr(model, "n_features_in_", np.shape(model.means_)[1]))
    values = np.asarray(X, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(
            f"{what} must be 2-D (n_samples, n_features), got shape {values.shape}; "
            "reshape one feature with X.reshape(-1, 1)."
        )
    if values.shape[1] != n_features:
        raise ValueError(
            f"{what} has {values.shape[1]} features but the model was fitted on {n_features}: "
            "pass the data the model was fitted on (same columns, same preprocessing)."
        )
    if not np.isfinite(values).all():
        raise ValueError(
            f"{what} contains NaN or infinity: impute or drop those rows before plotting."
        )
    return values


def _checked_data(model, X, feature_names, units, function_name, test_X=None):
    _check_fitted(model, function_name)
    n_features = int(getattr(model, "n_features_in_", np.shape(model.means_)[1]))
    columns = getattr(X, "columns", None)
    values = _checked_values(model, X, "X")
    test_values = None if test_X is None else _checked_values(model, test_X, "test_X")
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
    return _Data(X, values, feature_names, unit_list, test_X, test_values)


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
    test_points: np.ndarray | None = None  # (m, 2)


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
        test_points=None if data.test_values is None else data.test_values[:, index],
    )


def _projection_view(model, data):
    if data.values.shape[1] < 2:
        raise ValueError("plot_projection needs at least two features.")
    # The axes are the principal components of X alone (the training rows, when
    # test rows are given too), so that test rows are placed, not fitted.
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
        test_points=None
        if data.test_values is None
        else (data.test_values - centre) @ projection.T,
    )


def _all_points(view):
    """Training and test rows together (what the axis limits and binning cover)."""
    if view.test_points is None:
        return view.points
    return np.vstack([view.points, view.test_points])


def _n_rows(view):
    return len(view.points) + (0 if view.test_points is None else len(view.test_points))


def _is_binned(view):
    """More rows than a scatter can show: the figure bins them (``MAX_SCATTER_ROWS``)."""
    return _n_rows(view) > MAX_SCATTER_ROWS


def _data_limits(values):
    """``(low, high)`` of each column of ``values``, padded by ``LIMIT_PAD`` of the range."""
    low, high = values.min(axis=0), values.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return low - LIMIT_PAD * span, high + LIMIT_PAD * span


def _set_data_limits(ax, view):
    """Axis limits from the rows, never from the components' ellipses.

    A component with a huge covariance (a background component, a nearly
    spurious fit) would otherwise widen the axes until the data sit in a small
    patch in the middle; its ellipses are clipped at the axes instead.
    """
    low, high = _data_limits(_all_points(view))
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    return low, high


def _new_axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, 5.6), layout="constrained")
    return ax


def _n_components_text(model):
    n_components = len(model.weights_)
    covariance_type = _covariance_type(model)
    text = f"{n_components}-component Gaussian mixture"
    return f"{text}, {covariance_type} covariance" if covariance_type else text


def _default_title(what, model):
    """Two lines, so that the title fits over an axes that shares the figure with a legend."""
    return f"{what} of a\n{_n_components_text(model)}"


def _set_title(ax, title):
    # A title wider than the axes (the legend takes the figure's right side) is
    # wrapped at draw time rather than cut at the figure's edge.
    ax.set_title(title, wrap=True)


def _finish(ax, view, title):
    ax.set_xlabel(view.xlabel)
    ax.set_ylabel(view.ylabel)
    _set_title(ax, title)
    return ax


def _uncertainty(model, data):
    """``1 - max responsibility`` of every training row, then every test row."""
    rows = [data.original] if data.test_values is None else [data.original, data.test_original]
    return np.concatenate([1.0 - np.asarray(model.predict_proba(X)).max(axis=1) for X in rows])


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}; choose one of: {', '.join(KINDS)}.")


# ------------------------------------------------------------------------- drawing
def _make_room(figure):
    """Give a figure without a layout engine constrained layout, if it holds one panel.

    Legends sit outside the axes; without a layout engine they would fall off
    the figure's edge. A figure with several panels is the caller's to lay out.
    """
    if figure.get_layout_engine() is None and len(figure.axes) == 1:
        figure.set_layout_engine("constrained")


def _legend_outside(ax, handles):
    """The legend to the right of the axes, top-aligned: never over the data or the title."""
    _make_room(ax.figure)
    return ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        fontsize="small",
    )


def _colorbar_below(ax, mappable, label):
    """A horizontal colour bar under the axes, as wide as them (the legend is on the right)."""
    _make_room(ax.figure)
    return ax.figure.colorbar(mappable, ax=ax, location="bottom", label=label, aspect=40)


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


def _split_handles(view):
    """Legend entries telling training rows from test rows (none without test rows)."""
    if view.test_points is None or _is_binned(view):
        return []
    style = {"linestyle": "none", "markersize": 7, "markeredgecolor": "dimgray"}
    return [
        Line2D(
            [],
            [],
            marker=TRAIN_MARKER,
            markerfacecolor="darkgray",
            label=f"training rows ({len(view.points)})",
            **style,
        ),
        Line2D(
            [],
            [],
            marker=TEST_MARKER,
            markerfacecolor="none",
            label=f"test rows ({len(view.test_points)})",
            **style,
        ),
    ]


def _rows_text(view):
    """How many rows a binned panel shows, by split."""
    if view.test_points is None:
        return f"{len(view.points):,} rows"
    return f"{len(view.points):,} training + {len(view.test_points):,} test rows"


class _Bins(NamedTuple):
    """A regular grid of bins over the axes' limits, and the bin of every row."""

    index: np.ndarray  # (n,) flat bin of each row, row-major in (y, x)
    n_bins: int  # per axis
    extent: tuple  # (x low, x high, y low, y high)


def _bins(points, low, high, n_bins):
    """The bin of each of ``points`` on an ``n_bins`` x ``n_bins`` grid from ``low`` to ``high``.

    Bins are half-open ``[edge_i, edge_i+1)`` as numpy's ``histogram2d`` has
    them, the last one closed; the limits come from the data, so every row falls
    in a bin.
    """
    span = high - low
    cell = np.floor((points - low) / span * n_bins).astype(np.int64)
    np.clip(cell, 0, n_bins - 1, out=cell)
    return _Bins(
        index=cell[:, 1] * n_bins + cell[:, 0],
        n_bins=n_bins,
        extent=(low[0], high[0], low[1], high[1]),
    )


def _show_bins(ax, image, bins, **kwargs):
    return ax.imshow(
        image,
        origin="lower",
        extent=bins.extent,
        aspect="auto",
        interpolation="nearest",
        zorder=1,
        gid="binned rows",
        **kwargs,
    )


def _draw_binned_labels(ax, bins, labels, colors):
    """Each bin in the colour of its most frequent label, opaque in proportion to log count.

    ``labels`` are 0..L-1 indices into ``colors``.
    """
    n_labels = len(colors)
    counts = np.bincount(
        bins.index * n_labels + labels, minlength=bins.n_bins**2 * n_labels
    ).reshape(bins.n_bins, bins.n_bins, n_labels)
    total = counts.sum(axis=2)
    image = np.asarray(colors, dtype=np.float64)[counts.argmax(axis=2)]
    image[..., 3] = np.log1p(total) / np.log1p(total.max())
    return _show_bins(ax, image, bins)


def _draw_binned_mean(ax, bins, values, cmap, norm):
    """Each bin coloured by the mean of ``values`` over its rows; empty bins left blank."""
    size = bins.n_bins**2
    counts = np.bincount(bins.index, minlength=size)
    sums = np.bincount(bins.index, weights=values, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.ma.masked_invalid(sums / counts).reshape(bins.n_bins, bins.n_bins)
    return _show_bins(ax, mean, bins, cmap=cmap, norm=norm)


def _draw_binned_counts(ax, bins):
    """The rows per bin in greys on a log scale; empty bins left blank."""
    counts = np.bincount(bins.index, minlength=bins.n_bins**2).reshape(bins.n_bins, bins.n_bins)
    image = np.ma.masked_equal(counts, 0)
    norm = matplotlib.colors.LogNorm(vmin=1, vmax=max(int(counts.max()), 2))
    return _show_bins(ax, image, bins, cmap="Greys", norm=norm, alpha=0.9)


def _binned_handle(view, what):
    text = textwrap.fill(f"{_rows_text(view)}, binned ({what})", width=34)
    return Patch(facecolor="lightgray", edgecolor="gray", label=text)


def outline_histogram(ax, values, edges, label, linewidth=1.0):
    """Test rows as a dotted outline on the training histogram's bins; its legend handle."""
    _, _, steps = ax.hist(
        values,
        bins=edges,
        density=True,
        histtype="step",
        color="black",
        linewidth=linewidth,
        linestyle=":",
        label=label,
    )
    return steps[0]
