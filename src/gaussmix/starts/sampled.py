"""Starts for data read block by block: drawn from a seeded row sample, refined on all rows.

scikit-learn's starts read the whole data set (k-means copies it, ``'random'``
draws an N x K matrix). For data larger than memory the start is computed on a
seeded sample of :data:`SAMPLE_ROWS` rows instead, and for ``'kmeans'`` refined by
:data:`LLOYD_PASSES` Lloyd iterations over every row through the backend. The
resulting assignments give each chunk its responsibilities on the fly, so no
N-sized array is ever built.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus

from .assignment import hc_assignments
from .hierarchical import SUBSET_SIZE

#: Rows drawn for the start of an out-of-core fit. k-means on 50,000 rows places
#: centres within sampling noise of k-means on all rows for any K a mixture fit uses.
SAMPLE_ROWS = 50_000

#: Lloyd iterations over all rows after k-means on the sample: they move the
#: sample's centres to where all rows put them (the first does most of it).
LLOYD_PASSES = 3

#: Rows per block of the seeded generator of ``'random'`` responsibilities: the
#: draws depend on the seed and the row, not on how a backend chunks the rows.
RANDOM_BLOCK_ROWS = 65_536


class RowLabels(NamedTuple):
    """Hard labels for a few rows, given by their indices; other rows unassigned.

    Attributes
    ----------
    indices : ndarray of int, sorted
    labels : ndarray of int, same length
    """

    indices: np.ndarray
    labels: np.ndarray

    def chunk(self, rows: slice, n_components: int, dtype, XcT=None, centre=None) -> np.ndarray:
        """The responsibilities of ``rows``, shape ``(n_components, n_rows)``."""
        block = np.zeros((n_components, rows.stop - rows.start), dtype=dtype)
        lo, hi = np.searchsorted(self.indices, [rows.start, rows.stop])
        block[self.labels[lo:hi], self.indices[lo:hi] - rows.start] = 1.0
        return block


class NearestCentres(NamedTuple):
    """Every row assigned to its nearest centre (the labels of k-means' last step).

    Attributes
    ----------
    centres : ndarray of shape (n_components, n_features), in the data's units
    """

    centres: np.ndarray

    def chunk(self, rows: slice, n_components: int, dtype, XcT=None, centre=None) -> np.ndarray:
        """The responsibilities of ``rows`` (needs the centred chunk ``XcT``)."""
        labels = nearest(XcT, self.centres - centre)
        block = np.zeros((n_components, labels.size), dtype=dtype)
        block[labels, np.arange(labels.size)] = 1.0
        return block


class SeededResponsibilities(NamedTuple):
    """Uniform random responsibilities, normalised per row, drawn per block of rows.

    Attributes
    ----------
    seed : int
    """

    seed: int

    def chunk(self, rows: slice, n_components: int, dtype, XcT=None, centre=None) -> np.ndarray:
        """The responsibilities of ``rows``, shape ``(n_components, n_rows)``."""
        pieces = []
        first = rows.start // RANDOM_BLOCK_ROWS
        last = (rows.stop - 1) // RANDOM_BLOCK_ROWS
        for block in range(first, last + 1):
            draws = np.random.default_rng([self.seed, block]).uniform(
                size=(RANDOM_BLOCK_ROWS, n_components)
            )
            begin = max(rows.start, block * RANDOM_BLOCK_ROWS) - block * RANDOM_BLOCK_ROWS
            end = min(rows.stop, (block + 1) * RANDOM_BLOCK_ROWS) - block * RANDOM_BLOCK_ROWS
            pieces.append(draws[begin:end])
        resp = np.concatenate(pieces, axis=0)
        resp /= resp.sum(axis=1, keepdims=True)
        return np.ascontiguousarray(resp.T, dtype=dtype)


def nearest(XcT: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest of ``centres`` (K x D) to each column of ``XcT`` (D x n)."""
    centres = centres.astype(XcT.dtype, copy=False)
    # |x - c|^2 = |x|^2 - 2 c.x + |c|^2; |x|^2 does not change the argmin.
    scores = centres @ XcT
    scores *= -2.0
    scores += (centres * centres).sum(axis=1)[:, None]
    return scores.argmin(axis=0)


def sample_rows(n_samples: int, n_rows: int, random_state) -> np.ndarray:
    """``n_rows`` distinct row indices drawn uniformly from ``random_state``, sorted.

    Draws with replacement until enough distinct rows are found, so that the cost
    is in the sample's size, not in ``n_samples`` (a permutation of ten million
    rows would be 80 MB).
    """
    if n_rows >= n_samples:
        return np.arange(n_samples)
    chosen = np.empty(0, dtype=np.int64)
    while chosen.size < n_rows:
        draws = random_state.randint(0, n_samples, size=n_rows + n_rows // 8 + 16)
        chosen = np.union1d(chosen, draws)
    keep = random_state.permutation(chosen.size)[:n_rows]
    return np.sort(chosen[keep])


def lloyd(backend, centres: np.ndarray, centre: np.ndarray, n_passes: int) -> np.ndarray:
    """``n_passes`` Lloyd iterations of k-means over every row of ``backend``.

    Parameters
    ----------
    backend : a gaussmix backend
    centres : ndarray of shape (n_clusters, n_features)
    centre : ndarray of shape (n_features,)
        The shift the backend subtracts from the rows.
    n_passes : int

    Returns
    -------
    ndarray of shape (n_clusters, n_features)
        A centre that no row chose stays where it was.
    """
    n_clusters = centres.shape[0]
    for _ in range(n_passes):
        shifted = centres - centre

        def chunk_fn(XcT, sample_weight, rows, work, shifted=shifted):
            labels = nearest(XcT, shifted)
            member = np.zeros((n_clusters, labels.size))
            member[labels, np.arange(labels.size)] = 1.0 if sample_weight is None else sample_weight
            return member.sum(axis=1), member @ XcT.T.astype(np.float64, copy=False)

        counts, sums = backend.reduce(
            chunk_fn,
            lambda n_rows: None,
            centre,
            lambda a, b: (a[0] + b[0], a[1] + b[1]),
            dtype=np.float64,
        )
        moved = counts > 0
        centres = centres.copy()
        centres[moved] = sums[moved] / counts[moved, None] + centre
    return centres


def sampled_assignment(
    backend, centre, n_components, init_params, random_state, sample_weight=None
):
    """A start for data read through ``backend``, drawn from a seeded sample of rows.

    Parameters
    ----------
    backend : a gaussmix backend (``n_samples``, ``take``, ``reduce``)
    centre : ndarray of shape (n_features,)
    n_components : int
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hc'}
    random_state : numpy.random.RandomState
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    RowLabels, NearestCentres or SeededResponsibilities
        ``'kmeans'``: k-means on :data:`SAMPLE_ROWS` rows, then :data:`LLOYD_PASSES`
        Lloyd passes over all rows, every row assigned to its nearest centre;
        ``'k-means++'`` and ``'random_from_data'``: seeds among the sample's rows;
        ``'hc'``: the hierarchical start on :data:`~gaussmix.starts.hierarchical.SUBSET_SIZE`
        of the sample's rows; ``'random'``: seeded per-row draws.
    """
    if init_params == "random":
        return SeededResponsibilities(int(random_state.randint(np.iinfo(np.int32).max)))
    n_rows = SUBSET_SIZE if init_params == "hc" else SAMPLE_ROWS
    indices = sample_rows(backend.n_samples, n_rows, random_state)
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight[indices], dtype=np.float64)
        keep = weights > 0
        indices, weights = indices[keep], weights[keep]
        if indices.size < n_components:
            raise ValueError(
                f"Only {indices.size} of the {n_rows} rows sampled for the start have a "
                f"positive weight, fewer than n_components = {n_components}: give more "
                "rows a positive weight."
            )
    rows = backend.take(indices)
    if init_params == "kmeans":
        centres = (
            KMeans(n_clusters=n_components, n_init=1, random_state=random_state)
            .fit(rows, sample_weight=weights)
            .cluster_centers_
        )
        return NearestCentres(lloyd(backend, centres, centre, LLOYD_PASSES))
    if init_params == "k-means++":
        _, seeds = kmeans_plusplus(
            rows, n_components, random_state=random_state, sample_weight=weights
        )
        return _seed_labels(indices[seeds])
    if init_params == "random_from_data":
        probabilities = None if weights is None else weights / weights.sum()
        seeds = random_state.choice(indices.size, size=n_components, replace=False, p=probabilities)
        return _seed_labels(indices[seeds])
    if init_params == "hc":
        labels = hc_assignments(rows, [n_components], random_state, weights)[n_components]
        assigned = labels >= 0
        return RowLabels(indices=indices[assigned], labels=labels[assigned])
    raise ValueError(f"Unknown init_params {init_params!r}.")


def _seed_labels(seed_rows):
    order = np.argsort(seed_rows)
    return RowLabels(indices=seed_rows[order], labels=np.arange(seed_rows.size)[order])
