"""The whole Gaussian-mixture workflow in one call: what ``gaussmix lab`` runs.

:func:`run_lab` loads a data set, prepares it (missing values, a seeded
train/test split, standardisation), chooses a mixture by an information
criterion with :class:`gaussmix.GaussianMixtureIC` (or, with ``method='bayes'``,
lets a :class:`gaussmix.BayesianGaussianMixture` switch off the components the
data do not need), clusters and scores both sets, and writes into one folder:

``report.html``
    One self-contained page (figures embedded) with the summary.
``clusters.png``, ``density.png``, ``uncertainty.png``, ``criterion.png``
    The figures of :mod:`gaussmix.plot`, in the data's own units. Two features
    are shown directly; three to :data:`gaussmix.plot.MAX_PAIR_FEATURES` on a grid of feature
    pairs; more on the first two principal components. With
    ``method='bayes'``, ``weights.png`` (:func:`gaussmix.plot.plot_weights`)
    replaces ``criterion.png``. Rows with missing values (``missing='model'``)
    are drawn at their model-imputed values (``model.impute``: the conditional
    mean of the missing block given the row's observed values).
``model.gaussmix``
    The chosen model in the data's own units, in gaussmix's model file format:
    ``gaussmix predict model.gaussmix raw.csv`` works on raw rows. Undoing the
    standardisation keeps the density and the clusters exactly but not every
    covariance constraint (a spherical component becomes axis-aligned), so
    this file stores full covariance matrices; it records the covariance model
    fitted, its free parameters and the standardisation (``gaussmix info`` shows
    them), and its training log-likelihood is in the data's units.
``model-standardised.gaussmix``
    The chosen model as fitted, with its covariance model, on the standardised
    scale; ``preprocessing.json`` holds the medians and the standardisation that
    map raw rows to that scale.
``assignments.csv``
    For every input row: its split, label, log-density in the data's units
    (``log_density_data_units``, what ``gaussmix score model.gaussmix`` gives)
    and, when standardised, on the model's scale (``log_density_standardised``),
    uncertainty and component probabilities.
``candidates.csv``
    Every candidate of the model search: criteria, convergence, spurious flags
    (not with ``method='bayes'``).
``model-variational.gaussmix``
    With ``method='bayes'``: the variational model as fitted, every component
    included, on the standardised scale; ``model-standardised.gaussmix`` and
    ``model.gaussmix`` hold its kept components (``to_gaussian_mixture()``).
``summary.json``
    The numbers of the report, machine-readable.

A file too large for memory (above ``GAUSSMIX_STREAM_BYTES``, 256 MiB by
default, or a Parquet folder; see :mod:`gaussmix.data.streaming`) is not read
whole: everything above runs on a seeded sample of :data:`LAB_SAMPLE_ROWS`
rows (its own train/test split, preprocessing, search and figures), the
chosen model is then refitted, block by block and starting from its
parameters, on every row of the file but the sample's test rows, and
``assignments.csv`` is written block by block for every row. The summary's
``sample`` and a notice say so, with the sizes. Such files need complete rows
with ``missing='drop'``; ``missing='model'`` falls back to ``'impute'`` on them
(a file read block by block is not fitted with missing values), with a notice
when the sample has any; they cannot carry ``labels``.

Missing values (``missing``): ``'model'`` (the default) fits the mixture on the
incomplete rows themselves (each row's observed values; see
:class:`gaussmix.GaussianMixture`), labels and scores them from their observed
values, and draws them in the figures at their model-imputed values; a row with
no observed value at all is left out (``split`` ``dropped``, no label, in
``assignments.csv``), and counted. ``'impute'`` fills in training medians,
``'drop'`` leaves out every incomplete row. ``method='bayes'`` fits complete
rows only: with missing values ``'model'`` falls back to ``'impute'`` there too,
with a notice. The summary and the report give the missing values
(``np.isnan(X).sum()``), the rows holding them, their patterns
(:func:`gaussmix.engine.missing.count_patterns`) and how they were handled.

The folder is built whole in a private folder beside it and swapped in at the
end (:func:`gaussmix.data.atomic.atomic_folder`): a failed, interrupted or
killed run leaves the previous folder as it was, and two runs into one folder
end with one complete result. A previous folder is replaced when it holds only
files of these names (a previous lab's); anything else there makes the lab
refuse before it starts, unless ``force=True``. The parallel search's worker
processes end with the lab, even when it is killed (:func:`workers_end_with_parent`).

This module is a thin layer over the public API: data from :mod:`gaussmix.data`,
models from :mod:`gaussmix.estimators`, figures from :mod:`gaussmix.plot`, the
page from :mod:`gaussmix.lab.report`.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._version import __version__
from ..covariance import MCLUST_NAMES
from ..data import load_dataset, prepare, read_table
from ..data.atomic import atomic_folder, atomic_path, check_folder_writable, write_text
from ..data.preparation import check_can_fit, saved_row_index
from ..data.streaming import is_large_file, open_rows, sample_indices, without_saved_index
from ..data.tables import _select_columns
from ..engine.missing import count_patterns
from ..estimators import (
    BayesianGaussianMixture,
    GaussianMixture,
    GaussianMixtureIC,
    SpuriousFitWarning,
)
from ..estimators.model_selection import search_n_jobs

FIGURE_DPI = 100
# Above this many features the lab's default grid leaves out EVE and VVE.
MAX_ROTATION_FEATURES = 15
FIGURE_KINDS = ("clusters", "density", "uncertainty", "criterion", "weights")
DEFAULT_COVARIANCE_TYPES = "mclust"  # the 14 models of R mclust (E and V on one feature)
METHODS = ("search", "bayes")
MISSING_CHOICES = ("model", "impute", "drop")
#: The covariance models method='bayes' fits (a closed-form variational posterior).
BAYES_COVARIANCE_TYPES = (
    *("full", "tied", "diag", "spherical"),
    *("VVV", "EEE", "VVI", "VII", "EEI", "EII"),
)
# Iterations a variational fit may take: its lower bound creeps while unused
# components empty, well past scikit-learn's default of 100.
BAYES_MAX_ITER = 1000
# Every file the lab writes: a folder holding only these is a previous lab's, replaceable.
LAB_FILES = frozenset(
    {
        "report.html",
        *(f"{kind}.png" for kind in FIGURE_KINDS),
        "model.gaussmix",
        "model-standardised.gaussmix",
        "model-variational.gaussmix",
        "preprocessing.json",
        "assignments.csv",
        "candidates.csv",
        "summary.json",
    }
)
# Written by one method only: the rest of LAB_FILES by both.
METHOD_FILES = {
    "search": frozenset({"criterion.png", "candidates.csv"}),
    "bayes": frozenset({"weights.png", "model-variational.gaussmix"}),
}
# How often a search worker checks that the lab that started it still runs.
PARENT_CHECK_SECONDS = 0.2
#: Rows of a file too large for memory that the lab prepares, searches and draws.
LAB_SAMPLE_ROWS = 100_000
# Rows of such a file assigned (and written to assignments.csv) at a time.
ASSIGNMENT_BLOCK_ROWS = 65_536


@dataclass
class LabResult:
    """Everything :func:`run_lab` computed and wrote.

    Attributes
    ----------
    source : str
        The data set's name or file.
    description : str
    feature_names : list of str
    units : dict
        Unit of each feature, where known.
    prepared : gaussmix.data.Prepared
        The training and test rows and the fitted preprocessing.
    selector : GaussianMixtureIC or None
        All candidates and the choice; None with ``method='bayes'``.
    model : GaussianMixture
        The chosen model, on the prepared (standardised) scale (with
        ``method='bayes'``: the variational fit's kept components,
        ``variational.to_gaussian_mixture()``).
    summary : dict
        The report's numbers (also written to ``summary.json``).
    files : dict
        Name of each output (``"report"``, ``"model"``, ``"clusters"``, ...) to its path.
    variational : BayesianGaussianMixture or None
        With ``method='bayes'``: the variational fit, every component included.
    """

    source: str
    description: str
    feature_names: list
    units: dict
    prepared: object
    selector: GaussianMixtureIC | None
    model: GaussianMixture
    summary: dict
    files: dict = field(default_factory=dict)
    variational: BayesianGaussianMixture | None = None


class _Stream(NamedTuple):
    """A file read block by block, and the rows of it the lab sampled."""

    rows: object  # ParquetRows or CsvRows, missing values refused unless imputed
    indices: np.ndarray  # the sampled rows, sorted


class _Loaded(NamedTuple):
    X: np.ndarray
    names: list
    target: np.ndarray | None
    target_names: list | None
    units: dict
    source: str
    description: str
    notices: tuple = ()
    # A file too large for memory: X is a sample of its rows (see _load_large_file).
    stream: _Stream | None = None


def _load(dataset, data, columns, labels=None, missing="drop", random_state=0):
    if data is not None and is_large_file(data):
        return _load_large_file(data, columns, labels, missing, random_state)
    if data is not None:
        return _load_file(data, columns, labels)
    if labels is not None:
        raise ValueError(
            "labels name a column of your data file (--data); the bundled data sets "
            "bring their own true classes"
        )
    loaded = load_dataset(dataset)
    X, names = loaded.X, list(loaded.feature_names)
    if columns:
        positions = _select_columns(names, columns, loaded.name)
        X, names = X[:, positions], [names[p] for p in positions]
    return _Loaded(
        X,
        names,
        loaded.target,
        list(loaded.target_names) if loaded.target_names is not None else None,
        dict(loaded.units or {}),
        loaded.name,
        loaded.description,
    )


def _load_file(data, columns, labels):
    """The user's file: features, the true labels of ``labels``, a saved row index dropped."""
    notices = []
    label_position = None
    chosen = columns is not None
    if labels is not None:
        names = _column_names(data)
        label_position = _select_columns(names, [labels], str(data))[0]
        if columns is None:
            columns = [j for j in range(len(names)) if j != label_position]
            if not columns:
                raise ValueError(f"{data}: the labels column {labels!r} is its only column")
        elif label_position in _select_columns(names, columns, str(data)):
            raise ValueError(
                f"{data}: column {names[label_position]!r} is both a feature (columns) and "
                "the true labels (labels): leave it out of the columns"
            )
    table = read_table(data, columns=columns)
    X, names = table.X, list(table.feature_names)
    # Only when the columns were not chosen: a column asked for is kept whatever it holds.
    if not chosen and saved_row_index(X, names):
        notices.append(index_notice(names[0], X.shape[0]))
        X, names = X[:, 1:], names[1:]
    target, target_names = None, None
    if label_position is not None:
        target, target_names = _read_labels(data, label_position)
    description = "user data" + "".join(f"; {notice}" for notice in notices)
    return _Loaded(X, names, target, target_names, {}, str(data), description, tuple(notices))


def _load_large_file(data, columns, labels, missing, random_state):
    """A seeded sample of the rows of a file too large for memory, and its reader."""
    if labels is not None:
        raise ValueError(
            f"{data}: true labels (labels, --labels) are not read from a file this large (a "
            "Parquet folder, or larger than GAUSSMIX_STREAM_BYTES): run the lab without them, "
            "or on a sample of the file"
        )
    rows = open_rows(data, columns, missing="keep")
    notices = []
    if columns is None:
        rows, dropped = without_saved_index(rows)
        if dropped is not None:
            notices.append(index_notice(dropped, rows.shape[0]))
    n_rows = rows.shape[0]
    indices = sample_indices(n_rows, LAB_SAMPLE_ROWS, random_state)
    X = np.asarray(rows[indices], dtype=np.float64)
    incomplete = int(np.isnan(X).any(axis=1).sum())
    if missing == "drop" and incomplete:
        raise ValueError(
            f"{data}: {incomplete} of the {len(indices):,} rows the lab sampled have missing "
            "values, and rows cannot be left out of a file read block by block: fill them in "
            "with missing='impute' (--missing impute), or drop them from the file first"
        )
    if missing == "drop":
        rows.missing = "raise"  # the refit names any missing value the sample did not meet
    notices.append(
        f"{n_rows:,} rows, read block by block (a file this large is not held in memory): "
        f"the lab prepares, searches and draws a seeded sample of {len(indices):,} of them, "
        "then refits the chosen model on every row but the sample's test rows"
    )
    description = "user data" + "".join(f"; {notice}" for notice in notices)
    return _Loaded(
        X,
        list(rows.feature_names),
        None,
        None,
        {},
        str(data),
        description,
        tuple(notices),
        _Stream(rows, indices),
    )


class _PreparedRows:
    """Every row of a file but ``excluded``, prepared (imputed, standardised) as the sample was.

    An array-like the estimators read block by block: ``shape``, ``dtype`` and
    row indexing, row ``v`` being the ``v``-th row of the file that is not excluded.
    """

    ndim = 2

    def __init__(self, rows, prepared, excluded):
        self.rows, self.prepared = rows, prepared
        self.excluded = np.sort(np.asarray(excluded, dtype=np.int64))
        # Rows kept before each excluded one: row v of the view is file row v + (excluded
        # rows before it), the count of these that are at most v.
        self._kept_before = self.excluded - np.arange(self.excluded.size)
        self.shape = (rows.shape[0] - self.excluded.size, rows.shape[1])
        self.dtype = np.dtype(np.float64)

    def __len__(self):
        return self.shape[0]

    def file_rows(self, view_rows):
        """The file's row numbers of rows of this view."""
        view_rows = np.asarray(view_rows, dtype=np.int64)
        return view_rows + np.searchsorted(self._kept_before, view_rows, side="right")

    def __getitem__(self, key):
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(self.shape[0])
            if stop <= start:
                return np.empty((0, self.shape[1]))
            first, last = self.file_rows([start, stop - 1])
            block = self.rows[first : last + 1]
            inside = self.excluded[(self.excluded >= first) & (self.excluded <= last)]
            block = np.delete(block, inside - first, axis=0)
        else:
            indices = np.arange(self.shape[0])[key] if isinstance(key, slice) else key
            block = self.rows[self.file_rows(indices)]
        return self.prepared.transform(block)


def _refit_on_all_rows(chosen, loaded, prepared):
    """``chosen`` refitted from its parameters on the file's rows but the sample's test rows."""
    view = _PreparedRows(loaded.stream.rows, prepared, loaded.stream.indices[prepared.test_index])
    refit = GaussianMixture(**chosen.get_params())
    refit.set_params(
        n_init=1,
        weights_init=chosen.weights_,
        means_init=chosen.means_,
        precisions_init=chosen.precisions_,
    )
    return refit.fit(view), view.shape[0]


def index_notice(name, n_rows) -> str:
    """The notice that a leading column (``name``) was left out as a saved row index."""
    return (
        f"left out the first column ({name!r}, unnamed in the file): it holds only the row "
        f"numbers 0 to {n_rows - 1}, a saved row index such as DataFrame.to_csv writes; "
        "name the columns to keep it"
    )


def _column_names(data):
    """The column names of the user's file, as :func:`read_table` names them."""
    from ..data import tables

    path = Path(data)
    tables._check_is_file(path)
    if tables._is_parquet(path):
        return list(tables._read_parquet(path, str(path))[0])
    return list(tables._sniff_delimited(path, str(path)).names)


def _read_labels(data, position):
    """The true labels in one column of the user's file, as integer codes and their names.

    Labels may be text (species names) or numbers; a row without one is refused,
    since the adjusted Rand index compares a label for every row.
    """
    import pandas as pd

    from ..data import tables

    path = Path(data)
    if tables._is_parquet(path):
        names, raw = tables._read_parquet(path, str(path))
        values = raw[position].astype(object).where(raw[position].notna(), "").astype(str)
    else:
        sniffed = tables._sniff_delimited(path, str(path))
        names, raw = tables._read_delimited(path, str(path), sniffed)
        values = raw[position].astype(str)
    values = values.str.strip().reset_index(drop=True)
    missing = values.str.lower().isin(tables.MISSING_VALUES) | values.str.lower().eq("none")
    if missing.any():
        raise ValueError(
            f"{data}: the labels column {names[position]!r} has no label in "
            f"{int(missing.sum())} rows: the adjusted Rand index needs one for every row"
        )
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), [str(value) for value in uniques]


def display_model(model, prepared):
    """The chosen model mapped back to the data's units, as a full-covariance mixture.

    Standardisation is affine, ``z = (x - m) / s``; a Gaussian in ``z`` is the
    Gaussian in ``x`` with mean ``m + s mu`` and covariance ``S Sigma S``
    (``S = diag(s)``). The posteriors are unchanged (the Jacobian is the same
    for every component), so labels and uncertainties agree with the model's.
    Used to draw figures in the data's own units, and saved as ``model.gaussmix``.

    What a full-covariance model cannot say about itself is recorded on it
    (and saved with it): ``fitted_covariance_type_`` and
    ``fitted_n_parameters_``, the covariance model fitted and its free
    parameters; ``standardisation_mean_`` and ``standardisation_scale_``, the
    standardisation undone (when there was one). ``lower_bound_`` and
    ``lower_bounds_`` are moved to the data's units too: a log-density there is
    the standardised one minus ``sum(log(scale))``.

    Parameters
    ----------
    model : fitted GaussianMixture
    prepared : gaussmix.data.Prepared

    Returns
    -------
    GaussianMixture
        Fitted, ``covariance_type='full'``.
    """
    from ..engine.criteria import component_covariance_matrices

    n_components, n_features = model.means_.shape
    covariances = component_covariance_matrices(
        model.covariances_, model.covariance_type, n_components, n_features
    )
    if prepared.scaler is not None:
        scale = np.asarray(prepared.scaler.scale_, dtype=np.float64)
        offset = np.asarray(prepared.scaler.mean_, dtype=np.float64)
    else:
        scale, offset = np.ones(n_features), np.zeros(n_features)
    means = model.means_ * scale + offset
    covariances = covariances * scale[None, :, None] * scale[None, None, :]
    precisions = np.linalg.inv(covariances)
    # Upper factors P with P P' = precision, scikit-learn's convention.
    lower = np.linalg.cholesky(covariances)
    precisions_cholesky = np.swapaxes(np.linalg.inv(lower), -1, -2)
    shown = GaussianMixture(n_components=n_components, covariance_type="full")
    shown.weights_ = np.asarray(model.weights_, dtype=np.float64)
    shown.means_ = means
    shown.covariances_ = covariances
    shown.precisions_ = precisions
    shown.precisions_cholesky_ = precisions_cholesky
    shown.converged_, shown.n_iter_ = model.converged_, model.n_iter_
    log_jacobian = float(np.sum(np.log(scale)))
    shown.lower_bound_ = float(model.lower_bound_) - log_jacobian
    shown.lower_bounds_ = [float(value) - log_jacobian for value in model.lower_bounds_]
    shown.n_features_in_ = n_features
    shown.fitted_covariance_type_ = str(model.covariance_type)
    shown.fitted_n_parameters_ = int(model._n_parameters())
    if prepared.scaler is not None:
        shown.standardisation_mean_ = offset.copy()
        shown.standardisation_scale_ = scale.copy()
    names = getattr(prepared, "feature_names", None)
    if names is not None and len(names) == n_features:
        shown.feature_names_in_ = np.asarray([str(name) for name in names], dtype=object)
    return shown


def _log_jacobian_rows(prepared, X):
    """Each row's ``log`` of the standardisation's Jacobian: its observed features' log-scales.

    A row's log-density in the data's units is its standardised one minus this;
    a row with missing values is scored on its observed features only.
    """
    X = np.asarray(X)
    if prepared.scaler is None:
        return np.zeros(X.shape[0])
    log_scale = np.log(np.asarray(prepared.scaler.scale_, dtype=np.float64))
    return np.where(np.isnan(X), 0.0, log_scale).sum(axis=1)


def _drawable(model, X):
    """Rows for a figure: complete rows as they are, incomplete ones imputed by the model."""
    return model.impute(X) if np.isnan(X).any() else X


def _figures(selector, variational, model, shown, prepared, names, units, out_dir):
    """Draw and save the four figures; return their paths.

    Training and test rows are passed apart (``X`` and ``test_X``), so that the
    figures tell them apart; in the data's units up to
    :data:`gaussmix.plot.MAX_PAIR_FEATURES` features, else on the model's scale
    (principal components of the standardised features). Rows with missing
    values are drawn at their model-imputed values (:func:`_drawable`). The
    fourth figure is the search's criteria, or the variational fit's weights.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import pandas as pd

    from .. import plot

    n_features = prepared.X_train.shape[1]
    has_test = prepared.X_test.shape[0] > 0
    scaled = prepared.scaler is not None
    paths = {}
    chosen = (
        f"chosen by {selector.criterion.upper()}"
        if selector is not None
        else f"kept of {variational.n_components} by a variational fit"
    )
    described = (
        f"{model.n_components}-component Gaussian mixture\n{model.covariance_type} covariance, "
        f"{chosen}"
    )
    headings = {
        "clusters": "Clusters",
        # One feature is drawn as a density curve over a histogram, not a log-density map.
        "density": "Density" if n_features == 1 else "Log-density",
        "uncertainty": "Classification uncertainty",
    }

    def save(figure, name):
        path = out_dir / f"{name}.png"
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format="png", dpi=FIGURE_DPI)
        plt.close(figure)
        paths[name] = path

    many = n_features > plot.MAX_PAIR_FEATURES
    train = _drawable(model, prepared.X_train)
    test = _drawable(model, prepared.X_test) if has_test else None
    if many:
        X, test_X = train, test
    else:
        X = pd.DataFrame(prepared.inverse_transform(train), columns=names)
        test_X = pd.DataFrame(prepared.inverse_transform(test), columns=names) if has_test else None
    for kind in ("clusters", "density", "uncertainty"):
        title = f"{headings[kind]}: {described}"
        if many:
            # Principal components of the features the model saw (standardised
            # unless --no-scale): in raw units the widest-ranging feature would be PC1.
            title += "\non the first two principal components of the " + (
                "standardised features" if scaled else "features"
            )
        figure = plot.plot_overview(
            model if many else shown,
            X,
            test_X=test_X,
            kind=kind,
            feature_names=names,
            units=units,
            title=title,
        )
        save(figure, kind)
    figure, ax = plt.subplots(figsize=plot.FIGURE_INCHES, layout="constrained")
    if selector is not None:
        plot.plot_criterion(selector, ax=ax)
        save(figure, "criterion")
    else:
        plot.plot_weights(variational, ax=ax)
        save(figure, "weights")
    return paths


def _assignments_frame(model, prepared, n_rows):
    """One row per input row: split, label, log-densities, uncertainty, probabilities.

    ``log_density_data_units`` is the density of the row in the data's own
    units, what ``gaussmix score model.gaussmix`` gives on the raw row; with
    standardisation ``log_density_standardised`` is the fitted model's, on the
    scale it was fitted on (larger by the sum of the log-scales of the row's
    observed features). A row with missing values is scored and labelled on
    its observed features (``missing='model'``); rows left out (``dropped``:
    by ``missing='drop'``, or with no observed value) have no label.
    """
    import pandas as pd

    n_components = model.n_components
    scaled = prepared.scaler is not None
    frame = pd.DataFrame({"row": np.arange(n_rows), "split": "dropped"})
    frame["label"] = pd.array([pd.NA] * n_rows, dtype="Int64")
    frame["log_density_data_units"] = np.nan
    if scaled:
        frame["log_density_standardised"] = np.nan
    frame["uncertainty"] = np.nan
    probabilities = np.full((n_rows, n_components), np.nan)
    for split, X, index in (
        ("train", prepared.X_train, prepared.train_index),
        ("test", prepared.X_test, prepared.test_index),
    ):
        if len(index) == 0:
            continue
        proba = model.predict_proba(X)
        frame.loc[index, "split"] = split
        frame.loc[index, "label"] = proba.argmax(axis=1)
        log_density = model.score_samples(X)
        frame.loc[index, "log_density_data_units"] = log_density - _log_jacobian_rows(prepared, X)
        if scaled:
            frame.loc[index, "log_density_standardised"] = log_density
        frame.loc[index, "uncertainty"] = 1.0 - proba.max(axis=1)
        probabilities[index] = proba
    for k in range(n_components):
        frame[f"p{k}"] = probabilities[:, k]
    return frame


def _write_assignments_by_block(path, model, prepared, stream):
    """``assignments.csv`` for every row of a file read block by block, written as produced.

    Rows are ``"test"`` where the sample held them out (the refit did not see
    them), ``"train"`` elsewhere; the columns are those of :func:`_assignments_frame`.
    """
    import pandas as pd

    rows = stream.rows
    test_rows = stream.indices[prepared.test_index]
    scaled = prepared.scaler is not None
    log_jacobian = float(np.sum(np.log(prepared.scaler.scale_))) if scaled else 0.0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        for start in range(0, rows.shape[0], ASSIGNMENT_BLOCK_ROWS):
            stop = min(start + ASSIGNMENT_BLOCK_ROWS, rows.shape[0])
            X = prepared.transform(rows[start:stop])
            proba = model.predict_proba(X)
            log_density = model.score_samples(X)
            number = np.arange(start, stop)
            frame = pd.DataFrame({"row": number})
            frame["split"] = np.where(np.isin(number, test_rows), "test", "train")
            frame["label"] = pd.array(proba.argmax(axis=1), dtype="Int64")
            frame["log_density_data_units"] = log_density - log_jacobian
            if scaled:
                frame["log_density_standardised"] = log_density
            frame["uncertainty"] = 1.0 - proba.max(axis=1)
            for k in range(model.n_components):
                frame[f"p{k}"] = proba[:, k]
            frame.to_csv(handle, index=False, header=start == 0, chunksize=8192)


def _missing_text(pre) -> str:
    """How the missing values were handled, in a few words (summary's ``preprocessing``)."""
    rows = pre["rows_with_missing"]
    if not rows:
        return "no missing values"
    values = pre.get("values_missing")
    counted = f"{values} missing values in {rows} rows" if values is not None else f"{rows} rows"
    if pre["missing"] == "model":
        without = pre.get("rows_without_values", pre["rows_dropped"])
        return f"{counted}, fitted by the model on the observed values" + (
            f" ({without} with no observed value left out)" if without else ""
        )
    if pre["missing"] == "impute":
        return f"{counted}, {pre['values_imputed']} values imputed with training medians"
    return f"{counted}, {pre['rows_dropped']} rows dropped"


def _model_description(model):
    return (
        f"{model.n_components} component{'s' if model.n_components != 1 else ''}, "
        f"{model.covariance_type} covariance"
    )


def run_lab(
    dataset="faithful",
    *,
    data=None,
    columns=None,
    labels=None,
    out_dir="gaussmix-lab",
    n_components=range(1, 10),
    covariance_types=DEFAULT_COVARIANCE_TYPES,
    criterion="bic",
    scale=True,
    missing="model",
    test_size=0.25,
    random_state=0,
    n_init=5,
    n_jobs=None,
    progress=False,
    force=False,
    method="search",
):
    """Run the whole workflow and write its outputs into ``out_dir``.

    Parameters
    ----------
    dataset : {'faithful', 'iris', 'wine', 'breast_cancer'}, default='faithful'
        A data set shipped with gaussmix or scikit-learn; ignored when ``data`` is given.
    data : str or os.PathLike, default=None
        A CSV or Parquet file of the user's (see :func:`gaussmix.data.read_table`).
    columns : list of str, default=None
        Columns to use (names or 0-based positions); default all (of a file: all
        but ``labels`` and a leading saved row index, see below).
    labels : str, default=None
        A column of ``data`` holding each row's true class (text or numbers),
        left out of the features: the summary and the report then give the
        adjusted Rand index of the clusters against it, as for the bundled data
        sets with classes. Every row needs a label.

        Unless ``columns`` are given, a first column of ``data`` that is
        unnamed (an empty header field or ``Unnamed: 0``) and holds exactly the
        row numbers 0, 1, ..., n - 1 is left out as a saved row index (what
        ``DataFrame.to_csv`` writes by default), with a notice in the summary's
        ``notices`` and the report.
    out_dir : str or os.PathLike, default='gaussmix-lab'
        The folder of results, built whole beside it and swapped in at the end.
        An existing folder is replaced when it is empty or holds only files
        the lab writes (a previous lab's); else the lab refuses before it starts.
    n_components, covariance_types, criterion : as in :class:`GaussianMixtureIC`
        (an int ``n_components`` searches 1 to it; ``[3]`` fits exactly 3). The
        model's file ``model.gaussmix`` records the covariance model chosen,
        its free parameters and the standardisation (see :func:`display_model`).
    scale : bool, default=True
        Standardise the features (on the training rows' means and deviations).
    missing : {'model', 'impute', 'drop'}, default='model'
        Missing values (NaN, or an empty field of a file): ``'model'`` fits the
        mixture on the incomplete rows (their observed values) and imputes
        from the model where a figure needs complete rows; ``'impute'`` fills
        in training medians (imputed values repeat exactly, and a mixture can
        spend a component on such a spike); ``'drop'`` leaves out every row
        with a missing value. With ``'model'`` a row with no observed value is
        left out (no label in ``assignments.csv``). ``'model'`` falls back to
        ``'impute'``, with a notice, on a file read block by block and with
        ``method='bayes'``.
    test_size : float, default=0.25
        Fraction of rows held out as the test set (0 for none).
    random_state : int, default=0
        Seed of the split and of the model search.
    n_init : int, default=5
        Starts per candidate model.
    n_jobs : int or None, default=None
        Candidates fitted in parallel (joblib; -1: one process per CPU). None
        chooses by the training rows' shape
        (:func:`gaussmix.estimators.model_selection.search_n_jobs`): one process
        for small data, where starting workers costs more than they save, else
        one per CPU.
    progress : bool or {'bar', 'log'}, default=False
        Report the candidates as they finish (see :class:`GaussianMixtureIC`): a
        bar on a terminal, one line per candidate on stderr otherwise.
    force : bool, default=False
        Replace ``out_dir`` even when it holds files the lab did not write
        (they are removed with it). A data file inside ``out_dir`` is refused
        even so.
    method : {'search', 'bayes'}, default='search'
        ``'search'``: choose a model by ``criterion`` over ``n_components`` x
        ``covariance_types``. ``'bayes'``: fit one
        :class:`gaussmix.BayesianGaussianMixture` with as many components as
        the largest of ``n_components`` (9 by default) under a Dirichlet-process
        prior on the weights, ``n_init`` starts and up to
        :data:`BAYES_MAX_ITER` iterations, and keep the components that explain
        more than 1% of the training rows (``to_gaussian_mixture()``): the
        figures, assignments and model files are those of the kept mixture,
        ``weights.png`` shows every component's share, and the report says how
        many the data kept. Its covariance model: ``'full'`` unless
        ``covariance_types`` names one of :data:`BAYES_COVARIANCE_TYPES`
        (``criterion`` is not used).

    Returns
    -------
    LabResult
        Its ``files`` are in ``out_dir``.

    Raises
    ------
    ValueError
        When ``out_dir`` holds other files (without ``force``) or the data file;
        when the data cannot be fitted (see
        :func:`gaussmix.data.preparation.check_can_fit`).
    OSError
        When ``out_dir`` cannot be written; both before any work.
    """
    started = time.perf_counter()
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    if missing not in MISSING_CHOICES:
        raise ValueError(
            f"missing must be one of {', '.join(map(repr, MISSING_CHOICES))}, got {missing!r}"
        )
    counts = range(1, int(n_components) + 1) if np.ndim(n_components) == 0 else list(n_components)
    bayes_covariance = None
    if method == "bayes":
        bayes_covariance = _bayes_covariance(covariance_types)
    _check_out_dir(out_dir, data, force)
    requested_missing = missing
    large = data is not None and is_large_file(data)
    if large and missing == "model":
        missing = "impute"  # a file read block by block is not fitted with missing values
    loaded = _load(dataset, data, columns, labels, missing, random_state)
    X = loaded.X
    has_missing = bool(np.isnan(X).any())
    if requested_missing == "model" and missing == "impute" and has_missing:
        loaded = _with_notice(
            loaded,
            "missing values filled in with training medians (missing='impute'): a file read "
            "block by block is not fitted with missing values (missing='model')",
        )
    if method == "bayes" and missing == "model" and has_missing:
        missing = "impute"
        loaded = _with_notice(
            loaded,
            "missing values filled in with training medians (missing='impute'): the "
            "variational fit (method='bayes') needs complete rows; missing='model' is for "
            "the search",
        )
    left_out = {}
    if (
        method == "search"
        and covariance_types == DEFAULT_COVARIANCE_TYPES
        and X.shape[1] > MAX_ROTATION_FEATURES
    ):
        # EVE and VVE fit one D x D rotation shared by all components, by Newton
        # steps over D (D - 1) / 2 angles: past a few dozen angles a grid of them
        # takes minutes. They are one --covariance away.
        covariance_types = [name for name in MCLUST_NAMES if name not in ("EVE", "VVE")]
        n_angles = X.shape[1] * (X.shape[1] - 1) // 2
        left_out = dict.fromkeys(
            ("EVE", "VVE"),
            f"left out of the lab's default grid on more than {MAX_ROTATION_FEATURES} "
            f"features: their shared rotation is fitted by Newton steps over {n_angles} "
            "angles, minutes per candidate (include them with --covariance)",
        )
    prepared = prepare(
        X,
        target=loaded.target,
        missing=missing,
        scale=scale,
        test_size=test_size,
        random_state=random_state,
        feature_names=loaded.names,
    )
    settings = {
        "method": method,
        "missing": missing,
        "missing_requested": requested_missing,
        "missing_patterns": count_patterns(X),
        "rows_without_values": int(np.isnan(X).all(axis=1).sum()),
        "test_size": test_size,
        "random_state": random_state,
        "n_init": n_init,
        "criterion": criterion,
        "left_out": left_out,
        "labels": labels,
    }
    selector = variational = None
    if method == "search":
        check_can_fit(prepared.X_train, counts, covariance_types, loaded.names)
        with warnings.catch_warnings(), workers_end_with_parent():
            # Spurious candidates are counted in the summary and marked in the report.
            warnings.simplefilter("ignore", SpuriousFitWarning)
            selector = GaussianMixtureIC(
                n_components=n_components,
                covariance_types=covariance_types,
                criterion=criterion,
                n_init=n_init,
                random_state=random_state,
                n_jobs=search_n_jobs(*prepared.X_train.shape) if n_jobs is None else n_jobs,
                progress=progress,
            ).fit(prepared.X_train)
        model = selector.best_estimator_
    else:
        n_max = max(counts)
        check_can_fit(prepared.X_train, [1], [bayes_covariance], loaded.names)
        variational = BayesianGaussianMixture(
            n_components=n_max,
            covariance_type=bayes_covariance,
            weight_concentration_prior_type="dirichlet_process",
            n_init=n_init,
            max_iter=BAYES_MAX_ITER,
            random_state=random_state,
        ).fit(prepared.X_train)
        model = variational.to_gaussian_mixture()
        # Not fitted by EM, it has no lower bound (-inf): its training mean log-likelihood
        # stands in, so that the model files say what `gaussmix info` shows of other labs'.
        model.lower_bound_ = float(model.score(prepared.X_train))
        model.lower_bounds_ = [model.lower_bound_]
    n_refit_rows = None
    if loaded.stream is not None:
        model, n_refit_rows = _refit_on_all_rows(model, loaded, prepared)
    settings["model"], settings["n_refit_rows"] = model, n_refit_rows
    settings["variational"] = variational
    with atomic_folder(out_dir, replaceable=None if force else LAB_FILES) as private:
        result = _write_outputs(private, started, selector, prepared, loaded, settings)
    result.files = {name: Path(out_dir) / path.name for name, path in result.files.items()}
    return result


def _bayes_covariance(covariance_types):
    """The one covariance model ``method='bayes'`` fits: ``'full'`` unless one is named."""
    if covariance_types in (DEFAULT_COVARIANCE_TYPES, "scikit-learn"):
        return "full"
    names = [covariance_types] if isinstance(covariance_types, str) else list(covariance_types)
    supported = ", ".join(BAYES_COVARIANCE_TYPES)
    if len(names) != 1:
        raise ValueError(
            f"method='bayes' (--method bayes) fits one covariance model, got {len(names)} "
            f"({', '.join(map(str, names))}): name one of {supported}"
        )
    (name,) = names
    if name in ("V", "E"):  # one feature: the variational V and E are VVV and EEE there
        return {"V": "full", "E": "tied"}[name]
    if name not in BAYES_COVARIANCE_TYPES:
        raise ValueError(
            f"method='bayes' (--method bayes) cannot fit {name!r} covariance: its variational "
            f"posterior has no closed form; name one of {supported}"
        )
    return name


def _with_notice(loaded, notice):
    """``loaded`` with one more notice, in its description too."""
    return loaded._replace(
        notices=(*loaded.notices, notice), description=f"{loaded.description}; {notice}"
    )


def _check_out_dir(out_dir, data, force) -> None:
    """Refuse, before any work, an output folder the lab could not or should not replace."""
    if os.fspath(out_dir) == "-":
        raise ValueError("the lab writes a folder of files, not standard output: give a folder")
    target = check_folder_writable(out_dir)
    if data is not None and os.path.exists(data):
        source = Path(os.path.realpath(data))
        if source.is_relative_to(target):
            raise ValueError(
                f"the data file {os.fspath(data)!r} is inside the output folder "
                f"{os.fspath(out_dir)!r}, which the lab replaces: choose another output folder"
            )
    if force or not target.is_dir():
        return
    foreign = sorted(
        entry.name
        for entry in os.scandir(target)
        if entry.name not in LAB_FILES or not entry.is_file(follow_symlinks=False)
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise ValueError(
            f"the output folder {os.fspath(out_dir)!r} holds files the lab did not write "
            f"({shown}) and the lab replaces the whole folder: choose another folder, or "
            "replace it anyway with force=True (gaussmix lab --force)"
        )


@contextmanager
def workers_end_with_parent():
    """Make the search's worker processes end with this process, even when it is killed.

    joblib's process pool (loky) keeps its workers and their shared-memory
    files after the process that started them is killed (``kill -9``):
    measured on Linux with joblib 1.6, the two workers and two resource
    trackers of a killed ``gaussmix lab`` were still there 38 minutes later
    (workers blocked reading their task queue, so loky's 300 s idle timeout
    never fired), with 8 semaphores and 3 memory-mapping folders in
    ``/dev/shm``; with this context all were gone within 0.2 s.

    Within this context a pool started by joblib runs :func:`_end_with_parent`
    in each worker: a thread that ends the worker within
    :data:`PARENT_CHECK_SECONDS` of its parent's end; loky's resource trackers
    then remove the shared memory and end. (Linux's ``PR_SET_PDEATHSIG`` would
    fire when the *thread* that started a worker ends, which need not be the
    process's end.) Where the caller chose another joblib backend, or loky
    with settings of its own, the pool is left as it is.
    """
    try:
        from joblib import parallel_config
        from joblib._parallel_backends import LokyBackend
        from joblib.parallel import get_active_backend
    except ImportError:  # pragma: no cover - a joblib without these names
        yield
        return
    backend, _ = get_active_backend()
    if type(backend) is not LokyBackend or backend.backend_kwargs:
        yield
        return
    with parallel_config(backend="loky", initializer=_end_with_parent, initargs=(os.getpid(),)):
        yield


def _end_with_parent(parent_pid: int) -> None:
    """In a search worker: exit as soon as the process that started it is gone."""

    def watch():
        # An orphan is adopted by another process, so its parent id changes.
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="gaussmix-parent-watch", daemon=True).start()


def _write_outputs(out_dir, started, selector, prepared, loaded, settings):
    names, target, target_names = loaded.names, loaded.target, loaded.target_names
    units, source, description = loaded.units, loaded.source, loaded.description
    model = settings["model"]
    has_test = prepared.X_test.shape[0] > 0
    from sklearn.metrics import adjusted_rand_score

    from .report import render_report

    variational = settings.get("variational")
    train_labels = model.predict(prepared.X_train)
    # A density in the data's units is the standardised one divided by the product of
    # the scales of the row's observed features (all of them for a complete row).
    jacobian_train = _log_jacobian_rows(prepared, prepared.X_train)
    jacobian_test = _log_jacobian_rows(prepared, prepared.X_test)
    log_jacobian = float(jacobian_train.mean()) if jacobian_train.size else 0.0
    test_jacobian = float(jacobian_test.mean()) if jacobian_test.size else 0.0
    sizes = np.bincount(train_labels, minlength=model.n_components)
    train_score = float(model.score(prepared.X_train))
    test_score = float(model.score(prepared.X_test)) if has_test else None
    summary = {
        "gaussmix_version": __version__,
        "source": source,
        "description": description,
        "n_rows": int(prepared.n_rows if loaded.stream is None else loaded.stream.rows.shape[0]),
        "n_features": len(names),
        "feature_names": names,
        "units": units,
        "method": settings["method"],
        "preprocessing": {
            "missing": settings["missing"],
            "missing_requested": settings["missing_requested"],
            "values_missing": int(prepared.n_values_missing),
            "missing_patterns": int(settings["missing_patterns"]),
            "rows_without_values": int(settings["rows_without_values"]),
            "rows_with_missing": int(prepared.n_rows_with_missing),
            "values_imputed": int(prepared.n_values_imputed),
            "rows_dropped": int(prepared.n_rows_dropped),
            "scaled": prepared.scaler is not None,
            "test_size": settings["test_size"],
            "n_train": int(prepared.X_train.shape[0]),
            "n_test": int(prepared.X_test.shape[0]),
            "random_state": settings["random_state"],
        },
        "model": {
            "n_components": int(model.n_components),
            "covariance_type": model.covariance_type,
            "converged": bool(model.converged_),
            "n_iter": int(model.n_iter_),
            "n_parameters": int(model._n_parameters()),
            # model.gaussmix holds this model as full matrices in the data's units.
            "saved_in_data_units_as": "full",
            "weights": [float(w) for w in model.weights_],
            "train_cluster_sizes": [int(s) for s in sizes],
        },
        "train": {
            "bic": float(model.bic(prepared.X_train)),
            "aic": float(model.aic(prepared.X_train)),
            "icl": float(model.icl(prepared.X_train)),
            "mean_log_likelihood": train_score,
            "mean_log_likelihood_data_units": train_score - log_jacobian,
        },
        "test": {
            "mean_log_likelihood": test_score,
            "mean_log_likelihood_data_units": test_score - test_jacobian if has_test else None,
        },
        # Log-likelihoods without a suffix are on the scale the model was fitted on.
        "log_likelihood_scale": "standardised" if prepared.scaler is not None else "data units",
        "notices": list(loaded.notices),
    }
    if selector is not None:
        summary["search"] = {
            "criterion": settings["criterion"],
            "n_components": [int(k) for k in sorted(set(selector.results_["n_components"]))],
            "covariance_types": list(dict.fromkeys(selector.results_["covariance_type"])),
            "n_candidates": len(selector.results_["bic"]),
            "n_spurious": int(np.sum(selector.results_["spurious"])),
            "n_init": settings["n_init"],
            "left_out": settings["left_out"],
        }
    if variational is not None:
        from ..plot import EFFECTIVE_WEIGHT, component_shares

        summary["variational"] = {
            "n_components": int(variational.n_components),
            "effective_n_components": int(variational.effective_n_components_),
            "covariance_type": variational.covariance_type,
            "weight_concentration_prior_type": variational.weight_concentration_prior_type,
            "weight_concentration_prior": float(variational.weight_concentration_prior_),
            "threshold": EFFECTIVE_WEIGHT,
            "shares": [float(v) for v in component_shares(variational)],
            "weights": [float(w) for w in variational.weights_],
            "converged": bool(variational.converged_),
            "n_iter": int(variational.n_iter_),
            "max_iter": int(variational.max_iter),
            "n_init": settings["n_init"],
            "lower_bound": float(variational.lower_bound_),
        }
    if loaded.stream is not None:
        # Everything above but n_rows is of the sample; the model is the refit's.
        summary["sample"] = {
            "n_rows": len(loaded.stream.indices),
            "of_n_rows": int(loaded.stream.rows.shape[0]),
            "random_state": settings["random_state"],
            "refit_n_rows": int(settings["n_refit_rows"]),
            "refit_mean_log_likelihood": float(model.lower_bound_),
            "refit_mean_log_likelihood_data_units": float(model.lower_bound_) - log_jacobian,
        }
    if target is not None:
        labels_all = np.concatenate(
            [train_labels, model.predict(prepared.X_test) if has_test else []]
        ).astype(int)
        truth_all = np.concatenate(
            [prepared.target_train, prepared.target_test if has_test else []]
        ).astype(int)
        summary["adjusted_rand_index"] = {
            "all": float(adjusted_rand_score(truth_all, labels_all)),
            "train": float(adjusted_rand_score(prepared.target_train, train_labels)),
            "test": float(
                adjusted_rand_score(prepared.target_test, labels_all[len(train_labels) :])
            )
            if has_test
            else None,
            "target_names": target_names,
            "labels_column": settings["labels"],
        }

    # Figures in the data's units: the imputed rows mapped back through the scaler.
    shown = display_model(model, prepared)
    if prepared.scaler is not None and np.isnan(prepared.X_train).any():
        # Incomplete training rows: the mean of each row's own Jacobian (the scales of
        # its observed features), not every feature's, as display_model assumes.
        shift = float(np.sum(np.log(prepared.scaler.scale_))) - log_jacobian
        shown.lower_bound_ = float(shown.lower_bound_) + shift
        shown.lower_bounds_ = [float(value) + shift for value in shown.lower_bounds_]
    files = _figures(selector, variational, model, shown, prepared, names, units, out_dir)

    # The chosen model in the data's units (usable on raw rows by `gaussmix predict`),
    # and as fitted, on the standardised scale of preprocessing.json.
    files["model"] = out_dir / "model.gaussmix"
    shown.save(files["model"])
    files["model_standardised"] = out_dir / "model-standardised.gaussmix"
    model.save(files["model_standardised"])
    if variational is not None:
        files["model_variational"] = out_dir / "model-variational.gaussmix"
        variational.save(files["model_variational"])
    files["preprocessing"] = out_dir / "preprocessing.json"
    write_text(files["preprocessing"], json.dumps(_preprocessing(prepared, names), indent=2))
    files["assignments"] = out_dir / "assignments.csv"
    with atomic_path(files["assignments"]) as temporary:
        if loaded.stream is None:
            _assignments_frame(model, prepared, prepared.n_rows).to_csv(temporary, index=False)
        else:
            _write_assignments_by_block(temporary, model, prepared, loaded.stream)
    if selector is not None:
        files["candidates"] = out_dir / "candidates.csv"
        with atomic_path(files["candidates"]) as temporary:
            selector.results_frame().to_csv(temporary, index=False)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    files["summary"] = out_dir / "summary.json"
    write_text(files["summary"], json.dumps(summary, indent=2))
    result = LabResult(
        source=source,
        description=description,
        feature_names=loaded.names,
        units=units,
        prepared=prepared,
        selector=selector,
        model=model,
        summary=summary,
        files=files,
        variational=variational,
    )
    files["report"] = out_dir / "report.html"
    write_text(files["report"], render_report(result))
    return result


def _preprocessing(prepared, names):
    scaler, imputer = prepared.scaler, prepared.imputer
    return {
        "feature_names": names,
        "impute_medians": None if imputer is None else [float(v) for v in imputer.statistics_],
        "scale_means": None if scaler is None else [float(v) for v in scaler.mean_],
        "scale_deviations": None if scaler is None else [float(v) for v in scaler.scale_],
        "missing": prepared.missing,
        "note": "the model works on (x - scale_means) / scale_deviations, "
        + (
            "missing values kept (NaN): the model scores a row on its observed features"
            if prepared.missing == "model"
            else "missing values replaced by impute_medians first"
        ),
    }


def format_summary(result: LabResult) -> str:
    """A few lines for the terminal, ending with the report's path.

    Parameters
    ----------
    result : LabResult

    Returns
    -------
    str
    """
    s = result.summary
    pre = s["preprocessing"]
    if "search" in s:
        how = (
            f"search: {s['search']['n_candidates']} candidates by "
            f"{s['search']['criterion'].upper()} ({s['search']['n_spurious']} spurious, excluded)"
        )
    else:
        bayes = s["variational"]
        how = (
            f"variational fit (method bayes): the data kept {bayes['effective_n_components']} "
            f"of {bayes['n_components']} components (more than {bayes['threshold']:.0%} of the "
            "training rows each)"
        )
    lines = [
        f"data: {s['source']} ({s['description']}), {s['n_rows']} rows x "
        f"{s['n_features']} features: {', '.join(s['feature_names'])}",
        f"prepared: {pre['n_train']} train / {pre['n_test']} test rows; "
        f"{_missing_text(pre)}; {'standardised' if pre['scaled'] else 'not scaled'}",
        how,
        f"chosen: {_model_description(result.model)}, {s['model']['n_parameters']} free "
        f"parameters; BIC {s['train']['bic']:.2f}, "
        f"AIC {s['train']['aic']:.2f}, ICL {s['train']['icl']:.2f}",
        f"mean log-likelihood in the data's units: train "
        f"{s['train']['mean_log_likelihood_data_units']:.4f}"
        + (
            f", test {s['test']['mean_log_likelihood_data_units']:.4f}"
            if s["test"]["mean_log_likelihood_data_units"] is not None
            else ""
        )
        + (
            f" (standardised: train {s['train']['mean_log_likelihood']:.4f}"
            + (
                f", test {s['test']['mean_log_likelihood']:.4f}"
                if s["test"]["mean_log_likelihood"] is not None
                else ""
            )
            + ")"
            if pre["scaled"]
            else ""
        ),
        "weights: " + ", ".join(f"{w:.3f}" for w in s["model"]["weights"]),
    ]
    if "sample" in s:
        sample = s["sample"]
        lines.insert(
            1,
            f"sample: {sample['n_rows']:,} of {sample['of_n_rows']:,} rows prepared, searched "
            f"and drawn; the chosen model refitted on {sample['refit_n_rows']:,} rows (mean "
            "log-likelihood in the data's units "
            f"{sample['refit_mean_log_likelihood_data_units']:.4f})",
        )
    if "adjusted_rand_index" in s:
        ari = s["adjusted_rand_index"]
        against = f" (column {ari['labels_column']!r})" if ari.get("labels_column") else ""
        lines.append(f"adjusted Rand index vs true classes{against}: {ari['all']:.3f} (all rows)")
    lines.append(f"report: {result.files['report']}")
    return "\n".join(lines)
