"""scikit-learn's estimator API checks, run on ``gaussmix.GaussianMixture``.

Baseline: ``sklearn.mixture.GaussianMixture`` (scikit-learn 1.9.1) passes every check
that ``parametrize_with_checks`` runs on it; ``check_array_api_input`` is skipped by
scikit-learn itself unless SCIPY_ARRAY_API is set. An exemption below is legitimate
only when scikit-learn's own GaussianMixture fails the same check for the same reason,
or the check does not apply to the drop-in by design. A failure caused by a gaussmix
bug is reported to the owner, not exempted here.
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from gaussmix import GaussianMixture

# Checks may emit ConvergenceWarning on their tiny data sets; scikit-learn's do too.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def expected_failed_checks(estimator):
    """Checks that fail for a legitimate reason, with that reason.

    gaussmix is a clusterer as well as a density estimator (``ClusterMixin``,
    ``labels_``), so scikit-learn also runs its clustering checks, which its own
    GaussianMixture (a density estimator only) never meets.
    """
    reason = (
        "check_clustering sets `n_clusters=3` when the estimator has that parameter; "
        "ours is `n_components` (scikit-learn's name), so the check fits the default "
        "single component and its adjusted-Rand-index floor of 0.4 cannot be met. "
        "test_gaussian_mixture.py checks labels_ against fit_predict and predict."
    )
    return {"check_clustering": reason, "check_clustering(readonly_memmap=True)": reason}


@parametrize_with_checks([GaussianMixture()], expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
