"""How far one small-data EM iteration is from the machine's floor, and from R's.

Issue 9 asks for one EM iteration ('full', K = 3, Old Faithful: N = 272, D = 2)
under 100 microseconds and a model search faster than R's ``Mclust``. This
script measures, in one process, alternating, the same iteration three ways
from the same parameters:

1. gaussmix: ``GaussianMixture(3, tol=0)`` from fixed weights, means and
   precisions, (median fit time with ``max_iter=201`` - median with ``max_iter=1``)
   / 200;
2. the tightest NumPy loop we could write for this one case (no validation,
   no chunks, no collapse checks, no other covariance model): the floor for
   any NumPy engine, which pays a few microseconds per NumPy call;
3. the same loop compiled by Numba, when ``numba`` is installed (it is not a
   gaussmix dependency: this row says what a compiled kernel would buy).

All three must reach the same log-likelihood after 201 iterations (checked,
relative 1e-9): the loops compute what gaussmix computes. Medians of
``--repeats`` (default 7). ``Rscript`` with mclust on PATH adds R's EM
iterations over the search's candidates (``me`` from mclust's hierarchical
start, K = 2..9, all 14 models) and their mean cost, R's own overhead included.

Run ``python benchmarks/bench_floor.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import subprocess
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from gaussmix import GaussianMixture
from gaussmix.datasets import load_faithful

N_COMPONENTS = 3
ITERATIONS = 200
REG_COVAR = 1e-6
LOG_2PI = math.log(2.0 * math.pi)

R_SCRIPT = r"""
suppressMessages(library(mclust))
models <- c("EII","VII","EEI","VEI","EVI","VVI","EEE","VEE","EVE","VVE","EEV","VEV","EVV","VVV")
classes <- hclass(hc(faithful), 1:9)
iterations <- 0
seconds <- system.time(for (g in 2:9) for (name in models) {
  fit <- me(faithful, modelName = name, z = unmap(classes[, g]))
  info <- unlist(attr(fit, "info"))
  # "iterations", or "niterout" (outer EM iterations) for EVE, VVE and VEE.
  count <- if ("niterout" %in% names(info)) info[["niterout"]] else info[["iterations"]]
  iterations <- iterations + count
})[["elapsed"]]
cat(iterations, seconds, "\n")
"""


def start_params(X, seed=0):
    """Weights, means, covariances and precisions from random responsibilities."""
    resp = np.random.default_rng(seed).dirichlet(np.ones(N_COMPONENTS), X.shape[0])
    nk = resp.sum(axis=0)
    means = resp.T @ X / nk[:, None]
    covariances = np.stack(
        [(resp[:, k] * (X - means[k]).T) @ (X - means[k]) / nk[k] for k in range(N_COMPONENTS)]
    )
    covariances += REG_COVAR * np.eye(X.shape[1])
    return nk / nk.sum(), means, covariances


def numpy_loop(X, weights, means, covariances, n_iter):
    """E-step then M-step, ``n_iter`` times; returns the last E-step's mean log-likelihood."""
    n_samples, n_features = X.shape
    XT = np.ascontiguousarray(X.T)
    constant = 0.5 * n_features * LOG_2PI
    diagonal = slice(None, None, n_features + 1)
    log_likelihood = -np.inf
    for _ in range(n_iter):
        # inv(L)' with L the covariance's lower Cholesky factor: the precision's upper factor.
        factors = np.linalg.inv(np.linalg.cholesky(covariances))
        y = np.matmul(factors, XT)
        y -= np.matmul(factors, means[:, :, None])
        y *= y
        log_prob = y.sum(axis=1).T
        log_prob *= -0.5
        log_prob += np.log(weights) + np.log(factors.reshape(N_COMPONENTS, -1)[:, diagonal]).sum(1)
        log_prob -= constant
        row_max = log_prob.max(axis=1, keepdims=True)
        log_prob -= row_max
        np.exp(log_prob, out=log_prob)
        row_sum = log_prob.sum(axis=1, keepdims=True)
        log_prob /= row_sum
        log_likelihood = float((np.log(row_sum) + row_max).mean())
        resp = log_prob
        nk = resp.sum(axis=0) + 10.0 * np.finfo(np.float64).eps
        means = resp.T @ X / nk[:, None]
        second = np.matmul(XT[None] * resp.T[:, None, :], X) / nk[:, None, None]
        covariances = second - means[:, :, None] * means[:, None, :]
        covariances.reshape(N_COMPONENTS, -1)[:, diagonal] += REG_COVAR
        weights = nk / n_samples
    return log_likelihood


def compiled_loop():
    """The same loop compiled by Numba, or None without Numba."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(cache=False)
    def run(X, weights, means, covariances, n_iter):  # pragma: no cover - compiled
        n_samples, n_features = X.shape
        n_components = weights.shape[0]
        resp = np.empty((n_samples, n_components))
        factor = np.zeros((n_components, n_features, n_features))
        log_det = np.zeros(n_components)
        y = np.zeros(n_features)
        log_prob = np.zeros(n_components)
        log_likelihood = -np.inf
        for _ in range(n_iter):
            for k in range(n_components):
                log_det[k] = 0.0
                for j in range(n_features):
                    total = covariances[k, j, j]
                    for p in range(j):
                        total -= factor[k, j, p] ** 2
                    factor[k, j, j] = math.sqrt(total)
                    log_det[k] += math.log(factor[k, j, j])
                    for i in range(j + 1, n_features):
                        total = covariances[k, i, j]
                        for p in range(j):
                            total -= factor[k, i, p] * factor[k, j, p]
                        factor[k, i, j] = total / factor[k, j, j]
            log_likelihood = 0.0
            for n in range(n_samples):
                largest = -np.inf
                for k in range(n_components):
                    quadratic = 0.0
                    for i in range(n_features):
                        total = X[n, i] - means[k, i]
                        for p in range(i):
                            total -= factor[k, i, p] * y[p]
                        y[i] = total / factor[k, i, i]
                        quadratic += y[i] * y[i]
                    log_prob[k] = (
                        math.log(weights[k])
                        - log_det[k]
                        - 0.5 * (quadratic + n_features * 1.8378770664093453)
                    )
                    largest = max(largest, log_prob[k])
                total = 0.0
                for k in range(n_components):
                    log_prob[k] = math.exp(log_prob[k] - largest)
                    total += log_prob[k]
                for k in range(n_components):
                    resp[n, k] = log_prob[k] / total
                log_likelihood += largest + math.log(total)
            log_likelihood /= n_samples
            for k in range(n_components):
                count = 10.0 * 2.220446049250313e-16
                for n in range(n_samples):
                    count += resp[n, k]
                for i in range(n_features):
                    total = 0.0
                    for n in range(n_samples):
                        total += resp[n, k] * X[n, i]
                    means[k, i] = total / count
                for i in range(n_features):
                    for j in range(i + 1):
                        total = 0.0
                        for n in range(n_samples):
                            total += resp[n, k] * (X[n, i] - means[k, i]) * (X[n, j] - means[k, j])
                        covariances[k, i, j] = total / count + (REG_COVAR if i == j else 0.0)
                        covariances[k, j, i] = covariances[k, i, j]
                weights[k] = count / n_samples
        return log_likelihood

    return run


def gaussmix_fit(X, weights, means, covariances, n_iter):
    model = GaussianMixture(
        N_COMPONENTS,
        tol=0.0,
        max_iter=n_iter,
        reg_covar=REG_COVAR,
        weights_init=weights,
        means_init=means,
        precisions_init=np.linalg.inv(covariances),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    if model.n_iter_ != n_iter:
        raise RuntimeError(f"gaussmix stopped after {model.n_iter_} of {n_iter} iterations")
    return model.lower_bound_


def seconds(run, n_iter):
    began = time.perf_counter()
    value = run(n_iter)
    return time.perf_counter() - began, value


def r_iterations():
    if shutil.which("Rscript") is None:
        return None
    completed = subprocess.run(
        ["Rscript", "-e", R_SCRIPT], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        return None
    iterations, seconds = (float(part) for part in completed.stdout.split())
    return iterations, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    X = np.asarray(load_faithful()[0], dtype=np.float64)
    weights, means, covariances = start_params(X)
    compiled = compiled_loop()
    runs = {"gaussmix": gaussmix_fit, "numpy loop": numpy_loop}
    if compiled is not None:
        runs["numba loop"] = compiled
        compiled(X, weights.copy(), means.copy(), covariances.copy(), 1)  # compile first
    short = {name: [] for name in runs}
    long = {name: [] for name in runs}
    values = {}
    for _ in range(args.repeats):
        for name, run in runs.items():

            def from_start(n_iter, run=run):
                return run(X, weights.copy(), means.copy(), covariances.copy(), n_iter)

            short[name].append(seconds(from_start, 1)[0])
            elapsed, values[name] = seconds(from_start, 1 + ITERATIONS)
            long[name].append(elapsed)
    reference = values["gaussmix"]
    print(f"Old Faithful, full, K={N_COMPONENTS}, {ITERATIONS} iterations, {args.repeats} repeats")
    for name in runs:
        microseconds = 1e6 * (statistics.median(long[name]) - statistics.median(short[name]))
        agree = math.isclose(values[name], reference, rel_tol=1e-9)
        print(
            f"  {name:<10} {microseconds / ITERATIONS:7.1f} us per iteration "
            f"(medians); log-likelihood {values[name]:.10f}"
            f"{'' if agree else '  DIFFERS from gaussmix'}"
        )
    r = r_iterations()
    if r is not None:
        iterations, r_seconds = r
        print(
            f"  R mclust: {iterations:.0f} EM iterations over the 112 candidates K=2..9 from "
            f"its hierarchical start, {r_seconds:.2f} s: {1e6 * r_seconds / iterations:.0f} us each"
        )


if __name__ == "__main__":
    main()
