"""`gaussmix lab` end to end, checked against computations that do not use gaussmix."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from sklearn.model_selection import train_test_split

import gaussmix
from gaussmix import cli
from gaussmix.datasets import load_faithful
from gaussmix.lab.workflow import FIGURE_DPI, LAB_FILES, METHOD_FILES, display_model, run_lab
from gaussmix.plot import FIGURE_INCHES, PAIR_PANEL_INCHES

FIGURES = ("clusters", "density", "uncertainty", "criterion")
FILES = (
    "report.html",
    "model.gaussmix",
    "model-standardised.gaussmix",
    "assignments.csv",
    "candidates.csv",
    "summary.json",
    "preprocessing.json",
    *(f"{name}.png" for name in FIGURES),
)


@pytest.fixture(scope="module")
def faithful_lab(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab") / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(["lab", "--out", str(out), "--no-progress"])
    return out, status, stdout.getvalue(), stderr.getvalue()


def _standardised_faithful_split():
    """The lab's default preparation, redone with scikit-learn and NumPy only."""
    X, _ = load_faithful()
    # The lab keeps each set's rows in file order.
    train_index, test_index = (
        np.sort(index)
        for index in train_test_split(np.arange(len(X)), test_size=0.25, random_state=0)
    )
    train, test = X[train_index], X[test_index]
    mean, std = train.mean(axis=0), train.std(axis=0)
    return (train - mean) / std, (test - mean) / std


def test_lab_writes_every_promised_file(faithful_lab):
    out, status, stdout, _ = faithful_lab
    assert status == 0
    for name in FILES:
        assert (out / name).is_file(), name
        assert (out / name).stat().st_size > 0
    # Nothing half-written is left behind.
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert stdout.strip().splitlines()[-1] == f"report: {out / 'report.html'}"


@pytest.mark.parametrize("name", FIGURES)
def test_figures_decode_have_the_promised_size_and_are_not_blank(faithful_lab, name):
    out = faithful_lab[0]
    pixels = matplotlib.image.imread(out / f"{name}.png")
    width, height = (round(side * FIGURE_DPI) for side in FIGURE_INCHES)
    assert pixels.shape[:2] == (height, width)
    rgb = pixels[..., :3].reshape(-1, 3)
    assert rgb.std() > 0.05
    assert len(np.unique(np.round(rgb, 2), axis=0)) > 20


def test_report_embeds_every_figure_and_needs_no_network(faithful_lab):
    out = faithful_lab[0]
    page = (out / "report.html").read_text(encoding="utf-8")
    for name in FIGURES:
        encoded = base64.b64encode((out / f"{name}.png").read_bytes()).decode("ascii")
        assert f"data:image/png;base64,{encoded}" in page
    assert "http://" not in page and "https://" not in page
    for text in ("BIC", "AIC", "mean log-likelihood, train", "mean log-likelihood, test"):
        assert text in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


# mclust's counts of free covariance parameters (nVarParams), by hand, for D features
# and K components; means (K D) and weights (K - 1) come on top.
def _mclust_covariance_parameters(name, K, D):
    rotation = D * (D - 1) // 2
    return {
        "EII": 1,
        "VII": K,
        "EEI": D,
        "VEI": K + D - 1,
        "EVI": 1 + K * (D - 1),
        "VVI": K * D,
        "EEE": D * (D + 1) // 2,
        "VEE": K + D - 1 + rotation,
        "EVE": 1 + K * (D - 1) + rotation,
        "VVE": K * D + rotation,
        "EEV": D + K * rotation,
        "VEV": K + D - 1 + K * rotation,
        "EVV": 1 + K * (D - 1) + K * rotation,
        "VVV": K * D * (D + 1) // 2,
    }[name]


SKLEARN_ALIASES = {"VII": "spherical", "VVI": "diag", "EEE": "tied", "VVV": "full"}


def test_chosen_model_and_bic_agree_with_independent_computations(faithful_lab):
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    out = faithful_lab[0]
    summary = json.loads((out / "summary.json").read_text())
    candidates = pd.read_csv(out / "candidates.csv")
    train, _ = _standardised_faithful_split()
    n, d = train.shape
    # 1. The chosen model's BIC from its saved parameters: log-likelihood with SciPy,
    #    parameters counted by hand.
    model = gaussmix.load(out / "model-standardised.gaussmix")
    chosen = summary["model"]
    assert chosen["covariance_type"] == model.covariance_type
    k = model.n_components
    covariances = gaussmix.engine.criteria.component_covariance_matrices(
        model.covariances_, model.covariance_type, k, d
    )
    log_density = logsumexp(
        [
            np.log(w) + multivariate_normal(mean, cov).logpdf(train)
            for w, mean, cov in zip(model.weights_, model.means_, covariances)
        ],
        axis=0,
    )
    n_parameters = _mclust_covariance_parameters(model.covariance_type, k, d) + k * d + k - 1
    independent_bic = -2 * log_density.sum() + n_parameters * np.log(n)
    assert summary["train"]["bic"] == pytest.approx(independent_bic, rel=1e-9)
    assert chosen["n_parameters"] == n_parameters

    # 2. scikit-learn, converged as tightly as the lab's search, from 5 starts, over the
    #    grid of its four covariance types: the lab's table is at least as good on those,
    #    and the lab's choice (from mclust's 14 models, a superset) is at least as good.
    sklearn_best = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for alias, covariance_type in SKLEARN_ALIASES.items():
            for components in range(1, 10):
                reference = SklearnGaussianMixture(
                    components,
                    covariance_type=covariance_type,
                    tol=1e-6,
                    max_iter=1000,
                    n_init=5,
                    random_state=0,
                ).fit(train)
                row = candidates[
                    (candidates.covariance_type == alias) & (candidates.n_components == components)
                ].iloc[0]
                # Same k-means draws, plus mclust's start: never worse, better where
                # the hierarchical start finds a higher maximum, for every candidate
                # whose starts were all run (all those that can win).
                if row.all_starts:
                    assert row.bic <= reference.bic(train) + 0.05, row
                if not row.spurious:
                    sklearn_best = min(sklearn_best, reference.bic(train))
    assert summary["train"]["bic"] <= sklearn_best + 0.05
    best = candidates[~candidates.spurious].bic.idxmin()
    assert candidates.loc[best, "chosen"]
    assert (candidates.loc[best, "n_components"], candidates.loc[best, "covariance_type"]) == (
        k,
        model.covariance_type,
    )
    assert candidates.covariance_type.nunique() == 14


def test_assignments_cover_every_row_and_match_the_saved_model(faithful_lab):
    out = faithful_lab[0]
    table = pd.read_csv(out / "assignments.csv")
    X, _ = load_faithful()
    assert len(table) == X.shape[0]
    assert table["split"].value_counts().to_dict() == {"train": 204, "test": 68}
    model = gaussmix.load(out / "model-standardised.gaussmix")
    train, test = _standardised_faithful_split()
    train_index, test_index = (
        np.sort(index)
        for index in train_test_split(np.arange(X.shape[0]), test_size=0.25, random_state=0)
    )
    rows = table.set_index("row")
    np.testing.assert_array_equal(rows.loc[train_index, "label"], model.predict(train))
    np.testing.assert_array_equal(rows.loc[test_index, "label"], model.predict(test))
    proba = model.predict_proba(test)
    columns = [f"p{k}" for k in range(model.n_components)]
    np.testing.assert_allclose(rows.loc[test_index, columns].to_numpy(), proba, rtol=1e-12)
    np.testing.assert_allclose(
        rows.loc[test_index, "uncertainty"], 1 - proba.max(axis=1), rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(
        rows.loc[test_index, "log_density_standardised"], model.score_samples(test), rtol=1e-12
    )
    # In the data's units a density is divided by the product of the training deviations.
    raw_train = X[train_index]
    np.testing.assert_allclose(
        rows.loc[test_index, "log_density_data_units"],
        model.score_samples(test) - np.sum(np.log(raw_train.std(axis=0))),
        rtol=1e-12,
    )


def test_summary_reports_train_and_test_likelihoods(faithful_lab):
    out = faithful_lab[0]
    summary = json.loads((out / "summary.json").read_text())
    model = gaussmix.load(out / "model-standardised.gaussmix")
    train, test = _standardised_faithful_split()
    assert summary["train"]["mean_log_likelihood"] == pytest.approx(model.score(train))
    assert summary["test"]["mean_log_likelihood"] == pytest.approx(model.score(test))
    assert summary["train"]["aic"] == pytest.approx(model.aic(train))
    labels = model.predict(train)
    assert (
        summary["model"]["train_cluster_sizes"]
        == np.bincount(labels, minlength=model.n_components).tolist()
    )
    assert sum(summary["model"]["weights"]) == pytest.approx(1.0)


def test_display_model_is_the_model_in_data_units():
    """Figures are drawn in the data's units: the affine map of the standardised model."""
    X, _ = load_faithful()
    train, _ = _standardised_faithful_split()
    train_index, _ = train_test_split(np.arange(len(X)), test_size=0.25, random_state=0)
    raw_train = X[np.sort(train_index)]

    class Prepared:  # the two things display_model reads
        class scaler:
            mean_ = raw_train.mean(axis=0)
            scale_ = raw_train.std(axis=0)

    for covariance_type in ("spherical", "diag", "tied", "full"):
        model = gaussmix.GaussianMixture(3, covariance_type=covariance_type, random_state=0)
        model.fit(train)
        shown = display_model(model, Prepared)
        # Posteriors are invariant under the affine map; densities change by the Jacobian.
        np.testing.assert_allclose(shown.predict_proba(raw_train), model.predict_proba(train))
        log_jacobian = np.sum(np.log(Prepared.scaler.scale_))
        np.testing.assert_allclose(
            shown.score_samples(raw_train), model.score_samples(train) - log_jacobian
        )


def test_iris_reports_the_adjusted_rand_index_above_its_floor(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gaussmix.SpuriousFitWarning)
        result = run_lab("iris", out_dir=tmp_path, n_components=range(1, 5), n_init=3)
    ari = result.summary["adjusted_rand_index"]
    # Recompute it independently from the per-row output.
    table = pd.read_csv(tmp_path / "assignments.csv")
    from sklearn.datasets import load_iris

    assert ari["all"] == pytest.approx(adjusted_rand_score(load_iris().target, table["label"]))
    # Floor: versicolor and virginica overlap, so BIC may merge them (as mclust does
    # on iris); a perfect setosa / rest split already scores 0.568 against the three
    # species, and anything that mixes setosa in falls far below it.
    best_two_cluster = adjusted_rand_score(load_iris().target, load_iris().target > 0)
    assert ari["all"] >= best_two_cluster - 0.02
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "adjusted Rand index" in page
    # Four features: pair grids of PAIR_PANEL_INCHES per feature.
    pixels = matplotlib.image.imread(tmp_path / "clusters.png")
    side = round(4 * PAIR_PANEL_INCHES * FIGURE_DPI)
    assert pixels.shape[:2] == (side, side)


def test_user_file_with_missing_values_is_imputed_or_dropped(tmp_path):
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(-3, 1, (80, 2)), rng.normal(3, 1, (80, 2))])
    X[[3, 50, 120], 1] = np.nan
    path = tmp_path / "data.csv"
    pd.DataFrame(X, columns=["a", "b"]).to_csv(path, index=False)
    imputed = run_lab(
        data=path, out_dir=tmp_path / "imputed", n_components=range(1, 4), missing="impute"
    )
    assert imputed.summary["preprocessing"]["values_imputed"] == 3
    assert imputed.summary["preprocessing"]["rows_dropped"] == 0
    assert imputed.summary["model"]["n_components"] == 2
    dropped = run_lab(
        data=path, out_dir=tmp_path / "dropped", n_components=range(1, 4), missing="drop"
    )
    assert dropped.summary["preprocessing"]["rows_dropped"] == 3
    table = pd.read_csv(tmp_path / "dropped" / "assignments.csv")
    assert (table["split"] == "dropped").sum() == 3
    assert table.loc[table["split"] == "dropped", "label"].isna().all()


def test_model_file_in_data_units_works_on_raw_rows(faithful_lab, tmp_path):
    """`gaussmix predict` on the raw data file agrees with the standardised model."""
    out = faithful_lab[0]
    raw_model = gaussmix.load(out / "model.gaussmix")
    standardised_model = gaussmix.load(out / "model-standardised.gaussmix")
    X, names = load_faithful()
    train, _ = _standardised_faithful_split()
    train_index, _ = train_test_split(np.arange(len(X)), test_size=0.25, random_state=0)
    raw_train = X[np.sort(train_index)]
    frame = pd.DataFrame(raw_train, columns=names)
    np.testing.assert_array_equal(raw_model.predict(frame), standardised_model.predict(train))
    log_jacobian = np.sum(np.log(raw_train.std(axis=0)))
    np.testing.assert_allclose(
        raw_model.score_samples(frame), standardised_model.score_samples(train) - log_jacobian
    )
    path = tmp_path / "raw.csv"
    frame.to_csv(path, index=False)
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert cli.main(["predict", str(out / "model.gaussmix"), str(path)]) == 0
    labels = pd.read_csv(io.StringIO(stdout.getvalue()))["label"].to_numpy()
    np.testing.assert_array_equal(labels, standardised_model.predict(train))


def test_one_feature_data_gets_univariate_figures(tmp_path):
    rng = np.random.RandomState(0)
    values = np.r_[rng.normal(-3, 1, 150), rng.normal(3, 1, 150)]
    path = tmp_path / "one.csv"
    pd.DataFrame({"v": values}).to_csv(path, index=False)
    result = run_lab(data=path, out_dir=tmp_path / "out", n_components=range(1, 4), n_init=2)
    assert result.model.n_components == 2
    assert set(result.selector.results_["covariance_type"]) == {"E", "V"}
    for name in FIGURES:
        pixels = matplotlib.image.imread(tmp_path / "out" / f"{name}.png")
        assert pixels[..., :3].std() > 0.05


# ----------------------------------------------------------------------------- a user's file
@pytest.fixture(scope="module")
def labelled_lab(tmp_path_factory):
    """`gaussmix lab --labels species --components 2` on a CSV pandas wrote with its index."""
    folder = tmp_path_factory.mktemp("labelled")
    rng = np.random.RandomState(1)
    n_rows = 120
    species = np.where(np.arange(n_rows) % 3 == 0, "setosa", "virginica")
    centres = np.where((species == "setosa")[:, None], [-2.5, 0.0], [2.5, 1.0])
    frame = pd.DataFrame(centres + rng.normal(size=(n_rows, 2)) * [1.0, 10.0], columns=["a", "b"])
    frame["species"] = species
    data = folder / "flowers.csv"
    frame.to_csv(data)  # with pandas' default index column
    out = folder / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(
            [
                "lab", "--data", str(data), "--labels", "species", "--components", "2",
                "--covariance", "EII,VEV", "--n-init", "1", "--jobs", "1", "--no-progress",
                "--out", str(out),
            ]
        )  # fmt: skip
    assert status == 0, stderr.getvalue()
    return {"data": data, "frame": frame, "out": out, "stdout": stdout.getvalue(),
            "stderr": stderr.getvalue()}  # fmt: skip


def test_a_number_of_components_fits_exactly_that_many(labelled_lab):
    candidates = pd.read_csv(labelled_lab["out"] / "candidates.csv")
    assert set(candidates["n_components"]) == {2}
    assert sorted(candidates["covariance_type"]) == ["EII", "VEV"]


def test_labels_column_gives_the_adjusted_rand_index_and_is_no_feature(labelled_lab):
    out, frame = labelled_lab["out"], labelled_lab["frame"]
    summary = json.loads((out / "summary.json").read_text())
    # The saved index and the labels are left out: the model sees a and b only.
    assert summary["feature_names"] == ["a", "b"]
    table = pd.read_csv(out / "assignments.csv")
    expected = adjusted_rand_score(frame["species"], table["label"])
    assert summary["adjusted_rand_index"]["all"] == pytest.approx(expected)
    assert expected > 0.8  # two well-separated species: the clusters find them
    assert summary["adjusted_rand_index"]["target_names"] == ["setosa", "virginica"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert f"{expected:.3f}" in page and "adjusted Rand index" in page


def test_a_saved_row_index_is_left_out_with_a_notice(labelled_lab):
    notices = [line for line in labelled_lab["stderr"].splitlines() if "row index" in line]
    assert len(notices) == 1 and notices[0].startswith("gaussmix: note: left out the first")
    summary = json.loads((labelled_lab["out"] / "summary.json").read_text())
    assert summary["n_features"] == 2 and len(summary["notices"]) == 1
    page = (labelled_lab["out"] / "report.html").read_text(encoding="utf-8")
    assert "saved row index" in page


def test_data_unit_outputs_agree_with_score_and_info(labelled_lab):
    out, frame = labelled_lab["out"], labelled_lab["frame"]
    table = pd.read_csv(out / "assignments.csv")
    # `gaussmix score` of the saved model on the raw file (index and labels included).
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert cli.main(["score", str(out / "model.gaussmix"), str(labelled_lab["data"])]) == 0
    scored = pd.read_csv(io.StringIO(stdout.getvalue()))["log_density"].to_numpy()
    np.testing.assert_allclose(table["log_density_data_units"], scored, rtol=1e-10)
    saved = gaussmix.load(out / "model.gaussmix")
    raw = frame[["a", "b"]]
    np.testing.assert_allclose(table["log_density_data_units"], saved.score_samples(raw))

    fitted = gaussmix.load(out / "model-standardised.gaussmix")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert cli.main(["info", str(out / "model.gaussmix")]) == 0
    info = stdout.getvalue()
    # The covariance model fitted and its parameters, counted by hand (mclust's counts).
    K, D = fitted.n_components, 2
    n_parameters = _mclust_covariance_parameters(fitted.covariance_type, K, D) + K * D + K - 1
    assert f"{fitted.covariance_type} covariance (stored as full" in info
    assert f"free parameters: {n_parameters}\n" in info
    assert saved.fitted_n_parameters_ == n_parameters
    # The training log-likelihood in the data's units: the raw training rows' mean.
    train = (table["split"] == "train").to_numpy()
    logged = float(re.search(r"training mean log-likelihood (\S+)", info).group(1))
    assert logged == pytest.approx(scored[train].mean(), abs=1e-3)
    # The standardisation it came from: the training rows' means and deviations.
    np.testing.assert_allclose(saved.standardisation_mean_, raw[train].mean(axis=0))
    np.testing.assert_allclose(saved.standardisation_scale_, raw[train].std(axis=0, ddof=0))


def test_figures_get_training_and_test_rows_apart(tmp_path, monkeypatch):
    """One feature: X is the training rows, test_X the test rows, in the data's units."""
    from gaussmix import plot

    calls = []
    original_overview, original_criterion = plot.plot_overview, plot.plot_criterion

    def overview(model, X, **kwargs):
        calls.append((np.asarray(X), kwargs))
        return original_overview(model, X, **kwargs)

    def criterion(selector, ax=None, **kwargs):
        calls.append(("criterion", ax.figure.get_layout_engine()))
        return original_criterion(selector, ax=ax, **kwargs)

    monkeypatch.setattr(plot, "plot_overview", overview)
    monkeypatch.setattr(plot, "plot_criterion", criterion)
    rng = np.random.RandomState(0)
    values = np.r_[rng.normal(-3, 1, 30), rng.normal(3, 1, 30)]
    path = tmp_path / "one.csv"
    pd.DataFrame({"v": values}).to_csv(path, index=False)
    result = run_lab(data=path, out_dir=tmp_path / "out", n_components=[2], n_init=1, n_jobs=1)
    train_index, test_index = (
        np.sort(index) for index in train_test_split(np.arange(60), test_size=0.25, random_state=0)
    )
    for X, kwargs in calls[:3]:
        np.testing.assert_allclose(X[:, 0], values[train_index])
        np.testing.assert_allclose(np.asarray(kwargs["test_X"])[:, 0], values[test_index])
    titles = {kwargs["kind"]: kwargs["title"] for _, kwargs in calls[:3]}
    assert titles["density"].startswith("Density:")
    assert calls[3][0] == "criterion"
    assert type(calls[3][1]).__name__ == "ConstrainedLayoutEngine"
    assert result.summary["search"]["left_out"] == {}


def test_eve_and_vve_left_out_of_a_wide_grid_are_named_with_why(tmp_path, monkeypatch):
    """Above MAX_ROTATION_FEATURES features the default grid has 12 models; the summary says so."""
    from gaussmix.lab import workflow

    monkeypatch.setattr(workflow, "MAX_ROTATION_FEATURES", 2)  # 3 features count as wide
    rng = np.random.RandomState(0)
    path = tmp_path / "wide.csv"
    pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"]).to_csv(path, index=False)
    result = run_lab(data=path, out_dir=tmp_path / "out", n_components=[1], n_init=1, n_jobs=1)
    searched = set(pd.read_csv(tmp_path / "out" / "candidates.csv")["covariance_type"])
    left_out = result.summary["search"]["left_out"]
    assert set(left_out) == {"EVE", "VVE"} and not searched & set(left_out)
    assert all("3 angles" in reason for reason in left_out.values())


def test_failed_lab_leaves_no_output_folder(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("a,b\n1,x\n2,y\n")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        status = cli.main(["lab", "--data", str(path), "--out", str(tmp_path / "out")])
    assert status != 0
    assert stderr.getvalue().count("\n") == 1
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ the output folder
# The lab's outputs are built beside --out and swapped in whole; these tests hold an
# interrupted, killed, failed or racing lab to the previous folder, byte for byte.
QUICK = ["--components", "1-2", "--covariance", "EII,VVV", "--n-init", "1", "--no-progress"]
LAB_FILE_NAMES = sorted(FILES)


def _blobs_csv(path, n_rows=120, columns=("a", "b"), seed=0):
    rng = np.random.RandomState(seed)
    half = n_rows // 2
    X = np.vstack([rng.normal(-3, 1, (half, 2)), rng.normal(3, 1, (n_rows - half, 2))])
    pd.DataFrame(X, columns=list(columns)).to_csv(path, index=False)
    return path


def _snapshot(folder) -> dict:
    """Every entry under ``folder``, hidden ones included: relative path to its bytes."""
    folder = Path(folder)
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else "folder"
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="module")
def previous_lab(tmp_path_factory):
    """A finished lab's folder (tiny data, smallest grid) and the data it read."""
    folder = tmp_path_factory.mktemp("previous")
    data = _blobs_csv(folder / "data.csv")
    run_lab(
        data=data,
        out_dir=folder / "out",
        n_components=range(1, 3),
        covariance_types=["EII"],
        n_init=1,
        n_jobs=1,
    )
    return folder / "out", data


@pytest.fixture
def results(tmp_path, previous_lab):
    """``(results folder holding a copy of the previous lab's 'out', data file elsewhere)``."""
    import shutil

    folder = tmp_path / "results"
    folder.mkdir()
    shutil.copytree(previous_lab[0], folder / "out")
    return folder, previous_lab[1]


class _NoSearch:
    """Stands in for GaussianMixtureIC where the lab must refuse before searching."""

    def __init__(self, *args, **kwargs):
        raise AssertionError("the model search started")


def test_previous_lab_folder_is_replaced_whole(results):
    folder, data = results
    before = _snapshot(folder / "out")
    result = run_lab(
        data=data,
        out_dir=folder / "out",
        n_components=range(1, 3),
        covariance_types=["VVV"],
        n_init=1,
        n_jobs=1,
        test_size=0.5,
    )
    after = _snapshot(folder)
    assert sorted(after) == ["out", *(f"out/{name}" for name in LAB_FILE_NAMES)]
    # What a re-run may replace is exactly what a run of either method writes.
    assert {p.name for p in (folder / "out").iterdir()} == LAB_FILES - METHOD_FILES["bayes"]
    assert METHOD_FILES["search"] <= LAB_FILES and METHOD_FILES["bayes"] <= LAB_FILES
    summary = json.loads(after["out/summary.json"])
    assert summary["preprocessing"]["test_size"] == 0.5
    assert summary["search"]["covariance_types"] == ["VVV"]
    assert after["out/report.html"] != before["report.html"]
    assert result.files["report"] == folder / "out" / "report.html"


def test_folder_with_other_files_is_refused_before_the_search_unless_forced(results, monkeypatch):
    folder, data = results
    (folder / "out" / "notes.txt").write_text("mine")
    before = _snapshot(folder)
    with monkeypatch.context() as patched:
        patched.setattr("gaussmix.lab.workflow.GaussianMixtureIC", _NoSearch)
        with pytest.raises(ValueError, match=r"notes\.txt.*force=True") as caught:
            run_lab(data=data, out_dir=folder / "out", n_jobs=1)
    assert "gaussmix lab --force" in str(caught.value)
    assert _snapshot(folder) == before
    run_lab(
        data=data,
        out_dir=folder / "out",
        n_components=[1],
        covariance_types=["EII"],
        n_init=1,
        n_jobs=1,
        force=True,
    )
    assert sorted(p.name for p in (folder / "out").iterdir()) == LAB_FILE_NAMES
    assert [p.name for p in folder.iterdir()] == ["out"]


def test_data_file_inside_the_output_folder_is_refused_even_when_forced(results, monkeypatch):
    folder, data = results
    inside = folder / "out" / "data.csv"
    inside.write_bytes(data.read_bytes())
    before = _snapshot(folder)
    monkeypatch.setattr("gaussmix.lab.workflow.GaussianMixtureIC", _NoSearch)
    status, _, err = _cli(["lab", "--data", inside, "--out", folder / "out", "--force"])
    assert status == 2 and err.count("\n") == 1, err
    assert f"data file '{inside}' is inside the output folder" in err
    assert _snapshot(folder) == before


def test_unwritable_output_is_one_line_before_the_search(tmp_path, previous_lab, monkeypatch):
    (tmp_path / "taken").write_text("a file")
    monkeypatch.setattr("gaussmix.lab.workflow.GaussianMixtureIC", _NoSearch)
    for out in (tmp_path / "taken", tmp_path / "taken" / "out"):
        status, stdout, err = _cli(["lab", "--data", previous_lab[1], "--out", out])
        assert status == 2 and stdout == "", err
        assert err.startswith("gaussmix: error: cannot write the output folder") and "taken" in err
        assert err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failure_while_writing_leaves_the_previous_folder(results, monkeypatch, failure):
    folder, data = results
    before = _snapshot(folder)

    def fail(result):
        assert len(list(Path(result.files["clusters"]).parent.iterdir())) > 5  # mid-writing
        raise failure

    monkeypatch.setattr("gaussmix.lab.report.render_report", fail)
    with pytest.raises(type(failure)):
        run_lab(data=data, out_dir=folder / "out", n_components=[1], n_init=1, n_jobs=1)
    assert _snapshot(folder) == before


def test_interrupted_lab_keeps_the_results_another_lab_wrote_meanwhile(
    tmp_path, previous_lab, monkeypatch
):
    """The issue: Ctrl-C deleted the whole folder, with a second lab's finished results."""
    out, data = tmp_path / "out", previous_lab[1]

    def other_lab_finishes_then_ctrl_c(result):
        import shutil

        shutil.copytree(previous_lab[0], out, dirs_exist_ok=True)
        raise KeyboardInterrupt

    monkeypatch.setattr("gaussmix.lab.report.render_report", other_lab_finishes_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        run_lab(data=data, out_dir=out, n_components=[1], n_init=1, n_jobs=1)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert _snapshot(out) == _snapshot(previous_lab[0])


def _assert_one_complete_result(out, runs):
    """Every file in ``out`` comes from one and the same run of ``runs`` (names -> data)."""
    assert sorted(p.name for p in out.iterdir()) == LAB_FILE_NAMES
    summary = json.loads((out / "summary.json").read_text())
    names = tuple(summary["feature_names"])
    assert names in runs
    assert json.loads((out / "preprocessing.json").read_text())["feature_names"] == list(names)
    assert tuple(gaussmix.load(out / "model.gaussmix").feature_names_in_) == names
    n_rows = len(pd.read_csv(runs[names]))
    assert len(pd.read_csv(out / "assignments.csv")) == summary["n_rows"] == n_rows
    page = (out / "report.html").read_text(encoding="utf-8")
    for name in FIGURES:
        encoded = base64.b64encode((out / f"{name}.png").read_bytes()).decode("ascii")
        assert f"data:image/png;base64,{encoded}" in page
    for name in names:
        assert name in page
    return names


def test_a_lab_that_runs_whole_while_another_writes_leaves_one_complete_result(
    results, tmp_path, monkeypatch
):
    """The issue: two labs into one --out mixed one run's figures with the other's report.

    The second lab runs from start to end while the first is half-way through
    writing (between its figures and its report): the worst interleaving.
    """
    from gaussmix.lab import report

    folder, _ = results
    runs = {
        ("a", "b"): _blobs_csv(tmp_path / "ab.csv", 100, ("a", "b"), seed=1),
        ("c", "d"): _blobs_csv(tmp_path / "cd.csv", 140, ("c", "d"), seed=2),
    }
    quick = {"n_components": range(1, 3), "covariance_types": ["EII"], "n_init": 1, "n_jobs": 1}
    render_report = report.render_report
    second_ran = []

    def second_lab_runs_meanwhile(result):
        if not second_ran:
            second_ran.append(True)
            run_lab(data=runs["c", "d"], out_dir=folder / "out", **quick)
            _assert_one_complete_result(folder / "out", runs)
        return render_report(result)

    monkeypatch.setattr("gaussmix.lab.report.render_report", second_lab_runs_meanwhile)
    run_lab(data=runs["a", "b"], out_dir=folder / "out", **quick)
    assert second_ran
    assert [p.name for p in folder.iterdir()] == ["out"]
    assert _assert_one_complete_result(folder / "out", runs) == ("a", "b")


def test_search_workers_are_told_to_end_with_the_lab_unless_joblib_was_configured():
    from joblib import parallel_config
    from joblib.parallel import get_active_backend

    from gaussmix.lab.workflow import _end_with_parent, workers_end_with_parent

    with workers_end_with_parent():
        backend, _ = get_active_backend()
        assert backend.backend_kwargs["initializer"] is _end_with_parent
        assert backend.backend_kwargs["initargs"] == (os.getpid(),)
    with parallel_config(backend="threading"), workers_end_with_parent():
        assert type(get_active_backend()[0]).__name__ == "ThreadingBackend"


def _cli(argv):
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main([str(arg) for arg in argv])
    return status, stdout.getvalue(), stderr.getvalue()


# --------------------------------------------------------- labs killed, interrupted, racing
needs_proc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not os.path.isdir("/proc/self"),
    reason="follows processes through Linux's /proc",
)


def _start_lab(log_folder, name, data, out, *options):
    """``gaussmix lab`` in its own session (as a shell runs it), stderr to a log file."""
    log = log_folder / f"{name}.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "gaussmix", "lab", "--data", str(data), "--out", str(out)]
            + [str(option) for option in options],
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_interruptible,
        )
    return process, log


def _interruptible():
    # A shell starts a foreground command with Ctrl-C's default action, but a test run
    # started in the background by a non-interactive shell (as CI may be) hands its
    # children SIGINT ignored, which Python then keeps ignoring, as `nohup` intends:
    # that made the Ctrl-C test finish with status 0 in such runs.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(condition, process, seconds=120.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, "the lab ended before the moment to stop it"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat_file:
                    fields = stat_file.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _descendants(pid):
    found, pending = [], [pid]
    while pending:
        for child in _children(pending.pop()):
            found.append(child)
            pending.append(child)
    return found


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            return stat_file.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _shared_memory_of(pid):
    """joblib/loky's semaphores and memory-mapping folders of process ``pid``."""
    if not os.path.isdir("/dev/shm"):
        return set()
    return {name for name in os.listdir("/dev/shm") if f"-{pid}-" in name or f"_{pid}_" in name}


def _assert_nothing_of_it_remains(pid, descendants, shared_memory):
    """No process the lab started, and none of its shared memory, outlives it for long."""
    deadline = time.monotonic() + 10
    while any(map(_alive, descendants)) or _shared_memory_of(pid) & shared_memory:
        assert time.monotonic() < deadline, (
            [child for child in descendants if _alive(child)],
            _shared_memory_of(pid),
        )
        time.sleep(0.05)


def _private_folders(folder):
    return sorted(p.name for p in Path(folder).iterdir() if ".gaussmix-" in p.name)


@needs_proc
def test_ctrl_c_during_the_search_leaves_the_previous_folder_and_no_process(results, tmp_path):
    folder, data = results
    before = _snapshot(folder)
    process, log = _start_lab(tmp_path, "lab", data, folder / "out", "--n-init", "5", "--jobs", "2")
    try:
        _wait_for(lambda: "candidate" in log.read_text(), process)
        workers = _descendants(process.pid)
        shared_memory = _shared_memory_of(process.pid)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert process.wait(timeout=120) == 130
    finally:
        if process.poll() is None:
            process.kill()
    assert log.read_text().splitlines()[-1] == "gaussmix: interrupted"
    assert len(workers) >= 2
    _assert_nothing_of_it_remains(process.pid, workers, shared_memory)
    assert _snapshot(folder) == before


@needs_proc
def test_lab_killed_while_writing_leaves_the_previous_folder_and_no_process(results, tmp_path):
    """The issue's ``kill -9`` mid-writing left new figures beside the old report."""
    folder, data = results
    before = _snapshot(folder)
    process, _ = _start_lab(tmp_path, "lab", data, folder / "out", *QUICK, "--jobs", "2")

    def files():
        return {
            path: (path.stat().st_size, path.stat().st_mtime_ns)
            for path in folder.rglob("*")
            if path.is_file() and not path.name.endswith(".tmp")
        }

    previous_files = files()

    def writing():
        # A figure written (into a private folder, or over the previous one's).
        try:
            return files() != previous_files
        except FileNotFoundError:  # a temporary file renamed meanwhile
            return False

    try:
        _wait_for(writing, process)
        workers = _descendants(process.pid)
        shared_memory = _shared_memory_of(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert len(workers) >= 2
    _assert_nothing_of_it_remains(process.pid, workers, shared_memory)
    # Left: the half-built private folder, named after the dead process, and nothing
    # else; the next lab into this folder removes it.
    from gaussmix.data.atomic import remove_abandoned_folders

    left = _private_folders(folder)
    assert len(left) == 1 and left[0].startswith(f".out.gaussmix-{process.pid}-")
    assert {k: v for k, v in _snapshot(folder).items() if not k.startswith(left[0])} == before
    assert remove_abandoned_folders(folder / "out") == [folder / left[0]]
    assert _snapshot(folder) == before


@pytest.mark.skipif(
    signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL, reason="SIGTERM is handled here"
)
def test_sigterm_while_writing_ends_like_ctrl_c(results, monkeypatch):
    """``kill`` (SIGTERM) ends the lab through its cleanup: no private folder is left."""
    folder, data = results
    before = _snapshot(folder)

    def terminated(result):
        # Without the command line's handler SIGTERM would end the test run itself.
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr("gaussmix.lab.report.render_report", terminated)
    status, _, err = _cli(["lab", "--data", data, "--out", folder / "out", *QUICK, "--jobs", "1"])
    assert (status, err) == (128 + signal.SIGTERM, "gaussmix: terminated\n")
    assert _snapshot(folder) == before
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


# ----------------------------------------------------------------------------- large files
def _two_clusters_file(path, n_rows=6000, seed=0, holes=False):
    rng = np.random.default_rng(seed)
    second = rng.random(n_rows) < 0.4
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n_rows) + 5.0 * second,
            "b": rng.normal(size=n_rows) * 2.0 - 3.0 * second,
        }
    )
    if holes:
        frame.loc[frame.index % 97 == 5, "b"] = np.nan
    frame.to_parquet(path, index=False, row_group_size=700)
    return frame


@pytest.fixture
def streamed_lab(monkeypatch):
    """Every data file counts as larger than memory; the lab samples 2,000 rows of it."""
    monkeypatch.setenv("GAUSSMIX_STREAM_BYTES", "0")
    # The refit reads blocks of 500 rows (small inputs would be loaded whole), so that
    # blocks start and end among the rows it leaves out.
    monkeypatch.setenv("GAUSSMIX_LOAD_BYTES", "0")
    monkeypatch.setenv("GAUSSMIX_BLOCK_BYTES", "8000")
    monkeypatch.setattr("gaussmix.lab.workflow.LAB_SAMPLE_ROWS", 2000)
    monkeypatch.setattr("gaussmix.lab.workflow.ASSIGNMENT_BLOCK_ROWS", 1000)


@pytest.mark.parametrize("missing", ["drop", "impute", "model"])
def test_lab_on_a_large_file_searches_a_sample_and_refits_on_all_rows(
    tmp_path, streamed_lab, missing
):
    data = tmp_path / "big.parquet"
    frame = _two_clusters_file(data, holes=missing != "drop")
    result = run_lab(
        data=data,
        out_dir=tmp_path / "out",
        n_components=[1, 2],
        covariance_types=["VVI"],
        n_init=1,
        n_jobs=1,
        missing=missing,
    )
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    sample = summary["sample"]
    prepared = result.prepared
    assert summary["n_rows"] == sample["of_n_rows"] == 6000 and sample["n_rows"] == 2000
    assert prepared.n_rows == 2000 and prepared.X_test.shape[0] == 500
    assert sample["refit_n_rows"] == 6000 - 500
    assert any("seeded sample of 2,000" in notice for notice in summary["notices"])
    # missing='model' falls back to imputing: a file read block by block is fitted complete.
    assert summary["preprocessing"]["missing"] == ("drop" if missing == "drop" else "impute")
    fell_back = [notice for notice in summary["notices"] if "not fitted with missing" in notice]
    assert len(fell_back) == (missing == "model")
    report = (tmp_path / "out" / "report.html").read_text()
    assert "a seeded sample of 2,000 of the 6,000 rows" in report
    assert "refitted on 5,500 rows" in report

    # Every row of the file assigned, the sample's test rows marked as such.
    assignments = pd.read_csv(tmp_path / "out" / "assignments.csv")
    assert assignments["row"].tolist() == list(range(6000))
    assert (assignments["split"] == "test").sum() == 500
    train = assignments["split"].eq("train").to_numpy()

    # The refit: the chosen model's EM from its parameters on the other 5,500 rows,
    # prepared as the sample was; its labels and densities are the file's.
    chosen = result.selector.best_estimator_
    reference = gaussmix.GaussianMixture(**chosen.get_params())
    reference.set_params(
        n_init=1,
        weights_init=chosen.weights_,
        means_init=chosen.means_,
        precisions_init=chosen.precisions_,
    )
    reference.fit(prepared.transform(frame.to_numpy()[train]))
    model = result.model
    assert model.n_components == 2
    np.testing.assert_allclose(model.means_, reference.means_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(model.weights_, reference.weights_, rtol=1e-6)
    X_all = prepared.transform(frame.to_numpy())
    np.testing.assert_array_equal(assignments["label"].to_numpy(), model.predict(X_all))
    np.testing.assert_allclose(
        assignments["log_density_standardised"].to_numpy(), model.score_samples(X_all), rtol=1e-9
    )
    # In the data's units, model.gaussmix gives them on the complete raw rows.
    shown = gaussmix.load(tmp_path / "out" / "model.gaussmix")
    complete = frame.notna().all(axis=1).to_numpy()
    np.testing.assert_allclose(
        shown.score_samples(frame[complete]),
        assignments["log_density_data_units"].to_numpy()[complete],
        rtol=1e-9,
    )


def test_lab_on_a_large_file_with_missing_values_asks_to_impute(tmp_path, streamed_lab):
    data = tmp_path / "big.parquet"
    _two_clusters_file(data, holes=True)
    with pytest.raises(ValueError, match=r"missing='impute' \(--missing impute\)"):
        run_lab(data=data, out_dir=tmp_path / "out", n_components=[2], n_jobs=1, missing="drop")
    with pytest.raises(ValueError, match="labels"):
        run_lab(data=data, out_dir=tmp_path / "out", labels="a", n_jobs=1)
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- missing='model'
@pytest.fixture(scope="module")
def incomplete_lab(tmp_path_factory):
    """`gaussmix lab` (its default --missing model) on two clusters with holes and an empty row."""
    folder = tmp_path_factory.mktemp("incomplete")
    rng = np.random.RandomState(3)
    X = np.vstack([rng.normal([-3, 0, 2], 1, (90, 3)), rng.normal([3, 2, -2], 1, (90, 3))])
    X[rng.random_sample(X.shape) < 0.12] = np.nan
    X[[5, 100]] = np.nan  # rows with no observed value
    X[X[:, 0] > 0, 2] *= 10.0  # other scales per feature: the Jacobian matters
    data = folder / "holes.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(data, index=False)
    out = folder / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(
            [
                "lab", "--data", str(data), "--components", "1-3", "--covariance", "VVV,VVI",
                "--n-init", "1", "--jobs", "1", "--no-progress", "--out", str(out),
            ]
        )  # fmt: skip
    assert status == 0, stderr.getvalue()
    return {"X": X, "data": data, "out": out, "stdout": stdout.getvalue()}


def test_missing_model_assigns_every_row_and_counts_the_missing_values(incomplete_lab):
    X, out = incomplete_lab["X"], incomplete_lab["out"]
    summary = json.loads((out / "summary.json").read_text())
    pre = summary["preprocessing"]
    empty = np.isnan(X).all(axis=1)
    assert pre["missing"] == pre["missing_requested"] == "model"
    assert pre["values_missing"] == int(np.isnan(X).sum())
    assert pre["rows_with_missing"] == int(np.isnan(X).any(axis=1).sum())
    assert pre["missing_patterns"] == len({tuple(row) for row in np.isnan(X)})
    assert pre["rows_without_values"] == pre["rows_dropped"] == int(empty.sum()) == 2
    assert pre["n_train"] + pre["n_test"] == len(X) - 2
    assert summary["model"]["n_components"] == 2

    assignments = pd.read_csv(out / "assignments.csv")
    assert assignments["row"].tolist() == list(range(len(X)))
    assert assignments.loc[empty, "split"].eq("dropped").all()
    assert assignments.loc[empty, "label"].isna().all()
    assert assignments.loc[~empty, "label"].notna().all()

    # Labels and densities of incomplete rows: the models' own, on their observed values;
    # in the data's units, model.gaussmix's on the raw rows (each row's own Jacobian).
    shown = gaussmix.load(out / "model.gaussmix")
    raw = pd.DataFrame(X[~empty], columns=["a", "b", "c"])
    np.testing.assert_allclose(
        assignments.loc[~empty, "log_density_data_units"], shown.score_samples(raw), rtol=1e-9
    )
    np.testing.assert_array_equal(assignments.loc[~empty, "label"], shown.predict(raw))
    standardised = gaussmix.load(out / "model-standardised.gaussmix")
    prep = json.loads((out / "preprocessing.json").read_text())
    assert prep["missing"] == "model" and prep["impute_medians"] is None
    z = (X[~empty] - prep["scale_means"]) / prep["scale_deviations"]
    np.testing.assert_allclose(
        assignments.loc[~empty, "log_density_standardised"], standardised.score_samples(z)
    )

    stdout = incomplete_lab["stdout"]
    assert f"{pre['values_missing']} missing values in {pre['rows_with_missing']} rows" in stdout
    page = (out / "report.html").read_text()
    assert (
        f"{pre['values_missing']} values missing in {pre['rows_with_missing']} rows "
        f"({pre['missing_patterns']} distinct patterns"
    ) in page
    assert "2 rows with no observed value left out" in page
    assert "model-imputed values" in page


def test_missing_model_figures_draw_imputed_rows(incomplete_lab):
    out = incomplete_lab["out"]
    for name in FIGURES:
        pixels = matplotlib.image.imread(out / f"{name}.png")
        assert pixels[..., :3].std() > 0.05


# ----------------------------------------------------------------------------- method='bayes'
@pytest.fixture(scope="module")
def bayes_lab(tmp_path_factory):
    """`gaussmix lab --method bayes` on three well-separated clusters (9 components offered)."""
    from sklearn.datasets import make_blobs

    folder = tmp_path_factory.mktemp("bayes")
    X, truth = make_blobs(
        300, 2, centers=[[-6, 0], [0, 6], [6, 0]], cluster_std=0.8, random_state=1
    )
    data = folder / "blobs.csv"
    pd.DataFrame(X, columns=["a", "b"]).to_csv(data, index=False)
    out = folder / "out"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = cli.main(
            ["lab", "--data", str(data), "--method", "bayes", "--n-init", "2", "--no-progress",
             "--out", str(out)]
        )  # fmt: skip
    assert status == 0, stderr.getvalue()
    return {"X": X, "truth": truth, "out": out, "stdout": stdout.getvalue()}


def test_bayes_keeps_the_three_clusters_and_says_so(bayes_lab):
    out = bayes_lab["out"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "bayes" and "search" not in summary
    bayes = summary["variational"]
    assert bayes["n_components"] == 9 and bayes["effective_n_components"] == 3
    assert bayes["covariance_type"] == "full"
    assert bayes["weight_concentration_prior_type"] == "dirichlet_process"
    assert sum(share > bayes["threshold"] for share in bayes["shares"]) == 3
    assert summary["model"]["n_components"] == 3
    assert "the data kept 3 of 9 components" in (out / "report.html").read_text()
    assert "the data kept 3 of 9 components" in bayes_lab["stdout"]

    variational = gaussmix.load(out / "model-variational.gaussmix")
    assert isinstance(variational, gaussmix.BayesianGaussianMixture)
    assert variational.n_components == 9 and variational.effective_n_components_ == 3
    kept = variational.to_gaussian_mixture()
    standardised = gaussmix.load(out / "model-standardised.gaussmix")
    np.testing.assert_allclose(standardised.means_, kept.means_)
    assignments = pd.read_csv(out / "assignments.csv")
    assert len(assignments) == 300 and list(assignments.columns[-3:]) == ["p0", "p1", "p2"]
    assert adjusted_rand_score(bayes_lab["truth"], assignments["label"]) > 0.99


def test_bayes_draws_the_weights_instead_of_the_criterion(bayes_lab):
    out = bayes_lab["out"]
    assert not (out / "criterion.png").exists() and not (out / "candidates.csv").exists()
    pixels = matplotlib.image.imread(out / "weights.png")
    width, height = (round(side * FIGURE_DPI) for side in FIGURE_INCHES)
    assert pixels.shape[:2] == (height, width)
    page = (out / "report.html").read_text()
    encoded = base64.b64encode((out / "weights.png").read_bytes()).decode("ascii")
    assert f"data:image/png;base64,{encoded}" in page
    assert "Candidates" not in page


def test_bayes_refuses_covariance_models_it_cannot_fit(tmp_path):
    with pytest.raises(ValueError, match="cannot fit 'VEV' covariance"):
        run_lab(out_dir=tmp_path / "out", method="bayes", covariance_types=["VEV"])
    with pytest.raises(ValueError, match="fits one covariance model, got 2"):
        run_lab(out_dir=tmp_path / "out", method="bayes", covariance_types=["VVV", "EII"])
    with pytest.raises(ValueError, match="method must be one of"):
        run_lab(out_dir=tmp_path / "out", method="vb")
    assert not (tmp_path / "out").exists()


def test_bayes_on_missing_values_imputes_with_a_notice(tmp_path):
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(-4, 1, (60, 2)), rng.normal(4, 1, (60, 2))])
    X[[3, 70], 1] = np.nan
    path = tmp_path / "holes.csv"
    pd.DataFrame(X, columns=["a", "b"]).to_csv(path, index=False)
    result = run_lab(data=path, out_dir=tmp_path / "out", method="bayes", n_components=4, n_init=1)
    pre = result.summary["preprocessing"]
    assert pre["missing"] == "impute" and pre["missing_requested"] == "model"
    assert pre["values_imputed"] == 2
    assert any("needs complete rows" in notice for notice in result.summary["notices"])
    assert "model-variational.gaussmix" in {path.name for path in result.files.values()}


def test_bayes_model_files_are_described_by_gaussmix_info(bayes_lab):
    out = bayes_lab["out"]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert cli.main(["info", str(out / "model-variational.gaussmix")]) == 0
    assert "BayesianGaussianMixture: 9 components, of which the data kept 3" in stdout.getvalue()
    shown = gaussmix.load(out / "model.gaussmix")
    # The kept mixture's training mean log-likelihood stands in for an EM lower bound.
    summary = json.loads((out / "summary.json").read_text())
    np.testing.assert_allclose(
        shown.lower_bound_, summary["train"]["mean_log_likelihood_data_units"], rtol=1e-9
    )


def test_the_lab_searches_small_data_in_one_process(tmp_path):
    """Without n_jobs the lab picks the processes by the training rows' shape: Old
    Faithful's 204 x 2 are searched here (starting workers costs more than they save)."""
    result = run_lab(
        out_dir=tmp_path / "out", n_components=[1, 2], covariance_types=["EII"], n_init=1
    )
    assert result.prepared.X_train.shape == (204, 2)
    assert result.selector.n_jobs == 1
