"""EM on Dask: an in-memory fit against the same fit on a local Dask cluster, one process.

Each case fits ``GaussianMixture`` from the same initial weights, means and
precisions for a fixed number of iterations (``tol=0``) on a NumPy array (the
in-memory backend, all cores as threads), on a Dask array under the threaded
scheduler, and on a Dask array persisted on a ``distributed.LocalCluster`` of 2
worker processes x 1 thread. Times are medians of ``--repeats`` alternating runs.
Seconds per iteration are marginal: ``(t(1 + m) - t(1)) / m`` for fits of 1 and
``1 + m`` iterations, so that the fixed costs of a fit (validation passes, the
centre, the start) are reported apart, as "fixed s".

The first case is the issue's (1,000,000 x 16, K = 16, full); the second, on a
tiny data set (1,000 x 2, K = 2), shows Dask's per-pass scheduling overhead,
where the work itself is negligible: its s/it is that overhead.

Run ``python benchmarks/bench_dask.py`` (a few minutes on 2 cores) or ``--quick``
(100,000 rows, 2 repeats).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import dask
import dask.array as da
import distributed
import numpy as np

from bench_em import machine, make_data, same_start
from gaussmix import GaussianMixture

warnings.filterwarnings("ignore")


def timed_fit(X, n_components, params, max_iter):
    started = time.perf_counter()
    fitted = GaussianMixture(n_components, max_iter=max_iter, **params).fit(X)
    return time.perf_counter() - started, fitted


def marginal(runs, n_iter):
    """Median seconds per iteration and median fixed seconds from (t(1), t(1 + m)) pairs."""
    per_iter = [(long - short) / n_iter for short, long in runs]
    fixed = [short - p for (short, _), p in zip(runs, per_iter)]
    return statistics.median(per_iter), statistics.median(fixed)


def run_case(name, n, d, k, n_iter, block_rows, repeats, client):
    X = make_data(n, d, k)
    params = dict(covariance_type="full", tol=0.0, **same_start(X, k, "full"))
    threaded = da.from_array(X, chunks=(block_rows, -1))
    # On the workers once, as a user would persist data that fits the cluster's memory.
    clustered = client.persist(da.from_array(X, chunks=(block_rows, -1)))
    distributed.wait(clustered)
    inputs = {"in memory": X, "dask threads": threaded, "dask cluster": clustered}
    # The in-memory fit never calls Dask; the others name their scheduler, since a
    # live Client would otherwise take every compute.
    schedulers = {"in memory": "sync", "dask threads": "threads", "dask cluster": client}
    runs = {label: [] for label in inputs}
    fitted = {}
    for _ in range(repeats):
        for label, data in inputs.items():
            with dask.config.set(scheduler=schedulers[label]):
                short, _ = timed_fit(data, k, params, 1)
                long, fitted[label] = timed_fit(data, k, params, 1 + n_iter)
            runs[label].append((short, long))
    results = {label: marginal(pairs, n_iter) for label, pairs in runs.items()}
    base = results["in memory"][0]
    n_blocks = len(threaded.chunks[0])
    print(f"{name}: {n_blocks} blocks of {block_rows:,} rows, {n_iter} iterations timed")
    print(f"  {'':14s} {'s/it':>10s} {'vs memory':>10s} {'fixed s':>10s} {'max |mean diff|':>16s}")
    for label, (per_iter, fixed) in results.items():
        diff = float(np.abs(fitted[label].means_ - fitted["in memory"].means_).max())
        print(
            f"  {label:14s} {per_iter:10.4f} {per_iter / base:9.2f}x {fixed:10.3f} {diff:16.1e}",
            flush=True,
        )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="rows of the large case (1e6)")
    parser.add_argument("--repeats", type=int, default=None, help="alternating runs (3)")
    parser.add_argument("--iters", type=int, default=None, help="iterations timed (5)")
    parser.add_argument("--blocks", type=int, default=8, help="Dask blocks of the large case")
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 2 repeats")
    args = parser.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    repeats = args.repeats or (2 if args.quick else 3)
    n_iter = args.iters or (3 if args.quick else 5)

    print(machine())
    print(f"dask {dask.__version__}, distributed {distributed.__version__}")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    try:
        print(f"cluster: {len(client.scheduler_info()['workers'])} worker processes x 1 thread\n")
        large = run_case(
            f"full, N={rows:,}, D=16, K=16",
            rows,
            16,
            16,
            n_iter,
            -(-rows // args.blocks),
            repeats,
            client,
        )
        print()
        tiny = run_case("full, N=1,000, D=2, K=2", 1_000, 2, 2, 10, 250, repeats, client)
        print()
        ratio = large["dask cluster"][0] / large["in memory"][0]
        overhead = tiny["dask cluster"][0] - tiny["in memory"][0]
        threads_overhead = tiny["dask threads"][0] - tiny["in memory"][0]
        print(f"cluster / in memory, per iteration (large case): {ratio:.2f}x")
        print(
            f"scheduling overhead per iteration (tiny case, 4 blocks): cluster "
            f"{overhead * 1e3:.1f} ms, threads {threads_overhead * 1e3:.1f} ms"
        )
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
