"""Numerics shared by the eigen-decomposition (mclust) covariance models.

Every model writes ``Sigma_k = lambda_k D_k A_k D_k'`` (volume ``lambda_k = |Sigma_k|^(1/d)``,
shape ``A_k`` diagonal with ``|A_k| = 1``, orientation ``D_k`` orthogonal) and
estimates it from counts ``n_k`` and scatter matrices ``W_k``: it minimises

    Q = sum_k n_k log|Sigma_k| + tr(W_k Sigma_k^-1)

(minus twice the covariance part of the expected complete-data log-likelihood)
over its constraint set (Celeux & Govaert 1995, "Gaussian parsimonious
clustering models", Pattern Recognition 28(5)). Iterative estimators stop when
``Q`` changes by less than ``INNER_TOL`` relative to its scale, or after
``INNER_MAX_ITER`` rounds; every round decreases ``Q``.

A component whose scatter leaves its constrained estimate undefined (a zero
volume, a zero eigenvalue where the model divides by it) gets a zero
covariance: the engine then reports it singular and re-seeds it, and no NaN
reaches the other components.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import scipy.linalg

from ._base import identity, triangle

# Relative change of Q below which an iterative M-step stops, and its round cap.
INNER_TOL = 1e-10
INNER_MAX_ITER = 500


EPS = float(np.finfo(np.float64).eps)


def geometric_mean(values: np.ndarray) -> np.ndarray:
    """``prod(values) ** (1 / n)`` over the last axis; 0 where any value is not positive."""
    values = np.asarray(values, dtype=np.float64)
    positive_entries = values > 0.0
    safe = np.where(positive_entries, values, 1.0)
    # The mean as np.mean computes it (a sum, then a division by the count), without its overhead.
    mean_log = np.log(safe).sum(axis=-1) / values.shape[-1]
    return np.where(positive_entries.all(axis=-1), np.exp(mean_log), 0.0)


def positive_geometric_mean(values: np.ndarray) -> float:
    """:func:`geometric_mean` of one vector known to be positive (a float)."""
    return float(np.exp(np.log(values).sum() / values.shape[-1]))


def eigh_descending(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (largest first, negatives from rounding clipped to 0) and eigenvectors."""
    values, vectors = np.linalg.eigh(matrices)
    return np.maximum(values[..., ::-1], 0.0), vectors[..., ::-1]


def numerically_singular(values: np.ndarray) -> np.ndarray:
    """Rows of eigenvalues (or variances) with one at the rounding level of the largest.

    Below ``n * eps`` times the largest eigenvalue, an eigenvalue of a computed
    scatter matrix carries no digits: dividing by it would manufacture a volume
    or a shape out of rounding errors.
    """
    values = np.asarray(values)
    n_values = values.shape[-1]
    largest = values.max(axis=-1)
    return (largest <= 0.0) | (values.min(axis=-1) <= n_values * EPS * largest)


def singular_vector(values: np.ndarray) -> bool:
    """:func:`numerically_singular` of one vector of eigenvalues (or variances), as a bool."""
    largest = float(values.max())
    return largest <= 0.0 or float(values.min()) <= values.shape[-1] * EPS * largest


def compose(vectors: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``V diag(values) V'`` for stacks of orthogonal ``V``, exactly symmetric."""
    matrices = np.matmul(vectors * values[..., None, :], vectors.swapaxes(-1, -2))
    return 0.5 * (matrices + matrices.swapaxes(-1, -2))


def unit_determinant(
    matrix: np.ndarray, decomposition: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """``(C, |matrix|^(1/d), inverse of C, eigenvalues of C)`` with ``C = matrix / |matrix|^(1/d)``.

    ``matrix`` is symmetric positive definite; the inverse comes from the
    eigen-decomposition (``eigh_descending(matrix)``, or ``decomposition`` where
    the caller already has it), so it is exactly symmetric.
    """
    values, vectors = eigh_descending(matrix) if decomposition is None else decomposition
    # Eigenvalues come largest first: the last one says whether all are positive,
    # and then the plain geometric mean gives the same number in a third of the calls.
    if values.ndim == 1 and values[-1] > 0.0:
        volume = positive_geometric_mean(values)
    else:
        volume = float(geometric_mean(values))
    shape = values / volume
    return matrix / volume, volume, compose(vectors, 1.0 / shape), shape


def converged(previous: float, current: float, scale: float, tol: float = INNER_TOL) -> bool:
    """Whether an objective of magnitude about ``scale`` stopped changing."""
    return abs(previous - current) <= tol * max(abs(current), scale, 1.0)


def alternate(
    counts: np.ndarray,
    totals: np.ndarray,
    n_features: int,
    pool: Callable[[np.ndarray], np.ndarray],
    normalise: Callable[[np.ndarray], Any],
    update_volumes: Callable[[Any], np.ndarray],
    start: np.ndarray | None = None,
    tol: float = INNER_TOL,
    max_iter: int = INNER_MAX_ITER,
) -> tuple[Any, np.ndarray] | None:
    """Alternate a shared shape and the volumes ``lambda_k`` (VEI, VEE, VEV).

    Each update minimises ``Q`` exactly in its block given the other
    (Celeux & Govaert 1995, section 3.2.2), so ``Q`` decreases every round;
    after a volume update ``Q = d sum_k n_k log lambda_k + d n`` (the sum over
    the active components). The model supplies its blocks:

    ``pool(volumes)``
        ``sum_k W_k / lambda_k`` (in the model's scatter form) over the active
        components, given their volumes;
    ``normalise(pooled)``
        the shape that ``pooled`` determines (scaled to a unit determinant), or
        None where it is numerically singular;
    ``update_volumes(shape)``
        ``tr(W_k shape^-1) / (d n_k)`` for every component.

    Components with ``totals`` (their scatters' traces) of zero are inactive:
    volume 0, left out of the shape. The cold start is the volume update for
    the identity shape, ``totals / (d n_k)``. ``start`` (optional; the previous
    EM iteration's shared shape, up to a factor) starts instead from the
    volume update for ``normalise(start)``, a state of the alternation like
    any other: its ``Q`` is at most the previous parameters' (EM stays
    monotone) and counts as the first round's predecessor, so that where the
    previous shape is still the best to the tolerance the alternation stops
    after one round. ``start`` is ignored unless that gives finite, positive
    volumes to every active component.

    Returns ``(shape, volumes)``, or None where a pooled shape is singular.
    """
    active = totals > 0.0
    everyone = bool(active.all())
    active_counts = counts if everyone else counts[active]

    def objective_of(volumes):
        chosen = volumes if everyone else volumes[active]
        return float(n_features * np.sum(active_counts * np.log(chosen)))

    volumes = np.where(active, totals / (n_features * counts), 0.0)
    objective = np.inf
    shape = normalise(start) if start is not None else None
    if shape is not None:
        warm = update_volumes(shape)
        chosen = warm if everyone else warm[active]
        if np.all(np.isfinite(chosen)) and np.all(chosen > 0.0):
            volumes = warm if everyone else np.where(active, warm, 0.0)
            objective = objective_of(volumes)
    scale = n_features * counts.sum()
    for _ in range(max(max_iter, 1)):
        shape = normalise(pool(volumes if everyone else volumes[active]))
        if shape is None:
            return None
        volumes = update_volumes(shape)
        if not everyone:
            volumes = np.where(active, volumes, 0.0)
        previous, objective = objective, objective_of(volumes)
        if converged(previous, objective, scale, tol):
            break
    return shape, volumes


def polar_factor(matrix: np.ndarray) -> np.ndarray:
    """The orthogonal ``U V'`` of ``matrix = U S V'``: it maximises ``tr(D' matrix)``."""
    left, _, right_t = np.linalg.svd(matrix)
    return left @ right_t


def rotated_scatters(scatters: np.ndarray, orientation: np.ndarray) -> np.ndarray:
    """``D' W_k D`` for every component, shape ``(n_components, n_features, n_features)``."""
    return np.matmul(orientation.T, np.matmul(scatters, orientation))


def basis_diagonals(scatters: np.ndarray, orientation: np.ndarray) -> np.ndarray:
    """``diag(D' W_k D)`` for every component, shape ``(n_components, n_features)``."""
    return np.sum(orientation[None] * np.matmul(scatters, orientation), axis=1)


def majorise_minimise_step(
    scatters: np.ndarray,
    largest: np.ndarray,
    inverse_shapes: np.ndarray,
    orientation: np.ndarray,
) -> np.ndarray:
    """One pair of majorise-minimise updates of a shared orientation D.

    Decreases ``f(D) = sum_k tr(W_k D M_k D')`` over orthogonal ``D`` for fixed
    diagonal ``M_k`` (``inverse_shapes``, shape ``(n_components, n_features)``),
    following Browne & McNicholas (2014), "Orthogonal Stiefel manifold
    optimization for eigen-decomposed covariance parameter estimation in
    mixture models", Statistics and Computing 24(2), algorithms MM1 and MM2.

    MM1 writes ``W_k = w_k I - (w_k I - W_k)`` with ``w_k`` the largest
    eigenvalue of ``W_k`` (``largest``): ``f`` is then a constant minus a convex
    function of ``D``, majorised by its tangent plane at the current ``D``,
    whose minimiser over orthogonal matrices is the polar factor of
    ``sum_k (w_k I - W_k) D M_k``. MM2 does the same with
    ``M_k = m_k I - (m_k I - M_k)``, ``m_k`` the largest entry of ``M_k``.
    Neither step can increase ``f``.
    """
    bounded = largest[:, None, None] * orientation[None] - np.matmul(scatters, orientation)
    orientation = polar_factor(np.sum(bounded * inverse_shapes[:, None, :], axis=0))
    rotated = np.matmul(scatters, orientation)
    headroom = inverse_shapes.max(axis=1, keepdims=True) - inverse_shapes
    return polar_factor(np.sum(rotated * headroom[:, None, :], axis=0))


def cayley(skew: np.ndarray) -> np.ndarray:
    """The rotation ``(I - S/2)^-1 (I + S/2)``: ``exp(S)`` to second order, exactly orthogonal."""
    eye = identity(skew.shape[0])
    return np.linalg.solve(eye - 0.5 * skew, eye + 0.5 * skew)


class _PairTables(NamedTuple):
    """Which coordinates two plane rotations ``i = (a, b)`` and ``l = (c, f)`` share.

    The four equalities hold for about ``2 / D`` of the pairs of pairs, so the
    curvature is gathered at those ``(i, l)`` entries alone. The four cases
    ``b = c``, ``b = f``, ``a = c``, ``a = f`` (in that order) are kept as one
    list of entries: ``target`` (flat ``i * n_pairs + l``), ``sign``, the
    pooled matrix's entry each reads (``pooled_rows``, ``pooled_cols``) and the
    sandwich's (rows of the stacked ``[by_second; by_first]``, columns).
    """

    target: np.ndarray
    sign: np.ndarray
    pooled_rows: np.ndarray
    pooled_cols: np.ndarray
    sandwich_rows: np.ndarray
    sandwich_cols: np.ndarray
    through_b: np.ndarray  # (b == f) - (b == c), as floats
    through_a: np.ndarray  # (a == c) - (a == f), as floats


def _build_pair_tables(first: np.ndarray, second: np.ndarray) -> _PairTables:
    n_pairs = first.size
    a, b = first[:, None], second[:, None]
    c, f = first[None, :], second[None, :]
    parts = {name: [] for name in _PairTables._fields[:6]}
    # Per case: where it holds, its sign, the pooled matrix's entry it reads (row
    # from l's pair, column from i's), and which of by_second (0) and by_first (1)
    # it reads, at row i and the column from l's pair.
    cases = (
        (b == c, 1.0, (second, first), (0, second)),
        (b == f, -1.0, (first, first), (0, first)),
        (a == c, -1.0, (second, second), (1, second)),
        (a == f, 1.0, (first, second), (1, first)),
    )
    for where, sign, (pooled_row, pooled_col), (block, sandwich_col) in cases:
        rows, cols = np.nonzero(where)
        parts["target"].append(rows * n_pairs + cols)
        parts["sign"].append(np.full(rows.size, sign))
        parts["pooled_rows"].append(pooled_row[cols])
        parts["pooled_cols"].append(pooled_col[rows])
        parts["sandwich_rows"].append(block * n_pairs + rows)
        parts["sandwich_cols"].append(sandwich_col[cols])
    tables = _PairTables(
        **{name: np.concatenate(values) for name, values in parts.items()},
        through_b=(b == f) * 1.0 - (b == c),
        through_a=(a == c) * 1.0 - (a == f),
    )
    for table in tables:
        table.setflags(write=False)
    return tables


@lru_cache(maxsize=64)
def _cached_pair_tables(n_features: int) -> _PairTables:
    return _build_pair_tables(*triangle(n_features).pairs)


def _pair_tables(pairs: tuple) -> _PairTables:
    """The tables of ``pairs``: cached for :func:`triangle`'s pairs, built for any others."""
    first, second = pairs
    n_features = round((1.0 + math.sqrt(1.0 + 8.0 * first.size)) / 2.0)
    cached = triangle(n_features).pairs
    if first is cached[0] and second is cached[1]:
        return _cached_pair_tables(n_features)
    return _build_pair_tables(np.asarray(first), np.asarray(second))


def rotation_terms(rotated: np.ndarray, weights: np.ndarray, pairs: tuple):
    """Derivatives of ``g_kj = diag(R' B_k R)`` at ``R = I`` in the plane rotations' angles.

    With ``R = cayley(S)``, ``S = sum_i s_i E_i``, ``E_i = e_a e_b' - e_b e_a'`` over
    the pairs ``(a_i, b_i)``, and ``B_k = D' W_k D`` (``rotated``), angle ``i``
    moves only ``g_ka`` and ``g_kb``: ``d g_kb / d s_i = 2 B_k[a, b] = -d g_ka / d s_i``.
    The Jacobian is therefore carried as ``off_diagonal[k, i] = B_k[a_i, b_i]``
    (see :func:`project` and :func:`gram`).

    Returns
    -------
    off_diagonal : ndarray of shape (n_components, n_pairs)
    curvature : ndarray of shape (n_pairs, n_pairs)
        The second derivative of ``sum_kj weights_kj g_kj``:
        ``tr(P E_i E_l) + tr(P E_l E_i) - sum_k tr(W_k E_i B_k E_l) + tr(W_k E_l B_k E_i)``
        with ``W_k = diag(weights_k)``, ``P = sum_k W_k B_k``, written out for the
        two-entry matrices ``E_i``. The profile objective's Hessian is
        ``J' (d2F/dg2) J + curvature``.
    """
    first, second = pairs
    tables = _pair_tables(pairs)
    off_diagonal = rotated[:, first, second]
    pooled = np.sum(weights[:, :, None] * rotated, axis=0)
    pooled = pooled + pooled.T
    # sum_k weights[k, a_i] B_k[b_i, j] and sum_k weights[k, b_i] B_k[a_i, j],
    # contracting over k first; the sandwich takes their columns j = c_l and f_l.
    by_first = np.einsum("ki,kij->ij", weights[:, first], rotated[:, second, :])
    by_second = np.einsum("ki,kij->ij", weights[:, second], rotated[:, first, :])
    # Entries (i, l) are nonzero only where rotations i and l share a coordinate.
    # The four cases in one gather and one bincount each: bincount adds each
    # entry's terms in the tables' order, starting from 0, as four successive
    # fancy-index updates would (the same sums bit for bit, in a quarter of the calls).
    n_pairs = first.size
    size = n_pairs * n_pairs
    terms = pooled[tables.pooled_rows, tables.pooled_cols]
    terms *= tables.sign
    square = np.bincount(tables.target, weights=terms, minlength=size)
    terms = np.concatenate([by_second, by_first])[tables.sandwich_rows, tables.sandwich_cols]
    terms *= tables.sign
    sandwich = np.bincount(tables.target, weights=terms, minlength=size)
    square = square.reshape(n_pairs, n_pairs)
    sandwich = sandwich.reshape(n_pairs, n_pairs)
    return off_diagonal, square - (sandwich + sandwich.T)


def project(values: np.ndarray, off_diagonal: np.ndarray, pairs: tuple) -> np.ndarray:
    """``J_k' values_k`` per component, shape ``(n_components, n_pairs)``."""
    first, second = pairs
    return 2.0 * off_diagonal * (values[:, second] - values[:, first])


def gram(off_diagonal: np.ndarray, values: np.ndarray, pairs: tuple) -> np.ndarray:
    """``J' diag(values) J`` summed over components, shape ``(n_pairs, n_pairs)``.

    Angles ``i`` and ``l`` meet only through a coordinate both move.
    """
    first, second = pairs
    tables = _pair_tables(pairs)
    through_b = (values[:, second] * off_diagonal).T @ off_diagonal
    through_a = (values[:, first] * off_diagonal).T @ off_diagonal
    return 4.0 * (tables.through_b * through_b + tables.through_a * through_a)


@lru_cache(maxsize=4)
def _cholesky_solvers(dtype):
    """LAPACK's ``(?potrf, ?potrs)`` for ``dtype``."""
    return scipy.linalg.get_lapack_funcs(("potrf", "potrs"), dtype=dtype)


def newton_direction(gradient: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """``-H^-1 g`` with ``H``'s eigenvalues replaced by their magnitudes (a descent direction)."""
    symmetric = 0.5 * (hessian + hessian.T)
    # Where H is positive definite this is Newton's step, at a tenth of the cost of
    # the eigendecomposition (D = 30: 435 angles). Features of very different
    # scales make H ill-conditioned but still definite (breast-cancer features:
    # eigenvalues 18 to 6e14); a floor relative to the largest eigenvalue would
    # lift the small ones there and slow Newton to a crawl.
    # LAPACK's potrf/potrs called directly, as scipy.linalg.cho_factor/cho_solve
    # call them (the same results), without the wrappers' checks: on the few
    # angles of a handful of features those cost more than the solve.
    potrf, potrs = _cholesky_solvers(symmetric.dtype)
    factor, info = potrf(symmetric, lower=0, clean=0)
    if info == 0:
        step, info = potrs(factor, gradient, lower=0)
        if info == 0 and np.isfinite(step).all():
            return -step
    values, vectors = np.linalg.eigh(symmetric)
    magnitude = np.abs(values)
    magnitude = np.maximum(magnitude, 1e-12 * max(float(magnitude.max()), np.finfo(float).tiny))
    return -vectors @ ((vectors.T @ gradient) / magnitude)


def zero_where(covariances: np.ndarray, components: np.ndarray) -> np.ndarray:
    """``covariances`` with the blocks of ``components`` (a boolean mask) set to 0."""
    mask = np.asarray(components, dtype=bool).reshape((-1,) + (1,) * (covariances.ndim - 1))
    return np.where(mask, 0.0, covariances)
