"""Model search and small-data speed: gaussmix against R mclust and scikit-learn.

Three parts, each in this one process, alternating the libraries compared:

1. Model search. ``GaussianMixtureIC(n_components=range(1, 10), random_state=0)``
   (all 14 mclust models) against R's ``Mclust(X, G = 1:9)`` on the same data:
   Python writes each data set to a temporary CSV, ``Rscript -e`` reads it and
   times only the ``Mclust`` call (``system.time``). Per data set: medians (and
   min-max) of seconds, the ratio R / gaussmix, each side's selected model and
   BIC in mclust's sign (higher is better), and whether gaussmix's BIC is at
   least R's - 0.01. Without ``Rscript`` on PATH only gaussmix is timed.
2. ``python -m gaussmix lab`` end to end on Old Faithful (search on the scaled
   training split, figures, model, report), as a subprocess.
3. One EM iteration at small N: (fit with ``max_iter=201`` - fit with
   ``max_iter=1``) / 200, ``tol=0``, ``init_params="random"``, ``random_state=0``,
   medians of 7, gaussmix against scikit-learn where scikit-learn has the model.

Run ``python benchmarks/bench_search.py [--quick] [--reps N] [--json out.json]``;
``--quick`` searches faithful and diabetes only, once each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.datasets import load_iris, load_wine, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from threadpoolctl import threadpool_info

import gaussmix
from gaussmix import GaussianMixture, GaussianMixtureIC, SpuriousFitWarning
from gaussmix.datasets import load_faithful

REPO = Path(__file__).resolve().parent.parent
DIABETES_CSV = REPO / "tests" / "fixtures" / "diabetes.csv"
SEARCH_G = range(1, 10)

# Times only the Mclust call; prints one parseable line.
R_SEARCH = """
suppressPackageStartupMessages(library(mclust))
X <- as.matrix(read.csv(commandArgs(trailingOnly = TRUE)[1]))
el <- system.time(fit <- Mclust(X, G = 1:9))[["elapsed"]]
cat(sprintf("RESULT %s %d %.10f %.6f\\n", fit$modelName, fit$G, fit$bic, el))
"""
R_VERSIONS = 'cat(R.version.string, "|", as.character(packageVersion("mclust")), "\\n")'


# ---- data -------------------------------------------------------------------


def load_diabetes_fixture():
    names = np.genfromtxt(DIABETES_CSV, delimiter=",", max_rows=1, dtype=str).tolist()
    columns = [names.index(name) for name in ("glucose", "insulin", "sspg")]
    return np.genfromtxt(DIABETES_CSV, delimiter=",", skip_header=1, usecols=columns)


def search_datasets(quick):
    loaders = {
        "faithful": lambda: load_faithful()[0],
        "iris": lambda: load_iris().data,
        "wine": lambda: load_wine().data,
        "diabetes": load_diabetes_fixture,
    }
    names = ["faithful", "diabetes"] if quick else list(loaders)
    return {name: np.asarray(loaders[name](), dtype=np.float64) for name in names}


# ---- machine ----------------------------------------------------------------


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def r_versions():
    if shutil.which("Rscript") is None:
        return None
    done = subprocess.run(["Rscript", "-e", R_VERSIONS], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    r_version, _, mclust_version = done.stdout.strip().partition(" | ")
    return {"R": r_version, "mclust": mclust_version}


def machine(r_info):
    blas = [
        f"{info['internal_api']} {info['version']} ({info.get('architecture')}, "
        f"{info['num_threads']} threads)"
        for info in threadpool_info()
        if info["user_api"] == "blas"
    ]
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "gaussmix": gaussmix.__version__,
        "blas": "; ".join(blas) or "unknown",
        "R": r_info["R"] if r_info else None,
        "mclust": r_info["mclust"] if r_info else None,
    }


# ---- helpers ----------------------------------------------------------------


def spread(values):
    """Median and (min-max) of timings, in the given unit."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def fmt(stats, digits=2):
    return f"{stats['median']:.{digits}f} ({stats['min']:.{digits}f}-{stats['max']:.{digits}f})"


def quiet_fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", SpuriousFitWarning)
        started = time.perf_counter()
        estimator.fit(X)
        return time.perf_counter() - started, estimator


# ---- 1. model search --------------------------------------------------------


def gaussmix_search(X):
    seconds, selector = quiet_fit(GaussianMixtureIC(n_components=SEARCH_G, random_state=0), X)
    frame = selector.results_frame(convention="mclust")
    return seconds, {
        "model": f"{selector.best_covariance_type_},{selector.best_n_components_}",
        "bic": float(frame.loc[selector.best_index_, "bic"]),
    }


def r_search(csv_path):
    done = subprocess.run(
        ["Rscript", "-e", R_SEARCH, str(csv_path)], capture_output=True, text=True
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"Rscript failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    _, model, n_components, bic, elapsed = lines[-1].split()
    return float(elapsed), {"model": f"{model},{n_components}", "bic": float(bic)}


def model_search(datasets, reps, with_r):
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_search_") as tmp:
        for name, X in datasets.items():
            csv_path = Path(tmp) / f"{name}.csv"
            header = ",".join(f"x{j + 1}" for j in range(X.shape[1]))
            np.savetxt(csv_path, X, delimiter=",", header=header, comments="", fmt="%.17g")
            ours, theirs = [], []
            for _ in range(reps):
                seconds, our_pick = gaussmix_search(X)
                ours.append(seconds)
                if with_r:
                    seconds, their_pick = r_search(csv_path)
                    theirs.append(seconds)
            row = {
                "dataset": name,
                "n": X.shape[0],
                "d": X.shape[1],
                "gaussmix_s": spread(ours),
                "gaussmix_model": our_pick["model"],
                "gaussmix_bic": our_pick["bic"],
            }
            if with_r:
                row.update(
                    R_s=spread(theirs),
                    ratio_R_over_gaussmix=statistics.median(theirs) / statistics.median(ours),
                    R_model=their_pick["model"],
                    R_bic=their_pick["bic"],
                    bic_ok=our_pick["bic"] >= their_pick["bic"] - 0.01,
                )
            rows.append(row)
            print(f"searched {name}: gaussmix {ours} s, R {theirs} s", file=sys.stderr, flush=True)
    return rows


def print_search(rows, with_r):
    print("\n## Model search: GaussianMixtureIC(range(1, 10)) vs Mclust(X, G = 1:9)\n")
    print("seconds: median (min-max); BIC in mclust's sign, higher is better\n")
    if with_r:
        print(
            "| data | N x D | gaussmix s | R s | R/gaussmix | gaussmix model | gaussmix BIC "
            "| R model | R BIC | BIC >= R - 0.01 |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['dataset']} | {r['n']}x{r['d']} | {fmt(r['gaussmix_s'])} | "
                f"{fmt(r['R_s'])} | {r['ratio_R_over_gaussmix']:.3g}x | {r['gaussmix_model']} | "
                f"{r['gaussmix_bic']:.3f} | {r['R_model']} | {r['R_bic']:.3f} | "
                f"{'yes' if r['bic_ok'] else 'NO'} |"
            )
    else:
        print("Rscript not found: gaussmix only.\n")
        print("| data | N x D | gaussmix s | gaussmix model | gaussmix BIC |")
        print("|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['dataset']} | {r['n']}x{r['d']} | {fmt(r['gaussmix_s'])} | "
                f"{r['gaussmix_model']} | {r['gaussmix_bic']:.3f} |"
            )


# ---- 2. gaussmix lab --------------------------------------------------------


def lab_end_to_end(reps):
    times = []
    for _ in range(reps):
        with tempfile.TemporaryDirectory(prefix="bench_lab_") as tmp:
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "gaussmix", "lab", "--out", tmp],
                capture_output=True,
                text=True,
            )
            times.append(time.perf_counter() - started)
            if done.returncode != 0:
                raise RuntimeError(f"gaussmix lab failed: {done.stderr.strip()[-500:]}")
    return {"case": "gaussmix lab, Old Faithful", "s": spread(times)}


# ---- 3. one EM iteration at small N ------------------------------------------

SMALL_N_TYPES = ["full", "tied", "diag", "spherical", "VVV", "EEE", "VEE", "VVE"]
SKLEARN_TYPES = {"full", "tied", "diag", "spherical"}


def per_iteration_us(make, X, repeats=7, long_iter=201):
    """(median fit time at max_iter=long_iter - median at max_iter=1) / (long_iter - 1)."""
    short, long, n_iter = [], [], None
    for _ in range(repeats):
        short.append(quiet_fit(make(1), X)[0])
        seconds, fitted = quiet_fit(make(long_iter), X)
        long.append(seconds)
        n_iter = fitted.n_iter_
    per_iter = (statistics.median(long) - statistics.median(short)) / (long_iter - 1)
    return per_iter * 1e6, n_iter


def em_small(case_name, X, k, covariance_types):
    rows = []
    for cov in covariance_types:

        def make(max_iter, cls, cov=cov):
            return cls(
                k,
                covariance_type=cov,
                max_iter=max_iter,
                tol=0.0,
                init_params="random",
                random_state=0,
            )

        ours, our_iter = per_iteration_us(lambda it, m=make: m(it, GaussianMixture), X)
        row = {"case": case_name, "covariance_type": cov, "gaussmix_us": ours}
        row["gaussmix_n_iter"] = our_iter
        if cov in SKLEARN_TYPES:
            theirs, their_iter = per_iteration_us(
                lambda it, m=make: m(it, SklearnGaussianMixture), X
            )
            row.update(sklearn_us=theirs, sklearn_n_iter=their_iter, ratio=theirs / ours)
        rows.append(row)
    return rows


def print_em(rows):
    print("\n## One EM iteration at small N (µs)\n")
    print("(fit(max_iter=201) - fit(max_iter=1)) / 200, medians of 7, tol=0, random init\n")
    print("| case | covariance | gaussmix µs/it | sklearn µs/it | sklearn/gaussmix | iters |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        theirs = f"{r['sklearn_us']:.1f}" if "sklearn_us" in r else "-"
        ratio = f"{r['ratio']:.2f}x" if "ratio" in r else "-"
        iters = str(r["gaussmix_n_iter"])
        if "sklearn_n_iter" in r:
            iters += f" / {r['sklearn_n_iter']}"
        print(
            f"| {r['case']} | {r['covariance_type']} | {r['gaussmix_us']:.1f} | {theirs} | "
            f"{ratio} | {iters} |"
        )


# ---- main -------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=None, help="runs per search/lab (3)")
    parser.add_argument("--quick", action="store_true", help="faithful and diabetes, 1 rep")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    reps = args.reps if args.reps is not None else (1 if args.quick else 3)
    started = time.perf_counter()

    r_info = r_versions()
    info = machine(r_info)
    print("# gaussmix model search and small-data benchmark\n")
    print(
        f"Machine: {info['cpu']}, {info['cores']} cores ({info['cores_usable']} usable); "
        f"Python {info['python']}, numpy {info['numpy']}, scipy {info['scipy']}, "
        f"scikit-learn {info['sklearn']}, gaussmix {info['gaussmix']}; BLAS: {info['blas']}; "
        + (f"{info['R']}, mclust {info['mclust']}" if r_info else "R: not available")
    )

    search = model_search(search_datasets(args.quick), reps, with_r=r_info is not None)
    print_search(search, with_r=r_info is not None)

    lab = lab_end_to_end(reps)
    print("\n## gaussmix lab end to end (Old Faithful)\n")
    print("| command | seconds, median (min-max) |")
    print("|---|---|")
    print(f"| python -m gaussmix lab --out TMP | {fmt(lab['s'])} |")

    X_faithful = load_faithful()[0]
    X_blobs, _ = make_blobs(n_samples=500, n_features=10, centers=5, random_state=0)
    em = em_small("faithful N=272 D=2 K=3", X_faithful, 3, SMALL_N_TYPES)
    em += em_small("blobs N=500 D=10 K=5", X_blobs, 5, ["full"])
    print_em(em)

    total = time.perf_counter() - started
    print(f"\nTotal benchmark time: {total:.0f} s (reps={reps}{', quick' if args.quick else ''})")
    if args.json:
        result = {
            "machine": info,
            "reps": reps,
            "quick": args.quick,
            "search": search,
            "lab": lab,
            "em_small": em,
            "total_s": total,
        }
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
