"""Shared by the figure tests (``tests/plot/``): covariances expanded by their definitions, what
a figure drew (legend texts, ellipses and their level sets), a model-selection table.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.patches import Ellipse

from gaussmix import GaussianMixture
from gaussmix.covariance import COVARIANCE_MODELS

# scikit-learn's four storages, expanded below by their definitions.
STORAGE_TYPES = ["full", "tied", "diag", "spherical"]


def multivariate_models():
    names = []
    for name, model in COVARIANCE_MODELS.items():
        try:
            model.check_n_features(3)
        except ValueError:
            continue
        names.append(name)
    return names


def full_covariances(covariances, covariance_type, n_components, n_features):
    """(K, D, D) covariances from scikit-learn's storage of ``covariance_type``."""
    if covariance_type == "full":
        return np.array(covariances)
    if covariance_type == "tied":
        return np.array([covariances] * n_components)
    if covariance_type == "diag":
        return np.array([np.diag(row) for row in covariances])
    return np.array([value * np.eye(n_features) for value in covariances])


def fitted(X, n_components, covariance_type="full"):
    return GaussianMixture(n_components, covariance_type=covariance_type, random_state=0).fit(X)


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def ellipses(ax):
    return [patch for patch in ax.patches if isinstance(patch, Ellipse)]


# --------------------------------------------------------------------- clusters
def assert_ellipses_match(ax, means, covariances, sigmas):
    """Each ellipse is ``{x : (x - mu)' Sigma^-1 (x - mu) = sigma^2}`` of its component."""
    patches = {patch.get_gid(): patch for patch in ellipses(ax)}
    assert len(patches) == len(means) * len(sigmas)
    for k, (mean, covariance) in enumerate(zip(means, covariances)):
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        precision = np.linalg.inv(covariance)
        for sigma in sigmas:
            patch = patches[f"component {k} {sigma:g}-sigma ellipse"]
            np.testing.assert_allclose(patch.center, mean, rtol=1e-12)
            np.testing.assert_allclose(patch.width / 2, sigma * np.sqrt(eigenvalues[1]), rtol=1e-10)
            np.testing.assert_allclose(
                patch.height / 2, sigma * np.sqrt(eigenvalues[0]), rtol=1e-10
            )
            direction = np.array([np.cos(np.radians(patch.angle)), np.sin(np.radians(patch.angle))])
            assert abs(direction @ eigenvectors[:, 1]) == pytest.approx(1.0, abs=1e-10)
            # Points the patch's own transform puts on the ellipse, in data coordinates.
            angles = np.linspace(0, 2 * np.pi, 13)
            unit_circle = np.column_stack([np.cos(angles), np.sin(angles)])
            on_ellipse = patch.get_patch_transform().transform(unit_circle) - mean
            squared_distance = np.einsum("ni,ij,nj->n", on_ellipse, precision, on_ellipse)
            np.testing.assert_allclose(squared_distance, sigma**2, rtol=1e-9)


# -------------------------------------------------------------------- criterion
RESULTS = {
    "n_components": [1, 2, 3, 4, 1, 2, 3, 4],
    "covariance_type": ["full"] * 4 + ["diag"] * 4,
    "bic": [120.0, 95.0, 99.0, 104.0, 130.0, 101.0, 90.0, np.nan],
    "aic": [110.0, 80.0, 78.0, 77.0, 125.0, 92.0, 70.0, np.nan],
    "spurious": [False, False, False, False, False, False, True, False],
}


class FittedSelector:
    """What plot_criterion reads from a fitted GaussianMixtureIC."""

    results_ = RESULTS
    criterion = "bic"
    best_index_ = 1


def criterion_lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}
