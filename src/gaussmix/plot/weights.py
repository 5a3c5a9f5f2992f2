"""Component weights of a variational mixture: which components the data kept."""

from __future__ import annotations

import matplotlib.ticker
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from sklearn.exceptions import NotFittedError

from ..engine.variational import EFFECTIVE_WEIGHT, data_shares
from ._common import _legend_outside, _new_axes, _set_title, component_colors

# EFFECTIVE_WEIGHT (re-exported): the share of the training rows above which a component
# counts as kept, the threshold of BayesianGaussianMixture.effective_n_components_ and of
# its to_gaussian_mixture() (1%).


def component_shares(model):
    """Each component's share of the training rows, ``n_k / n``, from a fitted model.

    For a :class:`gaussmix.BayesianGaussianMixture` (or scikit-learn's) the
    expected number of rows of each component is read from the posterior's
    public ``weight_concentration_``: under the Dirichlet process it is
    ``a_k - 1`` (the stick-breaking Betas' first parameters), under the
    Dirichlet distribution ``alpha_k - weight_concentration_prior_``; these are
    the shares ``effective_n_components_`` counts. ``weights_`` would not do:
    they hold the prior's pseudo-counts too. For any other mixture, the shares
    are its ``weights_``.

    Parameters
    ----------
    model : fitted mixture

    Returns
    -------
    ndarray of shape (n_components,)
        Non-negative, summing to 1.
    """
    if not hasattr(model, "weights_"):
        raise NotFittedError(
            f"This {type(model).__name__} has no weights_: call its fit(X) before plotting it."
        )
    concentration = getattr(model, "weight_concentration_", None)
    if concentration is None:
        weights = np.maximum(np.asarray(model.weights_, dtype=np.float64), 0.0)
        return weights / weights.sum()
    # The estimator's own reading of the posterior (gaussmix.engine.variational).
    return data_shares(
        model.weight_concentration_prior_type,
        concentration,
        float(model.weight_concentration_prior_),
    )


def plot_weights(model, *, threshold=EFFECTIVE_WEIGHT, ax=None, title=None):
    """The components' shares of the training rows, largest first, and the threshold kept above.

    One bar per component, sorted by its share ``n_k / n`` (see
    :func:`component_shares`); a dashed line at ``threshold``. Components above
    it, those a variational fit's ``effective_n_components_`` counts and its
    ``to_gaussian_mixture()`` keeps, are coloured as the kept mixture's
    components are in every other figure (:func:`component_colors` of the kept
    ones, in their original order); the others are grey. The tick under each
    bar is the component's index in the fitted model, the text over it its share.

    Parameters
    ----------
    model : fitted BayesianGaussianMixture (or any mixture with ``weights_``)
    threshold : float, default=EFFECTIVE_WEIGHT (0.01)
    ax : matplotlib.axes.Axes, default=None
    title : str, default=None
        Default: "Component weights: the data kept K of N components".

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from gaussmix import BayesianGaussianMixture
    >>> from gaussmix.plot import plot_weights
    >>> X = np.r_[np.random.default_rng(0).normal(0, 1, (100, 1)), np.full((100, 1), 10.0)]
    >>> ax = plot_weights(BayesianGaussianMixture(n_components=4, random_state=0).fit(X))
    >>> ax.get_xlabel()
    'component (by decreasing share)'
    """
    shares = component_shares(model)
    n_components = shares.size
    kept = np.flatnonzero(shares > threshold)
    if kept.size == 0:  # as to_gaussian_mixture(): the largest is always kept
        kept = np.array([int(np.argmax(shares))])
    kept_colors = component_colors(kept.size)
    colors = np.tile(np.array([0.75, 0.75, 0.75, 1.0]), (n_components, 1))
    colors[kept] = kept_colors
    order = np.argsort(-shares, kind="stable")

    ax = _new_axes(ax)
    positions = np.arange(n_components)
    ax.bar(positions, shares[order], color=colors[order], edgecolor="black", linewidth=0.6)
    ax.axhline(threshold, color="black", linestyle="--", linewidth=1.0)
    # Each bar's share above it: a left-out component's bar is often too low to see.
    for position, share in zip(positions, shares[order]):
        text = f"{share:.1%}" if share >= 0.001 else "<0.1%"
        ax.annotate(
            text,
            (position, share),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize="small",
        )
    ax.set_xticks(positions, [str(int(k)) for k in order])
    ax.set_xlim(-0.6, n_components - 0.4)
    ax.set_ylim(0.0, max(float(shares.max()) * 1.12, threshold * 2.0))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(xmax=1.0))
    ax.set_xlabel("component (by decreasing share)")
    ax.set_ylabel("share of the training rows (n_k / n)")
    if title is None:
        title = (
            f"Component weights: the data kept {kept.size} of {n_components} "
            f"component{'s' if n_components != 1 else ''}"
        )
    _set_title(ax, title)
    handles = [
        Patch(facecolor=kept_colors[0], edgecolor="black", label="kept (coloured as elsewhere)"),
        Patch(facecolor=(0.75, 0.75, 0.75), edgecolor="black", label="left out"),
        Line2D([], [], color="black", linestyle="--", label=f"threshold {threshold:.0%}"),
    ]
    if kept.size == n_components:
        handles.pop(1)
    _legend_outside(ax, handles)
    return ax
