"""Model selection: the information criterion of every candidate of a search."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib
import matplotlib.colors
import matplotlib.ticker
import numpy as np
from sklearn.exceptions import NotFittedError

from ._common import _new_axes

CRITERION_LABELS = {"bic": "BIC", "aic": "AIC", "icl": "ICL"}


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
