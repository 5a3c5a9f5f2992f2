"""Figures of a fitted Gaussian mixture: clusters, density, uncertainty, model selection.

Every function takes a fitted mixture (``gaussmix.GaussianMixture``, scikit-learn's,
or any object with ``weights_``, ``means_``, ``covariances_``, ``predict`` and
``predict_proba``) and the data, draws on the matplotlib ``Axes`` passed as ``ax``
(or on a new figure), and returns that ``Axes``; the grid of :func:`plot_pairs`
returns its ``Figure``. Every figure has a title, labelled axes (feature names
with units where known) and a legend, and a component keeps its colour in every
figure (:func:`component_colors`). Legends sit outside the axes (to the right, or
under a grid), colour bars are as long as the panels they belong to, and the axes
span the data, never the components' ellipses.

Every figure takes the training rows as ``X`` and, optionally, held-out rows as
``test_X``: training rows are filled circles, test rows open triangles (outlined
histograms where a feature is shown alone). Above :data:`MAX_SCATTER_ROWS` rows
the points are binned into an image (a 2-D histogram) instead: a bin's colour
is its most frequent component, its mean uncertainty, or its count.

Two-feature panels show the exact *marginal* of the mixture on those features: a
marginal of a Gaussian mixture is the mixture of the components' marginals (the
means' entries and the covariances' sub-blocks of those features), so nothing is
sampled. :func:`plot_projection` uses the same fact for the linear projection on
the data's first two principal components (``A mu_k`` and ``A Sigma_k A'``).

matplotlib is an optional dependency: ``pip install 'gaussmix[plot]'``.

The figures live in one module per family: :mod:`~gaussmix.plot.clusters`
(clusters with sigma ellipses, uncertainty), :mod:`~gaussmix.plot.density`
(exact marginal densities), :mod:`~gaussmix.plot.overview` (principal-component
projection, pair grids, one-feature histograms, :func:`plot_overview`),
:mod:`~gaussmix.plot.criterion` (model-selection curves) and
:mod:`~gaussmix.plot.weights` (a variational mixture's component weights).
"""

from __future__ import annotations

try:
    import matplotlib  # noqa: F401
except ImportError as error:
    raise ImportError(
        "gaussmix.plot needs matplotlib, which is not installed: pip install 'gaussmix[plot]'"
    ) from error

from ._common import KINDS, MAX_SCATTER_ROWS, component_colors, component_covariances
from .clusters import plot_clusters, plot_uncertainty
from .criterion import plot_criterion
from .density import marginal_log_density, plot_density
from .overview import (
    FIGURE_INCHES,
    MAX_PAIR_FEATURES,
    PAIR_PANEL_INCHES,
    plot_overview,
    plot_pairs,
    plot_projection,
    plot_univariate,
)
from .weights import EFFECTIVE_WEIGHT, component_shares, plot_weights

__all__ = [
    "EFFECTIVE_WEIGHT",
    "FIGURE_INCHES",
    "KINDS",
    "MAX_PAIR_FEATURES",
    "MAX_SCATTER_ROWS",
    "PAIR_PANEL_INCHES",
    "component_colors",
    "component_covariances",
    "component_shares",
    "marginal_log_density",
    "plot_clusters",
    "plot_criterion",
    "plot_density",
    "plot_overview",
    "plot_pairs",
    "plot_projection",
    "plot_uncertainty",
    "plot_univariate",
    "plot_weights",
]
