"""Starting points of EM: k-means, k-means++, random and mclust's hierarchical start.

:func:`initial_assignment` turns ``init_params`` into an :class:`Assignment` (hard
labels or responsibilities) from which the first M-step computes the parameters;
:mod:`~gaussmix.starts.hierarchical` is mclust's model-based agglomerative
clustering (``init_params='hc'``); :func:`sampled_assignment` draws the same kinds of
start for data read block by block, from a seeded sample of rows.
"""

from .assignment import Assignment, hc_assignments, initial_assignment, same_partition
from .hierarchical import hc_labels
from .sampled import sampled_assignment

__all__ = [
    "Assignment",
    "hc_assignments",
    "hc_labels",
    "initial_assignment",
    "same_partition",
    "sampled_assignment",
]
