"""Fixtures and helpers of the figure tests: Agg backend, figures closed after each test, data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.datasets import make_blobs

from gaussmix.datasets import load_faithful
from plot_helpers import (
    fitted,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def faithful():
    X, names = load_faithful()
    return X, names, fitted(X, 2)


@pytest.fixture(scope="module")
def blobs3d():
    # Three components in three features: the tied (D, D) and diagonal (K, D)
    # storages have the same shape, the case where shape alone is ambiguous.
    X, _ = make_blobs(300, 3, centers=3, cluster_std=[1.0, 1.5, 0.7], random_state=5)
    X = X @ np.array([[1.0, 0.4, 0.0], [0.0, 1.0, -0.5], [0.3, 0.0, 1.0]])
    return X
