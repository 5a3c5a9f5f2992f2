"""Model-selection curves (``gaussmix.plot.criterion``): one line per covariance model, the
best candidate and the spurious ones marked.
"""

from __future__ import annotations

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest

from gaussmix.covariance import MCLUST_NAMES
from gaussmix.plot import (
    plot_criterion,
)
from plot_helpers import (
    RESULTS,
    FittedSelector,
    criterion_lines,
    drawn,
    legend_texts,
)


@pytest.mark.parametrize(
    "source",
    ["mapping", "dataframe", "selector"],
    ids=["mapping", "dataframe", "selector"],
)
def test_criterion_lines_best_and_spurious(source):
    if source == "selector":
        ax = plot_criterion(FittedSelector())
    else:
        table = RESULTS if source == "mapping" else pd.DataFrame(RESULTS)
        ax = plot_criterion(table, best_index=1)
    lines = criterion_lines(ax)
    # Full: every candidate joined in order. Diag: the spurious 3 and the failed 4 left out.
    np.testing.assert_array_equal(lines["full"].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(lines["full"].get_ydata(), [120, 95, 99, 104])
    np.testing.assert_array_equal(lines["diag"].get_xdata(), [1, 2])
    np.testing.assert_array_equal(lines["diag"].get_ydata(), [130, 101])
    spurious = lines["spurious fit (excluded)"]
    assert spurious.get_linestyle() == "None"
    np.testing.assert_array_equal(np.column_stack(spurious.get_data()), [[3, 98.0]])
    (chosen_label,) = [label for label in lines if label.startswith("chosen")]
    np.testing.assert_array_equal(np.column_stack(lines[chosen_label].get_data()), [[2, 95.0]])
    assert "2 components,\nfull" in chosen_label
    assert ax.get_xlabel() == "number of components"
    assert ax.get_ylabel() == "BIC (lower is better)"
    assert ax.get_title() == "BIC of every candidate model"
    texts = legend_texts(ax)
    assert texts[:3] == ["full", "diag", "spurious fit (excluded)"]
    assert texts[3] == chosen_label


def test_criterion_other_column_and_unmarked_table():
    ax = plot_criterion(RESULTS, criterion="aic")
    lines = criterion_lines(ax)
    np.testing.assert_array_equal(lines["full"].get_ydata(), [110, 80, 78, 77])
    assert not any(label.startswith("chosen") for label in lines)
    assert ax.get_ylabel() == "AIC (lower is better)"
    with pytest.raises(ValueError, match="'icl'"):
        plot_criterion(RESULTS, criterion="icl")
    with pytest.raises(ValueError, match="best_index 8"):
        plot_criterion(RESULTS, best_index=8)


def _mclust_table(n_components, offsets):
    """Candidates of mclust's 14 models: model i's criterion is ``offsets[i]`` plus a bowl in K."""
    names = list(MCLUST_NAMES)
    rows = [
        (k, name, offset + (k - 3) ** 2)
        for name, offset in zip(names, offsets)
        for k in n_components
    ]
    return {
        "n_components": [row[0] for row in rows],
        "covariance_type": [row[1] for row in rows],
        "bic": [float(row[2]) for row in rows],
        "spurious": [False] * len(rows),
    }


def test_fourteen_models_differ_in_colour_marker_and_line():
    ax = plot_criterion(_mclust_table(range(1, 6), np.arange(14.0)), best_index=2)
    lines = criterion_lines(ax)
    series = [lines[name] for name in MCLUST_NAMES]
    styles = {(line.get_marker(), line.get_linestyle()) for line in series}
    assert len(styles) == 14
    rgb = np.array([matplotlib.colors.to_rgb(line.get_color()) for line in series])
    distances = np.linalg.norm(rgb[:, None, :] - rgb[None, :, :], axis=2)
    # No two colours closer than 0.2 in RGB, none paler than 0.4 from white: tab20's
    # first 14 (the palette of the issue) are 0.15 apart at closest and 0.34 from white.
    assert distances[np.triu_indices(14, 1)].min() > 0.2
    assert np.linalg.norm(rgb - 1.0, axis=1).min() > 0.4


def test_one_number_of_components_gets_one_integer_tick():
    table = {"n_components": [3, 3], "covariance_type": ["VVV", "EEE"], "bic": [10.0, 12.0]}
    ax = plot_criterion(table, best_index=0)
    drawn(ax.figure)
    low, high = ax.get_xlim()
    ticks = [tick for tick in ax.get_xticks() if low <= tick <= high]
    assert ticks == [3]


def test_candidates_beyond_the_axis_are_counted_and_marked_on_its_edge():
    # 14 models x 1-5 components: the one-component fits far above the rest, one
    # spurious fit far below them.
    table = _mclust_table(range(1, 6), np.linspace(0.0, 3.0, 14))
    values = np.array(table["bic"])
    ones = np.array(table["n_components"]) == 1
    values[ones] += 500.0
    values[7] = -400.0
    table["bic"] = list(values)
    table["spurious"] = [i == 7 for i in range(len(values))]
    ax = plot_criterion(table)
    low, high = ax.get_ylim()
    above, below = values > high, values < low
    assert above.sum() == 14 and below.sum() == 1  # what the data say, measured on the axis
    lines = criterion_lines(ax)
    up = lines["14 candidates above the axis"]
    down = lines["1 candidate below the axis"]
    np.testing.assert_array_equal(up.get_xdata(), np.array(table["n_components"])[above])
    np.testing.assert_array_equal(down.get_xdata(), [table["n_components"][7]])
    # On the frame: y is in axes fraction, 1 at the top edge and 0 at the bottom.
    np.testing.assert_array_equal(up.get_ydata(), 1.0)
    np.testing.assert_array_equal(down.get_ydata(), 0.0)
    assert legend_texts(ax).count("14 candidates above the axis") == 1
    assert not ax.texts  # no note inside the axes for the lines to cross
