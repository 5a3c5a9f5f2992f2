"""A variational mixture's component weights (``gaussmix.plot.weights``): sorted shares, the
threshold that ``effective_n_components_`` counts above, kept components in their colours.
"""

from __future__ import annotations

import matplotlib.colors
import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError

from gaussmix import BayesianGaussianMixture, GaussianMixture
from gaussmix.estimators.bayesian_mixture import EFFECTIVE_WEIGHT as ESTIMATOR_THRESHOLD
from gaussmix.plot import EFFECTIVE_WEIGHT, component_colors, component_shares, plot_weights
from plot_helpers import legend_texts


@pytest.fixture(scope="module")
def variational():
    X, _ = make_blobs(300, 2, centers=[[-6, 0], [0, 6], [6, 0]], cluster_std=0.8, random_state=1)
    return BayesianGaussianMixture(n_components=6, max_iter=500, random_state=0).fit(X)


def test_shares_are_the_counts_effective_n_components_reads(variational):
    assert EFFECTIVE_WEIGHT == ESTIMATOR_THRESHOLD
    shares = component_shares(variational)
    np.testing.assert_allclose(shares.sum(), 1.0)
    # Expected rows per component: the responsibilities summed over the training rows.
    a_k = variational.weight_concentration_[0]
    np.testing.assert_allclose(shares, (a_k - 1.0) / (a_k - 1.0).sum())
    assert int((shares > EFFECTIVE_WEIGHT).sum()) == variational.effective_n_components_ == 3
    # The Dirichlet distribution's: the concentration minus the prior.
    other = BayesianGaussianMixture(
        n_components=4, weight_concentration_prior_type="dirichlet_distribution", random_state=0
    ).fit(np.random.default_rng(0).normal(size=(50, 2)))
    expected = other.weight_concentration_ - other.weight_concentration_prior_
    np.testing.assert_allclose(component_shares(other), expected / expected.sum())


def test_bars_sorted_threshold_line_and_kept_colours(variational):
    ax = plot_weights(variational)
    shares = component_shares(variational)
    bars = ax.patches
    heights = np.array([bar.get_height() for bar in bars])
    np.testing.assert_allclose(heights, np.sort(shares)[::-1])
    order = np.argsort(-shares, kind="stable")
    assert [tick.get_text() for tick in ax.get_xticklabels()] == [str(k) for k in order]
    kept = np.flatnonzero(shares > EFFECTIVE_WEIGHT)
    colors = component_colors(kept.size)
    for position, k in enumerate(order):
        face = matplotlib.colors.to_rgba(bars[position].get_facecolor())
        if k in kept:
            np.testing.assert_allclose(face, colors[list(kept).index(k)])
        else:
            np.testing.assert_allclose(face[:3], [0.75, 0.75, 0.75])
    (line,) = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    np.testing.assert_allclose(line.get_ydata(), [EFFECTIVE_WEIGHT] * 2)
    assert ax.get_title() == "Component weights: the data kept 3 of 6 components"
    assert ax.get_xlabel() == "component (by decreasing share)"
    assert ax.get_ylabel() == "share of the training rows (n_k / n)"
    assert legend_texts(ax) == ["kept (coloured as elsewhere)", "left out", "threshold 1%"]


def test_a_gaussian_mixture_shows_its_weights_and_unfitted_is_refused():
    X, _ = make_blobs(120, 2, centers=2, random_state=0)
    model = GaussianMixture(n_components=2, random_state=0).fit(X)
    np.testing.assert_allclose(component_shares(model), model.weights_)
    ax = plot_weights(model, title="weights")
    assert ax.get_title() == "weights" and len(ax.patches) == 2
    assert "left out" not in legend_texts(ax)
    with pytest.raises(NotFittedError, match="fit"):
        plot_weights(BayesianGaussianMixture())
