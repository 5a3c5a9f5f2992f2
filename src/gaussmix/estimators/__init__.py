"""Estimators: validate input, call the engine, store fitted attributes."""

from .gaussian_mixture import GaussianMixture
from .model_selection import GaussianMixtureIC, SpuriousFitWarning

__all__ = ["GaussianMixture", "GaussianMixtureIC", "SpuriousFitWarning"]
