"""Initial assignments of rows to components (k-means, k-means++, random, hierarchical).

The scikit-learn methods draw from ``random_state`` in the same order as
scikit-learn's ``GaussianMixture`` so that the same seed gives the same start. All
honour ``sample_weight`` (a row of weight zero is never chosen as a seed).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus

from .hierarchical import SUBSET_SIZE, cut_tree, default_model, merge_tree, svd_transform


class Assignment(NamedTuple):
    """Initial responsibilities, as hard labels or as a dense matrix.

    Attributes
    ----------
    labels : ndarray of shape (n_samples,) or None
        Component of each row; ``-1`` for a row that belongs to no component yet.
    resp : ndarray of shape (n_samples, n_components) or None
        Soft responsibilities, when the method draws them.
    """

    labels: np.ndarray | None
    resp: np.ndarray | None

    def chunk(self, rows: slice, n_components: int, dtype) -> np.ndarray:
        """The responsibilities of ``rows``, shape ``(n_components, n_rows)``."""
        if self.resp is not None:
            return np.ascontiguousarray(self.resp[rows].T, dtype=dtype)
        labels = self.labels[rows]
        block = np.zeros((n_components, labels.shape[0]), dtype=dtype)
        assigned = np.flatnonzero(labels >= 0)
        block[labels[assigned], assigned] = 1.0
        return block


def _is_uniform(sample_weight):
    return sample_weight is None or np.all(sample_weight == sample_weight[0])


def initial_assignment(X, n_components, init_params, random_state, sample_weight=None):
    """Assign rows to components to start EM.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hc'}
    random_state : numpy.random.RandomState
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    Assignment
        ``'hc'`` gives the labels of :func:`hc_assignment`.
    """
    n_samples = X.shape[0]
    weights = None if _is_uniform(sample_weight) else sample_weight
    if init_params == "kmeans":
        labels = (
            KMeans(n_clusters=n_components, n_init=1, random_state=random_state)
            .fit(X, sample_weight=weights)
            .labels_
        )
        return Assignment(labels=labels, resp=None)
    if init_params == "k-means++":
        _, indices = kmeans_plusplus(
            X, n_components, random_state=random_state, sample_weight=weights
        )
        return Assignment(labels=_labels_at(indices, n_samples), resp=None)
    if init_params == "random":
        resp = random_state.uniform(size=(n_samples, n_components))
        resp /= resp.sum(axis=1)[:, None]
        return Assignment(labels=None, resp=resp)
    if init_params == "random_from_data":
        probabilities = None if weights is None else weights / weights.sum()
        indices = random_state.choice(n_samples, size=n_components, replace=False, p=probabilities)
        return Assignment(labels=_labels_at(indices, n_samples), resp=None)
    if init_params == "hc":
        return Assignment(labels=hc_assignment(X, n_components, random_state, weights), resp=None)
    raise ValueError(f"Unknown init_params {init_params!r}.")


def hc_assignment(X, n_components, random_state, sample_weight=None):
    """mclust's start: model-based hierarchical clustering cut at ``n_components``.

    See :mod:`gaussmix.starts.hierarchical` for the criterion and the data transformation. As
    mclust's ``mclustBIC``, when more than ``SUBSET_SIZE`` (2000) rows have a
    positive weight, the tree is built on ``SUBSET_SIZE`` of them drawn without
    replacement from ``random_state`` (sorted, so ties still go by row order); only
    those rows are labelled (the others get ``-1``), so the first M-step uses the
    subset alone and the first E-step then covers every row, which is mclust's
    ``mstep`` on the subset followed by ``estep`` on all data. Below that size
    ``random_state`` is not used and the start is the same for every seed.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    random_state : numpy.random.RandomState
    sample_weight : ndarray of shape (n_samples,) or None
        Rows of weight zero are left out of the tree (label ``-1``); the others
        enter the merges with their weights as masses (see :mod:`gaussmix.starts.hierarchical`).

    Returns
    -------
    ndarray of shape (n_samples,)
        Component of each row, ``-1`` for rows outside the tree.
    """
    return hc_assignments(X, [n_components], random_state, sample_weight)[n_components]


def hc_assignments(X, counts, random_state, sample_weight=None) -> dict:
    """:func:`hc_assignment` for several numbers of components, from one tree.

    The greedy merges do not depend on where they stop, so the partition into ``k``
    clusters is the first ``n - k`` merges of one tree: building it once and cutting
    it at every ``k`` gives exactly what :func:`hc_assignment` gives for each ``k``
    alone (with the same subset of rows, drawn once), at the cost of one tree.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    counts : iterable of int
        Numbers of components, each at most the number of rows in the tree.
    random_state : numpy.random.RandomState
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    dict of int to ndarray of shape (n_samples,)
        The labels for each number of components, ``-1`` for rows outside the tree.
    """
    n_samples = X.shape[0]
    counts = sorted({int(k) for k in counts})
    rows = np.arange(n_samples) if sample_weight is None else np.flatnonzero(sample_weight > 0)
    if rows.size > SUBSET_SIZE:
        rows = np.sort(random_state.choice(rows, size=SUBSET_SIZE, replace=False))
    weights = None if sample_weight is None else sample_weight[rows]
    subset = np.asarray(X[rows], dtype=np.float64)
    n_rows = rows.size
    tree = None
    if n_rows > 1 and counts[0] < n_rows:
        model = default_model(n_rows, subset.shape[1])
        Z = svd_transform(subset, weights)
        tree = merge_tree(Z, model, weights, counts[0])
    labels_by_count = {}
    for k in counts:
        labels = np.full(n_samples, -1, dtype=np.intp)
        if tree is None or k >= n_rows:
            labels[rows] = np.arange(n_rows, dtype=np.intp)
        else:
            labels[rows] = cut_tree(tree.merges, n_rows, k)
        labels_by_count[k] = labels
    return labels_by_count


def same_partition(first: Assignment, second: Assignment) -> bool:
    """Whether two hard assignments put the same rows together (labels may differ).

    EM from two such starts follows the same path up to the order of the
    components, so one of them can be skipped. Soft assignments never compare equal.
    """
    if first.labels is None or second.labels is None:
        return False
    return bool(np.array_equal(_canonical(first.labels), _canonical(second.labels)))


def _canonical(labels):
    # Number components by their first row; unassigned rows (-1) stay -1.
    assigned = labels >= 0
    _, first_rows, inverse = np.unique(labels[assigned], return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first_rows))
    canonical = np.full(labels.shape, -1, dtype=np.intp)
    canonical[assigned] = order[inverse.ravel()]
    return canonical


def _labels_at(indices, n_samples):
    labels = np.full(n_samples, -1, dtype=np.intp)
    labels[indices] = np.arange(len(indices))
    return labels
