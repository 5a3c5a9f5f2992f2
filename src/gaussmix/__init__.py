"""gaussmix: fast, scikit-learn-compatible Gaussian mixture models."""

from ._version import __version__
from .data.model_file import ModelFileError
from .engine.collapse import CollapseError, CollapseWarning
from .engine.prior import ConjugatePrior
from .estimators import (
    BayesianGaussianMixture,
    GaussianMixture,
    GaussianMixtureIC,
    GaussianMixtureImputer,
    GaussianMixtureRegressor,
    SpuriousFitWarning,
)


def load(path):
    """Read a model written by ``GaussianMixture.save`` or ``BayesianGaussianMixture.save``.

    See ``docs/model-format.md``.

    Loading never executes code from the file; a truncated, tampered or
    future-version file is refused with a ValueError.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    GaussianMixture or BayesianGaussianMixture
        The fitted model, its parameters identical bit for bit to the saved ones.
    """
    from .estimators.persistence import load_model

    return load_model(path)


__all__ = [
    "BayesianGaussianMixture",
    "CollapseError",
    "CollapseWarning",
    "ConjugatePrior",
    "GaussianMixture",
    "GaussianMixtureIC",
    "GaussianMixtureImputer",
    "GaussianMixtureRegressor",
    "ModelFileError",
    "SpuriousFitWarning",
    "__version__",
    "load",
]
