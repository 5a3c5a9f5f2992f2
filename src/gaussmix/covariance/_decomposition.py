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

import numpy as np

# Relative change of Q below which an iterative M-step stops, and its round cap.
INNER_TOL = 1e-10
INNER_MAX_ITER = 500


def geometric_mean(values: np.ndarray) -> np.ndarray:
    """``prod(values) ** (1 / n)`` over the last axis; 0 where any value is not positive."""
    values = np.asarray(values, dtype=np.float64)
    positive = np.all(values > 0.0, axis=-1)
    safe = np.where(values > 0.0, values, 1.0)
    return np.where(positive, np.exp(np.mean(np.log(safe), axis=-1)), 0.0)


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
    return (largest <= 0.0) | (values.min(axis=-1) <= n_values * np.finfo(float).eps * largest)


def compose(vectors: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``V diag(values) V'`` for stacks of orthogonal ``V``, exactly symmetric."""
    matrices = np.matmul(vectors * values[..., None, :], np.swapaxes(vectors, -1, -2))
    return 0.5 * (matrices + np.swapaxes(matrices, -1, -2))


def unit_determinant(matrix: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """``(C, |matrix|^(1/d), inverse of C, eigenvalues of C)`` with ``C = matrix / |matrix|^(1/d)``.

    ``matrix`` is symmetric positive definite; the inverse comes from the
    eigen-decomposition, so it is exactly symmetric.
    """
    values, vectors = eigh_descending(matrix)
    volume = float(geometric_mean(values))
    shape = values / volume
    return matrix / volume, volume, compose(vectors, 1.0 / shape), shape


def converged(previous: float, current: float, scale: float, tol: float = INNER_TOL) -> bool:
    """Whether an objective of magnitude about ``scale`` stopped changing."""
    return abs(previous - current) <= tol * max(abs(current), scale, 1.0)


def volume_objective(counts, volumes, active, n_features) -> float:
    """``Q - d n`` after a volume update: ``d sum_k n_k log lambda_k`` over active components."""
    return float(n_features * np.sum(counts[active] * np.log(volumes[active])))


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
    identity = np.eye(skew.shape[0])
    return np.linalg.solve(identity - 0.5 * skew, identity + 0.5 * skew)


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
    off_diagonal = rotated[:, first, second]
    a, b = first[:, None], second[:, None]
    c, f = first[None, :], second[None, :]
    pooled = np.sum(weights[:, :, None] * rotated, axis=0)
    pooled = pooled + pooled.T
    square = (b == c) * pooled[f, a] - (b == f) * pooled[c, a]
    square = square - (a == c) * pooled[f, b] + (a == f) * pooled[c, b]

    def weighted(weight_index, rows, cols):
        # sum_k weights[k, weight_index_i] B_k[rows_i, cols_l], contracting over k first.
        contracted = np.einsum("ki,kij->ij", weights[:, weight_index], rotated[:, rows, :])
        return contracted[:, cols]

    sandwich = (a == f) * weighted(first, second, first)
    sandwich = sandwich - (a == c) * weighted(first, second, second)
    sandwich = sandwich - (b == f) * weighted(second, first, first)
    sandwich = sandwich + (b == c) * weighted(second, first, second)
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
    a, b = first[:, None], second[:, None]
    c, f = first[None, :], second[None, :]
    through_b = (values[:, second] * off_diagonal).T @ off_diagonal
    through_a = (values[:, first] * off_diagonal).T @ off_diagonal
    return 4.0 * (((b == f) * 1.0 - (b == c)) * through_b + ((a == c) * 1.0 - (a == f)) * through_a)


def newton_direction(gradient: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """``-H^-1 g`` with ``H``'s eigenvalues replaced by their magnitudes (a descent direction)."""
    values, vectors = np.linalg.eigh(0.5 * (hessian + hessian.T))
    magnitude = np.abs(values)
    magnitude = np.maximum(magnitude, 1e-12 * max(float(magnitude.max()), np.finfo(float).tiny))
    return -vectors @ ((vectors.T @ gradient) / magnitude)


def zero_where(covariances: np.ndarray, components: np.ndarray) -> np.ndarray:
    """``covariances`` with the blocks of ``components`` (a boolean mask) set to 0."""
    mask = np.asarray(components, dtype=bool).reshape((-1,) + (1,) * (covariances.ndim - 1))
    return np.where(mask, 0.0, covariances)
