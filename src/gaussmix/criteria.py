"""Information criteria at their first path, kept for compatibility.

They live in :mod:`gaussmix.engine.criteria`.
"""

from .engine.criteria import (
    CONVENTIONS,
    aic,
    bic,
    classification_entropy,
    component_covariance_matrices,
    degeneracy,
    icl,
)

__all__ = [
    "CONVENTIONS",
    "aic",
    "bic",
    "classification_entropy",
    "component_covariance_matrices",
    "degeneracy",
    "icl",
]
