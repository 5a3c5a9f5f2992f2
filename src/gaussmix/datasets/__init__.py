"""Data sets shipped with gaussmix.

``faithful.csv`` is the Old Faithful geyser data: 272 eruptions with their
duration and the waiting time to the next one, both in minutes. Public-domain
data from Azzalini, A. and Bowman, A. W. (1990), "A look at some data on the
Old Faithful geyser", Applied Statistics 39, 357-365, as distributed with R's
``datasets`` package.
"""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np

FAITHFUL_UNITS = {"eruptions": "min", "waiting": "min"}


def load_faithful():
    """Load the Old Faithful geyser data.

    Returns
    -------
    X : ndarray of shape (272, 2)
        Eruption duration and waiting time to the next eruption, in minutes.
    feature_names : list of str
        ``["eruptions", "waiting"]``.
    """
    text = resources.files(__package__).joinpath("data", "faithful.csv").read_text()
    rows = list(csv.reader(text.splitlines()))
    feature_names = rows[0]
    X = np.array([[float(value) for value in row] for row in rows[1:]])
    return X, feature_names


__all__ = ["FAITHFUL_UNITS", "load_faithful"]
