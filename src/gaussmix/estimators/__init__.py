"""Estimators: validate input, call the engine, store fitted attributes."""

from .bayesian_mixture import BayesianGaussianMixture
from .gaussian_mixture import GaussianMixture
from .model_selection import GaussianMixtureIC, SpuriousFitWarning

__all__ = ["BayesianGaussianMixture", "GaussianMixture", "GaussianMixtureIC", "SpuriousFitWarning"]
