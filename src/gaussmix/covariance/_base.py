"""The contract every covariance model fulfils, and the helpers they share.

A covariance model is a stateless object. It knows four things about its family
of Gaussians: how to turn covariances into the Cholesky factor of the precision
(and back), the log-determinant of that factor, how many free parameters it has,
and two kernels that the EM loop runs on every chunk of rows:

``weighted_log_prob``
    ``log pi_k + log N(x | mu_k, Sigma_k)`` for a chunk, shape
    ``(n_components, n_rows)``, from the chunk's rows shifted by the data centre
    and transposed (``XcT``, shape ``(n_features, n_rows)``), using arrays that
    ``prepare`` built once per iteration;
``moments``
    the model's sufficient statistics of that chunk, given the weighted
    responsibilities: ``(nk, first, second)``. Statistics are plain sums, so two
    chunks merge by addition.

``m_step`` turns the merged statistics into new means and covariances. The EM
loop never branches on the model: adding a model means adding a module and a
registry line.

A model may have several ways to run the two kernels, with the same results and
different costs (:mod:`gaussmix.covariance._kernels`): ``prepare`` and
``workspace`` pick the cheapest for the shape, and ``workspace(1, ...)`` is the
scratch a chunk needs per row at any number of features.
"""

from __future__ import annotations

import math
from enum import IntEnum
from functools import lru_cache
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)


class Axis(IntEnum):
    """Named axes of the kernels' arrays.

    Kernels work on a chunk transposed: ``XcT`` is ``(n_features, n_rows)`` and
    log-probabilities and responsibilities are ``(n_components, n_rows)``, so
    every element-wise pass and every reduction over components runs over
    contiguous samples.
    """

    components = 0
    samples = 1


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
    absent : tuple of int
        Components of weight zero: their log-weight enters the kernels floored
        at a finite value and scoring sets their rows to ``-inf`` afterwards.
    kernel : object or None
        The chunk kernel these arrays are for (see
        :mod:`gaussmix.covariance._kernels`); ``weighted_log_prob`` and
        ``moments`` run it.
    """

    log_norm: np.ndarray
    arrays: dict
    absent: tuple = ()
    kernel: Any = None


@runtime_checkable
class CovarianceModel(Protocol):
    """What the engine needs from a covariance model.

    All methods are pure functions of their arguments; a model holds no state
    beyond its ``name`` and ``shared_covariance`` flag. Kernels see chunks
    transposed (``XcT``: ``(n_features, n_rows)``, rows minus the data centre)
    and return ``(n_components, n_rows)`` arrays.
    """

    name: str
    shared_covariance: bool

    def covariance_shape(self, n_components: int, n_features: int) -> tuple:
        """Shape of ``covariances_`` (and of the precision arrays)."""
        ...

    def n_parameters(self, n_components: int, n_features: int) -> int:
        """Number of free covariance parameters (means and weights not included)."""
        ...

    def check_n_features(self, n_features: int) -> None:
        """Raise a ValueError naming the models to use when the model cannot fit ``n_features``."""
        ...

    def precisions_cholesky(self, covariances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Upper Cholesky factors of the precisions, and a mask of singular blocks.

        A singular block gets a placeholder factor; the caller decides what to do.
        """
        ...

    def precisions_cholesky_from_precisions(self, precisions: np.ndarray) -> np.ndarray:
        """Factors ``P`` with ``P @ P.T == precisions`` from validated precisions."""
        ...

    def precisions_from_cholesky(self, precisions_chol: np.ndarray) -> np.ndarray:
        """``P @ P.T`` (or ``P**2`` for diagonal models)."""
        ...

    def covariances_from_cholesky(self, precisions_chol: np.ndarray) -> np.ndarray:
        """Covariances whose precision factors are ``precisions_chol``."""
        ...

    def log_det_cholesky(self, precisions_chol: np.ndarray, n_features: int) -> np.ndarray:
        """``log det P`` per component (half the log-determinant of the precision)."""
        ...

    def check_precisions(self, precisions: Any, n_components: int, n_features: int) -> np.ndarray:
        """Validate ``precisions_init``: shape, finiteness, positive definiteness."""
        ...

    def prepare(
        self,
        means_shifted: np.ndarray,
        precisions_chol: np.ndarray,
        log_weights: np.ndarray,
        dtype,
    ) -> Prepared:
        """Per-iteration kernel arrays, in ``dtype``, for means given relative to the centre."""
        ...

    @property
    def kernel_names(self) -> tuple:
        """Names of the chunk kernels the model can run (the cheapest runs by default)."""
        ...

    def with_kernel(self, name: str) -> CovarianceModel:
        """A copy of the model that always runs the kernel ``name`` (tests, benchmarks)."""
        ...

    def workspace(self, n_rows: int, n_components: int, n_features: int, dtype) -> dict:
        """Flat scratch buffers for chunks of up to ``n_rows`` rows.

        Their size is proportional to ``n_rows``: ``workspace(1, ...)`` gives the
        bytes per row that size the chunks. A kernel that also needs a buffer of
        fixed size (a ``D x D`` product) adds it to the dict on first use.
        """
        ...

    def weighted_log_prob(self, XcT: np.ndarray, prepared: Prepared, work: dict) -> np.ndarray:
        """``log pi_k + log N(x | mu_k, Sigma_k)``, shape ``(n_components, n_rows)``.

        May leave per-chunk intermediates in ``work`` for ``moments``.
        """
        ...

    def moments(
        self,
        XcT: np.ndarray,
        resp_weighted: np.ndarray,
        sample_weight: np.ndarray | None,
        prepared: Prepared,
        work: dict,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(nk, first, second)`` sums of the chunk, after ``weighted_log_prob`` on it.

        ``resp_weighted`` are the responsibilities times the sample weights,
        shape ``(n_components, n_rows)``.
        """
        ...

    def m_step(
        self,
        nk: np.ndarray,
        first: np.ndarray,
        second: np.ndarray,
        reg_covar: float | np.ndarray,
        previous: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """New means (relative to the centre) and covariances from merged statistics.

        ``reg_covar``: the floor added to the covariances' diagonal, one value or
        one per feature (models without per-feature variances add the mean).

        ``previous``: the covariances the statistics were computed with, a warm
        start for models whose M-step iterates (the others ignore it).
        """
        ...

    def scatters(
        self,
        nk: np.ndarray,
        means: np.ndarray,
        second: np.ndarray,
        reg_covar: float | np.ndarray = 0.0,
    ) -> np.ndarray:
        """Scatter matrices ``W_k + n_k * diag(reg_covar)`` in the model's scatter form.

        ``W_k = sum_i r_ik (x_i - mu_k)(x_i - mu_k)'`` from merged statistics and
        means relative to the centre. The form is what the model's estimate
        depends on: the matrices ``(n_components, n_features, n_features)``, their
        diagonals ``(n_components, n_features)``, their traces divided by
        ``n_features`` ``(n_components,)``, or their sum ``(n_features, n_features)``
        for a shared covariance.
        """
        ...

    def covariances_from_scatter(self, counts: np.ndarray, scatters: np.ndarray) -> np.ndarray:
        """The model's covariances that minimise ``sum_k counts_k log|S_k| + tr(W_k S_k^-1)``.

        A pure function of ``counts`` (shape ``(n_components,)``) and
        ``scatters`` (the model's scatter form, see :meth:`scatters`): the
        constrained estimate behind :meth:`m_step`, open to modified counts and
        scatters (a conjugate prior's posterior mode has this form).
        """
        ...

    def from_pooled(self, pooled_covariance: np.ndarray, n_components: int) -> np.ndarray:
        """Covariances of this model's shape, each taken from one full covariance."""
        ...

    def replace_components(
        self, covariances: np.ndarray, source: np.ndarray, components: np.ndarray
    ) -> np.ndarray:
        """A copy of ``covariances`` with ``components`` taken from ``source``."""
        ...

    def sample(
        self,
        rng: np.random.RandomState,
        means: np.ndarray,
        covariances: np.ndarray,
        counts: np.ndarray,
    ) -> np.ndarray:
        """``counts[k]`` draws from each component, stacked in component order."""
        ...


#: Differences ``E[x^2] - mu^2`` within this many float64 epsilons of ``E[x^2]`` are
#: rounding, not spread: a feature constant within a component leaves a residue of
#: a few epsilons times ``E[x^2]`` (the order of the GEMM's sums decides its size).
RESOLUTION = 16 * np.finfo(np.float64).eps


def resolved_difference(second, mean_square):
    """``second - mean_square``, zero where rounding (or float32) cannot resolve it.

    Variances computed as ``E[x^2] - mu^2`` (diag, spherical): a constant
    feature or component then reads as exactly zero (singular) whatever order
    the BLAS summed in, instead of a residue of a few epsilons.
    """
    difference = second - mean_square
    return np.where(difference > RESOLUTION * np.abs(second), difference, 0.0)


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


def _cholesky_succeeds(matrix: np.ndarray) -> bool:
    # A Cholesky factorisation exists exactly for positive-definite matrices, and
    # costs a fraction of the eigenvalues (seconds at thousands of features).
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return True


def check_symmetric_positive_definite(matrices: np.ndarray, name: str) -> None:
    """Raise a ValueError unless every matrix of a stack is symmetric positive definite."""
    for k, matrix in enumerate(matrices.reshape(-1, *matrices.shape[-2:])):
        if not np.allclose(matrix, matrix.T):
            raise ValueError(
                f"'{name}' matrix {k} is not symmetric: pass symmetric, positive-definite "
                "precision matrices (the inverses of covariance matrices)."
            )
        if not _cholesky_succeeds(matrix):
            raise ValueError(
                f"'{name}' matrix {k} is not positive definite: pass symmetric, "
                "positive-definite precision matrices (the inverses of covariance matrices)."
            )


def scratch(work: dict, name: str, shape: tuple) -> np.ndarray:
    """A C-contiguous view of ``shape`` on the flat scratch buffer ``work[name]``.

    Buffers are flat so that the last, shorter chunk still gets contiguous
    arrays, which BLAS calls with ``out=`` require.
    """
    return work[name][: math.prod(shape)].reshape(shape)


def flat_buffers(dtype, **sizes) -> dict:
    """Flat scratch buffers of the given numbers of elements."""
    return {name: np.empty(int(size), dtype=dtype) for name, size in sizes.items()}


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


class Triangle(NamedTuple):
    """Index tables of the packed upper triangle of ``n_features x n_features`` matrices.

    Built once per ``n_features`` (see :func:`triangle`) and read-only: the
    kernels and M-steps index with them every iteration.

    Attributes
    ----------
    rows, cols : ndarray of shape (n_packed,)
        ``np.triu_indices(n_features)``: the packed order of the quadratic features.
    unpack : ndarray of shape (n_features * n_features,)
        For each entry ``(i, j)`` of a row-major matrix, the position of
        ``(min(i, j), max(i, j))`` in the packed order: ``packed[..., unpack]``
        is the symmetric matrix, flattened.
    upper_flat : ndarray of shape (n_packed,)
        ``rows * n_features + cols``: the packed entries' positions in a
        flattened matrix.
    diagonal : ndarray of shape (n_features,)
        ``np.arange(n_features)``: ``matrices[..., diagonal, diagonal]`` is the diagonal.
    quadratic_scale : ndarray of shape (n_packed,)
        ``-0.5`` on the diagonal, ``-1`` off it: ``x' L x`` over the packed upper
        triangle of a symmetric ``L``, times ``-1/2``.
    pairs : tuple of two ndarrays
        ``np.triu_indices(n_features, 1)``: the strictly upper pairs ``(a, b)``.
    """

    rows: np.ndarray
    cols: np.ndarray
    unpack: np.ndarray
    upper_flat: np.ndarray
    diagonal: np.ndarray
    quadratic_scale: np.ndarray
    pairs: tuple


@lru_cache(maxsize=64)
def triangle(n_features: int) -> Triangle:
    """The (cached, read-only) :class:`Triangle` index tables for ``n_features``."""
    n_features = int(n_features)
    rows, cols = np.triu_indices(n_features)
    packed = np.empty((n_features, n_features), dtype=np.intp)
    packed[rows, cols] = np.arange(rows.size)
    packed[cols, rows] = np.arange(rows.size)
    first, second = np.triu_indices(n_features, 1)
    return Triangle(
        rows=_read_only(rows),
        cols=_read_only(cols),
        unpack=_read_only(packed.ravel()),
        upper_flat=_read_only(rows * n_features + cols),
        diagonal=_read_only(np.arange(n_features)),
        quadratic_scale=_read_only(np.where(rows == cols, -0.5, -1.0)),
        pairs=(_read_only(first), _read_only(second)),
    )


@lru_cache(maxsize=64)
def identity(n_features: int) -> np.ndarray:
    """A cached, read-only float64 identity matrix."""
    return _read_only(np.eye(int(n_features)))


def flip(matrix: np.ndarray) -> np.ndarray:
    """Reverse the last two axes (the exchange-matrix similarity ``J M J``)."""
    return matrix[..., ::-1, ::-1]
