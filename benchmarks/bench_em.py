"""EM speed and memory: gaussmix against scikit-learn, same data, same start, one process.

Each case fits both libraries from the same initial weights, means and
precisions for a fixed number of iterations (``tol=0``), alternating the two
libraries ``--repeats`` times, and reports medians: seconds per EM iteration,
the ratio scikit-learn / gaussmix, and gaussmix's throughput counted as
``4 * N * K * D**2`` flops per iteration (the work of a textbook full-covariance
iteration) against the machine's measured float64 GEMM throughput. It also
times whole ``fit()`` calls with default initialisation and measures the peak
memory ``fit`` allocates beyond ``X`` (``tracemalloc`` sees NumPy's buffers).

Run ``python benchmarks/bench_em.py`` (about 15 minutes on 2 cores) or
``--quick`` for smaller data. Results and the machine go in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import tracemalloc
import warnings

import numpy as np
import sklearn
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from threadpoolctl import threadpool_info

import gaussmix
from gaussmix import GaussianMixture

warnings.filterwarnings("ignore")


def make_data(n_samples, n_features, n_components, dtype=np.float64, seed=0):
    X, _ = make_blobs(
        n_samples=n_samples,
        n_features=n_features,
        centers=n_components,
        cluster_std=2.0,
        random_state=seed,
    )
    return X.astype(dtype)


def same_start(X, n_components, covariance_type, seed=0):
    """Initial parameters from one EM step of a k-means start on a subsample."""
    rng = np.random.RandomState(seed)
    subset = X[rng.choice(X.shape[0], min(X.shape[0], 20_000), replace=False)]
    start = SklearnGaussianMixture(
        n_components, covariance_type=covariance_type, max_iter=1, random_state=seed
    ).fit(subset.astype(np.float64))
    return {
        "weights_init": start.weights_,
        "means_init": start.means_,
        "precisions_init": start.precisions_,
    }


def gemm_throughput(repeats=3, size=4000):
    """Measured float64 GEMM throughput of this machine (GFLOP/s, all threads)."""
    a = np.random.RandomState(0).rand(size, size)
    a @ a
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - started)
    return 2 * size**3 / statistics.median(times) / 1e9


def timed_fit(estimator, X):
    started = time.perf_counter()
    estimator.fit(X)
    return time.perf_counter() - started, estimator


def per_iteration(case, repeats, gemm_gflops):
    X = make_data(case["n"], case["d"], case["k"], case.get("dtype", np.float64))
    start = same_start(X, case["k"], case["cov"])
    n_iter = case["iters"]
    params = dict(covariance_type=case["cov"], tol=0.0, max_iter=n_iter, **start)
    ours, theirs = [], []
    for _ in range(repeats):
        seconds, fitted = timed_fit(GaussianMixture(case["k"], **params), X)
        ours.append(seconds / n_iter)
        if case.get("peer", True):
            seconds, peer = timed_fit(SklearnGaussianMixture(case["k"], **params), X)
            theirs.append(seconds / n_iter)
    ours_s = statistics.median(ours)
    row = {
        "case": case["name"],
        "gaussmix_s_per_iter": ours_s,
        "flop_share": 4 * case["n"] * case["k"] * case["d"] ** 2 / ours_s / 1e9 / gemm_gflops,
    }
    if theirs:
        theirs_s = statistics.median(theirs)
        row["sklearn_s_per_iter"] = theirs_s
        row["ratio"] = theirs_s / ours_s
        row["max_abs_mean_diff"] = float(np.abs(fitted.means_ - peer.means_).max())
    return row


def whole_fit(n, d, k, repeats):
    X = make_data(n, d, k)
    ours, theirs, bounds = [], [], []
    for seed in range(repeats):
        seconds, fitted = timed_fit(GaussianMixture(k, random_state=seed), X)
        ours.append(seconds)
        seconds, peer = timed_fit(SklearnGaussianMixture(k, random_state=seed), X)
        theirs.append(seconds)
        bounds.append((fitted.lower_bound_, peer.lower_bound_, fitted.n_iter_, peer.n_iter_))
    return {
        "case": f"whole fit(), default init, full, N={n:,}, D={d}, K={k}",
        "gaussmix_s": statistics.median(ours),
        "sklearn_s": statistics.median(theirs),
        "ratio": statistics.median(theirs) / statistics.median(ours),
        "lower_bounds (gaussmix, sklearn, iters, iters)": bounds,
    }


def peak_memory(n, d, k):
    X = make_data(n, d, k)
    start = same_start(X, k, "full")
    result = {"case": f"peak memory of fit beyond X, full, N={n:,}, D={d}, K={k}"}
    for name, cls in [("gaussmix", GaussianMixture), ("sklearn", SklearnGaussianMixture)]:
        estimator = cls(k, tol=0.0, max_iter=2, **start)
        tracemalloc.start()
        estimator.fit(X)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result[f"{name}_MiB"] = peak / 2**20
        result[f"{name}_x_size_of_X"] = peak / X.nbytes
    result["ratio"] = result["gaussmix_MiB"] / result["sklearn_MiB"]
    return result


def float32_speedup(n, d, k, repeats):
    times = {np.float64: [], np.float32: []}
    X64 = make_data(n, d, k)
    start = same_start(X64, k, "full")
    for _ in range(repeats):
        for dtype in (np.float64, np.float32):
            X = X64.astype(dtype)
            seconds, _ = timed_fit(GaussianMixture(k, tol=0.0, max_iter=5, **start), X)
            times[dtype].append(seconds / 5)
    f64, f32 = statistics.median(times[np.float64]), statistics.median(times[np.float32])
    return {
        "case": f"float32 vs float64 gaussmix, full, N={n:,}, D={d}, K={k}",
        "float64_s_per_iter": f64,
        "float32_s_per_iter": f32,
        "ratio": f64 / f32,
    }


# The scikit-learn model whose storage each mclust model shares: its start serves.
STORAGE_FAMILY = {
    "EII": "spherical",
    "VII": "spherical",
    "EEI": "diag",
    "VEI": "diag",
    "EVI": "diag",
    "VVI": "diag",
    "EEE": "tied",
    **dict.fromkeys(["VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV"], "full"),
}


def make_anisotropic_data(n_samples, n_features, n_components, seed=0):
    """Blobs each stretched and rotated by its own random linear map.

    Every cluster has its own volume, shape and orientation, so no constrained
    model fits exactly and the iterative M-steps do real work.
    """
    rng = np.random.RandomState(seed)
    X, labels = make_blobs(
        n_samples=n_samples,
        n_features=n_features,
        centers=n_components,
        cluster_std=1.0,
        center_box=(-20.0, 20.0),
        random_state=seed,
    )
    for k in range(n_components):
        rows = labels == k
        centre = X[rows].mean(axis=0)
        stretch = rng.normal(size=(n_features, n_features)) * rng.uniform(0.3, 2.0, n_features)
        X[rows] = (X[rows] - centre) @ stretch + centre
    return X


def mclust_per_iteration(n, d, k, iters, repeats):
    """gaussmix seconds per EM iteration for each mclust model, same data, tol=0."""
    X = make_anisotropic_data(n, d, k)
    starts = {family: same_start(X, k, family) for family in set(STORAGE_FAMILY.values())}
    rows = {}
    for name, family in STORAGE_FAMILY.items():
        params = dict(covariance_type=name, tol=0.0, max_iter=iters, **starts[family])
        seconds = [timed_fit(GaussianMixture(k, **params), X)[0] / iters for _ in range(repeats)]
        rows[name] = statistics.median(seconds)
    return rows


def machine():
    blas = [
        f"{info['internal_api']} {info['version']} ({info.get('architecture')}, "
        f"{info['num_threads']} threads)"
        for info in threadpool_info()
        if info["user_api"] == "blas"
    ]
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}, gaussmix {gaussmix.__version__}; "
        f"BLAS: {'; '.join(blas)}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per case (3)")
    parser.add_argument("--quick", action="store_true", help="10x fewer samples")
    parser.add_argument("--only", default="", help="run cases whose name contains this text")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    million = 1_000_000 // scale

    print(machine())
    gemm = gemm_throughput()
    print(f"measured float64 GEMM throughput: {gemm:.1f} GFLOP/s\n")

    def case(cov, n, d, k, iters):
        return dict(name=f"{cov}, N={n:,}, D={d}, K={k}", n=n, d=d, k=k, cov=cov, iters=iters)

    cases = [
        case("full", million, 16, 16, 5),
        case("full", 200_000 // scale, 64, 32, 3),
        case("diag", million, 16, 16, 10),
        case("spherical", million, 16, 16, 10),
        case("tied", million, 16, 16, 5),
        case("full", 100_000 // scale, 8, 8, 20),
        case("diag", 100_000 // scale, 8, 8, 20),
    ]
    print("per EM iteration, same start, tol=0, medians of alternating runs:")
    columns = ["gaussmix s/it", "sklearn s/it", "ratio", "GEMM share"]
    print(f"{'case':38s} " + " ".join(f"{name:>13s}" for name in columns))
    for case in cases:
        if args.only not in case["name"]:
            continue
        row = per_iteration(case, args.repeats, gemm)
        # The 4*N*K*D^2 flop count describes a full-covariance iteration only.
        share = f"{row['flop_share']:13.0%}" if case["cov"] == "full" else f"{'-':>13s}"
        print(
            f"{row['case']:38s} {row['gaussmix_s_per_iter']:13.4f} "
            f"{row.get('sklearn_s_per_iter', float('nan')):13.4f} "
            f"{row.get('ratio', float('nan')):12.2f}x {share}",
            flush=True,
        )
    if not args.only or "mclust" in args.only:
        n, d, k = 100_000 // scale, 8, 8
        print(
            f"\nmclust models, anisotropic blobs, N={n:,}, D={d}, K={k}: gaussmix s per EM "
            "iteration (same start per storage family, tol=0, medians) and ratio to VVV:"
        )
        rows = mclust_per_iteration(n, d, k, iters=10, repeats=args.repeats)
        for name, seconds in rows.items():
            print(f"  {name}  {seconds:9.4f} s/it  {seconds / rows['VVV']:6.2f}x VVV", flush=True)
    if not args.only or "whole" in args.only:
        row = whole_fit(million, 16, 16, args.repeats)
        print(
            f"\n{row['case']}: gaussmix {row['gaussmix_s']:.2f} s, "
            f"sklearn {row['sklearn_s']:.2f} s, ratio {row['ratio']:.2f}x"
        )
        for ours, theirs, our_iter, their_iter in row[
            "lower_bounds (gaussmix, sklearn, iters, iters)"
        ]:
            print(
                f"  lower bound gaussmix {ours:.6f} ({our_iter} it), "
                f"sklearn {theirs:.6f} ({their_iter} it)"
            )
    if not args.only or "float32" in args.only:
        row = float32_speedup(million, 16, 16, args.repeats)
        print(
            f"\n{row['case']}: float64 {row['float64_s_per_iter']:.4f} s/it, "
            f"float32 {row['float32_s_per_iter']:.4f} s/it, float32 is {row['ratio']:.2f}x faster"
        )
    if not args.only or "memory" in args.only:
        row = peak_memory(million, 16, 16)
        print(
            f"\n{row['case']}: gaussmix {row['gaussmix_MiB']:.0f} MiB "
            f"({row['gaussmix_x_size_of_X']:.2f}x X), sklearn {row['sklearn_MiB']:.0f} MiB "
            f"({row['sklearn_x_size_of_X']:.2f}x X); gaussmix/sklearn = {row['ratio']:.2f}"
        )


if __name__ == "__main__":
    main()
