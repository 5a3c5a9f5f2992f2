"""Model selection: the information criterion of every candidate of a search."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib
import matplotlib.ticker
import matplotlib.transforms
import numpy as np
from sklearn.exceptions import NotFittedError

from ._common import _make_room, _new_axes, _set_title

CRITERION_LABELS = {"bic": "BIC", "aic": "AIC", "icl": "ICL"}

# 14 series (mclust's covariance models) told apart three ways: a qualitative
# colour each (matplotlib's tab10, then four darker hues unlike any of them), a
# marker each within seven, and solid then dashed lines for the second seven.
SERIES_COLORS = (
    *(matplotlib.colormaps["tab10"](i) for i in range(10)),
    "black",
    "#000075",  # navy
    "#469990",  # teal
    "#800000",  # maroon
)
SERIES_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
SERIES_LINESTYLES = ("-", "--")


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

    One line per covariance type, each with its own colour, marker and line
    style; the chosen candidate is marked; candidates flagged spurious are
    drawn as grey crosses, not joined to the lines. The y axis spans the
    eligible (not spurious) candidates, cut above their bulk when a few are far
    worse: candidates beyond it are triangles on the edge, counted in the
    legend, which sits to the right of the axes.

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
    finite = np.isfinite(values)
    eligible = finite & ~spurious
    low, high = _focus(values[eligible] if eligible.any() else values[finite])
    for i, covariance_type in enumerate(distinct_types):
        rows = np.flatnonzero((np.array(covariance_types) == covariance_type) & eligible)
        rows = rows[np.argsort(n_components[rows], kind="stable")]
        ax.plot(
            n_components[rows],
            values[rows],
            color=SERIES_COLORS[i % len(SERIES_COLORS)],
            marker=SERIES_MARKERS[i % len(SERIES_MARKERS)],
            linestyle=SERIES_LINESTYLES[(i // len(SERIES_MARKERS)) % len(SERIES_LINESTYLES)],
            markersize=5,
            linewidth=1.3,
            label=covariance_type,
        )
    flagged = spurious & finite & (values >= low) & (values <= high)
    if flagged.any():
        ax.plot(
            n_components[flagged],
            values[flagged],
            linestyle="none",
            marker="x",
            markersize=7,
            color="gray",
            label="spurious fit (excluded)",
        )
    _mark_off_scale(ax, n_components, values, finite, low, high)
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
            label=f"chosen: {int(n_components[best_index])} components,\n"
            f"{covariance_types[best_index]} ({name} {values[best_index]:.1f})",
        )
    if finite.any():
        ax.set_ylim(low, high)
    counts = n_components[finite] if finite.any() else n_components
    if counts.size:
        # Half a component beyond the extremes: a single count is one tick, not 2.84..3.16.
        ax.set_xlim(counts.min() - 0.5, counts.max() + 0.5)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlabel("number of components")
    ax.set_ylabel(f"{name} (lower is better)")
    _set_title(ax, f"{name} of every candidate model" if title is None else title)
    _make_room(ax.figure)
    ax.legend(
        title="covariance model",
        fontsize="small",
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
    )
    return ax


def _focus(values):
    """The y range: the bulk of the eligible candidates, so that the best ones are readable.

    A one-component model's criterion is often far above the rest and would
    squeeze every other candidate into a thin band; with at least 8 candidates
    the axis stops at the upper quartile plus half the distance from the best
    to it, and candidates beyond are marked at the edge instead.
    """
    if values.size == 0:
        return -np.inf, np.inf
    low, high = float(values.min()), float(values.max())
    if values.size >= 8:
        q75 = float(np.quantile(values, 0.75))
        high = min(high, q75 + 0.5 * (q75 - low))
    span = high - low if high > low else max(abs(high), 1.0)
    return low - 0.05 * span, high + 0.05 * span


def _mark_off_scale(ax, n_components, values, finite, low, high):
    """Candidates beyond the y range: triangles on the edge they are past, counted in the legend."""
    # x in data coordinates, y in axes fraction: the markers sit on the frame.
    transform = matplotlib.transforms.blended_transform_factory(ax.transData, ax.transAxes)
    for beyond, y, marker, where in (
        (finite & (values > high), 1.0, "^", "above"),
        (finite & (values < low), 0.0, "v", "below"),
    ):
        count = int(beyond.sum())
        if count == 0:
            continue
        ax.plot(
            n_components[beyond],
            np.full(count, y),
            transform=transform,
            linestyle="none",
            marker=marker,
            markersize=7,
            color="dimgray",
            clip_on=False,
            zorder=4,
            label=f"{count} candidate{'s' if count != 1 else ''} {where} the axis",
        )
