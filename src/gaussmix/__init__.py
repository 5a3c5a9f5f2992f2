"""gaussmix: fast, scikit-learn-compatible Gaussian mixture models."""

from .collapse import CollapseError, CollapseWarning
from .estimators import GaussianMixture, GaussianMixtureIC, SpuriousFitWarning
from .model_io import ModelFileError
from .prior import ConjugatePrior

__version__ = "0.1.0"


def load(path):
    """Read a model written by ``GaussianMixture.save`` (see ``docs/model-format.md``).

    Loading never executes code from the file; a truncated, tampered or
    future-version file is refused with a ValueError.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    GaussianMixture
        The fitted model, its parameters identical bit for bit to the saved ones.
    """
    from .model_io import load_model

    return load_model(path)


__all__ = [
    "CollapseError",
    "CollapseWarning",
    "ConjugatePrior",
    "GaussianMixture",
    "GaussianMixtureIC",
    "ModelFileError",
    "SpuriousFitWarning",
    "__version__",
    "load",
]
