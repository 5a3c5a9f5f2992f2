"""Covariance models and the registry that maps ``covariance_type`` names to them.

Adding a model is adding a module that implements :class:`CovarianceModel` and
one line in ``COVARIANCE_MODELS``; nothing else in the engine changes.

The registry holds scikit-learn's four names and mclust's eigen-decomposition
family ``Sigma_k = lambda_k D_k A_k D_k'`` (volume, shape, orientation each
Equal, Variable or the Identity). scikit-learn's names are the same objects as
their mclust equivalents, so both names give identical fits. Storage of
``covariances_`` (and of the precision arrays) by name:

- ``(n_components,)``: spherical = VII, EII; E and V (one feature only);
- ``(n_components, n_features)``: diag = VVI, EEI, VEI, EVI;
- ``(n_features, n_features)``: tied = EEE;
- ``(n_components, n_features, n_features)``: full = VVV, VEE, EVE, VVE, EEV,
  VEV, EVV.

Constrained models keep their equal parts exactly equal in that storage (EII's
entries are equal, EEV's matrices have equal eigenvalues, ...).
"""

from __future__ import annotations

from ._base import CovarianceModel, Prepared
from ._names import MCLUST_NAMES, SKLEARN_NAMES, UNIVARIATE_NAMES
from .diag import DiagCovariance
from .diagonal_family import (
    EqualDiagonalCovariance,
    EqualVolumeDiagonalCovariance,
    VariableVolumeDiagonalCovariance,
)
from .ellipsoidal_family import (
    EqualOrientationCovariance,
    EqualVolumeCovariance,
    EqualVolumeOrientationCovariance,
    EqualVolumeShapeCovariance,
    VariableVolumeEqualShapeCovariance,
    VariableVolumeEqualShapeOrientationCovariance,
)
from .full import FullCovariance
from .spherical import SphericalCovariance
from .spherical_family import (
    EqualSphericalCovariance,
    UnivariateEqualVariance,
    UnivariateVariableVariance,
)
from .tied import TiedCovariance

_full, _tied, _diag, _spherical = (
    FullCovariance(),
    TiedCovariance(),
    DiagCovariance(),
    SphericalCovariance(),
)
# Ordered for messages: scikit-learn's names, mclust's (its own order), univariate.
# scikit-learn's names are mclust models: the same objects under both names.
COVARIANCE_MODELS: dict[str, CovarianceModel] = {
    "full": _full,
    "tied": _tied,
    "diag": _diag,
    "spherical": _spherical,
    "EII": EqualSphericalCovariance(),
    "VII": _spherical,
    "EEI": EqualDiagonalCovariance(),
    "VEI": VariableVolumeDiagonalCovariance(),
    "EVI": EqualVolumeDiagonalCovariance(),
    "VVI": _diag,
    "EEE": _tied,
    "VEE": VariableVolumeEqualShapeOrientationCovariance(),
    "EVE": EqualVolumeOrientationCovariance(),
    "VVE": EqualOrientationCovariance(),
    "EEV": EqualVolumeShapeCovariance(),
    "VEV": VariableVolumeEqualShapeCovariance(),
    "EVV": EqualVolumeCovariance(),
    "VVV": _full,
    "E": UnivariateEqualVariance(),
    "V": UnivariateVariableVariance(),
}


def get_covariance_model(name: str) -> CovarianceModel:
    """Return the covariance model registered under ``name``.

    Parameters
    ----------
    name : str
        A key of ``COVARIANCE_MODELS``, e.g. ``"full"`` or ``"VEV"``.

    Returns
    -------
    model : CovarianceModel
        The stateless model object.
    """
    try:
        return COVARIANCE_MODELS[name]
    except KeyError:
        raise ValueError(
            f"Unknown covariance_type {name!r}; choose one of scikit-learn's "
            f"{', '.join(SKLEARN_NAMES)}; mclust's {', '.join(MCLUST_NAMES)}; "
            f"or, for one feature, {', '.join(UNIVARIATE_NAMES)}."
        ) from None


__all__ = [
    "COVARIANCE_MODELS",
    "MCLUST_NAMES",
    "SKLEARN_NAMES",
    "UNIVARIATE_NAMES",
    "CovarianceModel",
    "Prepared",
    "get_covariance_model",
]
