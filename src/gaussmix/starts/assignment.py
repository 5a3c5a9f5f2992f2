"""Initial assignments of rows to components (k-means, k-means++, random, mclust's).

The scikit-learn methods draw from ``random_state`` in the same order as
scikit-learn's ``GaussianMixture`` so that the same seed gives the same start. All
honour ``sample_weight`` (a row of weight zero is never chosen as a seed).
``'hc'`` is mclust's start: the hierarchical tree of :mod:`.hierarchical`, or for
one feature the quantile classes of :func:`quantile_classes`.
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

    def chunk(self, rows: slice, n_components: int, dtype, XcT=None, centre=None) -> np.ndarray:
        """The responsibilities of ``rows``, shape ``(n_components, n_rows)``.

        ``XcT`` (the centred chunk) and ``centre`` are for starts that assign rows
        by their values (:mod:`gaussmix.starts.sampled`); labels do not need them.
        """
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

    As mclust's ``mclustBIC``: data with two or more features is cut from the tree
    of :mod:`gaussmix.starts.hierarchical` (criterion, data transformation, ties);
    one-feature data is split into the quantile classes of
    :func:`quantile_classes` (mclust's ``qclass``), as ``mclustBIC`` does for
    ``d = 1``. When more than ``SUBSET_SIZE`` (2000) rows have a positive weight,
    either is computed on ``SUBSET_SIZE`` of them drawn without replacement from
    ``random_state`` (sorted, so that the tree's ties keep their order; mclust
    subsets one-feature data too, which also bounds the cost of ``qclass``'s
    search on heavily repeated values); only those rows are labelled (the others
    get ``-1``), so the first M-step uses the subset alone and the first E-step
    then covers every row, which is mclust's ``mstep`` on the subset followed by
    ``estep`` on all data. Below that size ``random_state`` is not used and the
    start is the same for every seed.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    random_state : numpy.random.RandomState
    sample_weight : ndarray of shape (n_samples,) or None
        Rows of weight zero are left out (label ``-1``); the others enter the
        merges with their weights as masses (see
        :mod:`gaussmix.starts.hierarchical`), or the quantiles as weighted rows
        (see :func:`quantile_classes`). mclust has no weights.

    Returns
    -------
    ndarray of shape (n_samples,)
        Component of each row, ``-1`` for rows outside the tree or the subset
        (and, as in mclust, for one-feature rows that no quantile class covers,
        see :func:`quantile_classes`).
    """
    return hc_assignments(X, [n_components], random_state, sample_weight)[n_components]


def hc_assignments(X, counts, random_state, sample_weight=None) -> dict:
    """:func:`hc_assignment` for several numbers of components, from one tree.

    The greedy merges do not depend on where they stop, so the partition into ``k``
    clusters is the first ``n - k`` merges of one tree: building it once and cutting
    it at every ``k`` gives exactly what :func:`hc_assignment` gives for each ``k``
    alone (with the same subset of rows, drawn once), at the cost of one tree. One
    feature takes no tree: each ``k`` gets its quantile classes, and ``k = 1`` every
    row (mclustBIC fits one component to all rows without ``qclass``).

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
    one_feature = subset.shape[1] == 1
    tree = None
    if not one_feature and n_rows > 1 and counts[0] < n_rows:
        model = default_model(n_rows, subset.shape[1])
        Z = svd_transform(subset, weights)
        tree = merge_tree(Z, model, weights, counts[0])
    labels_by_count = {}
    for k in counts:
        labels = np.full(n_samples, -1, dtype=np.intp)
        if k >= n_rows:
            labels[rows] = np.arange(n_rows, dtype=np.intp)
        elif one_feature and k == 1:
            labels[rows] = 0
        elif one_feature:
            labels[rows] = quantile_classes(subset[:, 0], k, _unit_mean(weights))
        else:
            labels[rows] = cut_tree(tree.merges, n_rows, k)
        labels_by_count[k] = labels
    return labels_by_count


def _unit_mean(weights):
    # Only relative weights matter: the quantiles see them as rows of mean weight one.
    if weights is None or np.all(weights == weights[0]):
        return None
    return weights / weights.mean()


_QCLASS_WIDENING = np.sqrt(np.finfo(np.float64).eps)  # R's sqrt(.Machine$double.eps)


def quantile_classes(x, n_classes, sample_weight=None) -> np.ndarray:
    """mclust's ``qclass``: classes between quantiles of one feature.

    R mclust's ``mclustBIC`` starts one-feature fits from these classes rather
    than from a tree. Exactly as mclust 6's ``qclass``: for ``m = n_classes + 1,
    n_classes + 2, ...`` the type-7 quantiles (R's default, linear
    interpolation between order statistics) at ``m`` equally spaced
    probabilities from 0 to 1 are taken, repeated values once, until there are at
    least ``n_classes + 1`` of them; if there are more, the lower end of each of
    the narrowest gaps between consecutive quantiles is dropped (the narrowest
    first, ties to the first gap) until ``n_classes + 1`` remain. The outer two
    are then widened to ``min(x) - eps`` and ``max(x) + eps``, ``eps =
    sd(x) sqrt(machine epsilon)``, and class ``c`` holds ``q_c <= x < q_{c+1}``.

    With repeated values a class can be empty (its bounds fall between two
    neighbouring values; mclust then gives every row a responsibility of about
    1e-8 for it, gaussmix's EM re-seeds the empty component), and when ``eps`` is
    below half the spacing of floats at ``max(x)`` the largest values fall in no
    class (label ``-1``, as mclust's class 0).

    Parameters
    ----------
    x : array-like of shape (n_samples,)
    n_classes : int
        At least 1.
    sample_weight : array-like of shape (n_samples,), default=None
        Positive weights, taken as numbers of repeats of each value: the
        quantiles, the standard deviation and the number of values (the sum of
        the weights) are those of the data with each value repeated that many
        times, so integer weights give exactly the classes of repeated rows.
        mclust has no weights; :func:`hc_assignments` passes weights of mean one.

    Returns
    -------
    ndarray of shape (n_samples,)
        Labels ``0 .. n_classes - 1``, numbered from the smallest values up;
        ``-1`` for values in no class. With fewer than two distinct values
        (where mclust's ``qclass`` never returns; with weights, counting the values
        that some order statistic of the repeated values takes) every row is in
        class 0.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}.")
    order = np.argsort(x, kind="stable")
    values = x[order]
    if values[0] == values[-1]:
        return np.zeros(x.size, dtype=np.intp)
    if sample_weight is None:
        repeats = np.arange(1.0, x.size + 1.0)
        spread = np.std(x, ddof=1)
    else:
        weights = np.asarray(sample_weight, dtype=np.float64).ravel()
        if weights.shape != x.shape or not np.all(weights > 0):
            raise ValueError(
                "quantile_classes needs one positive weight per value: leave values of "
                "weight zero out."
            )
        repeats = np.cumsum(weights[order])
        if repeats[-1] <= 1.0:
            raise ValueError(
                "quantile_classes counts weights as repeats, and these sum to at most "
                "one value: scale them up (hc_assignments gives them a mean of one)."
            )
        mean = weights @ x / repeats[-1]
        spread = np.sqrt(weights @ (x - mean) ** 2 / (repeats[-1] - 1.0))
    runs = _runs(values, repeats)
    if len(runs[0]) < 2:
        # Every order statistic is one value (weights below one can hide the others).
        return np.zeros(x.size, dtype=np.intp)
    bounds = _enough_quantiles(runs, repeats[-1], n_classes + 1)
    if bounds.size > n_classes + 1:
        gaps = np.diff(bounds)
        dropped = np.argsort(gaps, kind="stable")[: bounds.size - n_classes - 1]
        bounds = np.delete(bounds, dropped)
    widening = spread * _QCLASS_WIDENING
    bounds[0] = values[0] - widening
    bounds[-1] = values[-1] + widening
    labels = np.full(x.size, -1, dtype=np.intp)
    for label in range(n_classes):
        labels[(x >= bounds[label]) & (x < bounds[label + 1])] = label
    return labels


def _runs(values, repeats):
    """The distinct ``values`` and the order statistics each one is.

    ``values`` sorted, ``repeats`` their cumulative weights (``1, 2, ..., n``
    without weights). The order statistic at position ``k = 1, 2, ...`` is the
    first value whose cumulative weight reaches ``k`` (the last value beyond
    them all). Returns the distinct values that are some order statistic, and the
    first and last position of each (the last one's last is ``inf``).
    """
    last_of_run = np.flatnonzero(np.append(values[1:] != values[:-1], True))
    first = np.floor(np.concatenate(([0.0], repeats[last_of_run[:-1]]))) + 1.0
    last = np.floor(repeats[last_of_run])
    last[-1] = np.inf
    kept = first <= last  # a run of weights below one may hold no position
    return values[last_of_run][kept], first[kept], last[kept]


def _quantile_index(i, n_probabilities, total):
    # R's type-7 index 1 + (n - 1) p at p = seq(0, 1, length = m)[i + 1], whose
    # values are c(0, (1:(m - 2)) * (1 / (m - 1)), 1).
    probabilities = np.where(i == n_probabilities - 1, 1.0, i * (1.0 / (n_probabilities - 1)))
    return 1.0 + (total - 1.0) * probabilities


def _first_index(threshold, n_probabilities, total, strict):
    """The first ``i`` whose index is ``>= threshold`` (``>`` if strict), else ``m``.

    Broadcasts ``threshold`` against ``n_probabilities`` (``m``).
    """
    # The index is a rounded linear function of i, so the exact answer is within
    # a step or two of the inverted one; those candidates are evaluated exactly.
    m = np.asarray(n_probabilities)
    guess = np.floor((threshold - 1.0) * ((m - 1) / (total - 1.0)))
    guess = np.clip(guess, -3, m + 3).astype(np.intp)[..., None]
    candidates = guess + np.arange(-2, 4)
    index = _quantile_index(np.clip(candidates, 0, m[..., None] - 1), m[..., None], total)
    threshold = np.asarray(threshold)[..., None]
    beyond = index > threshold if strict else index >= threshold
    beyond &= (candidates >= 0) & (candidates < m[..., None])
    first = np.take_along_axis(candidates, beyond.argmax(axis=-1)[..., None], axis=-1)[..., 0]
    return np.where(beyond.any(axis=-1), first, m)


def _quantile_positions(runs, total, n_probabilities):
    """Where the probabilities fall among the runs of :func:`_runs`, for ``m`` of them.

    Returns, for each run, the first probability whose quantile is the run's
    value (``m`` if none), and for each pair of neighbouring runs the first
    probability strictly between them and the first one past them.
    """
    _, first, last = runs
    m = np.asarray(n_probabilities)
    first_hit = _first_index(first, m, total, strict=False)
    at_first = _quantile_index(np.minimum(first_hit, m - 1), m, total)
    first_hit = np.where(at_first <= last, first_hit, m)
    gap_start = _first_index(last[:-1], m, total, strict=True)
    gap_end = _first_index(first[1:], m, total, strict=False)
    return first_hit, gap_start, gap_end


def _enough_quantiles(runs, total, n_wanted):
    """``qclass``'s search: ``unique(quantile(x, seq(0, 1, length = m)))`` for the
    first ``m = n_wanted, n_wanted + 1, ...`` that gives ``n_wanted`` values or more.

    On heavily repeated values it may take thousands of ``m``, most of whose
    probabilities land inside a run of equal values. So the runs are counted for
    a batch of ``m`` at once: the number of runs reached plus the number of
    probabilities between runs bounds the number of distinct quantiles from
    above, and only an ``m`` whose bound is high enough is computed exactly.
    """
    # Batches grow from one m (usually all it takes) to about a million candidate
    # indices at a time.
    largest_batch = max(1, 150_000 // len(runs[0]))
    batch, start = 1, n_wanted
    while True:
        m = np.arange(start, start + batch)[:, None]
        first_hit, gap_start, gap_end = _quantile_positions(runs, total, m)
        bound = (first_hit < m).sum(axis=1) + np.maximum(gap_end - gap_start, 0).sum(axis=1)
        for n_probabilities in m[bound >= n_wanted, 0]:
            quantiles = _distinct_quantiles(runs, total, int(n_probabilities))
            if quantiles.size >= n_wanted:
                return quantiles
        start += batch
        batch = min(2 * batch, largest_batch)


def _distinct_quantiles(runs, total, n_probabilities):
    """R's ``unique(quantile(x, seq(0, 1, length = n_probabilities)))``, type 7.

    From the runs of equal order statistics (:func:`_runs`): a quantile is a
    run's value where its index lies within the run, and R's interpolation
    ``(1 - h) a + h b`` (the same float operations) where the index lies between
    the last position of one run and the first of the next. Each distinct value
    is kept once, in order of the first probability giving it, as R's ``unique``.
    """
    run_values, _, last = runs
    first_hit, gap_start, gap_end = _quantile_positions(runs, total, n_probabilities)
    hit = first_hit < n_probabilities
    gap_count = np.maximum(gap_end - gap_start, 0)
    run = np.repeat(np.arange(len(gap_count)), gap_count)
    offset_in_gap = np.arange(run.size) - np.repeat(np.cumsum(gap_count) - gap_count, gap_count)
    i = gap_start[run] + offset_in_gap
    fraction = _quantile_index(i, n_probabilities, total) - last[run]
    between = (1.0 - fraction) * run_values[run] + fraction * run_values[run + 1]
    positions = np.concatenate((first_hit[hit], i))
    quantiles = np.concatenate((run_values[hit], between))
    return _first_occurrences(quantiles[np.argsort(positions, kind="stable")])


def _first_occurrences(values):
    # R's unique(): each value once, in order of first appearance.
    _, first = np.unique(values, return_index=True)
    return values[np.sort(first)]


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
