"""gaussmix: fast, scikit-learn-compatible Gaussian mixture models."""

from .collapse import CollapseError, CollapseWarning
from .estimators import GaussianMixture

__version__ = "0.1.0"

__all__ = ["CollapseError", "CollapseWarning", "GaussianMixture", "__version__"]
