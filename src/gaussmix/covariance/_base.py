"""The contract every covariance model fulfils, and the helpers they share.

A covariance model is a stateless object. It knows four things about its family
of Gaussians: how to turn covariances into the Cholesky factor of the precision
(and back), the log-determinant of that factor, how many free parameters it has,
and two kernels that the EM loop runs on every chunk of rows:

``log_gaussian_prob``
    the component log-densities of a chunk (rows already shifted by the data
    centre), computed from arrays that ``prepare`` built once per iteration;
``moments``
    the model's sufficient statistics of that chunk, given the weighted
    responsibilities. Statistics are plain sums, so two chunks merge by addition.

``m_step`` turns the merged statistics into new means and covariances. The EM
loop never branches on the model: adding a model means adding a module and a
registry line.
"""

from __future__ import annotations

import math
from enum import IntEnum
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)


class Axis(IntEnum):
    """Named axes of the ``(n_samples, n_components)`` arrays of the kernels."""

    samples = 0
    components = 1


class Prepared(NamedTuple):
    """Arrays a model precomputes once per EM iteration for its chunk kernels.

    Attributes
    ----------
    log_norm : ndarray of shape (n_components,)
        ``log det(precision_chol) - n_features / 2 * log(2 pi)`` per component,
        in the data's dtype.
    arrays : dict
        Model-specific arrays (stacked precision factors, biases, ...), in the
        data's dtype, plus any float64 factors the M-step needs.
    """

    log_norm: np.ndarray
    arrays: dict


@runtime_checkable
class CovarianceModel(Protocol):
    """What the engine needs from a covariance model.

    All methods are pure functions of their arguments; a model holds no state
    beyond its ``name``.
    """

    name: str

    def covariance_shape(self, n_components: int, n_features: int) -> tuple: ...

    def n_parameters(self, n_components: int, n_features: int) -> int: ...

    def precisions_cholesky(self, covariances: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def precisions_cholesky_from_precisions(self, precisions: np.ndarray) -> np.ndarray: ...

    def precisions_from_cholesky(self, precisions_chol: np.ndarray) -> np.ndarray: ...

    def covariances_from_cholesky(self, precisions_chol: np.ndarray) -> np.ndarray: ...

    def log_det_cholesky(self, precisions_chol: np.ndarray, n_features: int) -> np.ndarray: ...

    def check_precisions(
        self, precisions: Any, n_components: int, n_features: int
    ) -> np.ndarray: ...

    def prepare(
        self, means_shifted: np.ndarray, precisions_chol: np.ndarray, dtype
    ) -> Prepared: ...

    def workspace(self, n_rows: int, n_components: int, n_features: int, dtype) -> dict: ...

    def log_gaussian_prob(self, Xc: np.ndarray, prepared: Prepared, work: dict) -> np.ndarray: ...

    def moments(
        self,
        Xc: np.ndarray,
        resp_weighted: np.ndarray,
        sample_weight: np.ndarray | None,
        prepared: Prepared,
        work: dict,
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def m_step(
        self,
        nk: np.ndarray,
        first: np.ndarray,
        second: np.ndarray,
        prepared: Prepared,
        means_shifted: np.ndarray,
        reg_covar: float,
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def from_pooled(self, pooled_covariance: np.ndarray, n_components: int) -> np.ndarray: ...

    def replace_components(
        self, covariances: np.ndarray, source: np.ndarray, components: np.ndarray
    ) -> np.ndarray: ...

    def sample(
        self,
        rng: np.random.RandomState,
        means: np.ndarray,
        covariances: np.ndarray,
        counts: np.ndarray,
    ) -> np.ndarray: ...


def check_shape(array: np.ndarray, shape: tuple, name: str) -> None:
    """Raise a ValueError naming ``name`` when ``array`` is not of ``shape``."""
    if array.shape != tuple(shape):
        raise ValueError(
            f"The parameter '{name}' should have the shape of {tuple(shape)}, "
            f"but got {array.shape}."
        )


def as_float_array(value: Any, name: str) -> np.ndarray:
    """Convert a user-given parameter to a finite float64 array."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"The parameter '{name}' must be an array of numbers: {exc}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"The parameter '{name}' contains NaN or infinity.")
    return array


def check_symmetric_positive_definite(matrices: np.ndarray, name: str) -> None:
    """Raise a ValueError unless every matrix of a stack is symmetric positive definite."""
    for k, matrix in enumerate(matrices.reshape(-1, *matrices.shape[-2:])):
        if not np.allclose(matrix, matrix.T):
            raise ValueError(
                f"'{name}' matrix {k} is not symmetric: pass symmetric, positive-definite "
                "precision matrices (the inverses of covariance matrices)."
            )
        if np.linalg.eigvalsh(matrix).min() <= 0.0:
            raise ValueError(
                f"'{name}' matrix {k} is not positive definite: pass symmetric, "
                "positive-definite precision matrices (the inverses of covariance matrices)."
            )


def flip(matrix: np.ndarray) -> np.ndarray:
    """Reverse the last two axes (the exchange-matrix similarity ``J M J``)."""
    return matrix[..., ::-1, ::-1]
