"""What every figure shares: checked inputs, colours, views of the data, axes finishing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import matplotlib
import matplotlib.colors
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from matplotlib.lines import Line2D
from sklearn.exceptions import NotFittedError

from ..covariance import COVARIANCE_MODELS
from ..engine.criteria import component_covariance_matrices

KINDS = ("clusters", "density", "uncertainty")


# ------------------------------------------------------------------------ helpers
def component_colors(n_components):
    """Colour of each component, the same in every figure.

    Parameters
    ----------
    n_components : int

    Returns
    -------
    colors : ndarray of shape (n_components, 4)
        RGBA colours: matplotlib's qualitative ``tab10`` indexed by component
        (``tab20`` beyond ten components).

    Examples
    --------
    >>> from gaussmix.plot import component_colors
    >>> component_colors(3).shape
    (3, 4)
    """
    cmap = matplotlib.colormaps["tab10" if n_components <= 10 else "tab20"]
    return np.array([cmap(k % cmap.N) for k in range(n_components)])


def component_covariances(model):
    """Every component's full covariance matrix, whatever the model stores.

    The storage is recognised by its shape, so that any covariance model with
    one of the four storage shapes works: ``(K, D, D)`` one matrix per
    component, ``(D, D)`` one matrix shared by all, ``(K, D)`` diagonals,
    ``(K,)`` one variance per component. When ``K == D`` the shapes
    ``(D, D)`` and ``(K, D)`` coincide; the storage shape of the model
    registered under ``model.covariance_type`` (or a selector's
    ``best_covariance_type_``), asked for ``K != D``, then tells them apart.

    Parameters
    ----------
    model : fitted mixture
        Needs ``means_`` (K, D) and ``covariances_``.

    Returns
    -------
    covariances : ndarray of shape (K, D, D), float64

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixture
    >>> from gaussmix.plot import component_covariances
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    >>> component_covariances(gm).shape
    (2, 3, 3)
    """
    _check_fitted(model, "component_covariances")
    n_components, n_features = np.shape(model.means_)
    name = _covariance_type(model)
    return component_covariance_matrices(
        model.covariances_,
        name if name in COVARIANCE_MODELS else None,
        n_components,
        n_features,
    )


def _covariance_type(model):
    """The model's covariance type name; a selector names its chosen model's."""
    for attribute in ("covariance_type", "best_covariance_type_"):
        name = getattr(model, attribute, None)
        if isinstance(name, str):
            return name
    return None


def _check_fitted(model, function_name):
    missing = [name for name in ("weights_", "means_", "covariances_") if not hasattr(model, name)]
    if missing:
        raise NotFittedError(
            f"{function_name} needs a fitted mixture, but this {type(model).__name__} has no "
            f"{', '.join(missing)}: call its fit(X) first."
        )


class _Data(NamedTuple):
    """The user's ``X`` as given (for the model's methods) and as float64 with names."""

    original: object
    values: np.ndarray
    names: list
    units: list


def _checked_data(model, X, feature_names, units, function_name):
    _check_fitted(model, function_name)
    n_features = int(getattr(model, "n_features_in_", np.shape(model.means_)[1]))
    columns = getattr(X, "columns", None)
    values = np.asarray(X, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(
            f"X must be 2-D (n_samples, n_features), got shape {values.shape}; "
            "reshape one feature with X.reshape(-1, 1)."
        )
    if values.shape[1] != n_features:
        raise ValueError(
            f"X has {values.shape[1]} features but the model was fitted on {n_features}: "
            "pass the data the model was fitted on (same columns, same preprocessing)."
        )
    if not np.isfinite(values).all():
        raise ValueError("X contains NaN or infinity: impute or drop those rows before plotting.")
    if feature_names is None:
        if columns is not None:
            feature_names = [str(name) for name in columns]
        elif hasattr(model, "feature_names_in_"):
            feature_names = [str(name) for name in model.feature_names_in_]
        else:
            feature_names = [f"feature {i}" for i in range(n_features)]
    feature_names = list(feature_names)
    if len(feature_names) != n_features:
        raise ValueError(
            f"feature_names has {len(feature_names)} names for {n_features} features: "
            "give one name per column of X."
        )
    if units is None:
        unit_list = [None] * n_features
    elif isinstance(units, Mapping):
        unit_list = [units.get(name) for name in feature_names]
    elif isinstance(units, str):
        unit_list = [units] * n_features
    else:
        unit_list = list(units)
        if len(unit_list) != n_features:
            raise ValueError(
                f"units has {len(unit_list)} entries for {n_features} features: give one "
                "unit per column of X (None where there is none), or a mapping name -> unit."
            )
    return _Data(X, values, feature_names, unit_list)


def _feature_index(feature, names):
    if isinstance(feature, str):
        if feature not in names:
            raise ValueError(f"Unknown feature {feature!r}; the features are {names}.")
        return names.index(feature)
    if not isinstance(feature, (int, np.integer)) or not -len(names) <= feature < len(names):
        raise ValueError(
            f"Feature {feature!r} is not a column of X: give an index in "
            f"0..{len(names) - 1} or one of the names {names}."
        )
    return int(feature) % len(names)


def _checked_pair(features, names):
    if isinstance(features, str) or len(features) != 2:
        raise ValueError(
            f"features must be two columns of X, e.g. features=(0, 1); got {features!r}."
        )
    pair = tuple(_feature_index(feature, names) for feature in features)
    if pair[0] == pair[1]:
        raise ValueError(f"features must be two different columns of X; got {features!r}.")
    return pair


def _axis_label(name, unit):
    return f"{name} ({unit})" if unit else str(name)


class _View(NamedTuple):
    """The data and the mixture seen on two axes (two features or a projection)."""

    points: np.ndarray  # (n, 2)
    means: np.ndarray  # (K, 2)
    covariances: np.ndarray  # (K, 2, 2)
    xlabel: str
    ylabel: str


def _feature_view(model, data, pair):
    covariances = component_covariances(model)
    index = np.array(pair)
    names = [data.names[i] for i in pair]
    return _View(
        points=data.values[:, index],
        means=np.asarray(model.means_, dtype=np.float64)[:, index],
        covariances=covariances[:, index[:, None], index[None, :]],
        xlabel=_axis_label(names[0], data.units[pair[0]]),
        ylabel=_axis_label(names[1], data.units[pair[1]]),
    )


def _projection_view(model, data):
    if data.values.shape[1] < 2:
        raise ValueError("plot_projection needs at least two features.")
    centre = data.values.mean(axis=0)
    _, singular_values, components = np.linalg.svd(data.values - centre, full_matrices=False)
    variance = singular_values**2
    explained = variance / variance.sum()
    # Same orientation as scikit-learn's PCA: each axis's largest loading is positive.
    signs = np.sign(components[np.arange(2), np.argmax(np.abs(components[:2]), axis=1)])
    projection = components[:2] * signs[:, None]  # A, shape (2, D)
    covariances = component_covariances(model)
    return _View(
        points=(data.values - centre) @ projection.T,
        means=(np.asarray(model.means_, dtype=np.float64) - centre) @ projection.T,
        covariances=projection @ covariances @ projection.T,
        xlabel=f"PC1 ({100 * explained[0]:.1f}% of variance)",
        ylabel=f"PC2 ({100 * explained[1]:.1f}% of variance)",
    )


def _new_axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 5.2), layout="constrained")
    return ax


def _n_components_text(model):
    n_components = len(model.weights_)
    covariance_type = _covariance_type(model)
    text = f"{n_components}-component Gaussian mixture"
    return f"{text}, {covariance_type} covariance" if covariance_type else text


def _finish(ax, view, title):
    ax.set_xlabel(view.xlabel)
    ax.set_ylabel(view.ylabel)
    ax.set_title(title)
    return ax


def _uncertainty(model, data):
    return 1.0 - np.asarray(model.predict_proba(data.original)).max(axis=1)


def _point_labels(model, data, labels):
    if labels is None:
        return np.asarray(model.predict(data.original)), True
    labels = np.asarray(labels)
    if labels.shape != (len(data.values),):
        raise ValueError(
            f"labels must hold one label per sample ({len(data.values)}), got shape {labels.shape}."
        )
    return labels, False


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}; choose one of: {', '.join(KINDS)}.")


# ------------------------------------------------------------------------- drawing
def _means_handle():
    return Line2D(
        [],
        [],
        linestyle="none",
        marker="X",
        markersize=9,
        markerfacecolor="white",
        markeredgecolor="black",
        label="component means",
    )


def _draw_means(ax, view, colors):
    ax.scatter(
        view.means[:, 0],
        view.means[:, 1],
        c=colors,
        marker="X",
        s=110,
        edgecolors="black",
        linewidths=1.2,
        zorder=4,
        label="_component means",
    )
