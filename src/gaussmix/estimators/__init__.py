"""Estimators: validate input, call the engine, store fitted attributes."""

from .bayesian_mixture import BayesianGaussianMixture
from .gaussian_mixture import GaussianMixture
from .imputer import GaussianMixtureImputer
from .model_selection import GaussianMixtureIC, SpuriousFitWarning
from .regressor import GaussianMixtureRegressor

__all__ = [
    "BayesianGaussianMixture",
    "GaussianMixture",
    "GaussianMixtureIC",
    "GaussianMixtureImputer",
    "GaussianMixtureRegressor",
    "SpuriousFitWarning",
]
