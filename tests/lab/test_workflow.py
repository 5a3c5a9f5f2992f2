"""`gaussmix lab` end to end, checked against computations that do not use gaussmix."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import warnings

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
from gaussmix.lab.workflow import FIGURE_DPI, display_model, run_lab
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
        rows.loc[test_index, "log_density"], model.score_samples(test), rtol=1e-12
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
    dropped = run_lab(data=path, out_dir=tmp_path / "dropped", n_components=range(1, 4))
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


def test_failed_lab_leaves_no_output_folder(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("a,b\n1,x\n2,y\n")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        status = cli.main(["lab", "--data", str(path), "--out", str(tmp_path / "out")])
    assert status != 0
    assert stderr.getvalue().count("\n") == 1
    assert not (tmp_path / "out").exists()
