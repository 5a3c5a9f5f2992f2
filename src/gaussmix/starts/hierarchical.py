"""Model-based agglomerative hierarchical clustering: mclust's ``hc``, the ``'hc'`` start.

Starting from one cluster per row, every step merges the two clusters whose union
increases the criterion the least (decreases the Gaussian classification
likelihood the least), as in Fraley (1998), "Algorithms for model-based Gaussian hierarchical
clustering", SIAM J. Sci. Comput. 20(1), and R mclust's ``hc()`` (mclust 6,
``mclust.options(hcModelName="VVV", hcUse="SVD", subset=2000)``).

Criteria
--------
A cluster ``C`` has ``n`` rows, scatter matrix ``W = sum (x - mean)(x - mean)^T``
and ``p`` columns. The cost of merging ``C_i`` and ``C_j`` is
``T(C_i u C_j) - T(C_i) - T(C_j)``, where, exactly as mclust's Fortran computes it
(``hcvvv`` with ``vvvtij``/``det2mc``; ``hc1v``; ``hceii``):

``'VVV'`` (ellipsoidal, varying volume, shape and orientation; the default)
    ``T(C) = n log(det(W / n) + beta (tr W + alpha) / n)``, where the
    determinant is zero for a cluster of at most ``p`` rows (its scatter is
    singular: mclust drops the determinant there, and a singleton has
    ``T = log(alpha beta)``).
    ``beta = 1`` and ``alpha = tr(W_all) / (N p)`` -- mclust's ``alpha = 1`` times
    ``traceW(data / sqrt(N p))``, the mean variance per coordinate of the ``N``
    clustered rows, and at least machine epsilon. These two terms are mclust's
    regularisation of the ``n log det(W / n)`` of Fraley (1998), which is
    undefined for small clusters. Determinants that round below zero count as zero.
``'V'`` (one feature, varying variance; used for univariate data)
    ``T(C) = n log((W + alpha) / n)`` with ``alpha`` = machine epsilon: mclust's
    ``hcV`` takes ``min(alpha * var, eps)`` and its Fortran then ``max(., eps)``.
``'EII'`` (spherical, equal volume: Ward's criterion; used when ``N <= p``)
    the increase of the total within-cluster sum of squares,
    ``n_i n_j / (n_i + n_j) |mean_i - mean_j|^2``.

Ties
----
Pairs of equal cost are resolved as mclust's Fortran resolves them (``hcvvv``,
``hceii`` and ``hc1v`` of mclust 6 alike), because ties decide the tree wherever
rows are duplicated: any two pairs of duplicated rows tie (Old Faithful has 16),
and whichever merges first draws its neighbours. mclust keeps the live clusters in
slots ``1 .. g``, scans the pair costs column by column (``j = 2 .. g``, and
``i = 1 .. j - 1`` within a column) keeping the *last* pair of least cost (its
test is ``<=``), puts the merged cluster in slot ``i`` and moves the cluster of
the last slot into slot ``j``. :func:`merge_tree` keeps the same slots, so a tie
goes to the pair of largest ``j``, then largest ``i``, in mclust's numbering of
that moment: on the rows (0, 0), (0, 0), (3, 1), (5, 5), (5, 5), (1, 4) rows 4
and 5 merge first, not 1 and 2. This gives mclust's tree whenever the tied costs
are equal in both programs' arithmetic, as for exact copies of rows (which
:func:`svd_transform` keeps exactly equal). Costs equal only in exact arithmetic,
such as those of different pairs of points of an integer grid at the same
distance, are rounded differently by each program (mclust also works from its
own SVD), so either pair may come first there. Apart from ties, mclust's
incremental updates sometimes misstate the cost of merging two clusters of
several rows (its tree then differs from the one ``hcVVV`` builds afresh from that
partition); gaussmix computes every cost from the clusters' statistics. Clusters
are named by their smallest row index (mclust's ``hcPairs`` naming). The whole
computation is deterministic.

Data transformation (mclust's default ``hcUse="SVD"``, Scrucca & Raftery 2016):
the columns are centred and divided by their standard deviation (``n - 1``
denominator, as R's ``scale``); constant columns are dropped (mclust drops the
columns that scaling makes non-finite); then, with the thin SVD ``Xs = U D V^T``,
the rows are ``Xs V D^{-1/2}`` (scaled, not whitened: ``D^{-1/2}``, not ``D^{-1}``).
Singular values below ``max(N, p) * eps * d_max`` are dropped as well, where mclust
divides by (nearly) zero. With ``N <= p`` the centred data always has such a
direction, and mclust's coordinate along it is rounding noise blown up by that
division, which then dominates its EII distances: its trees there are not
reproducible, ours leave the direction out.

Sample weights: a row of weight ``w`` enters the merges as a cluster of mass
``w`` and scatter zero (as ``w`` coincident rows already merged); the counts ``n``
above are masses (the "at most ``p`` rows" rule still counts rows), and the
mean, standard deviations, SVD and ``alpha`` are weighted, with the weights
rescaled to mean one over the clustered rows so that only relative weights
matter. Uniform weights give exactly the unweighted tree. Weights must be
positive: :func:`gaussmix.starts.assignment.hc_assignment` leaves rows of weight zero out.

Cost: the pair costs are held in an ``N x N`` matrix (32 MB at ``N = 2000``), with
each slot's best partner among the slots before it kept up to date, so a merge
costs ``O(N p^3)`` at most;
:func:`gaussmix.starts.assignment.hc_assignment` clusters at most ``SUBSET_SIZE`` rows.

Model choice as mclust's ``mclustBIC``: ``'VVV'``, or ``'EII'`` when there are no
more rows than features; for one feature :func:`hc_labels` uses ``'V'`` (mclust's
``hcV``), but the ``'hc'`` start does not build a tree there: as ``mclustBIC`` it
takes quantile classes (:func:`gaussmix.starts.assignment.quantile_classes`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.spatial.distance import cdist

HC_MODELS = ("EII", "V", "VVV")
SUBSET_SIZE = 2000  # mclust.options("subset"): larger data is clustered on a random subset
_EPS = np.finfo(np.float64).eps
_BETA = 1.0  # mclust's hcVVV default


class MergeTree(NamedTuple):
    """The merges of an agglomerative clustering, in order.

    Attributes
    ----------
    merges : ndarray of shape (n_merges, 2)
        At each step, the two clusters merged, each named by its smallest row
        index, smaller name first (mclust's ``hcPairs``, transposed and from 0).
    costs : ndarray of shape (n_merges,)
        The increase of the criterion at each merge (the minimum over all pairs).
    """

    merges: np.ndarray
    costs: np.ndarray


def default_model(n_samples: int, n_features: int) -> str:
    """The criterion mclust uses for data of this shape.

    Parameters
    ----------
    n_samples, n_features : int

    Returns
    -------
    str
        ``'V'`` for one feature, ``'EII'`` when ``n_samples <= n_features``, else ``'VVV'``.
    """
    if n_features == 1:
        return "V"
    if n_samples <= n_features:
        return "EII"
    return "VVV"


def _unit_mean_weights(sample_weight, n_samples):
    if sample_weight is None:
        return np.ones(n_samples)
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != (n_samples,) or not np.all(weights > 0):
        raise ValueError(
            "Hierarchical clustering needs one positive weight per row: leave rows of "
            "weight zero out."
        )
    return weights / weights.mean()


def svd_transform(X, sample_weight=None) -> np.ndarray:
    """mclust's ``hcUse="SVD"`` transformation: standardised data times ``V D^{-1/2}``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        At least two rows.
    sample_weight : array-like of shape (n_samples,), default=None
        Positive weights; the centre, scales and SVD are weighted.

    Returns
    -------
    ndarray of shape (n_samples, n_components)
        ``n_components <= min(n_samples, n_features)``: constant columns and
        null singular directions are dropped (at least one column is kept, of
        zeros when every column is constant).
    """
    X = np.asarray(X, dtype=np.float64)
    n_samples = X.shape[0]
    weights = _unit_mean_weights(sample_weight, n_samples)
    varying = np.ptp(X, axis=0) > 0
    if not varying.any():
        return np.zeros((n_samples, 1))
    centred = X[:, varying] - weights @ X[:, varying] / n_samples
    # Weights of mean one sum to n_samples: R's n - 1 denominator when they are all one.
    variances = weights @ centred**2 / (n_samples - 1)
    standardised = centred / np.sqrt(variances)
    _, singular_values, vt = np.linalg.svd(
        np.sqrt(weights)[:, None] * standardised, full_matrices=False
    )
    kept = singular_values > singular_values[0] * max(standardised.shape) * _EPS
    # Column by column rather than one matrix product: BLAS may round a row
    # differently by its place in a block, and duplicated rows must stay equal
    # (their merges tie, and ties decide the tree).
    basis = vt[kept] / np.sqrt(singular_values[kept])[:, None]
    projected = np.zeros((n_samples, basis.shape[0]))
    for column, coefficients in zip(standardised.T, basis.T):
        projected += column[:, None] * coefficients
    return projected


# ----------------------------------------------------------------------------- criteria
def _determinants(matrices):
    """``det`` of a stack of square matrices, two by two in closed form.

    Two features are common, and there np.linalg.det's batched LU took about a
    fifth of the time of a whole tree.
    """
    if matrices.shape[-1] == 2:
        return matrices[..., 0, 0] * matrices[..., 1, 1] - matrices[..., 0, 1] * matrices[..., 1, 0]
    return np.linalg.det(matrices)


class _Clusters:
    """Sizes, masses, means, scatters and criterion terms of the clusters, by slot.

    The live clusters fill slots ``0 .. n_active - 1`` (mclust's layout, see
    :func:`merge_tree`). A cluster's size (rows) and mass (summed weights) differ
    only for weighted data.
    """

    def __init__(self, Z, masses, model):
        n_rows, n_features = Z.shape
        self.model = model
        self.n_features = n_features
        self.size = np.ones(n_rows, dtype=np.intp)
        self.mass = masses.copy()
        self.mean = Z.copy()
        self.trace = np.zeros(n_rows)
        weighted_mean = masses @ Z / masses.sum()
        alpha = masses @ ((Z - weighted_mean) ** 2).sum(axis=1) / (masses.sum() * n_features)
        self.alpha = _EPS if model == "V" else max(alpha, _EPS)
        self.scatter = np.zeros((n_rows, n_features, n_features)) if model == "VVV" else None
        self.term = self.terms(self.mass, self.trace, np.zeros(n_rows))

    def terms(self, mass, trace, det):
        """``T(C)`` of clusters with these masses, traces and determinants of ``W / n``."""
        if self.model == "V":
            return mass * np.log((trace + self.alpha) / mass)
        if self.model == "VVV":
            return mass * np.log(det + _BETA * (trace + self.alpha) / mass)
        return np.zeros_like(mass)

    def merge_costs(self, i, others):
        """Criterion increase of merging cluster ``i`` with each cluster of ``others``."""
        mass = self.mass[i] + self.mass[others]
        factor = self.mass[i] * self.mass[others] / mass
        delta = self.mean[others] - self.mean[i]
        between = factor * np.einsum("kd,kd->k", delta, delta)
        if self.model == "EII":
            return between
        trace = self.trace[i] + self.trace[others] + between
        det = np.zeros_like(mass)
        if self.model == "VVV":
            # The scatter of at most p rows is singular: its determinant is zero.
            full = np.flatnonzero(self.size[i] + self.size[others] > self.n_features)
            if full.size:
                scatter = (
                    self.scatter[i]
                    + self.scatter[others[full]]
                    + factor[full, None, None] * delta[full, :, None] * delta[full, None, :]
                )
                det[full] = np.maximum(_determinants(scatter / mass[full, None, None]), 0.0)
        merged = self.terms(mass, trace, det)
        # mclust's order, merged - (T_i + T_j): the same number either way round.
        return merged - (self.term[i] + self.term[others])

    def merge(self, i, j):
        """Put the union of clusters ``i`` and ``j`` in slot ``i``."""
        mass = self.mass[i] + self.mass[j]
        factor = self.mass[i] * self.mass[j] / mass
        delta = self.mean[j] - self.mean[i]
        self.trace[i] += self.trace[j] + factor * (delta @ delta)
        self.mean[i] += (self.mass[j] / mass) * delta
        det = 0.0
        if self.scatter is not None:
            self.scatter[i] += self.scatter[j] + factor * np.outer(delta, delta)
            if self.size[i] + self.size[j] > self.n_features:
                det = max(_determinants(self.scatter[i] / mass), 0.0)
        self.size[i] += self.size[j]
        self.mass[i] = mass
        self.term[i] = self.terms(np.array([mass]), self.trace[i : i + 1], np.array([det]))[0]

    def move(self, source, target):
        """Put the cluster of slot ``source`` in slot ``target``."""
        for values in (self.size, self.mass, self.mean, self.trace, self.term, self.scatter):
            if values is not None:
                values[target] = values[source]

    def singleton_pair_costs(self):
        """The cost of every pair of rows, shape (n_rows, n_rows) (both triangles)."""
        mass = self.mass[:, None] + self.mass[None, :]
        factor = self.mass[:, None] * self.mass[None, :] / mass
        between = factor * cdist(self.mean, self.mean, "sqeuclidean")
        if self.model == "EII":
            return between
        det = np.zeros_like(mass)
        if self.model == "VVV" and self.n_features == 1:
            # One column: W / n of a pair is the 1 x 1 matrix (tr W) / n.
            det = between / mass
        merged = self.terms(mass, between, det)
        return merged - (self.term[:, None] + self.term[None, :])


# ------------------------------------------------------------------------------ merging
def _best_partners(pair_cost, rows, n_active):
    """For each slot ``i`` of ``rows``: the partner ``j > i`` of least cost, the last
    (largest ``j``) of equal ones as in mclust's scan, and the cost; ``inf`` if none."""
    rows = np.asarray(rows, dtype=np.intp)
    if len(rows) <= 4:
        partners = np.full(len(rows), n_active - 1, dtype=np.intp)
        for k, row in enumerate(rows):
            # argmin gives the first minimum: search the row backwards.
            if row < n_active - 1:
                partners[k] -= np.argmin(pair_cost[row, n_active - 1 : row : -1])
    else:
        block = pair_cost[rows, :n_active]
        block[np.arange(n_active) <= rows[:, None]] = np.inf
        partners = n_active - 1 - np.argmin(block[:, ::-1], axis=1)
    costs = np.where(rows < n_active - 1, pair_cost[rows, partners], np.inf)
    return partners, costs


def merge_tree(Z, model="VVV", sample_weight=None, n_clusters=1) -> MergeTree:
    """Merge the rows of ``Z`` greedily under ``model`` until ``n_clusters`` remain.

    Ties between pairs of equal cost are resolved as mclust's Fortran does
    (module docstring, "Ties").

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_features)
        Data to cluster, already transformed (see :func:`svd_transform`).
    model : {'VVV', 'V', 'EII'}, default='VVV'
        The criterion (module docstring). ``'V'`` needs one feature.
    sample_weight : array-like of shape (n_samples,), default=None
        Positive masses of the rows (rescaled to mean one).
    n_clusters : int, default=1
        Stop when this many clusters remain.

    Returns
    -------
    MergeTree
        ``n_samples - n_clusters`` merges.
    """
    Z = np.asarray(Z, dtype=np.float64)
    n_rows, n_features = Z.shape
    if model not in HC_MODELS:
        raise ValueError(f"Unknown hc model {model!r}: use one of {', '.join(HC_MODELS)}.")
    if model == "V" and n_features != 1:
        raise ValueError(
            f"The hc model 'V' is univariate but the data has {n_features} features: "
            "use 'VVV' or 'EII'."
        )
    if not 1 <= n_clusters <= n_rows:
        raise ValueError(f"n_clusters must be in [1, {n_rows}], got {n_clusters}.")
    clusters = _Clusters(Z, _unit_mean_weights(sample_weight, n_rows), model)
    n_merges = n_rows - n_clusters
    merges = np.empty((n_merges, 2), dtype=np.intp)
    costs = np.empty(n_merges)
    if n_merges == 0:
        return MergeTree(merges, costs)

    # mclust's layout: the live clusters fill slots 0 .. n_active - 1, a merged
    # pair (i, j), i < j, goes to slot i and the cluster of the last slot moves
    # into slot j. pair_cost holds both triangles by slot; entries of slots at or
    # past n_active are stale and never read. mclust scans pairs column by column
    # and keeps the last least cost: the least cost, ties to the largest j, then
    # to the largest i. Each slot i keeps its best partner j > i by that rule.
    pair_cost = clusters.singleton_pair_costs()
    np.fill_diagonal(pair_cost, np.inf)
    name = np.arange(n_rows)  # each slot's cluster by its smallest row index
    best_partner, best_cost = _best_partners(pair_cost, np.arange(n_rows), n_rows)
    n_active = n_rows

    for step in range(n_merges):
        least = best_cost[:n_active].min()
        tied = np.flatnonzero(best_cost[:n_active] == least)
        i = int(tied[np.lexsort((tied, best_partner[tied]))[-1]])
        j = int(best_partner[i])
        merges[step] = sorted((name[i], name[j]))
        costs[step] = least

        clusters.merge(i, j)
        name[i] = min(name[i], name[j])
        last = n_active - 1
        n_active -= 1
        moved = j != last
        if moved:
            clusters.move(last, j)
            name[j] = name[last]
            pair_cost[j, :n_active] = pair_cost[last, :n_active]
            pair_cost[:n_active, j] = pair_cost[:n_active, last]
            pair_cost[j, j] = np.inf
        best_cost[last] = np.inf
        if n_active == 1:
            continue
        new_costs = clusters.merge_costs(i, np.arange(n_active))
        new_costs[i] = np.inf  # the cluster with itself
        pair_cost[i, :n_active] = new_costs
        pair_cost[:n_active, i] = new_costs

        # Rows before i changed in column i, rows before j (when the last cluster
        # moved there) in column j. A row searches again when its best partner
        # was i, j or the last slot (whose cluster is gone, or moved to j where
        # its ties rank lower); the others compare their best with the new entries.
        partner = best_partner[:n_active]
        lost = (partner == i) | (partner == j) | (partner == last)
        lost[i] = True
        if moved:
            lost[j] = True
        for column, rows in ((i, np.arange(i)), (j, np.arange(j) if moved else np.arange(0))):
            rows = rows[~lost[rows]]
            candidate = pair_cost[rows, column]
            better = (candidate < best_cost[rows]) | (
                (candidate == best_cost[rows]) & (column > best_partner[rows])
            )
            best_partner[rows[better]] = column
            best_cost[rows[better]] = candidate[better]
        search = np.flatnonzero(lost)
        best_partner[search], best_cost[search] = _best_partners(pair_cost, search, n_active)
    return MergeTree(merges, costs)


def cut_tree(merges, n_samples, n_clusters) -> np.ndarray:
    """Labels of the partition into ``n_clusters`` clusters, after the first merges.

    Parameters
    ----------
    merges : ndarray of shape (n_merges, 2)
        From :attr:`MergeTree.merges`; needs ``n_merges >= n_samples - n_clusters``.
    n_samples, n_clusters : int

    Returns
    -------
    ndarray of shape (n_samples,)
        Labels ``0 .. n_clusters - 1`` numbered in order of each cluster's first row
        (as mclust's ``hclass`` then ``partconv``).
    """
    n_merges = n_samples - n_clusters
    if not 0 <= n_merges <= len(merges):
        raise ValueError(
            f"Cannot cut {n_samples} rows into {n_clusters} clusters with {len(merges)} merges."
        )
    parent = np.arange(n_samples)
    for i, j in merges[:n_merges]:
        parent[j] = i
    # A parent is always a smaller row index, so one pass in row order resolves roots.
    root = parent.copy()
    for row in range(n_samples):
        root[row] = root[parent[row]]
    # Roots are each cluster's smallest row: sorted roots number clusters by first row.
    return np.unique(root, return_inverse=True)[1].astype(np.intp)


def hc_labels(X, n_clusters, *, model=None, sample_weight=None) -> np.ndarray:
    """Cluster the rows of ``X`` as mclust's default ``hc`` start does.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_clusters : int
    model : {'VVV', 'V', 'EII'} or None, default=None
        None picks :func:`default_model` of ``X``'s shape.
    sample_weight : array-like of shape (n_samples,), default=None
        Positive weights (rows of zero weight must be left out by the caller).

    Returns
    -------
    ndarray of shape (n_samples,)
        Labels ``0 .. n_clusters - 1``, numbered in order of first row.
    """
    X = np.asarray(X, dtype=np.float64)
    n_samples, n_features = X.shape
    if n_samples == 1 or n_clusters == n_samples:
        return np.arange(n_samples, dtype=np.intp)
    if model is None:
        model = default_model(n_samples, n_features)
    Z = svd_transform(X, sample_weight)
    tree = merge_tree(Z, model, sample_weight, n_clusters)
    return cut_tree(tree.merges, n_samples, n_clusters)
