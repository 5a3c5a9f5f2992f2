"""Scale (issue 11): fits of data read from files against in-memory fits, and Spark MLlib.

Cases (``--only`` picks them by name; all but ``spark`` run by default):

``memmap``
    N = 10,000,000 x 16 float32 rows from a known 16-component mixture, in one
    ``.npy`` file (640 MB) and one Parquet file of the same rows (row groups of
    1,048,576 rows), generated once into ``--data-dir`` (``/tmp``, never the
    repository). ``GaussianMixture(16, covariance_type='full')`` is fitted from
    the same start (weights, means and precisions of one EM step on a 20,000-row
    sample, as ``bench_em.same_start``), ``tol=0``, on the data loaded into memory,
    on the ``numpy.memmap`` (``MappedBackend``: in place), on a small array-like
    that copies each slice out of the memmap, as an h5py dataset would
    (``ChunkedBackend``: validated and read block by block, the next block read
    ahead), and on :class:`gaussmix.data.streaming.ParquetRows` (the same block
    path, decoding row groups). Each fit runs in a child process, alternating the
    inputs ``--repeats`` times; seconds per iteration are marginal, ``(t(1 + m) -
    t(1)) / m`` for fits of 1 and ``1 + m`` iterations in the same child, so that
    the fixed costs (validation, the centre, the in-memory fit's final labelling
    pass) are reported apart. The parent polls the child's ``/proc/PID/status``
    every 20 ms for its peak ``RssAnon`` (anonymous memory: what the process
    allocated, not the file's pages in the page cache), ``RssFile`` (file pages
    mapped into it) and ``VmRSS``; the child reports ``VmHWM`` (the kernel's peak
    of ``VmRSS``, file pages included) and its ``RssAnon`` after its imports.
``cli``
    ``gaussmix fit FILE.parquet --components 16 --covariance VVV --n-init 1`` as
    a child process: wall time (a whole fit to ``tol=1e-6``: sampled start, EM
    to convergence, the criteria's scoring pass), peak ``RssAnon`` and ``VmRSS``
    polled as above (``VmHWM`` read last is the process's own peak), and ``ru_maxrss``
    from ``wait4``, which also covers the process's children.
``small``
    20,000 x 4, K = 4, float32, in this process: in memory, a memmap (read whole:
    it is below ``GAUSSMIX_LOAD_BYTES``), the memmap kept mapped and the
    array-like forced through the block path (``GAUSSMIX_LOAD_BYTES=0``), to show
    the out-of-core path's fixed and per-pass costs where the work is small.
``spark`` (only with ``--spark``; needs ``pip install pyspark`` and Java 17)
    Spark MLlib's ``pyspark.ml.clustering.GaussianMixture`` on ``local[2]`` against
    gaussmix in memory, 1,000,000 x 16 float64 (``bench_em.make_data``), K = 16,
    ``tol=0``, marginal seconds per iteration (``maxIter`` 1 and ``1 + m``) and
    Spark's start-up apart. Spark's DataFrame API takes no initial model, so it
    starts from its own draw (the RDD API's ``initialModel`` would feed the rows
    from Python on every pass).

Run ``python benchmarks/bench_scale.py`` (about 35 minutes on a busy 2-core machine,
the data generated first), ``--only NAME`` for one case, ``--rows 2000000`` for a
quicker pass, ``--spark`` to add Spark (another 10 minutes). Results in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_em import machine, make_data, same_start
from gaussmix import GaussianMixture

warnings.filterwarnings("ignore")

D, K = 16, 16
ROW_GROUP_ROWS = 1_048_576
GENERATE_ROWS = 1_000_000
POLL_SECONDS = 0.02
KINDS = ("memory", "memmap", "array-like", "parquet")


# ----------------------------------------------------------------------------- data
def true_mixture(n_features, n_components, seed=0):
    """A known mixture: Dirichlet weights, means in a 20-wide box, random covariance factors."""
    rng = np.random.RandomState(seed)
    weights = rng.dirichlet(np.full(n_components, 5.0))
    means = rng.uniform(-10.0, 10.0, size=(n_components, n_features))
    factors = rng.normal(size=(n_components, n_features, n_features))
    factors *= rng.uniform(0.2, 0.6, size=(n_components, 1, n_features))
    return weights, means, factors


def generate(path_npy, path_parquet, n_rows, seed=0):
    """Write ``n_rows`` x 16 float32 rows of :func:`true_mixture` to ``.npy`` and Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    weights, means, factors = true_mixture(D, K, seed)
    rng = np.random.RandomState(seed + 1)
    X = np.lib.format.open_memmap(path_npy, mode="w+", dtype=np.float32, shape=(n_rows, D))
    for start in range(0, n_rows, GENERATE_ROWS):
        stop = min(start + GENERATE_ROWS, n_rows)
        labels = rng.choice(K, size=stop - start, p=weights)
        z = rng.standard_normal((stop - start, D))
        block = np.empty_like(z)
        for k in range(K):
            rows = labels == k
            block[rows] = z[rows] @ factors[k].T + means[k]
        X[start:stop] = block
    X.flush()
    names = [f"x{j}" for j in range(D)]
    with pq.ParquetWriter(path_parquet, pa.schema([(n, pa.float32()) for n in names])) as writer:
        for start in range(0, n_rows, ROW_GROUP_ROWS):
            block = np.asarray(X[start : start + ROW_GROUP_ROWS])
            columns = [pa.array(np.ascontiguousarray(block[:, j])) for j in range(D)]
            writer.write_table(pa.Table.from_arrays(columns, names=names))
    del X


class SlicedRows:
    """An array-like over a memmap that copies every slice out, as an h5py dataset reads.

    Not a ``numpy.ndarray``: ``GaussianMixture`` takes the block path
    (``ChunkedBackend``) for it, with validation and read-ahead block by block.
    """

    def __init__(self, X):
        self._X = X
        self.shape = X.shape
        self.dtype = X.dtype
        self.ndim = 2

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        return np.array(self._X[key])


def open_input(kind, data_dir):
    from gaussmix.data.streaming import ParquetRows

    npy, parquet = data_paths(data_dir)
    if kind == "memory":
        return np.load(npy)
    if kind == "memmap":
        return np.load(npy, mmap_mode="r")
    if kind == "array-like":
        return SlicedRows(np.load(npy, mmap_mode="r"))
    if kind == "parquet":
        return ParquetRows(parquet)
    raise ValueError(kind)


def data_paths(data_dir):
    data_dir = Path(data_dir)
    return data_dir / "scale.npy", data_dir / "scale.parquet"


# ----------------------------------------------------------------------------- processes
def proc_status(pid="self"):
    """VmHWM, VmRSS, RssAnon, RssFile of a process in MiB (``/proc/PID/status``)."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                name, _, rest = line.partition(":")
                if name in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    values[name] = int(rest.split()[0]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return values


def run_polled(command, env=None):
    """Run ``command``; return (wall s, stdout, peak polled status values in MiB, ru_maxrss MiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    peaks = {}
    stdout_parts, stderr_parts = [], []

    def drain(stream, parts):
        parts.append(stream.read())

    readers = [
        threading.Thread(target=drain, args=(process.stdout, stdout_parts)),
        threading.Thread(target=drain, args=(process.stderr, stderr_parts)),
    ]
    for reader in readers:
        reader.start()
    while True:
        status = proc_status(process.pid)
        for name, value in status.items():
            peaks[name] = max(peaks.get(name, 0.0), value)
        # wait4 gives this child's own resource usage (ru_maxrss: its peak RSS, in KiB).
        pid, wait_status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(wait_status)
            break
        time.sleep(POLL_SECONDS)
    wall = time.perf_counter() - started
    for reader in readers:
        reader.join()
    maxrss = usage.ru_maxrss / 1024
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed ({process.returncode}): {stderr_parts[0][-3000:]}")
    return wall, stdout_parts[0], peaks, maxrss, stderr_parts[0]


def child_fit(task):
    """In a child process: fits of 1 and 1 + m iterations on one input; prints JSON."""
    baseline = proc_status()
    X = open_input(task["kind"], task["data_dir"])
    start = dict(np.load(task["start"]))
    times, bounds = [], None
    for n_iter in (1, 1 + task["iters"]):
        started = time.perf_counter()
        fitted = GaussianMixture(K, covariance_type="full", tol=0.0, max_iter=n_iter, **start).fit(
            X
        )
        times.append(time.perf_counter() - started)
        bounds = fitted.lower_bounds_
    print(
        json.dumps(
            {"times": times, "lower_bounds": bounds, "baseline": baseline, "end": proc_status()}
        )
    )


def loadavg():
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


# ----------------------------------------------------------------------------- cases
def ensure_data(data_dir, n_rows):
    npy, parquet = data_paths(data_dir)
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    expected = n_rows * D * 4
    if not (npy.exists() and parquet.exists() and npy.stat().st_size >= expected):
        started = time.perf_counter()
        generate(npy, parquet, n_rows)
        print(f"generated {npy} and {parquet} in {time.perf_counter() - started:.0f} s")
    X = np.load(npy, mmap_mode="r")
    if X.shape[0] != n_rows:
        generate(npy, parquet, n_rows)
        X = np.load(npy, mmap_mode="r")
    start_path = Path(data_dir) / "start.npz"
    sample = np.asarray(X[np.random.RandomState(1).choice(n_rows, 200_000, replace=False)])
    start = same_start(sample.astype(np.float64), K, "full")
    np.savez(start_path, **start)
    print(
        f"data: {n_rows:,} x {D} float32, {npy.stat().st_size / 1e6:.0f} MB .npy, "
        f"{parquet.stat().st_size / 1e6:.0f} MB Parquet (row groups of {ROW_GROUP_ROWS:,})"
    )
    return start_path


def memmap_case(data_dir, start_path, iters, repeats, kinds):
    runs = {kind: [] for kind in kinds}
    print(f"\nper-iteration, {iters} iterations timed, child processes, load {loadavg()}")
    for repeat in range(repeats):
        for kind in kinds:
            task = dict(kind=kind, data_dir=str(data_dir), start=str(start_path), iters=iters)
            command = [sys.executable, __file__, "--child", json.dumps(task)]
            _, stdout, peaks, _, _ = run_polled(command)
            result = json.loads(stdout.strip().splitlines()[-1])
            result["peaks"] = peaks
            runs[kind].append(result)
            short, long = result["times"]
            print(
                f"  run {repeat + 1} {kind:10s} fit(1) {short:6.2f} s, fit({1 + iters}) "
                f"{long:6.2f} s, peak RssAnon {peaks.get('RssAnon', 0):6.0f} MiB, "
                f"RssFile {peaks.get('RssFile', 0):5.0f} MiB, load {loadavg()}",
                flush=True,
            )
    reference = runs[kinds[0]][-1]["lower_bounds"]

    def marginal(run):
        return (run["times"][1] - run["times"][0]) / iters

    print(
        f"\n  {'input':10s} {'s/it':>7s} {'vs memory':>9s} {'fixed s':>8s} "
        f"{'RssAnon':>8s} {'(imports)':>9s} {'RssFile':>8s} {'VmHWM':>7s} {'bound diff':>10s}"
    )
    summary = {}
    for kind in kinds:
        per_iter = statistics.median(marginal(r) for r in runs[kind])
        fixed = statistics.median(
            r["times"][0] - (r["times"][1] - r["times"][0]) / iters for r in runs[kind]
        )
        anon = statistics.median(r["peaks"].get("RssAnon", 0) for r in runs[kind])
        imports = statistics.median(r["baseline"].get("RssAnon", 0) for r in runs[kind])
        file_peak = statistics.median(r["peaks"].get("RssFile", 0) for r in runs[kind])
        hwm = statistics.median(r["end"].get("VmHWM", 0) for r in runs[kind])
        diff = max(abs(a - b) for a, b in zip(runs[kind][-1]["lower_bounds"], reference))
        # The machine's load moves whole runs: the ratio to the in-memory fit of the same
        # round, then the median of those, is steadier than a ratio of medians.
        paired = statistics.median(
            marginal(run) / marginal(first) for run, first in zip(runs[kind], runs[kinds[0]])
        )
        summary[kind] = per_iter
        print(
            f"  {kind:10s} {per_iter:7.3f} {paired:8.2f}x {fixed:8.2f} "
            f"{anon:8.0f} {imports:9.0f} {file_peak:8.0f} {hwm:7.0f} {diff:10.1e}"
        )
    print(
        f"  (MiB; medians of {repeats}; 'vs memory' is the median over rounds of s/it over "
        f"the in-memory s/it of the same round; lower bounds of the memory fit: {reference})"
    )
    return summary


def cli_case(data_dir, repeats):
    _, parquet = data_paths(data_dir)
    gaussmix_cli = str(Path(sys.executable).parent / "gaussmix")
    out = Path(data_dir) / "model.gaussmix"
    command = [
        gaussmix_cli,
        "fit",
        str(parquet),
        "--components",
        str(K),
        "--covariance",
        "VVV",
        "--n-init",
        "1",
        "--out",
        str(out),
        "--no-progress",
    ]
    print(f"\n{' '.join(command)}   (load {loadavg()})")
    walls, anons, rsss = [], [], []
    for repeat in range(repeats):
        wall, stdout, peaks, maxrss, stderr = run_polled(command)
        walls.append(wall)
        anons.append(peaks.get("RssAnon", 0))
        rsss.append(peaks.get("VmRSS", 0))
        converged = re.search(r"converged: .*", stdout)
        print(
            f"  run {repeat + 1}: {wall:.1f} s, peak RssAnon {anons[-1]:.0f} MiB, VmRSS "
            f"{rsss[-1]:.0f} MiB, RssFile {peaks.get('RssFile', 0):.0f} MiB, VmHWM "
            f"{peaks.get('VmHWM', 0):.0f} MiB (the kernel's peak, last read), ru_maxrss "
            f"{maxrss:.0f} MiB; {converged.group(0) if converged else stdout}; "
            f"load {loadavg()}",
            flush=True,
        )
        for line in stderr.strip().splitlines()[-3:]:
            print(f"    stderr: {line}")
    print(
        f"  median: {statistics.median(walls):.1f} s, peak RssAnon "
        f"{statistics.median(anons):.0f} MiB, VmRSS {statistics.median(rsss):.0f} MiB"
    )


class _Env:
    def __init__(self, **values):
        self.values = values

    def __enter__(self):
        self.saved = {name: os.environ.get(name) for name in self.values}
        os.environ.update(self.values)

    def __exit__(self, *exc):
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def small_case(data_dir, repeats, iters=100):
    n, d, k = 20_000, 4, 4
    X = make_data(n, d, k, dtype=np.float32)
    path = Path(data_dir) / "small.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    start = same_start(X.astype(np.float64), k, "full")
    inputs = {
        "memory": (X, {}),
        "memmap, read whole": (mapped, {}),
        "memmap, mapped": (mapped, {"GAUSSMIX_LOAD_BYTES": "0"}),
        "array-like, blocks": (SlicedRows(mapped), {"GAUSSMIX_LOAD_BYTES": "0"}),
    }
    runs = {label: [] for label in inputs}
    for _ in range(repeats):
        for label, (data, env) in inputs.items():
            with _Env(**env):
                pair = []
                for n_iter in (1, 1 + iters):
                    started = time.perf_counter()
                    GaussianMixture(k, tol=0.0, max_iter=n_iter, **start).fit(data)
                    pair.append(time.perf_counter() - started)
                runs[label].append(pair)
    print(
        f"\nsmall: full, N={n:,}, D={d}, K={k}, float32, {iters} iterations timed, "
        f"medians of {repeats}, load {loadavg()}"
    )
    print(
        f"  {'input':20s} {'ms/it':>7s} {'vs memory':>9s} {'fixed ms':>9s} "
        f"{'best ms/it':>10s} {'best fit(1) ms':>14s}"
    )
    first = runs["memory"]
    for label, pairs in runs.items():
        per_iter = statistics.median((b - a) / iters for a, b in pairs)
        fixed = statistics.median(a - (b - a) / iters for a, b in pairs)
        paired = statistics.median((b - a) / (d - c) for (a, b), (c, d) in zip(pairs, first))
        best = min((b - a) / iters for a, b in pairs)
        best_short = min(a for a, _ in pairs)
        print(
            f"  {label:20s} {per_iter * 1e3:7.2f} {paired:8.2f}x {fixed * 1e3:9.1f} "
            f"{best * 1e3:10.2f} {best_short * 1e3:14.1f}"
        )


def spark_case(repeats, iters, n=1_000_000):
    import pandas as pd

    started = time.perf_counter()
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.memory", "4g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    startup = time.perf_counter() - started
    from pyspark.ml.clustering import GaussianMixture as SparkGaussianMixture
    from pyspark.ml.feature import VectorAssembler

    X = make_data(n, D, K)
    start = same_start(X, K, "full")
    names = [f"x{j}" for j in range(D)]
    started = time.perf_counter()
    frame = spark.createDataFrame(pd.DataFrame(X, columns=names))
    features = VectorAssembler(inputCols=names, outputCol="features").transform(frame)
    features = features.select("features").repartition(2).cache()
    features.count()
    loading = time.perf_counter() - started
    print(
        f"\nspark {spark.version}, local[2]: session start {startup:.1f} s, "
        f"{n:,} x {D} into a cached DataFrame {loading:.1f} s; load {loadavg()}"
    )
    ours, theirs, bounds = [], [], []
    for _ in range(repeats):
        pair = []
        for n_iter in (1, 1 + iters):
            began = time.perf_counter()
            fitted = GaussianMixture(K, tol=0.0, max_iter=n_iter, **start).fit(X)
            pair.append(time.perf_counter() - began)
        ours.append(pair)
        pair = []
        for n_iter in (1, 1 + iters):
            began = time.perf_counter()
            model = SparkGaussianMixture(k=K, maxIter=n_iter, tol=0.0, seed=0).fit(features)
            pair.append(time.perf_counter() - began)
        theirs.append(pair)
        bounds.append((fitted.lower_bound_, model.summary.logLikelihood / n, model.summary.numIter))
        print(f"  gaussmix {ours[-1]}, spark {theirs[-1]}, load {loadavg()}", flush=True)
    spark.stop()
    ours_s = statistics.median((b - a) / iters for a, b in ours)
    theirs_s = statistics.median((b - a) / iters for a, b in theirs)
    ours_fixed = statistics.median(a - (b - a) / iters for a, b in ours)
    theirs_fixed = statistics.median(a - (b - a) / iters for a, b in theirs)
    print(
        f"  per iteration: gaussmix {ours_s:.3f} s, Spark {theirs_s:.3f} s "
        f"({theirs_s / ours_s:.1f}x); fixed per fit: gaussmix {ours_fixed:.2f} s, "
        f"Spark {theirs_fixed:.2f} s"
    )
    for ours_bound, their_bound, their_iter in bounds:
        print(
            f"  mean log-likelihood after {1 + iters} iterations: gaussmix {ours_bound:.4f} "
            f"(same start as bench_em), Spark {their_bound:.4f} ({their_iter} it, its own start)"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the large data")
    parser.add_argument("--iters", type=int, default=4, help="iterations timed (4)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs (3)")
    parser.add_argument("--cli-repeats", type=int, default=1, help="gaussmix fit runs (1)")
    parser.add_argument("--data-dir", default="/tmp/gaussmix-scale", help="generated files")
    parser.add_argument("--only", default="", help="cases whose name contains this text")
    parser.add_argument("--kinds", default=",".join(KINDS), help="inputs of the memmap case")
    parser.add_argument("--spark", action="store_true", help="also Spark MLlib (pyspark)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_fit(json.loads(args.child))
        return

    print(machine())
    print(f"load average {loadavg()}")
    wanted = ["memmap", "cli", "small"] + (["spark"] if args.spark else [])
    wanted = [name for name in wanted if args.only in name]
    if "memmap" in wanted or "cli" in wanted:
        start_path = ensure_data(args.data_dir, args.rows)
    if "memmap" in wanted:
        memmap_case(args.data_dir, start_path, args.iters, args.repeats, args.kinds.split(","))
    if "cli" in wanted:
        cli_case(args.data_dir, args.cli_repeats)
    if "small" in wanted:
        Path(args.data_dir).mkdir(parents=True, exist_ok=True)
        small_case(args.data_dir, max(args.repeats, 5))
    if "spark" in wanted:
        spark_case(args.repeats, 3)


if __name__ == "__main__":
    main()
