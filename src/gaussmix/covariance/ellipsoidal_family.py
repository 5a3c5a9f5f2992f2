"""Ellipsoidal eigen-decomposition models: VEE, EVE, VVE, EEV, VEV, EVV.

``Sigma_k = lambda_k D_k A_k D_k'``: volume ``lambda_k``, diagonal shape
``A_k`` with ``|A_k| = 1``, orthogonal orientation ``D_k``; the letters say
which of the three are Equal across components or Variable. Storage:
``covariances_`` has shape ``(n_components, n_features, n_features)``, as
scikit-learn's ``'full'`` (mclust's VVV); mclust's EEE is scikit-learn's
``'tied'``. The scatter form is the matrices ``W_k``.

Estimators (Celeux & Govaert 1995; Browne & McNicholas 2014 for a shared
orientation with varying shapes):

- EEV, EVV: closed form.
- VEE, VEV: alternate the shared part and the volumes, each exact.
- EVE, VVE: shapes and volumes in closed form given the shared orientation;
  the orientation by Newton steps on rotations, falling back to
  Browne & McNicholas's majorise-minimise steps (see :func:`common_orientation`).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ._base import triangle
from ._constrained import ConstrainedModel
from ._decomposition import (
    INNER_MAX_ITER,
    INNER_TOL,
    alternate,
    basis_diagonals,
    cayley,
    compose,
    converged,
    eigh_descending,
    geometric_mean,
    gram,
    majorise_minimise_step,
    newton_direction,
    numerically_singular,
    positive_geometric_mean,
    project,
    rotated_scatters,
    rotation_terms,
    singular_vector,
    unit_determinant,
    zero_where,
)
from .full import FullCovariance


# ------------------------------------------------------------------- estimators
def equal_volume_equal_shape(counts: np.ndarray, scatters: np.ndarray) -> np.ndarray:
    """EEV: ``D_k`` the eigenvectors of ``W_k``, ``lambda A = sum_k Omega_k / n``.

    ``Omega_k`` are the eigenvalues of ``W_k``, largest first; pairing them in
    that order is optimal (Celeux & Govaert 1995, section 3.2.3).
    """
    values, vectors = eigh_descending(scatters)
    pooled = values.sum(axis=0) / counts.sum()
    if numerically_singular(pooled[None])[0]:
        return np.zeros_like(scatters)
    return compose(vectors, np.broadcast_to(pooled, values.shape))


def equal_volume(counts: np.ndarray, scatters: np.ndarray) -> np.ndarray:
    """EVV: ``C_k = W_k / |W_k|^(1/d)``, ``lambda = sum_k |W_k|^(1/d) / n``."""
    values = np.linalg.eigvalsh(scatters)
    degenerate = numerically_singular(values)
    volumes = geometric_mean(np.maximum(values, 0.0))
    volume = volumes[~degenerate].sum() / counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        covariances = (volume / volumes)[:, None, None] * scatters
    return zero_where(covariances, degenerate)


def variable_volume_equal_shape_orientation(
    counts: np.ndarray,
    scatters: np.ndarray,
    tol: float = INNER_TOL,
    max_iter: int = INNER_MAX_ITER,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """VEE: alternate the shared ``C`` (shape and orientation) and the volumes ``lambda_k``.

    ``C = normalised sum_k W_k / lambda_k`` and ``lambda_k = tr(W_k C^-1) / (d n_k)``
    (Celeux & Govaert 1995, section 3.2.2), each exact in its block (see
    :func:`alternate`). ``start``: a matrix proportional to the ``C`` to start
    from (the previous EM iteration's).
    """
    n_features = scatters.shape[-1]
    traces = np.trace(scatters, axis1=1, axis2=2)
    active_scatters = scatters[traces > 0.0]
    denominators = n_features * counts

    def pool(volumes):
        return (active_scatters / volumes[:, None, None]).sum(axis=0)

    def normalise(pooled):
        # One decomposition: for the singularity test and for C's inverse.
        decomposition = eigh_descending(pooled)
        if singular_vector(decomposition[0]):
            return None
        shape_matrix, _, inverse, _ = unit_determinant(pooled, decomposition)
        return shape_matrix, inverse

    def update_volumes(shape):
        return np.einsum("kij,ji->k", scatters, shape[1]) / denominators

    result = alternate(
        counts, traces, n_features, pool, normalise, update_volumes, start, tol, max_iter
    )
    if result is None:
        return np.zeros_like(scatters)
    (shape_matrix, _), volumes = result
    return volumes[:, None, None] * shape_matrix[None]


def variable_volume_equal_shape(
    counts: np.ndarray,
    scatters: np.ndarray,
    tol: float = INNER_TOL,
    max_iter: int = INNER_MAX_ITER,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """VEV: ``D_k`` the eigenvectors of ``W_k``; alternate the shared shape ``A`` and the volumes.

    ``A = normalised sum_k Omega_k / lambda_k`` and
    ``lambda_k = tr(Omega_k A^-1) / (d n_k)`` (Celeux & Govaert 1995, section 3.2.4;
    see :func:`alternate`). ``start``: eigenvalues (largest first) proportional
    to the ``A`` to start from (the previous EM iteration's).
    """
    n_features = scatters.shape[-1]
    values, vectors = eigh_descending(scatters)
    totals = values.sum(axis=1)
    active_values = values[totals > 0.0]
    denominators = n_features * counts

    def pool(volumes):
        return (active_values / volumes[:, None]).sum(axis=0)

    def normalise(pooled):
        return None if singular_vector(pooled) else pooled / positive_geometric_mean(pooled)

    def update_volumes(shape):
        return (values / shape).sum(axis=1) / denominators

    result = alternate(
        counts, totals, n_features, pool, normalise, update_volumes, start, tol, max_iter
    )
    if result is None:
        return np.zeros_like(scatters)
    shape, volumes = result
    return compose(vectors, volumes[:, None] * shape[None])


# The largest plane-rotation angle of one Newton step: far steps leave the basin
# the start was in and can land in a worse local optimum.
MAX_ROTATION = np.pi / 8


def _profile(counts: np.ndarray, equal_volume: bool):
    """The profile objective of a shared orientation as a function of ``g_k = diag(D' W_k D)``.

    Returns a function of the diagonals ``g`` giving ``(F, dF/dg, second_order)``,
    ``second_order(off_diagonal, pairs)`` being ``J' d2F/dg2 J`` for the Jacobian in
    the rotation angles (see :func:`gaussmix.covariance._decomposition.rotation_terms`),
    with ``F`` the minimum of ``Q - d n`` over the shapes and volumes:
    EVE ``F = d n log sum_k |g_k|^(1/d)`` (up to a constant), VVE
    ``F = sum_kj n_k log(g_kj / n_k)``. ``dF/dg_k`` is proportional to the
    inverse of component k's fitted ``lambda_k A_k``, with one factor for all.
    """
    total = counts.sum()

    def variable(diagonals):
        value = float(np.sum(counts[:, None] * np.log(diagonals / counts[:, None])))
        weights = counts[:, None] / diagonals
        curvature = -weights / diagonals

        def second_order(off_diagonal, pairs):
            return gram(off_diagonal, curvature, pairs)

        return value, weights, second_order

    def equal(diagonals):
        n_features = diagonals.shape[1]
        volumes = geometric_mean(diagonals)
        volume = volumes.sum()
        scale = n_features * total
        inverse = 1.0 / diagonals
        weights = scale * volumes[:, None] * inverse / (n_features * volume)

        def second_order(off_diagonal, pairs):
            # F = c log V, V = sum_k v_k, v_k = exp(mean_j log g_kj).
            projected = project(inverse, off_diagonal, pairs)  # J_k' (1/g_k)
            gradient_v = volumes @ projected / n_features  # J' dV/dg
            within = (projected * volumes[:, None]).T @ projected / n_features**2
            diagonal = volumes[:, None] * inverse**2 / n_features
            within = within - gram(off_diagonal, diagonal, pairs)
            return scale * (within / volume - np.outer(gradient_v, gradient_v) / volume**2)

        return n_features * total * float(np.log(volume)), weights, second_order

    return equal if equal_volume else variable


# Newton runs from this many of the best-ranked starts (the landscape of a shared
# orientation has local optima when the scatters are far from sharing one).
N_ORIENTATION_STARTS = 2


def _minimise_orientation(scatters, largest, evaluate, orientation, scale, tol, max_iter):
    """Newton on rotations from ``orientation``; returns ``(objective, D, D' W_k D)``.

    ``evaluate`` is a :func:`_profile`; ``scale`` the magnitude of ``F`` the
    tolerance is relative to; ``largest`` the scatters' largest eigenvalues.
    """
    n_features = scatters.shape[-1]
    pairs = triangle(n_features).pairs
    rotated = rotated_scatters(scatters, orientation)
    objective, weights, second_order = evaluate(np.diagonal(rotated, axis1=1, axis2=2))
    for _ in range(max_iter if pairs[0].size else 0):
        off_diagonal, curvature = rotation_terms(rotated, weights, pairs)
        gradient = project(weights, off_diagonal, pairs).sum(axis=0)
        step = newton_direction(gradient, second_order(off_diagonal, pairs) + curvature)
        if -0.5 * float(gradient @ step) <= tol * max(abs(objective), scale):
            break
        step *= min(1.0, MAX_ROTATION / float(np.abs(step).max()))
        trial = None
        for _ in range(30):
            skew = np.zeros((n_features, n_features))
            skew[pairs] = step
            candidate = orientation @ cayley(skew - skew.T)
            candidate_rotated = rotated_scatters(scatters, candidate)
            result = evaluate(np.diagonal(candidate_rotated, axis1=1, axis2=2))
            if result[0] <= objective:
                trial = candidate, candidate_rotated, result
                break
            step *= 0.5
        if trial is None:
            # dF/dg_k is proportional to M_k = (lambda_k A_k)^-1: the MM step's weights.
            candidate = majorise_minimise_step(scatters, largest, weights, orientation)
            candidate_rotated = rotated_scatters(scatters, candidate)
            result = evaluate(np.diagonal(candidate_rotated, axis1=1, axis2=2))
            if result[0] > objective:
                break
            trial = candidate, candidate_rotated, result
        orientation, rotated, (new_objective, weights, second_order) = trial
        previous, objective = objective, new_objective
        if converged(previous, objective, scale, tol):
            break
    return objective, orientation, rotated


def common_orientation(
    counts: np.ndarray,
    scatters: np.ndarray,
    equal_volume: bool,
    tol: float = INNER_TOL,
    max_iter: int = INNER_MAX_ITER,
    previous: np.ndarray | None = None,
) -> np.ndarray:
    """EVE (``equal_volume``) or VVE: one orientation ``D`` for all components.

    Given ``D``, the diagonals ``g_k = diag(D' W_k D)`` give the rest in closed
    form: EVE ``A_k = g_k / |g_k|^(1/d)``, ``lambda = sum_k |g_k|^(1/d) / n``;
    VVE ``lambda_k A_k = g_k / n_k``. What remains is the profile objective
    ``F(D)`` (see :func:`_profile`) over orthogonal matrices, minimised by
    Newton steps in the angles of the plane rotations (``D <- D cayley(S)``,
    Hessian made positive definite, step halved until ``F`` decreases), with a
    majorise-minimise step (Browne & McNicholas 2014, as mclust) wherever
    Newton's step does not decrease ``F``.

    ``F`` can have several local minima when the scatters are far from sharing
    their eigenvectors. The starts are the eigenvectors of the sum of the
    trace-normalised scatters (exact when the scatters share their
    eigenvectors), of the pooled scatter, of each scatter, and the identity
    (mclust's start); Newton runs from the first and from the others with the
    lowest ``F`` (``N_ORIENTATION_STARTS`` in all) and the best result is kept.
    Components with a numerically singular scatter are left out of the
    estimate and get a zero covariance.

    With ``previous`` (the previous EM iteration's covariances, all usable) Newton
    runs from their shared orientation alone: every step lowers ``F``, so the
    M-step never undoes the previous iteration's gain (EM stays monotone) and,
    starting near the optimum, it takes a few steps instead of hundreds. Two
    features take the one-angle path whatever ``previous`` is.
    """
    values = np.linalg.eigvalsh(scatters)
    active = ~numerically_singular(values)
    if not active.any():
        return np.zeros_like(scatters)
    scatter_set, count_set = scatters[active], counts[active]
    if scatters.shape[-1] == PLANE_FEATURES:
        orientation = _plane_orientation(scatter_set, count_set, equal_volume)
        return _compose_shared(
            scatters,
            counts,
            active,
            orientation,
            rotated_scatters(scatter_set, orientation),
            equal_volume,
        )
    evaluate = _profile(count_set, equal_volume)
    # Only here: the two-feature path above finds the global minimum from any start.
    start = _warm_start(previous)
    if start is not None:
        starts, ranked = [start], [0]
    else:
        traces = np.trace(scatter_set, axis1=1, axis2=2)
        combinations = np.concatenate(
            [
                (scatter_set / traces[:, None, None]).sum(axis=0, keepdims=True),
                scatter_set.sum(axis=0, keepdims=True),
                scatter_set,
            ]
        )
        starts = [*eigh_descending(combinations)[1], np.eye(scatters.shape[-1])]
        start_values = [
            float(evaluate(basis_diagonals(scatter_set, candidate))[0]) for candidate in starts
        ]
        # The first start always runs; the others by their F at the start.
        ranked = [0, *(1 + np.argsort(start_values[1:], kind="stable"))][:N_ORIENTATION_STARTS]
    largest, scale = values[active, -1], scatters.shape[-1] * counts.sum()
    results = [
        _minimise_orientation(scatter_set, largest, evaluate, starts[i], scale, tol, max_iter)
        for i in ranked
    ]
    _, orientation, rotated = min(results, key=lambda result: result[0])
    return _compose_shared(scatters, counts, active, orientation, rotated, equal_volume)


#: Scatters with this many features take the one-angle path (:func:`_plane_orientation`).
PLANE_FEATURES = 2
# A grid this fine puts a point within 2.8 degrees of the rotation angle of every
# local minimum of the two-feature profile objective; Newton finishes from the best.
N_PLANE_ANGLES = 64


def _plane_orientation(scatters, counts, equal_volume):
    """The shared orientation of two-feature scatters: the global minimum of ``F``.

    In the plane ``D`` is a rotation by ``theta`` and, with ``phi = 2 theta``,
    ``g_k = m_k +- r_k(phi)``, ``m_k`` half the trace and ``r_k = u_k cos(phi) +
    v_k sin(phi)`` (``u_k`` half the difference of the diagonal, ``v_k`` the
    off-diagonal entry), so ``g_k1 g_k2 = m_k^2 - r_k^2 = h_k``. VVE's ``F`` is
    ``sum_k n_k log h_k``, EVE's ``2 n log sum_k sqrt(h_k)`` (up to constants, as
    :func:`_profile`): a function of one angle, minimised on a grid and polished
    by Newton's method, instead of Newton steps on rotation matrices.
    """
    half_trace = 0.5 * (scatters[:, 0, 0] + scatters[:, 1, 1])
    half_difference = 0.5 * (scatters[:, 0, 0] - scatters[:, 1, 1])
    off_diagonal = scatters[:, 0, 1]
    square = half_trace**2

    grid, grid_cos, grid_sin = _plane_grid()
    h = (
        square[:, None]
        - (np.outer(half_difference, grid_cos) + np.outer(off_diagonal, grid_sin)) ** 2
    )
    if equal_volume:
        values = np.log(np.sqrt(h).sum(axis=0))
    else:
        values = counts @ np.log(h)
    phi, spacing = float(grid[np.argmin(values)]), 2.0 * np.pi / N_PLANE_ANGLES
    low, high = phi - spacing, phi + spacing
    # A few components: Python floats beat a dozen NumPy calls per Newton step.
    terms = list(
        zip(half_difference.tolist(), off_diagonal.tolist(), square.tolist(), counts.tolist())
    )
    n_total = float(counts.sum())
    for _ in range(50):
        cos, sin = math.cos(phi), math.sin(phi)
        # Per component: h and its first two derivatives in phi, gathered into sums.
        first = second = total = 0.0
        for u, v, m2, n_k in terms:
            r = u * cos + v * sin
            q = v * cos - u * sin
            h = m2 - r * r
            dh, d2h = -2.0 * r * q, -2.0 * (q * q - r * r)
            if equal_volume:
                root = math.sqrt(h)
                total += root
                first += dh / (2.0 * root)
                second += d2h / (2.0 * root) - dh * dh / (4.0 * h * root)
            else:
                first += n_k * dh / h
                second += n_k * (d2h * h - dh * dh) / (h * h)
        if equal_volume:
            gradient = 2.0 * n_total * first / total
            curvature = 2.0 * n_total * (second * total - first**2) / total**2
        else:
            gradient, curvature = first, second
        # Newton inside the bracket around the grid's best; bisection where it fails.
        step = -gradient / curvature if curvature > 0 else -np.sign(gradient) * spacing
        candidate = phi + step
        if not low < candidate < high:
            candidate = 0.5 * (phi + (high if gradient < 0 else low))
        if gradient < 0:
            low = phi
        else:
            high = phi
        if abs(candidate - phi) <= 1e-13 * max(1.0, abs(phi)):
            phi = candidate
            break
        phi = candidate
    theta = 0.5 * phi
    cos, sin = np.cos(theta), np.sin(theta)
    return np.array([[cos, -sin], [sin, cos]])


@functools.cache
def _plane_grid():
    grid = np.linspace(0.0, 2.0 * np.pi, N_PLANE_ANGLES, endpoint=False)
    return grid, np.cos(grid), np.sin(grid)


def _compose_shared(scatters, counts, active, orientation, rotated, equal_volume):
    """EVE or VVE covariances from the shared orientation and the rotated scatters."""
    scatter_set, count_set = scatters[active], counts[active]
    diagonals = np.diagonal(rotated, axis1=1, axis2=2)
    if equal_volume:
        volumes = geometric_mean(diagonals)
        spectra = volumes.sum() / counts.sum() * diagonals / volumes[:, None]
    else:
        spectra = diagonals / count_set[:, None]
    covariances = np.zeros_like(scatters)
    covariances[active] = compose(np.broadcast_to(orientation, scatter_set.shape), spectra)
    return covariances


def _shared_orientation(covariances: np.ndarray) -> np.ndarray:
    """An orthogonal matrix that diagonalises every one of commuting covariances.

    The eigenvectors of a combination with distinct weights: a repeated
    eigenvalue of it (whose eigenvectors would be ambiguous) is repeated in every
    one of the covariances, where any basis of that eigenspace diagonalises them all.
    """
    weights = 1.0 + 0.6180339887498949 * np.arange(covariances.shape[0])
    traces = np.trace(covariances, axis1=1, axis2=2)
    combination = np.einsum("k,kij->ij", weights / traces, covariances)
    return eigh_descending(combination)[1]


def _warm_start(previous):
    """The shared orientation of the previous covariances, when they are all usable."""
    if previous is None:
        return None
    previous = np.asarray(previous, dtype=np.float64)
    if not np.all(np.isfinite(previous)) or np.any(np.linalg.eigvalsh(previous)[:, 0] <= 0.0):
        return None
    return _shared_orientation(previous)


def _usable(previous, scatters) -> np.ndarray | None:
    """The previous EM iteration's covariances as float64, or None where they cannot start."""
    if previous is None:
        return None
    previous = np.asarray(previous, dtype=np.float64)
    if previous.shape != scatters.shape or not np.all(np.isfinite(previous)):
        return None
    return previous


def _previous_shape_matrix(previous, scatters):
    """VEE: ``sum_k lambda_k C``, proportional to the previous shared ``C``."""
    previous = _usable(previous, scatters)
    return None if previous is None else previous.sum(axis=0)


def _previous_shape(previous, scatters):
    """VEV: the eigenvalues of the previous component of largest trace, proportional to ``A``."""
    previous = _usable(previous, scatters)
    if previous is None:
        return None
    largest = int(np.argmax(np.trace(previous, axis1=1, axis2=2)))
    return np.linalg.eigvalsh(previous[largest])[::-1]


# ----------------------------------------------------------------------- models
class _Ellipsoidal(ConstrainedModel, FullCovariance):
    """Full-matrix storage; the subclass gives the constrained estimator."""


class VariableVolumeEqualShapeOrientationCovariance(_Ellipsoidal):
    """VEE: ``Sigma_k = lambda_k C``, one shape and orientation ``C`` (``|C| = 1``) for all."""

    name = "VEE"
    warm_starts = True

    def n_parameters(self, n_components, n_features):
        return n_components + (n_features - 1) + n_features * (n_features - 1) // 2

    def covariances_from_scatter(self, counts, scatters, previous=None):
        start = _previous_shape_matrix(previous, scatters)
        return variable_volume_equal_shape_orientation(counts, scatters, start=start)

    def with_shared_parts(self, kept, replacements):
        _, _, inverse, _ = unit_determinant(kept[0])
        n_features = kept.shape[-1]
        volumes = np.einsum("kij,ji->k", replacements, inverse) / n_features
        return volumes[:, None, None] * (kept[0] / geometric_mean(np.linalg.eigvalsh(kept[0])))


class EqualVolumeOrientationCovariance(_Ellipsoidal):
    """EVE: ``Sigma_k = lambda D A_k D'``, one volume and orientation, a shape per component."""

    name = "EVE"
    warm_starts = True

    def n_parameters(self, n_components, n_features):
        return 1 + n_components * (n_features - 1) + n_features * (n_features - 1) // 2

    def covariances_from_scatter(self, counts, scatters, previous=None):
        return common_orientation(counts, scatters, equal_volume=True, previous=previous)

    def with_shared_parts(self, kept, replacements):
        orientation = _shared_orientation(kept)
        volume = geometric_mean(np.linalg.eigvalsh(kept[0]))
        diagonals = basis_diagonals(replacements, orientation)
        shapes = diagonals / geometric_mean(diagonals)[:, None]
        return compose(np.broadcast_to(orientation, replacements.shape), volume * shapes)


class EqualOrientationCovariance(_Ellipsoidal):
    """VVE: ``Sigma_k = lambda_k D A_k D'``, one orientation, volume and shape per component."""

    name = "VVE"
    warm_starts = True

    def n_parameters(self, n_components, n_features):
        return n_components * n_features + n_features * (n_features - 1) // 2

    def covariances_from_scatter(self, counts, scatters, previous=None):
        return common_orientation(counts, scatters, equal_volume=False, previous=previous)

    def with_shared_parts(self, kept, replacements):
        orientation = _shared_orientation(kept)
        diagonals = basis_diagonals(replacements, orientation)
        return compose(np.broadcast_to(orientation, replacements.shape), diagonals)


class EqualVolumeShapeCovariance(_Ellipsoidal):
    """EEV: ``Sigma_k = lambda D_k A D_k'``, one volume and shape, an orientation per component."""

    name = "EEV"

    def n_parameters(self, n_components, n_features):
        return 1 + (n_features - 1) + n_components * n_features * (n_features - 1) // 2

    def covariances_from_scatter(self, counts, scatters):
        return equal_volume_equal_shape(counts, scatters)

    def with_shared_parts(self, kept, replacements):
        spectrum, _ = eigh_descending(kept[0])
        _, vectors = eigh_descending(replacements)
        return compose(vectors, np.broadcast_to(spectrum, replacements.shape[:2]))


class VariableVolumeEqualShapeCovariance(_Ellipsoidal):
    """VEV: ``Sigma_k = lambda_k D_k A D_k'``, one shape, volume and orientation per component."""

    name = "VEV"
    warm_starts = True

    def n_parameters(self, n_components, n_features):
        return n_components + (n_features - 1) + n_components * n_features * (n_features - 1) // 2

    def covariances_from_scatter(self, counts, scatters, previous=None):
        return variable_volume_equal_shape(
            counts, scatters, start=_previous_shape(previous, scatters)
        )

    def with_shared_parts(self, kept, replacements):
        spectrum, _ = eigh_descending(kept[0])
        shape = spectrum / geometric_mean(spectrum)
        values, vectors = eigh_descending(replacements)
        volumes = (values / shape).mean(axis=1)
        return compose(vectors, volumes[:, None] * shape[None])


class EqualVolumeCovariance(_Ellipsoidal):
    """EVV: ``Sigma_k = lambda C_k``, one volume, shape and orientation per component."""

    name = "EVV"

    def n_parameters(self, n_components, n_features):
        orientations = n_components * n_features * (n_features - 1) // 2
        return 1 + n_components * (n_features - 1) + orientations

    def covariances_from_scatter(self, counts, scatters):
        return equal_volume(counts, scatters)

    def with_shared_parts(self, kept, replacements):
        volume = geometric_mean(np.linalg.eigvalsh(kept[0]))
        volumes = geometric_mean(np.linalg.eigvalsh(replacements))
        return (volume / volumes)[:, None, None] * replacements
