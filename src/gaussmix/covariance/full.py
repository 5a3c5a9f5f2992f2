"""Full covariance: each component has its own unconstrained covariance matrix."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.linalg import get_lapack_funcs, solve_triangular

from ._base import (
    as_float_array,
    check_shape,
    check_symmetric_positive_definite,
    flip,
    identity,
    triangle,
)
from ._kernels import ChunkKernels, ExpandedFeatureKernel, WhiteningKernel


@lru_cache(maxsize=8)
def _lapack(dtype: np.dtype):
    """LAPACK's ``(?potrf, ?trtri)`` for ``dtype``: float32 stays float32."""
    return get_lapack_funcs(("potrf", "trtri"), dtype=dtype)


def _lower_choleskys(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower Cholesky factors ``L_k`` of a stack (from its lower triangles) and where they fail.

    LAPACK's ``potrf`` on each block in place, called directly (without
    ``np.linalg.cholesky``'s per-call overhead). A block fails where ``potrf``
    does (not positive definite) or where its factor is not finite or has a
    non-positive diagonal (NaN or infinite entries); a failed block's factor is
    left unspecified.
    """
    n_components, n_features, _ = matrices.shape
    factors = np.array(matrices, dtype=np.result_type(matrices.dtype, np.float32), order="C")
    potrf, _ = _lapack(factors.dtype)
    failed = np.zeros(n_components, dtype=bool)
    for k in range(n_components):
        # The transposed view is Fortran-ordered: potrf factorises it in place as
        # U'U with U = L' upper, reading the upper triangle of the view (the
        # lower triangle of block k) and zeroing the other.
        upper = factors[k].T
        result, info = potrf(upper, lower=0, clean=1, overwrite_a=1)
        if result is not upper:
            upper[...] = result
        failed[k] = info != 0
    flat = factors.reshape(n_components, n_features * n_features)
    diagonal = flat[:, :: n_features + 1]
    valid = np.isfinite(flat).all(axis=1) & (diagonal > 0.0).all(axis=1)
    return factors, failed | ~valid


@lru_cache(maxsize=8)
def _safe_magnitude(dtype: np.dtype) -> float:
    """Entries below this multiply in pairs without overflow."""
    return float(np.sqrt(np.finfo(dtype).max)) / 2.0


def _small_precision_factors(covariances: np.ndarray) -> np.ndarray | None:
    """Upper precision factors of a stack of 1 x 1 or 2 x 2 covariances, in closed form.

    For ``[[a, b], [b, d]]`` the lower Cholesky factor is ``l11 = sqrt(a)``,
    ``l21 = b / l11``, ``l22 = sqrt(det / a)``, and the precision factor
    ``inv(L)'`` is ``[[1 / l11, -l21 / (l11 l22)], [0, 1 / l22]]``: a handful of
    ufunc calls on the whole stack instead of two LAPACK calls per block, which
    on the small stacks of two-feature data (Old Faithful, the lab's plots)
    cost more than the arithmetic. None unless every block is positive definite
    with finite entries (checked before any square root, so nothing warns): the
    caller then takes the LAPACK path, which reports the failing blocks.
    """
    n_components, n_features, _ = covariances.shape
    dtype = np.result_type(covariances.dtype, np.float32)
    flat = covariances.reshape(n_components, n_features * n_features)
    first = flat[:, 0]
    # Finite entries small enough that the determinant's products cannot overflow
    # (np.maximum propagates NaN, which fails the comparison), a positive first
    # pivot and, below, a positive determinant (d > b^2 / a >= 0): checked before
    # any product, so that nothing warns.
    magnitude = np.maximum.reduce(np.abs(flat), axis=None)
    if not (magnitude < _safe_magnitude(flat.dtype) and np.minimum.reduce(first) > 0.0):
        return None
    if n_features == 1:
        factors = np.sqrt(first, dtype=dtype)
        np.reciprocal(factors, out=factors)
        return factors.reshape(n_components, 1, 1)
    second, last = flat[:, 2], flat[:, 3]
    det = first * last
    det -= second * second
    if not np.minimum.reduce(det) > 0.0:
        return None
    # Entries as contiguous rows (p11, p12, 0, p22), transposed into blocks at the
    # end: in-place ufuncs on strided float32 views are not safe in every NumPy
    # (np.negative in place on a strided float32 view miscomputes in 2.4.6).
    rows = np.empty((4, n_components), dtype=dtype)
    inverse_l11, off, zero, inverse_l22 = rows
    np.sqrt(first, out=inverse_l11)
    np.divide(det, first, out=inverse_l22)
    np.sqrt(inverse_l22, out=inverse_l22)
    np.divide(second, inverse_l11, out=off)
    np.reciprocal(inverse_l11, out=inverse_l11)
    np.reciprocal(inverse_l22, out=inverse_l22)
    off *= inverse_l11
    off *= inverse_l22
    np.negative(off, out=off)
    zero[...] = 0.0
    return np.ascontiguousarray(rows.T).reshape(n_components, 2, 2)


def _covariance_cholesky(precision_chol: np.ndarray) -> np.ndarray:
    """``inv(P).T`` of an upper-triangular precision factor P: the covariance's lower factor."""
    eye = np.eye(precision_chol.shape[0], dtype=precision_chol.dtype)
    return solve_triangular(precision_chol, eye, lower=False).T


# Up to this many features the M-step's outer products run on the whole stack at
# once (see _subtract_outer).
BATCHED_FEATURES = 64

# Up to this many features the packed triangle is unpacked through the cached index
# tables of ``triangle`` (one call); beyond, row by row: the tables take about
# 36 D^2 bytes, more than the matrices themselves.
TABLE_FEATURES = 256
_MIRROR_BLOCK = 128


def _unpack(packed: np.ndarray, n_features: int) -> np.ndarray:
    """Symmetric float64 matrices ``(n_components, n_features, n_features)`` from packed rows."""
    packed = np.asarray(packed, dtype=np.float64)
    if n_features <= TABLE_FEATURES:
        # np.take, unlike packed[:, index], returns a C-contiguous array.
        unpacked = np.take(packed, triangle(n_features).unpack, axis=1)
        return unpacked.reshape(-1, n_features, n_features)
    unpacked = np.empty((packed.shape[0], n_features, n_features))
    offset = 0
    for i in range(n_features):
        unpacked[:, i, i:] = packed[:, offset : offset + n_features - i]
        offset += n_features - i
    # The lower triangle by transposed blocks: each copy reads a slab that stays in cache.
    for start in range(0, n_features, _MIRROR_BLOCK):
        stop = min(start + _MIRROR_BLOCK, n_features)
        unpacked[:, start:stop, :start] = np.swapaxes(unpacked[:, :start, start:stop], 1, 2)
        for i in range(start, stop):
            unpacked[:, i + 1 : stop, i] = unpacked[:, i, i + 1 : stop]
    return unpacked


def diagonals(matrices: np.ndarray) -> np.ndarray:
    """A writable view of the diagonals of a stack of matrices."""
    size = matrices.shape[-1]
    if matrices.flags.c_contiguous:
        # A strided slice of the flattened blocks: einsum's call costs as much as the
        # update itself on the small stacks every M-step makes.
        return matrices.reshape(*matrices.shape[:-2], size * size)[..., :: size + 1]
    return np.einsum("...ii->...i", matrices)


def _subtract_outer(matrices: np.ndarray, left: np.ndarray, right: np.ndarray) -> None:
    """``matrices[k] -= outer(left[k], right[k])`` for every block, in place.

    On the whole stack at once up to ``BATCHED_FEATURES`` (one call instead of one
    per component); beyond, block by block, so that no temporary is as large as
    the parameters.
    """
    if matrices.shape[-1] <= BATCHED_FEATURES:
        matrices -= left[:, :, None] * right[:, None, :]
    else:
        for matrix, row, column in zip(matrices, left, right):
            matrix -= np.multiply.outer(row, column)


class FullCovariance(ChunkKernels):
    """Each component k has a full ``(n_features, n_features)`` covariance.

    The precision factor ``P_k`` is upper triangular with ``P_k P_k^T = inv(Sigma_k)``
    (scikit-learn's convention). Two chunk kernels, chosen by cost (see
    :mod:`gaussmix.covariance._kernels`): the expanded features, whose quadratic
    features are the products ``x_i x_j (i <= j)`` of the centred rows (about
    half the flops of whitening the chunk once per component, but ``D(D+1)/2``
    scratch per row), and the whitening of the chunk per component (``D``
    scratch per row). Neither makes an n x K x D temporary. Rows are centred on
    the data mean first, so the moments do not cancel for data far from the
    origin.
    """

    name = "full"
    shared_covariance = False
    kernels = (ExpandedFeatureKernel(), WhiteningKernel())

    def check_n_features(self, n_features):
        """A full covariance fits any number of features."""

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features, n_features)

    def n_parameters(self, n_components, n_features):
        return n_components * n_features * (n_features + 1) // 2

    def precisions_cholesky(self, covariances):
        n_components, n_features, _ = covariances.shape
        if n_features <= 2:
            factors = _small_precision_factors(covariances)
            if factors is not None:
                return factors, np.zeros(n_components, dtype=bool)
        factors, singular = _lower_choleskys(covariances)
        _, trtri = _lapack(factors.dtype)
        # The factors become the precision factors block by block, in place: at
        # thousands of features a second stack would be as large as the parameters.
        for k in range(n_components):
            if singular[k]:
                factors[k] = identity(n_features)
            else:
                # factors[k].T is U = L' (Fortran-ordered, inverted in place):
                # inv(U) = inv(L)' is the precision's upper factor, stored C-ordered
                # (NumPy copies through a temporary where the two overlap).
                factors[k] = trtri(factors[k].T, lower=0, overwrite_c=1)[0]
        return factors.astype(covariances.dtype, copy=False), singular

    def precisions_cholesky_from_precisions(self, precisions):
        # P P^T = Lambda with P upper triangular: Cholesky of the reversed matrix, reversed.
        return np.stack([flip(np.linalg.cholesky(flip(p))) for p in precisions])

    def precisions_from_cholesky(self, precisions_chol):
        return np.matmul(precisions_chol, precisions_chol.swapaxes(-1, -2))

    def covariances_from_cholesky(self, precisions_chol):
        lower = np.stack([_covariance_cholesky(p) for p in precisions_chol])
        return np.matmul(lower, np.swapaxes(lower, -1, -2))

    def log_det_cholesky(self, precisions_chol, n_features):
        size = precisions_chol.shape[-1]
        flat = precisions_chol.reshape(*precisions_chol.shape[:-2], size * size)
        return np.add.reduce(np.log(flat[..., :: size + 1]), axis=-1)

    def check_precisions(self, precisions, n_components, n_features):
        precisions = as_float_array(precisions, "precisions_init")
        check_shape(precisions, (n_components, n_features, n_features), "precisions_init")
        check_symmetric_positive_definite(precisions, "full precision")
        return precisions

    def n_quadratic(self, n_features):
        return n_features * (n_features + 1) // 2

    def quadratic_calls(self, n_features):
        return n_features

    def fill_quadratic(self, XcT, out):
        n_features = XcT.shape[0]
        offset = 0
        for i in range(n_features):
            # Row-wise products over contiguous samples vectorise well.
            width = n_features - i
            np.multiply(XcT[i], XcT[i:], out=out[offset : offset + width])
            offset += width

    def expansion(self, means_shifted, precisions_chol):
        n_components, n_features = means_shifted.shape
        table = triangle(n_features)
        precisions = self.precisions_from_cholesky(precisions_chol)
        # x' L x = sum_i L_ii x_i^2 + 2 sum_{i<j} L_ij x_i x_j over the packed upper triangle.
        flat = precisions.reshape(n_components, n_features * n_features)
        quadratic = flat[:, table.upper_flat] * table.quadratic_scale
        linear = np.matmul(precisions, means_shifted[:, :, None])[:, :, 0]
        constant = np.add.reduce(means_shifted * linear, axis=1)
        constant *= -0.5
        return quadratic, linear, constant

    def m_step(self, nk, first, second, reg_covar, previous=None):
        n_features = first.shape[1]
        # In place: at thousands of features each temporary stack is as large as
        # the parameters.
        covariances = _unpack(second, n_features)
        means = first / nk[:, None]
        covariances /= nk[:, None, None]
        _subtract_outer(covariances, means, means)
        diagonals(covariances)[...] += reg_covar
        return means, covariances

    def scatters(self, nk, means, second, reg_covar=0.0):
        """``W_k + n_k * reg_covar * I``, shape (n_components, n_features, n_features)."""
        n_features = means.shape[1]
        scatters = _unpack(second, n_features)
        _subtract_outer(scatters, nk[:, None] * means, means)
        diagonals(scatters)[...] += nk[:, None] * reg_covar
        return scatters

    def covariances_from_scatter(self, counts, scatters):
        return scatters / counts[:, None, None]

    def from_pooled(self, pooled_covariance, n_components):
        return np.repeat(pooled_covariance[None], n_components, axis=0)

    def replace_components(self, covariances, source, components):
        covariances = covariances.copy()
        covariances[components] = source[components]
        return covariances

    def sample(self, rng, means, covariances, counts):
        return np.vstack(
            [
                rng.multivariate_normal(mean, covariance, int(count))
                for mean, covariance, count in zip(means, covariances, counts)
            ]
        )
