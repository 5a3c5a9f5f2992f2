"""Model-selection curves (``gaussmix.plot.criterion``): one line per covariance model, the
best candidate and the spurious ones marked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gaussmix.plot import (
    plot_criterion,
)
from plot_helpers import (
    RESULTS,
    FittedSelector,
    criterion_lines,
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
    np.testing.assert_array_equal(np.column_stack(spurious.get_data()), [[3, 90.0]])
    (chosen_label,) = [label for label in lines if label.startswith("chosen")]
    np.testing.assert_array_equal(np.column_stack(lines[chosen_label].get_data()), [[2, 95.0]])
    assert "2 components, full" in chosen_label
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
