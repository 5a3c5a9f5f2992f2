"""Full covariance at high dimension: the two chunk kernels, against scikit-learn.

Three parts (``--only headline|sweep|kernels``; all by default, about 15 minutes
on a busy 2-core machine, ``--repeats 1`` about 6):

``headline``
    N=500, D=2,000, K=2 (issue 9): gaussmix and scikit-learn each in its own
    child process, alternating, so that neither shares the other's memory
    high-water mark. Both start from the same k-means start
    (``init_params="kmeans"``, ``random_state=0``; the lower bounds are
    printed). Seconds per EM iteration are ``fit(max_iter=1 + M, tol=0)`` minus
    ``fit(max_iter=1)``, divided by M; the whole default ``fit()`` is timed too.
    Memory: the child's peak resident set (``ru_maxrss``) and, in a separate
    child, the peak that ``tracemalloc`` (which sees NumPy's buffers) records
    during the fit.
``sweep``
    Seconds per EM iteration over D at N=500 and N=100,000 (K=2), from the same
    ``init_params="random_from_data"`` start (no k-means, whose OpenMP threads
    make small fits' times erratic on a busy machine), 3 to 50 iterations by
    size: scikit-learn,
    gaussmix with the kernel its cost model chooses, gaussmix forced to the
    other kernel (where that is not hopelessly slow), and, with
    ``--baseline SRC``, the gaussmix source tree at ``SRC`` (the code before the
    kernel choice: ``git archive 18f63fa src | tar -x -C /tmp/base`` and pass
    ``/tmp/base/src``) in a child process.
``kernels``
    One E-step pass (log-densities, responsibilities and statistics) with each
    kernel, one thread, alternating, over D and K: where the whitening kernel
    overtakes the expanded one, against the cost model's choice.

Machines are noisy: compare ratios from the same run, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def make_data(n_samples, n_features, n_components, seed=0):
    """Standard normal rows, each component's shifted by one along every feature."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    X += (np.arange(n_samples) % n_components)[:, None].astype(float)
    return X


def estimator(library, kernel=None):
    """The GaussianMixture class of ``library``; gaussmix's forced to ``kernel``."""
    if library == "sklearn":
        from sklearn.mixture import GaussianMixture

        return GaussianMixture
    from gaussmix import GaussianMixture
    from gaussmix.covariance import COVARIANCE_MODELS

    if kernel is not None:
        # The registry entry is what fit() looks up: force the kernel for this process.
        COVARIANCE_MODELS["full"] = COVARIANCE_MODELS["full"].with_kernel(kernel)
    return GaussianMixture


def timed(cls, X, k, **params):
    started = time.perf_counter()
    fitted = cls(k, covariance_type="full", random_state=0, **params).fit(X)
    return time.perf_counter() - started, fitted


def per_iteration(cls, X, k, n_iter, init_params="kmeans"):
    """Seconds per EM iteration of a whole ``fit(max_iter=n_iter, tol=0)``, and its bound.

    As in bench_em.py, the whole call divided by the iterations: it includes the
    k-means start, input validation and the final labelling, the same for both
    libraries.
    """
    seconds, fitted = timed(cls, X, k, max_iter=n_iter, tol=0.0, init_params=init_params)
    return seconds / n_iter, fitted.lower_bound_


def child(spec):
    """Run one measurement in this (child) process and print it as JSON."""
    if spec.get("src"):
        sys.path.insert(0, spec["src"])
    X = make_data(spec["n"], spec["d"], spec["k"])
    out = {}
    for variant in spec["variants"]:
        library, kernel = variant.split(":") if ":" in variant else (variant, None)
        cls = estimator(library, kernel)
        if spec.get("trace"):
            tracemalloc.start()
            cls(spec["k"], covariance_type="full", random_state=0, max_iter=3, tol=0.0).fit(X)
            out[variant] = {"traced_peak": tracemalloc.get_traced_memory()[1]}
            tracemalloc.stop()
            continue
        seconds, bound = per_iteration(
            cls, X, spec["k"], spec["n_iter"], spec.get("init", "kmeans")
        )
        out[variant] = {"s_per_iter": seconds, "lower_bound": bound}
        if spec.get("whole"):
            seconds, fitted = timed(cls, X, spec["k"])
            out[variant].update(fit_s=seconds, n_iter=int(fitted.n_iter_))
    out["maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(out))


def run_child(spec):
    result = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def headline(repeats):
    n, d, k = 500, 2000, 2
    print(f"\nheadline: full, N={n}, D={d:,}, K={k}, same k-means start, medians of {repeats}")
    runs = {"gaussmix": [], "sklearn": []}
    for _ in range(repeats):
        for library in runs:
            spec = dict(n=n, d=d, k=k, variants=[library], n_iter=5, whole=True)
            result = run_child(spec)
            runs[library].append({**result[library], "maxrss": result["maxrss"]})
    traced = {}
    for library in runs:
        result = run_child(dict(n=n, d=d, k=k, variants=[library], trace=True))
        traced[library] = result[library]["traced_peak"]
    for library, rows in runs.items():
        print(
            f"  {library:9s} {statistics.median(r['s_per_iter'] for r in rows):7.3f} s/iter, "
            f"whole fit {statistics.median(r['fit_s'] for r in rows):6.2f} s "
            f"({rows[0]['n_iter']} iterations), peak RSS "
            f"{statistics.median(r['maxrss'] for r in rows) / 2**20:6.0f} MiB, "
            f"tracemalloc peak {traced[library] / 2**20:6.0f} MiB, "
            f"lower bound {rows[0]['lower_bound']:.6f}"
        )
    ours, theirs = runs["gaussmix"], runs["sklearn"]

    def ratio(key):
        return statistics.median(r[key] for r in theirs) / statistics.median(r[key] for r in ours)

    print(
        f"  scikit-learn / gaussmix: time per iteration {ratio('s_per_iter'):.2f}x, "
        f"whole fit {ratio('fit_s'):.2f}x; gaussmix / scikit-learn memory: peak RSS "
        f"{1 / ratio('maxrss'):.2f}, tracemalloc {traced['gaussmix'] / traced['sklearn']:.2f}"
    )


def _cell(medians, variant):
    return f"{medians[variant]:9.4f}" if variant in medians else f"{'-':>9s}"


def sweep(repeats, baseline):
    from gaussmix.covariance import COVARIANCE_MODELS
    from gaussmix.covariance._kernels import seconds_per_row

    full = COVARIANCE_MODELS["full"]
    k = 2
    cases = [(500, d) for d in (2, 16, 64, 256, 1024, 2000)]
    cases += [(100_000, d) for d in (2, 16, 64)]
    print(f"\nsweep: seconds per EM iteration, full, K={k}, same start, medians of {repeats}")
    header = "gaussmix (chosen kernel)  other kernel   baseline  sklearn  sklearn/gaussmix"
    print(f"  {'N':>7s} {'D':>5s}  {header}")
    for n, d in cases:
        chosen = full.kernel_for(k, d, np.float64)
        other = next(kernel for kernel in full.kernels if kernel is not chosen)
        slowdown = seconds_per_row(other.cost(full, k, d), 8) / seconds_per_row(
            chosen.cost(full, k, d), 8
        )
        variants = ["gaussmix", "sklearn"]
        # The other kernel where the model expects it within 5x (else it takes minutes).
        if slowdown < 5:
            variants.append(f"gaussmix:{other.name}")
        # The old code held D(D+1)/2 per row in chunks of at least 256 rows: gigabytes
        # beyond a few hundred features.
        with_baseline = baseline and d <= 256
        n_iter = 3 if n * d * d > 1e8 else 10 if n * d * d > 1e6 else 50
        times = {variant: [] for variant in variants + (["baseline"] if with_baseline else [])}
        for _ in range(repeats):
            spec = dict(n=n, d=d, k=k, n_iter=n_iter, init="random_from_data")
            result = run_child({**spec, "variants": variants})
            for variant in variants:
                times[variant].append(result[variant]["s_per_iter"])
            if with_baseline:
                result = run_child({**spec, "variants": ["gaussmix"], "src": baseline})
                times["baseline"].append(result["gaussmix"]["s_per_iter"])
        med = {variant: statistics.median(values) for variant, values in times.items()}

        print(
            f"  {n:7,d} {d:5d}  {med['gaussmix']:9.4f} ({chosen.name:9s})    "
            f"{_cell(med, 'gaussmix:' + other.name)}  {_cell(med, 'baseline')} "
            f"{med['sklearn']:8.4f}"
            f"  {med['sklearn'] / med['gaussmix']:6.2f}x",
            flush=True,
        )


def kernels(repeats, components):
    from gaussmix.backends import InMemoryBackend
    from gaussmix.covariance import COVARIANCE_MODELS
    from gaussmix.engine.params import MixtureParams
    from gaussmix.engine.passes import e_step_statistics, workspace_bytes_per_row

    full = COVARIANCE_MODELS["full"]
    rng = np.random.default_rng(0)
    print(
        "\nkernels: one E-step pass, one thread, ns per row (best of "
        f"{repeats}, alternating), and the cost model's choice"
    )
    print(f"  {'K':>3s} {'D':>4s} {'expanded':>10s} {'whitening':>10s}  exp/whi  chosen")
    for k in components:
        for d in (2, 4, 8, 16, 32, 64, 128, 256, 512):
            n = int(min(50_000, max(1_000, 1.5e9 / (4 * k * d * d))))
            X = rng.standard_normal((n, d))
            factors = rng.standard_normal((k, d, d))
            covariances = factors @ np.swapaxes(factors, 1, 2) / d + np.eye(d)
            params = MixtureParams(
                weights=np.full(k, 1.0 / k),
                means=rng.standard_normal((k, d)),
                covariances=covariances,
                precisions_cholesky=full.precisions_cholesky(covariances)[0],
            )
            best = {}
            setups = {}
            for kernel in full.kernel_names:
                model = full.with_kernel(kernel)
                bytes_per_row = workspace_bytes_per_row(model, k, d, np.float64)
                setups[kernel] = (
                    model,
                    InMemoryBackend(X, None, bytes_per_row=bytes_per_row, n_threads=1),
                )
            for _ in range(repeats):
                for kernel, (model, backend) in setups.items():
                    with backend:
                        centre = backend.centre()
                        started = time.perf_counter()
                        e_step_statistics(backend, model, params, centre)
                        seconds = time.perf_counter() - started
                    best[kernel] = min(best.get(kernel, np.inf), seconds / n * 1e9)
            chosen = full.kernel_for(k, d, np.float64).name
            ratio = best["expanded"] / best["whitening"]
            right = (ratio > 1) == (chosen == "whitening")
            print(
                f"  {k:3d} {d:4d} {best['expanded']:10.0f} {best['whitening']:10.0f} "
                f"{ratio:7.2f}  {chosen}{'' if right else ' (the other is faster)'}",
                flush=True,
            )


def machine():
    import sklearn
    from threadpoolctl import threadpool_info

    import gaussmix

    blas = [
        f"{info['internal_api']} {info['version']} ({info.get('architecture')})"
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
    parser.add_argument("--only", choices=["headline", "sweep", "kernels"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", help="a gaussmix src/ folder to compare with in the sweep")
    parser.add_argument("--components", default="2,8,32", help="K values of the kernel table")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    print(machine())
    if args.only in (None, "headline"):
        headline(args.repeats)
    if args.only in (None, "sweep"):
        sweep(args.repeats, args.baseline)
    if args.only in (None, "kernels"):
        kernels(args.repeats, [int(k) for k in args.components.split(",")])


if __name__ == "__main__":
    main()
