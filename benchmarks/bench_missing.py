"""Seconds per EM iteration with 10% of entries missing at random, against complete data.

Usage: ``python benchmarks/bench_missing.py [--rows 1000000] [--features 16]
[--components 16] [--fraction 0.1] [--repeats 3]``. Both fits run the same
number of iterations (``tol=0``) from the same start (the complete data's
k-means on a sample); the time per iteration is (fit time with ``max_iter=3``
minus fit time with ``max_iter=1``) / 2, so
start and validation costs cancel, as does the first pass over incomplete data
(where the engine meets the missingness patterns). Both run in one process,
alternating within each repeat; the ratio is the median of the repeats' ratios,
printed with each repeat's value and the load average: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from gaussmix import GaussianMixture
from gaussmix.engine.missing import count_patterns


def _fit_seconds(X, start, max_iter):
    gm = GaussianMixture(
        start.n_components, tol=0.0, max_iter=max_iter, reg_covar=1e-3, **_inits(start)
    )
    began = time.perf_counter()
    with warnings.catch_warnings():
        # tol=0 never converges: the warning says nothing here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    return time.perf_counter() - began


def _inits(start):
    return {
        "weights_init": start.weights_,
        "means_init": start.means_,
        "precisions_init": start.precisions_,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--components", type=int, default=16)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 4, (args.components, args.features))
    X = centres[rng.integers(0, args.components, args.rows)] + rng.standard_normal(
        (args.rows, args.features)
    )
    holes = np.where(rng.random(X.shape) < args.fraction, np.nan, X)
    holes[np.isnan(holes).all(axis=1), 0] = X[np.isnan(holes).all(axis=1), 0]
    start = GaussianMixture(args.components, max_iter=2, random_state=0).fit(X[:20_000])
    # Complete and incomplete fits alternate within each repeat, so that a slow
    # spell of a shared machine weighs on both; the ratio is the median of the
    # repeats' own ratios.
    seconds = {"complete": [], "missing": []}
    for _ in range(args.repeats):
        for label, data in (("complete", X), ("missing", holes)):
            one = _fit_seconds(data, start, 1)
            three = _fit_seconds(data, start, 3)
            seconds[label].append((three - one) / 2)
    results = {label: float(np.median(values)) for label, values in seconds.items()}
    for label, values in seconds.items():
        each = ", ".join(f"{value:.3f}" for value in values)
        print(f"{label}: {results[label]:.3f} s per iteration (median of {args.repeats}: {each})")
    ratios = np.array(seconds["missing"]) / np.array(seconds["complete"])
    print(
        f"ratio missing / complete: {float(np.median(ratios)):.2f} (median of the repeats' "
        f"ratios: {', '.join(f'{r:.2f}' for r in ratios)}; ratio of medians "
        f"{results['missing'] / results['complete']:.2f})"
    )
    print(
        f"rows: {args.rows}; distinct patterns: {count_patterns(holes)}; "
        f"missing entries: {np.isnan(holes).mean():.3f}"
    )
    # The engine's work per row grows with its number of missing values (1-3 mostly).
    counts = np.bincount(np.isnan(holes).sum(axis=1))
    shares = ", ".join(f"{c}: {n / args.rows:.1%}" for c, n in enumerate(counts[:4]))
    print(f"rows by number missing: {shares}, 4 or more: {counts[4:].sum() / args.rows:.1%}")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
