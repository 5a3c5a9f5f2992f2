"""Model files, at the path of gaussmix 0.1's first releases (kept for compatibility).

The format lives in :mod:`gaussmix.data.model_file` and the estimators' side in
:mod:`gaussmix.estimators.persistence`; use ``model.save(path)`` and
:func:`gaussmix.load` in new code.
"""

from .data.model_file import (
    FITTED_ARRAYS,
    FORMAT,
    FORMAT_VERSION,
    ModelFileError,
    StoredModel,
    covariance_storage,
    read_model_file,
    write_model_file,
)
from .estimators.persistence import load_model, save_model

__all__ = [
    "FITTED_ARRAYS",
    "FORMAT",
    "FORMAT_VERSION",
    "ModelFileError",
    "StoredModel",
    "covariance_storage",
    "load_model",
    "read_model_file",
    "save_model",
    "write_model_file",
]
