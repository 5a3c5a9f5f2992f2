"""The orientation Newton steps' derivatives and directions (covariance/_decomposition.py)."""

from __future__ import annotations

import numpy as np

from gaussmix.covariance._base import triangle
from gaussmix.covariance._decomposition import cayley, newton_direction, rotation_terms


def _weighted_diagonals(scatters, weights, pairs, angles):
    """``sum_kj weights_kj diag(R' B_k R)_j`` at ``R = cayley(S(angles))``."""
    n_features = scatters.shape[-1]
    skew = np.zeros((n_features, n_features))
    skew[pairs] = angles
    rotation = cayley(skew - skew.T)
    rotated = np.einsum("ji,kjl,lm->kim", rotation, scatters, rotation)
    return float(np.sum(weights * np.diagonal(rotated, axis1=1, axis2=2)))


def test_rotation_terms_are_the_derivatives_of_the_rotated_diagonals():
    # Against central finite differences of the rotated diagonals themselves.
    rng = np.random.default_rng(0)
    n_components, n_features = 3, 5
    factors = rng.standard_normal((n_components, n_features, n_features))
    scatters = factors @ factors.transpose(0, 2, 1)
    weights = rng.random((n_components, n_features))
    pairs = triangle(n_features).pairs
    n_pairs = pairs[0].size
    off_diagonal, curvature = rotation_terms(scatters, weights, pairs)

    step = 1e-4
    basis = np.eye(n_pairs) * step
    value = lambda angles: _weighted_diagonals(scatters, weights, pairs, angles)  # noqa: E731
    hessian = np.empty((n_pairs, n_pairs))
    for i in range(n_pairs):
        for j in range(n_pairs):
            hessian[i, j] = (
                value(basis[i] + basis[j])
                - value(basis[i] - basis[j])
                - value(-basis[i] + basis[j])
                + value(-basis[i] - basis[j])
            ) / (4 * step * step)
    # sum_kj w g is linear in g, so its Hessian is the curvature term alone.
    np.testing.assert_allclose(curvature, hessian, atol=1e-5 * np.abs(hessian).max())
    first, second = pairs
    np.testing.assert_array_equal(off_diagonal, scatters[:, first, second])


def test_rotation_terms_of_some_angles_are_the_full_terms_restricted():
    # Any subset of the plane rotations (here none that moves the last feature):
    # the curvature in those angles is the full curvature's submatrix.
    rng = np.random.default_rng(3)
    n_components, n_features = 3, 5
    factors = rng.standard_normal((n_components, n_features, n_features))
    scatters = factors @ factors.transpose(0, 2, 1)
    weights = rng.random((n_components, n_features))
    first, second = triangle(n_features).pairs
    kept = np.flatnonzero(second < n_features - 1)
    full_off, full_curvature = rotation_terms(scatters, weights, (first, second))
    off_diagonal, curvature = rotation_terms(scatters, weights, (first[kept], second[kept]))
    np.testing.assert_array_equal(off_diagonal, full_off[:, kept])
    np.testing.assert_allclose(curvature, full_curvature[np.ix_(kept, kept)], rtol=1e-12)


def test_newton_direction_is_newtons_step_on_ill_conditioned_definite_hessians():
    # Angles between features of very different scales (unscaled breast-cancer
    # data): H = diag(s) M diag(s), eigenvalues spread over 14 decades. The step
    # is Newton's, with no floor relative to the largest eigenvalue lifting the
    # small ones.
    rng = np.random.default_rng(1)
    factor = rng.standard_normal((40, 40))
    well_conditioned = factor @ factor.T / 40 + np.eye(40)
    scales = np.logspace(-3, 4, 40)
    hessian = scales[:, None] * well_conditioned * scales[None, :]
    assert np.linalg.cond(hessian) > 1e13
    gradient = rng.standard_normal(40)
    expected = -np.linalg.solve(well_conditioned, gradient / scales) / scales
    np.testing.assert_allclose(newton_direction(gradient, hessian), expected, rtol=1e-8)


def test_newton_direction_descends_on_indefinite_hessians():
    # Negative curvature: eigenvalues replaced by their magnitudes.
    rng = np.random.default_rng(2)
    vectors, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    values = np.array([-3.0, -1.0, 0.5, 1, 2, 3, 4, 5, 6, 7])
    hessian = (vectors * values) @ vectors.T
    gradient = rng.standard_normal(10)
    direction = newton_direction(gradient, hessian)
    np.testing.assert_allclose(direction, -vectors @ ((vectors.T @ gradient) / np.abs(values)))
    assert gradient @ direction < 0
