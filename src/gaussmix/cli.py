"""The ``gaussmix`` command line: a thin layer over the public Python API.

Every command reads data with :func:`gaussmix.data.read_table`, fits or loads a
model through the public estimators and :func:`gaussmix.load`, and writes its
files by one rule (:mod:`gaussmix.data.atomic`): regular files through a temporary
file and a rename, devices and FIFOs directly, ``-`` to stdout for CSV output; an
output that is one of the command's inputs is refused before any work. Errors are
one line on stderr and exit status 2, never a traceback; warnings are one line each.

Missing values: ``predict`` and ``score`` label and score a row with missing
values on its observed features (the model's marginal there); a row with no
observed value gets an empty output row, counted in a note on stderr. ``lab``
fits incomplete rows itself by default (``--missing model``); ``fit`` leaves
incomplete rows out and ``plot`` refuses them.

Files larger than memory: ``fit``, ``predict`` and ``score`` read a file larger
than ``GAUSSMIX_STREAM_BYTES`` (256 MiB by default), a Parquet folder, or any file
given ``--stream``, block by block through :mod:`gaussmix.data.streaming`, and
write their CSV output block by block as it is produced; on a terminal a
progress bar follows each pass over the file. Such files need complete rows (a
missing value is named with its row), and ``score --quantile`` is refused on
them (every log-density would have to be held at once): ``--threshold`` works.
``fit --scheduler ADDRESS`` (or ``GAUSSMIX_SCHEDULER``) fits on a Dask cluster.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import threading
import warnings
from pathlib import Path

import numpy as np

from . import BayesianGaussianMixture, GaussianMixture, GaussianMixtureIC, __version__, load
from .covariance import COVARIANCE_MODELS
from .data.atomic import atomic_path, check_output_file, check_writable_folder
from .estimators.model_selection import SMALL_SEARCH_FEATURES, SMALL_SEARCH_ROWS, search_n_jobs
from .lab import DEFAULT_COVARIANCE_TYPES, format_summary, run_lab
from .lab.workflow import index_notice, workers_end_with_parent

EXIT_ERROR = 2
EXIT_TERMINATED = 128 + signal.SIGTERM
STDOUT = "-"
# Rows predicted or scored at a time on a streamed file: the output is written as produced.
OUTPUT_BLOCK_ROWS = 65_536
# How long `fit --scheduler` waits for the cluster before giving up, in seconds.
SCHEDULER_TIMEOUT = 10


class CommandLineError(ValueError):
    """A problem with the command line's arguments or inputs."""


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line naming the command's --help."""

    def error(self, message):
        self.exit(EXIT_ERROR, f"gaussmix: error: {message} (see: {self.prog} --help)\n")


JOBS_HELP = (
    f"candidates fitted in parallel (default: one process per CPU, or one for at most "
    f"{SMALL_SEARCH_ROWS} rows of at most {SMALL_SEARCH_FEATURES} features, where starting "
    "workers costs more than it saves)"
)
COMPONENTS_HELP = (
    "3 fits exactly 3 components (the covariance model still chosen by --criterion "
    "unless one is named); a range 1-9 or a list 2,4,6 is searched"
)


def _components(text: str):
    """``"3"`` -> 3 (exactly 3); ``"1-9"`` -> range(1, 10); ``"2,4,6"`` -> [2, 4, 6]."""
    try:
        if "-" in text:
            low, high = (int(part) for part in text.split("-", 1))
            if low < 1 or high < low:
                raise ValueError
            return range(low, high + 1)
        if "," in text:
            values = [int(part) for part in text.split(",")]
            if min(values) < 1:
                raise ValueError
            return values
        value = int(text)
        if value < 1:
            raise ValueError
        return value
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid number of components {text!r}: give a positive integer (3), a range "
            "(1-9) or a list (2,4,6)"
        ) from None


def _covariances(text: str):
    """``auto``/``mclust``/``all`` -> mclust's 14; ``sklearn`` -> scikit-learn's 4; else a list."""
    if text in ("auto", "all", "mclust"):
        return "mclust"
    if text in ("sklearn", "scikit-learn"):
        return "scikit-learn"
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in COVARIANCE_MODELS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown covariance type {', '.join(unknown) or text!r}; choose from "
            f"{', '.join(COVARIANCE_MODELS)}, a comma-separated list, auto (mclust's 14 "
            "models) or sklearn (scikit-learn's 4)"
        )
    return names


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0:
        raise argparse.ArgumentTypeError(
            f"expected a number of parallel jobs (1, 2, ... or -1 for all CPUs), got {text!r}"
        )
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _columns(text: str):
    return [name.strip() for name in text.split(",") if name.strip()]


# ----------------------------------------------------------------------------- helpers
def _read(path, columns, model=None):
    """Rows of ``path`` as a DataFrame, in the model's columns when it names them."""
    import pandas as pd

    from .data import read_table

    if columns is None and model is not None and hasattr(model, "feature_names_in_"):
        columns = [str(name) for name in model.feature_names_in_]
    table = read_table(path, columns=columns)
    if model is not None and table.X.shape[1] != model.n_features_in_:
        raise CommandLineError(
            f"{path}: {table.X.shape[1]} columns, but the model was fitted on "
            f"{model.n_features_in_}: choose them with --columns"
        )
    return pd.DataFrame(table.X, columns=[str(name) for name in table.feature_names])


def _observed_rows(frame, path, what):
    """Which rows have an observed value; a note on stderr counts those that have none.

    Rows with some missing values are labelled and scored by the model on their
    observed features; a row with no observed value gets an empty output row.
    """
    observed = frame.notna().any(axis=1).to_numpy()
    if not observed.any():
        raise CommandLineError(f"{path}: no row has an observed value: nothing to {what}")
    empty = int((~observed).sum())
    if empty:
        print(
            f"gaussmix: note: {path}: {empty} row{'s' if empty != 1 else ''} with no observed "
            f"value, left blank in the output ({what} needs at least one value per row)",
            file=sys.stderr,
        )
    return observed


def _complete_rows(frame, path, what):
    missing = frame.isna().any(axis=1).to_numpy()
    if missing.any():
        raise CommandLineError(
            f"{path}: {int(missing.sum())} rows have missing values; {what} needs complete "
            "rows: drop or fill them first"
        )
    return frame


def _check_csv_output(out, inputs):
    """Refuse, before any work, a CSV output that cannot or must not be written."""
    if out is not None and out != STDOUT:
        check_output_file(out, inputs)


def _write_csv(frame, out):
    """Write a DataFrame as CSV to ``out`` (see :mod:`gaussmix.data.atomic`) or to stdout."""
    if out is None or out == STDOUT:
        frame.to_csv(sys.stdout, index=False)
        return
    with atomic_path(out) as temporary:
        frame.to_csv(temporary, index=False)
    print(f"wrote {out}", file=sys.stderr)


def _write_csv_blocks(frames, out):
    """Write DataFrames one after another as one CSV (one header), each as soon as it comes.

    The output never exists whole in memory; a regular file is still written to a
    temporary name and moved into place at the end (:mod:`gaussmix.data.atomic`).
    """
    if out is None or out == STDOUT:
        _append_csv(frames, sys.stdout)
        return
    with (
        atomic_path(out) as temporary,
        open(temporary, "w", newline="", encoding="utf-8") as handle,
    ):
        _append_csv(frames, handle)
    print(f"wrote {out}", file=sys.stderr)


# Rows pandas formats at a time when writing a streamed output: its default (100,000
# values) builds 128-byte strings per value, about 12 MB for three columns.
CSV_CHUNK_ROWS = 8192


def _append_csv(frames, handle):
    for index, frame in enumerate(frames):
        frame.to_csv(handle, index=False, header=index == 0, chunksize=CSV_CHUNK_ROWS)


# ----------------------------------------------------------------------------- streamed files
def _streamed(args) -> bool:
    """Whether ``args.data`` is read block by block: --stream, a Parquet folder, or a big file."""
    from .data.streaming import is_large_file

    return bool(getattr(args, "stream", False)) or is_large_file(args.data)


def _open_rows(path, columns, model=None):
    """A block-by-block reader of ``path``, in the model's columns when it names them."""
    from .data.streaming import open_rows

    if columns is None and model is not None and hasattr(model, "feature_names_in_"):
        columns = [str(name) for name in model.feature_names_in_]
    rows = open_rows(path, columns=columns)
    if model is not None and rows.shape[1] != model.n_features_in_:
        raise CommandLineError(
            f"{path}: {rows.shape[1]} columns, but the model was fitted on "
            f"{model.n_features_in_}: choose them with --columns"
        )
    return rows


def _row_blocks(rows, args, what):
    """``rows`` as DataFrames of :data:`OUTPUT_BLOCK_ROWS` rows, one pass, with a progress bar."""
    import pandas as pd

    names = [str(name) for name in rows.feature_names]
    n_rows = rows.shape[0]
    with _pass_progress(rows, args, what):
        for start in range(0, n_rows, OUTPUT_BLOCK_ROWS):
            block = rows[start : min(start + OUTPUT_BLOCK_ROWS, n_rows)]
            # Named columns, as the whole-file path passes them, for the same checks.
            yield pd.DataFrame(block, columns=names, copy=False)


class _PassProgress:
    """One progress bar per pass over a streamed file: a read at row 0 starts a new pass."""

    def __init__(self, n_rows, what):
        self.n_rows, self.what = n_rows, what
        self.passes = 0
        self.bar = None

    def __call__(self, start, n_rows):
        if start == 0 or self.bar is None:
            self.close()
            self.passes += 1
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=self.n_rows,
                desc=f"{self.what}, pass {self.passes}",
                unit=" rows",
                unit_scale=True,
                leave=False,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        self.bar.update(n_rows)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@contextlib.contextmanager
def _pass_progress(rows, args, what):
    """Draw a bar per pass over ``rows`` on a terminal (unless --no-progress)."""
    wanted = not getattr(args, "no_progress", False) and _stderr_is_terminal()
    if not wanted or rows.on_read is not None:
        yield
        return
    try:
        import tqdm  # noqa: F401
    except ImportError:  # an optional dependency: no bar without it
        yield
        return
    progress = _PassProgress(rows.shape[0], what)
    rows.on_read = progress
    try:
        yield
    finally:
        rows.on_read = None
        progress.close()


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _no_stdout(out, what):
    if os.fspath(out) == STDOUT:
        raise CommandLineError(
            f"--out -: {what}, not text for standard output; give a name (- is for CSV output)"
        )


def _size(n_bytes: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n_bytes < 1000 or unit == "PB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    return ""  # pragma: no cover


def _available_memory():
    """Bytes of memory this process can still take (Linux: also its cgroup's limit); or None."""
    found = []
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        try:
            found.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            pass
    try:
        with (
            open("/sys/fs/cgroup/memory.max") as limit,
            open("/sys/fs/cgroup/memory.current") as current,
        ):
            text = limit.read().strip()
            if text != "max":
                found.append(int(text) - int(current.read()))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def _check_memory(n_bytes: int, what: str, fix: str) -> None:
    """Refuse a request that cannot fit in memory before allocating any of it."""
    available = _available_memory()
    if available is not None and n_bytes > available:
        raise CommandLineError(
            f"{what} need about {_size(n_bytes)} of memory, more than the {_size(available)} "
            f"available: {fix}"
        )


def _model_text(model) -> str:
    names = getattr(model, "feature_names_in_", None)
    names = (
        [str(n) for n in names]
        if names is not None
        else [f"x{i}" for i in range(model.n_features_in_)]
    )
    # A model the lab saved in the data's units says which model was fitted, on which scale.
    fitted_type = getattr(model, "fitted_covariance_type_", None)
    covariance = f"{model.covariance_type} covariance"
    if fitted_type is not None and fitted_type != model.covariance_type:
        covariance = (
            f"{fitted_type} covariance (stored as {model.covariance_type} matrices in the "
            "data's units)"
        )
    if isinstance(model, BayesianGaussianMixture):
        lines = [
            f"BayesianGaussianMixture: {model.n_components} components, of which the data kept "
            f"{model.effective_n_components_} (each > 1% of the training rows), {covariance}, "
            f"{model.n_features_in_} features ({', '.join(names)})",
            f"converged: {'yes' if model.converged_ else 'no'} after {model.n_iter_} iterations; "
            f"lower bound (ELBO) {model.lower_bound_:.4f}",
            f"weight prior: {model.weight_concentration_prior_type}, concentration "
            f"{model.weight_concentration_prior_:.4g}",
        ]
    else:
        lines = [
            f"GaussianMixture: {model.n_components} components, {covariance}, "
            f"{model.n_features_in_} features ({', '.join(names)})",
            f"converged: {'yes' if model.converged_ else 'no'} after {model.n_iter_} iterations; "
            f"training mean log-likelihood {model.lower_bound_:.4f}"
            + (" (in the data's units)" if fitted_type is not None else ""),
            f"free parameters: {getattr(model, 'fitted_n_parameters_', model._n_parameters())}",
        ]
    mean = getattr(model, "standardisation_mean_", None)
    scale = getattr(model, "standardisation_scale_", None)
    if mean is not None and scale is not None:
        pairs = ", ".join(
            f"{name} (x - {m:.4g}) / {s:.4g}" for name, m, s in zip(names, mean, scale)
        )
        lines.append(f"fitted on standardised features: {pairs}")
    for k in np.argsort(-np.asarray(model.weights_)):
        mean = ", ".join(f"{name}={value:.4g}" for name, value in zip(names, model.means_[k]))
        lines.append(f"  component {k}: weight {model.weights_[k]:.3f}; mean {mean}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- commands
def _lab(args) -> int:
    if args.labels is not None and args.data is None:
        raise CommandLineError(
            "--labels names a column of your --data file; the bundled data sets bring "
            "their own true classes"
        )
    components = args.components
    result = run_lab(
        args.dataset,
        data=args.data,
        columns=args.columns,
        labels=args.labels,
        out_dir=args.out,
        # A number is exactly that many components; run_lab would search 1 to it.
        n_components=[components] if isinstance(components, int) else components,
        covariance_types=args.covariance,
        criterion=args.criterion,
        scale=not args.no_scale,
        missing=args.missing,
        method=args.method,
        test_size=args.test_size,
        random_state=args.seed,
        n_init=args.n_init,
        n_jobs=args.jobs,
        progress=not args.no_progress,
        force=args.force,
    )
    for notice in result.summary.get("notices", []):
        print(f"gaussmix: note: {notice}", file=sys.stderr)
    print(format_summary(result))
    return 0


def _fit(args) -> int:
    _no_stdout(args.out, "a model file is binary")
    out = Path(args.out)
    if out.is_dir():
        raise CommandLineError(f"--out {str(out)!r} is a folder: give a file name for the model")
    check_output_file(out, {"data file": args.data})
    # A model written to standard output (--out /dev/stdout) must not meet the report there.
    report = contextlib.redirect_stdout(sys.stderr) if _is_stdout(out) else contextlib.nullcontext()
    with report:
        return _fit_and_save(args, out)


def _is_stdout(path) -> bool:
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):
        return False


def _fit_and_save(args, out) -> int:
    from .data.preparation import check_can_fit, saved_row_index

    scheduler = args.scheduler or os.environ.get("GAUSSMIX_SCHEDULER") or None
    if scheduler:
        return _fit_on_cluster(args, out, scheduler)
    if _streamed(args):
        return _fit_streamed(args, out)
    frame = _read(args.data, args.columns)
    if args.columns is None and saved_row_index(frame.to_numpy(), list(frame.columns)):
        print(f"gaussmix: note: {index_notice(frame.columns[0], len(frame))}", file=sys.stderr)
        frame = frame.iloc[:, 1:]
    complete = ~frame.isna().any(axis=1).to_numpy()
    if not complete.all():
        print(
            f"gaussmix: note: left out {int((~complete).sum())} rows with missing values",
            file=sys.stderr,
        )
        frame = frame[complete]
    # What the lab refuses (or warns of), refused here too, before any fit: rows that
    # no mixture of this size can fit give an unbounded log-likelihood, not an error.
    check_can_fit(frame.to_numpy(), args.components, args.covariance, list(frame.columns))
    model = _fit_model(args, frame, len(frame))
    model.save(out)
    print(_model_text(model))
    print(f"BIC {model.bic(frame):.2f}  AIC {model.aic(frame):.2f}")
    print(f"model: {out}")
    return 0


def _fit_streamed(args, out) -> int:
    """Fit a file read block by block: the estimators take the reader itself."""
    from .data.streaming import without_saved_index

    rows = _open_rows(args.data, args.columns)
    if args.columns is None:
        rows, dropped = without_saved_index(rows)
        if dropped is not None:
            print(f"gaussmix: note: {index_notice(dropped, rows.shape[0])}", file=sys.stderr)
    # check_can_fit is not run: it counts distinct rows, which needs them all in memory,
    # and on a sample it would refuse columns constant only there. The estimators still
    # warn of, or refuse, a fit whose components collapse.
    with _pass_progress(rows, args, "fitting"):
        model = _fit_model(args, rows, rows.shape[0])
    model.save(out)
    print(_model_text(model))
    # One more pass, block by block, for both criteria (bic and aic would make two).
    log_likelihood = sum(
        float(np.sum(model.score_samples(block), dtype=np.float64))
        for block in _row_blocks(rows, args, "scoring")
    )
    _print_criteria(model, log_likelihood, rows.shape[0])
    print(f"model: {out}")
    return 0


def _print_criteria(model, log_likelihood, n_rows):
    from .engine.criteria import aic, bic

    n_parameters = model._n_parameters()
    print(
        f"BIC {bic(log_likelihood, n_parameters, n_rows):.2f}  "
        f"AIC {aic(log_likelihood, n_parameters):.2f}"
    )


def _fit_model(args, X, n_rows):
    """The model ``fit`` asked for, fitted on ``X`` (a DataFrame, a file reader or a Dask array)."""
    components = args.components
    if (
        isinstance(components, int)
        and isinstance(args.covariance, list)
        and len(args.covariance) == 1
    ):
        return GaussianMixture(
            n_components=components,
            covariance_type=args.covariance[0],
            n_init=args.n_init,
            tol=1e-6,
            max_iter=1000,
            random_state=args.seed,
        ).fit(X)
    with workers_end_with_parent():
        selector = GaussianMixtureIC(
            n_components=[components] if isinstance(components, int) else components,
            covariance_types=args.covariance,
            criterion=args.criterion,
            n_init=args.n_init,
            random_state=args.seed,
            n_jobs=search_n_jobs(n_rows, X.shape[1]) if args.jobs is None else args.jobs,
            progress=True,
        ).fit(X)
    model = selector.best_estimator_
    table = selector.results_frame()
    table = table[~table["spurious"]].sort_values(args.criterion).head(5)
    n_spurious = int(sum(selector.results_["spurious"]))
    sampled = ""
    if selector.n_search_samples_ < n_rows:
        sampled = (
            f", ranked on a seeded sample of {selector.n_search_samples_:,} of the "
            f"{n_rows:,} rows; the best refitted on all rows"
        )
    n_candidates = len(selector.results_["bic"])
    print(
        f"best {args.criterion.upper()} of {n_candidates} "
        f"candidate{'' if n_candidates == 1 else 's'} ({n_spurious} spurious "
        f"fit{'' if n_spurious == 1 else 's'} excluded{sampled}):"
    )
    for _, row in table.iterrows():
        flag = "  <- chosen" if row["chosen"] else ""
        print(f"  {row['n_components']} {row['covariance_type']}: {row[args.criterion]:.2f}{flag}")
    return model


def _fit_on_cluster(args, out, address) -> int:
    """Fit on a Dask cluster: the file read there as a Dask array, the EM passes run there."""
    from .data.streaming import dask_array

    try:
        from distributed import Client
    except ImportError:
        raise CommandLineError(
            "--scheduler needs Dask's distributed package: install gaussmix[dask] "
            "(or pip install distributed)"
        ) from None
    try:
        client = Client(address, timeout=SCHEDULER_TIMEOUT)
    except Exception as exc:  # distributed raises OSError, TimeoutError and its own types
        raise CommandLineError(
            f"--scheduler {address}: cannot reach the Dask scheduler ({_one_line(exc)}); check "
            "the address (tcp://host:8786) and that the scheduler runs"
        ) from None
    with client:
        X, names = dask_array(args.data, args.columns)
        print(
            f"gaussmix: note: fitting on the Dask cluster at {address} "
            f"({len(client.scheduler_info().get('workers', {}))} workers)",
            file=sys.stderr,
        )
        model = _fit_model(args, X, int(X.shape[0]))
        # A Dask array has no column names: the file's, as the other paths keep them.
        model.feature_names_in_ = np.asarray([str(name) for name in names], dtype=object)
        model.save(out)
        print(_model_text(model))
        n_rows = int(X.shape[0])
        log_likelihood = float(model.score(X)) * n_rows
        _print_criteria(model, log_likelihood, n_rows)
    print(f"model: {out}")
    return 0


def _predict(args) -> int:
    _check_csv_output(args.out, {"data file": args.data, "model file": args.model})
    model = load(args.model)
    if _streamed(args):
        rows = _open_rows(args.data, args.columns, model)
        _write_csv_blocks(
            (_predictions(model, block) for block in _row_blocks(rows, args, "predicting")),
            args.out,
        )
        return 0
    frame = _read(args.data, args.columns, model)
    observed = _observed_rows(frame, args.data, "predict")
    _write_csv(_predictions(model, frame, observed), args.out)
    return 0


def _predictions(model, frame, observed=None):
    import pandas as pd

    if observed is None or observed.all():
        proba = model.predict_proba(frame)
        labels = proba.argmax(axis=1)
    else:
        # Rows with no observed value: an empty label and empty probabilities.
        proba = np.full((len(frame), model.n_components), np.nan)
        proba[observed] = model.predict_proba(frame[observed])
        labels = pd.array([pd.NA] * len(frame), dtype="Int64")
        labels[observed] = proba[observed].argmax(axis=1)
    output = pd.DataFrame({"label": labels})
    for k in range(proba.shape[1]):
        output[f"p{k}"] = proba[:, k]
    return output


def _score(args) -> int:
    import pandas as pd

    _check_csv_output(args.out, {"data file": args.data, "model file": args.model})
    if args.quantile is not None and _streamed(args):
        raise CommandLineError(
            f"--quantile needs every row's log-density at once, and {args.data} is read block "
            "by block (a Parquet folder, --stream, or larger than GAUSSMIX_STREAM_BYTES): flag "
            "rows with --threshold instead (a quantile of a first run's log_density column is "
            "one)"
        )
    model = load(args.model)
    if _streamed(args):
        return _score_streamed(args, model)
    frame = _read(args.data, args.columns, model)
    observed = _observed_rows(frame, args.data, "score")
    log_density = np.full(len(frame), np.nan)
    log_density[observed] = model.score_samples(frame[observed])
    output = pd.DataFrame({"log_density": log_density})
    if args.quantile is not None:
        # Of the rows scored: a row with no observed value has no log-density.
        threshold = float(np.quantile(log_density[observed], args.quantile))
    else:
        threshold = args.threshold
    if threshold is not None:
        flagged = pd.array(log_density < threshold, dtype="boolean")
        flagged[~observed] = pd.NA
        output["outlier"] = flagged
        _print_outliers(int(output["outlier"].sum()), int(observed.sum()), threshold)
    _write_csv(output, args.out)
    return 0


def _score_streamed(args, model) -> int:
    import pandas as pd

    rows = _open_rows(args.data, args.columns, model)
    threshold = args.threshold
    n_outliers = 0

    def scored():
        nonlocal n_outliers
        for block in _row_blocks(rows, args, "scoring"):
            log_density = model.score_samples(block)
            output = pd.DataFrame({"log_density": log_density})
            if threshold is not None:
                output["outlier"] = log_density < threshold
                n_outliers += int(output["outlier"].sum())
            yield output

    _write_csv_blocks(scored(), args.out)
    if threshold is not None:
        _print_outliers(n_outliers, rows.shape[0], threshold)
    return 0


def _print_outliers(n_outliers, n_rows, threshold):
    print(
        f"gaussmix: {n_outliers} of {n_rows} rows below the log-density threshold {threshold:.4f}",
        file=sys.stderr,
    )


def _sample(args) -> int:
    import pandas as pd

    _check_csv_output(args.out, {"model file": args.model})
    model = load(args.model)
    # The draws, their components, and the table made of them, each 8 bytes a value.
    _check_memory(
        3 * args.n * (model.n_features_in_ + 1) * 8,
        f"-n {args.n} samples of {model.n_features_in_} features",
        "draw fewer (several runs with different --seed give more)",
    )
    if args.seed is not None:
        model.set_params(random_state=args.seed)
    X, components = model.sample(args.n)
    names = getattr(model, "feature_names_in_", None)
    columns = [str(n) for n in names] if names is not None else [f"x{i}" for i in range(X.shape[1])]
    output = pd.DataFrame(X, columns=columns)
    output["component"] = components
    _write_csv(output, args.out)
    return 0


def _plot(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plot

    _no_stdout(args.out, "plot writes a folder of figures")
    kinds = ("clusters", "density", "uncertainty")
    inputs = {"data file": args.data, "model file": args.model}
    out_dir = check_writable_folder(args.out)
    for kind in kinds:
        check_output_file(out_dir / f"{kind}.png", inputs)
    model = load(args.model)
    frame = _complete_rows(_read(args.data, args.columns, model), args.data, "plot")
    for kind in kinds:
        figure = plot.plot_overview(model, frame, kind=kind)
        path = out_dir / f"{kind}.png"
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format="png", dpi=100)
        plt.close(figure)
        print(f"wrote {path}")
    return 0


def _info(args) -> int:
    print(_model_text(load(args.model)))
    return 0


# ----------------------------------------------------------------------------- parser
def _add_data_options(command):
    command.add_argument(
        "--columns",
        type=_columns,
        default=None,
        help="comma-separated columns to use (names or 0-based positions); default all, "
        "or the model's",
    )


def _add_stream_options(command):
    command.add_argument(
        "--stream",
        action="store_true",
        help="read DATA block by block, whatever its size (default: for Parquet folders and "
        "files larger than GAUSSMIX_STREAM_BYTES, 256 MiB); such files need complete rows",
    )
    command.add_argument(
        "--no-progress", action="store_true", help="no progress bar for passes over a streamed file"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gaussmix`` command."""
    parser = _Parser(
        prog="gaussmix",
        description="Gaussian mixture models: clustering and density estimation.",
        epilog="example: gaussmix lab   (the whole workflow on the bundled Old Faithful data)",
    )
    parser.add_argument("--version", action="version", version=f"gaussmix {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    formatter = argparse.ArgumentDefaultsHelpFormatter

    lab = commands.add_parser(
        "lab",
        help="the whole workflow on a bundled data set or your file, with a report",
        description="Load data, prepare it (missing values, train/test split, scaling), "
        "choose a Gaussian mixture by BIC, cluster and score both sets, and write figures, "
        "the model, per-row assignments and an HTML report into --out. The folder is built "
        "beside --out and swapped in when complete: an interrupted lab leaves the previous "
        "folder as it was. An existing --out is replaced only when it holds nothing but a "
        "previous lab's files (or with --force). A Parquet folder or a file larger than "
        "GAUSSMIX_STREAM_BYTES (256 MiB) is not read whole: the lab runs on a seeded sample of "
        "100,000 rows and refits the chosen model on all rows block by block.",
        epilog="examples: gaussmix lab | gaussmix lab --dataset iris --components 3 | "
        "gaussmix lab --data measurements.csv --columns a,b --out results | "
        "gaussmix lab --data flowers.csv --labels species | gaussmix lab --method bayes",
        formatter_class=formatter,
    )
    source = lab.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset",
        default="faithful",
        choices=["faithful", "iris", "wine", "breast_cancer"],
        help="bundled data set",
    )
    source.add_argument("--data", default=None, help="your CSV or Parquet file instead")
    _add_data_options(lab)
    lab.add_argument(
        "--labels",
        default=None,
        metavar="COLUMN",
        help="a column of --data holding each row's true class (left out of the features): "
        "the report gives the adjusted Rand index of the clusters against it",
    )
    lab.add_argument(
        "--out",
        default="gaussmix-lab",
        help="output folder; replaced whole when the lab is done",
    )
    lab.add_argument(
        "--force",
        action="store_true",
        help="replace --out even when it holds files the lab did not write (they are deleted)",
    )
    lab.add_argument("--components", type=_components, default=range(1, 10), help=COMPONENTS_HELP)
    lab.add_argument(
        "--covariance",
        type=_covariances,
        default=DEFAULT_COVARIANCE_TYPES,
        help="covariance models: auto (mclust's 14), sklearn (scikit-learn's 4), or a "
        "comma-separated list",
    )
    lab.add_argument("--criterion", default="bic", choices=["bic", "aic", "icl"])
    lab.add_argument("--no-scale", action="store_true", help="do not standardise features")
    lab.add_argument(
        "--method",
        default="search",
        choices=["search", "bayes"],
        help="search: choose by --criterion over --components x --covariance; bayes: one "
        "variational BayesianGaussianMixture with the largest of --components (9 by default) "
        "that keeps the components the data need (each > 1%% of the rows), with one "
        "--covariance (full by default)",
    )
    lab.add_argument(
        "--missing",
        default="model",
        choices=["model", "impute", "drop"],
        help="missing values: model (fit the mixture on incomplete rows; rows with no value "
        "left out), impute (training medians) or drop (leave out incomplete rows); model falls "
        "back to impute on files read block by block and with --method bayes",
    )
    lab.add_argument("--test-size", type=_fraction, default=0.25, help="held-out fraction")
    lab.add_argument("--seed", type=int, default=0, help="random seed")
    lab.add_argument("--n-init", type=_positive_int, default=5, help="starts per candidate model")
    lab.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        help=JOBS_HELP,
    )
    lab.add_argument(
        "--no-progress", action="store_true", help="no progress bar (or lines, off a terminal)"
    )
    lab.set_defaults(handler=_lab)

    fit = commands.add_parser(
        "fit",
        help="fit a mixture to a CSV or Parquet file and save the model",
        description="Fit a Gaussian mixture to DATA (rows with missing values are left out) "
        "and save it. A range of components or several covariance types are searched by "
        "--criterion. A Parquet folder, a file larger than GAUSSMIX_STREAM_BYTES (256 MiB) or "
        "any file with --stream is read block by block and never held whole: the search runs "
        "on a seeded sample, the chosen model is refitted on all rows, and rows with missing "
        "values are refused rather than left out.",
        epilog="examples: gaussmix fit data.csv --components 3 --out model.gaussmix | "
        "gaussmix fit data.csv --components 1-10 --covariance auto",
        formatter_class=formatter,
    )
    fit.add_argument("data", help="CSV or Parquet file")
    _add_data_options(fit)
    fit.add_argument("--components", type=_components, default=range(1, 10), help=COMPONENTS_HELP)
    fit.add_argument(
        "--covariance",
        type=_covariances,
        default=DEFAULT_COVARIANCE_TYPES,
        help="full, tied, diag, spherical, EII ... VVV, a comma-separated list, auto "
        "(mclust's 14) or sklearn",
    )
    fit.add_argument("--criterion", default="bic", choices=["bic", "aic", "icl"])
    fit.add_argument("--n-init", type=_positive_int, default=5, help="starts per model")
    fit.add_argument("--seed", type=int, default=0, help="random seed")
    fit.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        help=JOBS_HELP,
    )
    fit.add_argument("--out", default="model.gaussmix", help="model file to write")
    _add_stream_options(fit)
    fit.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="fit on the Dask cluster at ADDRESS (tcp://host:8786; default: the environment "
        "variable GAUSSMIX_SCHEDULER, else on this machine); DATA must be readable by the "
        "workers; needs gaussmix[dask]",
    )
    fit.set_defaults(handler=_fit)

    predict = commands.add_parser(
        "predict",
        help="component labels and probabilities of each row",
        description="Write each row's most probable component and the probability of every "
        "component as CSV. A row with missing values is labelled on its observed features; a "
        "row with none gets an empty line.",
        epilog="example: gaussmix predict model.gaussmix new.csv --out labels.csv",
        formatter_class=formatter,
    )
    predict.add_argument("model", help="model file written by gaussmix fit")
    predict.add_argument("data", help="CSV or Parquet file")
    _add_data_options(predict)
    predict.add_argument("--out", default=None, help="CSV file to write (- or default: stdout)")
    _add_stream_options(predict)
    predict.set_defaults(handler=_predict)

    score = commands.add_parser(
        "score",
        help="log-density of each row; flag outliers",
        description="Write each row's log-density under the model as CSV; with --quantile or "
        "--threshold, also flag rows below it as outliers. A row with missing values is scored "
        "by the model's density of its observed features; a row with none gets an empty line.",
        epilog="example: gaussmix score model.gaussmix new.csv --quantile 0.01",
        formatter_class=formatter,
    )
    score.add_argument("model", help="model file written by gaussmix fit")
    score.add_argument("data", help="CSV or Parquet file")
    _add_data_options(score)
    flags = score.add_mutually_exclusive_group()
    flags.add_argument(
        "--quantile",
        type=_fraction,
        default=None,
        help="flag the lowest q fraction of rows (not for streamed files: use --threshold)",
    )
    flags.add_argument(
        "--threshold", type=_finite, default=None, help="flag rows with log-density below t"
    )
    score.add_argument("--out", default=None, help="CSV file to write (- or default: stdout)")
    _add_stream_options(score)
    score.set_defaults(handler=_score)

    sample = commands.add_parser(
        "sample",
        help="draw samples from a model",
        description="Draw N samples from the model and write them, with their component, as CSV.",
        epilog="example: gaussmix sample model.gaussmix -n 1000 --out samples.csv",
        formatter_class=formatter,
    )
    sample.add_argument("model", help="model file written by gaussmix fit")
    sample.add_argument("-n", type=_positive_int, default=100, help="number of samples")
    sample.add_argument("--seed", type=int, default=None, help="random seed")
    sample.add_argument("--out", default=None, help="CSV file to write (- or default: stdout)")
    sample.set_defaults(handler=_sample)

    plot = commands.add_parser(
        "plot",
        help="figures of a model on data",
        description="Write clusters.png, density.png and uncertainty.png of the model on DATA.",
        epilog="example: gaussmix plot model.gaussmix data.csv --out figures",
        formatter_class=formatter,
    )
    plot.add_argument("model", help="model file written by gaussmix fit")
    plot.add_argument("data", help="CSV or Parquet file")
    _add_data_options(plot)
    plot.add_argument("--out", default="gaussmix-plots", help="output folder")
    plot.set_defaults(handler=_plot)

    info = commands.add_parser(
        "info",
        help="describe a model file",
        description="Print a model file's components, weights and means.",
        epilog="example: gaussmix info model.gaussmix",
        formatter_class=formatter,
    )
    info.add_argument("model", help="model file")
    info.set_defaults(handler=_info)
    return parser


def _one_line(message) -> str:
    return " ".join(str(message).split())


# A sentence naming a Python attribute (results_['reason'], n_iter_) or a call means
# nothing on the command line; the warning says enough without it.
_PYTHON_SENTENCE = re.compile(r"[^.;]*\b[A-Za-z]\w*_(?:\[[^\]]*\]|\(\))?(?=[\s.,;:)]|$)[^.;]*[.;]?")


def _warning_text(message) -> str:
    """A Python API warning as one line for the terminal, without Python attribute names."""
    text = _one_line(message)
    kept = _PYTHON_SENTENCE.sub("", text).strip()
    return " ".join(kept.split()) or text


class _Terminated(BaseException):
    """SIGTERM, raised where the program is, so that its cleanup runs as for Ctrl-C."""


def _raise_terminated(signum, frame):
    raise _Terminated


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR

    shown = set()

    def show_warning(message, category, filename, lineno, file=None, line=None):
        text = _warning_text(message)
        # Each start of each candidate can warn the same: once is enough on a terminal.
        if text not in shown:
            shown.add(text)
            print(f"gaussmix: warning: {text}", file=sys.stderr)

    # `kill` would end the process without cleanup, leaving temporary files behind.
    handles_term = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    )
    if handles_term:
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return _run(args, show_warning)
    finally:
        if handles_term:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run(args, show_warning) -> int:
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        try:
            return args.handler(args)
        except BrokenPipeError:
            # The reader of stdout (such as `head`) stopped reading: not an error.
            # stdout goes to devnull so that the interpreter's last flush is quiet.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        except (ValueError, TypeError, OSError, ImportError) as exc:
            print(f"gaussmix: error: {_one_line(exc)}", file=sys.stderr)
            return EXIT_ERROR
        except MemoryError:
            print(
                "gaussmix: error: out of memory: give a smaller input or request",
                file=sys.stderr,
            )
            return EXIT_ERROR
        except RecursionError:
            print("gaussmix: error: the input is nested too deeply to be read", file=sys.stderr)
            return EXIT_ERROR
        except KeyboardInterrupt:
            print("gaussmix: interrupted", file=sys.stderr)
            return 130
        except _Terminated:
            print("gaussmix: terminated", file=sys.stderr)
            return EXIT_TERMINATED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
