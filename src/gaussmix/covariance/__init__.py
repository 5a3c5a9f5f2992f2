"""Covariance models and the registry that maps ``covariance_type`` names to them.

Adding a model is adding a module that implements :class:`CovarianceModel` and
one line in ``COVARIANCE_MODELS``; nothing else in the engine changes.
"""

from __future__ import annotations

from ._base import CovarianceModel, Prepared
from .diag import DiagCovariance
from .full import FullCovariance
from .spherical import SphericalCovariance
from .tied import TiedCovariance

COVARIANCE_MODELS: dict[str, CovarianceModel] = {
    "full": FullCovariance(),
    "tied": TiedCovariance(),
    "diag": DiagCovariance(),
    "spherical": SphericalCovariance(),
}


def get_covariance_model(name: str) -> CovarianceModel:
    """Return the covariance model registered under ``name``.

    Parameters
    ----------
    name : str
        A key of ``COVARIANCE_MODELS``, e.g. ``"full"``.

    Returns
    -------
    model : CovarianceModel
        The stateless model object.
    """
    try:
        return COVARIANCE_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(COVARIANCE_MODELS))
        raise ValueError(f"Unknown covariance_type {name!r}; choose one of: {known}.") from None


__all__ = ["COVARIANCE_MODELS", "CovarianceModel", "Prepared", "get_covariance_model"]
