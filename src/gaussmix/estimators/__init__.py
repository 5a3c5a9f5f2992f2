"""Estimators: validate input, call the engine, store fitted attributes."""

from .gaussian_mixture import GaussianMixture

__all__ = ["GaussianMixture"]
