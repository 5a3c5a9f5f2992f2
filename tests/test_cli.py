"""The ``gaussmix`` command line: subcommands on simulated data, and bad input.

Every command runs in-process through :func:`gaussmix.cli.main`. What it writes
is checked against the Python API on the same rows (``gaussmix.load`` and the
model's own methods), against scikit-learn and SciPy computed independently, and
against the mixture the data were simulated from. Bad input must end in a non-zero
status, exactly one ``gaussmix: error:`` line on stderr, no traceback, and no new
file (output or temporary) in the working folder. One test runs
``python -m gaussmix`` in a fresh interpreter.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import gaussmix
from gaussmix.cli import main

COMMANDS = ["lab", "fit", "predict", "score", "sample", "plot", "info"]


# ----------------------------------------------------------------------------- helpers
def _rotated_covariance(sd_major, sd_minor, angle):
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return rotation @ np.diag([sd_major**2, sd_minor**2]) @ rotation.T


# Three well-separated components with different, tilted shapes: only the "full"
# covariance type fits them, so model selection has one right answer.
TRUE_WEIGHTS = np.array([0.4, 0.35, 0.25])
TRUE_MEANS = np.array([[0.0, 0.0], [12.0, 0.0], [5.0, 11.0]])
TRUE_COVARIANCES = np.array(
    [
        _rotated_covariance(2.0, 0.5, 0.6),
        _rotated_covariance(1.5, 0.4, -0.9),
        _rotated_covariance(1.2, 0.8, 0.0),
    ]
)
N_ROWS = 450
MODEL_COLUMNS = ["y", "x"]  # the model's columns, deliberately not in the file's order


def _simulate(n_rows=N_ROWS, seed=0):
    """Rows of the true mixture with a noise column and a text column, and the true labels."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(TRUE_WEIGHTS), size=n_rows, p=TRUE_WEIGHTS)
    points = np.empty((n_rows, 2))
    for k in range(len(TRUE_WEIGHTS)):
        rows = labels == k
        points[rows] = rng.multivariate_normal(TRUE_MEANS[k], TRUE_COVARIANCES[k], rows.sum())
    frame = pd.DataFrame(
        {
            "id": [f"row{i}" for i in range(n_rows)],
            "x": points[:, 0],
            "noise": rng.normal(size=n_rows),
            "y": points[:, 1],
        }
    )
    return frame, labels


def _run(argv):
    """``(status, stdout, stderr)`` of ``main(argv)``; argparse's exits count as a status."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([str(arg) for arg in argv])
        except SystemExit as exc:
            status = exc.code
    return status, out.getvalue(), err.getvalue()


def _ok(argv):
    status, out, err = _run(argv)
    assert status == 0, err
    assert "Traceback" not in err
    return out, err


def _read_csv(text_or_path):
    source = io.StringIO(text_or_path) if isinstance(text_or_path, str) else text_or_path
    return pd.read_csv(source)


def _files(folder):
    """Every file under ``folder`` (hidden ones included), relative, with its size."""
    folder = Path(folder)
    return {
        str(path.relative_to(folder)): path.stat().st_size
        for path in folder.rglob("*")
        if path.is_file()
    }


def _assert_one_error_line(status, out, err):
    assert status not in (0, None), err
    assert "Traceback" not in err
    assert out == ""
    lines = err.splitlines()
    errors = [line for line in lines if line.startswith("gaussmix: error:")]
    others = [line for line in lines if not line.startswith("gaussmix: warning:")]
    assert len(errors) == 1 and others == errors, err
    return errors[0]


def _mixture_log_density(model, X):
    """Log-density of ``X`` under the model's parameters, by SciPy."""
    covariances = np.asarray(model.covariances_)
    per_component = [
        np.log(weight) + multivariate_normal(mean, covariance).logpdf(X)
        for weight, mean, covariance in zip(model.weights_, model.means_, covariances)
    ]
    return logsumexp(np.column_stack(per_component), axis=1)


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The simulated CSV, the model ``gaussmix fit`` wrote for it, and what fit printed."""
    folder = tmp_path_factory.mktemp("fitted")
    frame, labels = _simulate()
    data = folder / "data.csv"
    frame.to_csv(data, index=False)
    model_path = folder / "model.gaussmix"
    status, out, err = _run(
        [
            "fit",
            data,
            "--columns",
            ",".join(MODEL_COLUMNS),
            "--components",
            "3",
            "--covariance",
            "full",
            "--n-init",
            "1",
            "--seed",
            "0",
            "--out",
            model_path,
        ]
    )
    assert status == 0, err
    return {
        "folder": folder,
        "frame": frame,
        "labels": labels,
        "data": data,
        "model_path": model_path,
        "model": gaussmix.load(model_path),
        "fit_out": out,
    }


def _model_rows(fitted):
    return fitted["frame"][MODEL_COLUMNS]


# ----------------------------------------------------------------------------- fit
def test_fit_matches_sklearn_and_the_simulated_truth(fitted):
    model, rows = fitted["model"], _model_rows(fitted)
    assert model.n_components == 3 and model.covariance_type == "full"
    assert list(model.feature_names_in_) == MODEL_COLUMNS

    sk = SkGaussianMixture(3, covariance_type="full", tol=1e-8, max_iter=1000, random_state=0)
    sk.fit(rows.to_numpy())
    # Same optimum on separated data; match components by their means.
    order = [int(np.argmin(np.linalg.norm(sk.means_ - mean, axis=1))) for mean in model.means_]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(model.weights_, sk.weights_[order], atol=1e-5)
    np.testing.assert_allclose(model.means_, sk.means_[order], atol=1e-4)
    np.testing.assert_allclose(model.covariances_, sk.covariances_[order], atol=1e-4)

    assert adjusted_rand_score(fitted["labels"], model.predict(rows)) > 0.97
    truth = TRUE_MEANS[:, ::-1]  # the model's columns are (y, x)
    for mean in model.means_:
        assert np.min(np.linalg.norm(truth - mean, axis=1)) < 0.5

    # What fit printed: its model, its criteria on the rows it used, and the file.
    out = fitted["fit_out"]
    assert "3 components, full covariance, 2 features (y, x)" in out
    bic, aic = (float(v) for v in re.search(r"BIC (-?[\d.]+)\s+AIC (-?[\d.]+)", out).groups())
    np.testing.assert_allclose(bic, sk.bic(rows.to_numpy()), atol=0.01)
    np.testing.assert_allclose(aic, sk.aic(rows.to_numpy()), atol=0.01)
    assert f"model: {fitted['model_path']}" in out


def test_fit_over_a_range_picks_the_true_mixture(tmp_path, fitted):
    out_path = tmp_path / "chosen.gaussmix"
    out, _ = _ok(
        [
            "fit",
            fitted["data"],
            "--columns",
            "x,y",
            "--components",
            "1-4",
            "--covariance",
            "sklearn",
            "--n-init",
            "1",
            "--out",
            out_path,
        ]
    )
    assert re.search(r"best BIC of 16 candidates", out), out
    # Number and noun agree: "1 spurious fit", "0 spurious fits", "2 spurious fits".
    spurious = re.search(r"\((\d+) spurious (fits?) excluded", out)
    assert spurious and (spurious.group(2) == "fit") == (spurious.group(1) == "1"), out
    model = gaussmix.load(out_path)
    assert (model.n_components, model.covariance_type) == (3, "full")
    # The chosen model keeps the names of the columns it was fitted on.
    assert list(getattr(model, "feature_names_in_", [])) == ["x", "y"]
    assert adjusted_rand_score(fitted["labels"], model.predict(fitted["frame"][["x", "y"]])) > 0.97


# ----------------------------------------------------------------------------- predict
def test_predict_to_stdout_is_csv_of_the_models_labels_and_probabilities(fitted):
    out, _ = _ok(["predict", fitted["model_path"], fitted["data"]])
    table = _read_csv(out)
    model, rows = fitted["model"], _model_rows(fitted)
    assert list(table.columns) == ["label", "p0", "p1", "p2"]
    assert len(table) == N_ROWS
    np.testing.assert_array_equal(table["label"].to_numpy(), model.predict(rows))
    np.testing.assert_allclose(
        table[["p0", "p1", "p2"]].to_numpy(), model.predict_proba(rows), rtol=1e-12, atol=1e-300
    )
    assert adjusted_rand_score(fitted["labels"], table["label"]) > 0.97


def test_predict_reads_the_models_columns_from_a_file_in_another_order(tmp_path, fitted):
    # The file's columns are reordered and include a text column the model never saw.
    frame = fitted["frame"][["noise", "y", "id", "x"]].iloc[::3]
    data = tmp_path / "reordered.csv"
    frame.to_csv(data, index=False)
    written = tmp_path / "labels.csv"
    _, err = _ok(["predict", fitted["model_path"], data, "--out", written])
    assert f"wrote {written}" in err
    table = _read_csv(written)
    model = fitted["model"]
    np.testing.assert_array_equal(table["label"].to_numpy(), model.predict(frame[MODEL_COLUMNS]))
    np.testing.assert_allclose(
        table[["p0", "p1", "p2"]].to_numpy(),
        model.predict_proba(frame[MODEL_COLUMNS]),
        rtol=1e-12,
        atol=1e-300,
    )
    assert _files(tmp_path).keys() == {"reordered.csv", "labels.csv"}


# ----------------------------------------------------------------------------- score
def test_score_writes_log_densities_and_flags_the_lowest_quantile(fitted):
    out, err = _ok(["score", fitted["model_path"], fitted["data"], "--quantile", "0.1"])
    table = _read_csv(out)
    model, rows = fitted["model"], _model_rows(fitted)
    assert list(table.columns) == ["log_density", "outlier"]
    log_density = table["log_density"].to_numpy()
    np.testing.assert_allclose(log_density, model.score_samples(rows), rtol=1e-12)
    np.testing.assert_allclose(log_density, _mixture_log_density(model, rows.to_numpy()), rtol=1e-9)

    expected = log_density < np.quantile(log_density, 0.1)
    np.testing.assert_array_equal(table["outlier"].to_numpy(), expected)
    assert f"{expected.sum()} of {N_ROWS} rows below" in err


def test_score_flags_rows_below_a_threshold(fitted):
    log_density = fitted["model"].score_samples(_model_rows(fitted))
    threshold = round(float(np.median(log_density)), 2)
    out, _ = _ok(["score", fitted["model_path"], fitted["data"], "--threshold", threshold])
    table = _read_csv(out)
    np.testing.assert_array_equal(table["outlier"].to_numpy(), log_density < threshold)
    assert 0 < table["outlier"].sum() < N_ROWS


# ----------------------------------------------------------------------------- missing values
def _holed(fitted, tmp_path):
    """The fitted rows with holes: some values missing, and one row with none."""
    frame = fitted["frame"][MODEL_COLUMNS].iloc[:60].copy()
    frame.iloc[::4, 0] = np.nan
    frame.iloc[2::4, 1] = np.nan
    frame.iloc[7] = np.nan
    path = tmp_path / "holes.csv"
    frame.to_csv(path, index=False)
    return frame, path


def test_predict_and_score_rows_with_missing_values_as_the_python_api(tmp_path, fitted):
    frame, path = _holed(fitted, tmp_path)
    model = fitted["model"]
    observed = frame.notna().any(axis=1).to_numpy()
    assert frame.isna().any(axis=1).sum() > 20 and (~observed).sum() == 1

    out, err = _ok(["predict", fitted["model_path"], path])
    table = _read_csv(out)
    assert len(table) == len(frame)
    np.testing.assert_array_equal(table["label"][observed], model.predict(frame[observed]))
    np.testing.assert_allclose(
        table[["p0", "p1", "p2"]].to_numpy()[observed],
        model.predict_proba(frame[observed]),
        rtol=1e-12,
        atol=1e-300,
    )
    assert table.loc[~observed].isna().all(axis=None)
    assert "1 row with no observed value, left blank" in err

    out, err = _ok(["score", fitted["model_path"], path, "--quantile", "0.2"])
    table = _read_csv(out)
    log_density = model.score_samples(frame[observed])
    np.testing.assert_allclose(table["log_density"][observed], log_density, rtol=1e-12)
    # A row with y missing is scored by the marginal density of x: SciPy's, by hand.
    row = np.flatnonzero(frame["x"].isna().to_numpy() & frame["y"].notna().to_numpy())[0]
    y = frame["y"].iloc[row]
    marginal = sum(
        w * np.exp(-0.5 * (y - m[0]) ** 2 / c[0, 0]) / np.sqrt(2 * np.pi * c[0, 0])
        for w, m, c in zip(model.weights_, model.means_, model.covariances_)
    )
    np.testing.assert_allclose(table["log_density"][row], np.log(marginal), rtol=1e-9)
    assert np.isnan(table["log_density"][~observed]).all()
    flagged = log_density < np.quantile(log_density, 0.2)
    np.testing.assert_array_equal(table["outlier"][observed].astype(bool), flagged)
    assert table["outlier"][~observed].isna().all()
    assert f"{flagged.sum()} of {observed.sum()} rows below" in err


# ----------------------------------------------------------------------------- sample
def test_sample_draws_rows_from_the_model(tmp_path, fitted):
    n = 3000
    written = tmp_path / "samples.csv"
    _ok(["sample", fitted["model_path"], "-n", n, "--seed", 5, "--out", written])
    table = _read_csv(written)
    model = fitted["model"]
    assert list(table.columns) == [*MODEL_COLUMNS, "component"]
    assert len(table) == n
    components = table["component"].to_numpy()
    assert set(np.unique(components)) <= {0, 1, 2}

    # Frequencies and per-component means within 5 standard errors of the model's.
    frequency = np.bincount(components, minlength=3) / n
    weights = np.asarray(model.weights_)
    assert np.all(np.abs(frequency - weights) < 5 * np.sqrt(weights * (1 - weights) / n))
    X = table[MODEL_COLUMNS].to_numpy()
    for k in range(3):
        drawn = X[components == k]
        standard_error = np.sqrt(np.diag(model.covariances_[k]) / len(drawn))
        assert np.all(np.abs(drawn.mean(axis=0) - model.means_[k]) < 5 * standard_error)

    # The seed makes the draw reproducible; another seed gives another draw.
    again, _ = _ok(["sample", fitted["model_path"], "-n", n, "--seed", 5])
    np.testing.assert_array_equal(_read_csv(again).to_numpy(), table.to_numpy())
    other, _ = _ok(["sample", fitted["model_path"], "-n", n, "--seed", 6])
    assert not np.array_equal(_read_csv(other)[MODEL_COLUMNS].to_numpy(), X)


# ----------------------------------------------------------------------------- info
def test_info_prints_every_component(fitted):
    out, _ = _ok(["info", fitted["model_path"]])
    model = fitted["model"]
    assert "3 components, full covariance, 2 features (y, x)" in out
    number = r"(-?[\d.]+(?:e[-+]?\d+)?)"
    found = re.findall(rf"component (\d+): weight {number}; mean y={number}, x={number}", out)
    assert sorted(int(k) for k, *_ in found) == [0, 1, 2], out
    for k, weight, y, x in found:
        k = int(k)
        np.testing.assert_allclose(float(weight), model.weights_[k], atol=5e-4 + 1e-12)
        np.testing.assert_allclose([float(y), float(x)], model.means_[k], rtol=5e-4, atol=1e-6)


# ----------------------------------------------------------------------------- plot
def test_plot_writes_three_figures_that_decode_and_are_not_blank(tmp_path, fitted):
    from matplotlib.image import imread

    folder = tmp_path / "figures"
    _ok(["plot", fitted["model_path"], fitted["data"], "--out", folder])
    names = ["clusters.png", "density.png", "uncertainty.png"]
    assert sorted(_files(folder)) == names
    for name in names:
        pixels = imread(folder / name)
        assert pixels.shape[:2] == (600, 800), name
        assert pixels[..., :3].std() > 0, name


# ----------------------------------------------------------------------------- Parquet
def test_parquet_input_gives_the_same_fit_and_predictions_as_csv(tmp_path, fitted):
    pytest.importorskip("pyarrow")
    data = tmp_path / "data.parquet"
    fitted["frame"].to_parquet(data, index=False)
    model_path = tmp_path / "model.gaussmix"
    _ok(
        [
            "fit",
            data,
            "--columns",
            ",".join(MODEL_COLUMNS),
            "--components",
            "3",
            "--covariance",
            "full",
            "--n-init",
            "1",
            "--seed",
            "0",
            "--out",
            model_path,
        ]
    )
    model, reference = gaussmix.load(model_path), fitted["model"]
    assert list(model.feature_names_in_) == MODEL_COLUMNS
    for attribute in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(
            getattr(model, attribute), getattr(reference, attribute), rtol=1e-9, atol=1e-12
        )

    out, _ = _ok(["predict", model_path, data])
    table = _read_csv(out)
    rows = _model_rows(fitted)
    np.testing.assert_array_equal(table["label"].to_numpy(), model.predict(rows))
    np.testing.assert_allclose(
        table[["p0", "p1", "p2"]].to_numpy(), model.predict_proba(rows), rtol=1e-12, atol=1e-300
    )


# ----------------------------------------------------------------------------- --help
@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_of_every_command_has_an_example(command):
    status, out, _ = _run([command, "--help"] if command else ["--help"])
    assert status == 0
    assert "example" in out
    assert out.startswith("usage: gaussmix")


# ----------------------------------------------------------------------------- bad input
def _write(folder, name, content):
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return name


def _made(folder):
    folder.mkdir()
    return folder


def _numeric_csv(folder, name="data.csv", n_rows=20):
    frame, _ = _simulate(n_rows, seed=1)
    frame[["x", "y"]].to_csv(folder / name, index=False)
    return name


def _model_copy(folder, fitted, name="model.gaussmix"):
    shutil.copy(fitted["model_path"], folder / name)
    return name


def _truncated_model(folder, fitted):
    content = fitted["model_path"].read_bytes()
    return _write(folder, "model.gaussmix", content[: len(content) // 2])


def _a_file_named(folder, name="taken"):
    return _write(folder, name, "a regular file, not a folder\n")


def _linked(folder, name, to, hard=False):
    """A symbolic (or hard) link ``name`` in ``folder`` to the file ``to`` there."""
    if hard:
        os.link(folder / to, folder / name)
    else:
        (folder / name).symlink_to(to)
    return name


def _hostile_model(folder, fitted, edit_members):
    """A copy of the model with its members edited and its digests recomputed."""
    import hashlib
    import zipfile

    with zipfile.ZipFile(fitted["model_path"]) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    edit_members(members)
    members["SHA256SUMS"] = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        for name, data in members.items()
        if name != "SHA256SUMS"
    ).encode()
    with zipfile.ZipFile(folder / "hostile.gaussmix", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return "hostile.gaussmix"


def _nested_metadata(members):
    text = members["metadata.json"].decode()
    deep = "[" * 50_000 + "]" * 50_000
    members["metadata.json"] = text.replace('"params": {', f'"params": {{"x": {deep}, ', 1).encode()


def _huge_array_header(members):
    """means_.npy claiming 10^12 rows, followed by its few real bytes."""
    data = members["means_.npy"]
    header_length = int.from_bytes(data[8:10], "little")
    header = data[10 : 10 + header_length].decode("latin1")
    claimed = re.sub(r"'shape': \([^)]*\)", "'shape': (1000000000000, 2)", header)
    claimed = claimed.rstrip("\n").ljust(header_length - 1) + "\n"
    members["means_.npy"] = data[:10] + claimed.encode("latin1") + data[10 + header_length :]


def _lab_folder_with_notes(folder):
    (folder / "results").mkdir()
    _write(folder, "results/notes.txt", "mine\n")
    return "results"


BAD_INPUT = {
    "missing data file": lambda d, f: ["fit", "absent.csv"],
    "missing data file for predict": lambda d, f: ["predict", _model_copy(d, f), "absent.csv"],
    "empty file": lambda d, f: ["fit", _write(d, "empty.csv", "")],
    "blank lines only": lambda d, f: ["fit", _write(d, "blank.csv", "\n\n  \n")],
    "header only": lambda d, f: ["fit", _write(d, "header.csv", "x,y\n")],
    "non-numeric columns": lambda d, f: [
        "fit",
        _write(d, "text.csv", "x,name,y,city\n1,ann,2,rome\n2,bob,1,oslo\n3,cy,4,rome\n"),
        "--components",
        "1",
    ],
    "all-NaN column": lambda d, f: [
        "fit",
        _write(d, "nan.csv", "x,y\n1,\n2,NaN\n3,\n4,NA\n"),
        "--components",
        "1",
    ],
    "fewer rows than components": lambda d, f: [
        "fit",
        _write(d, "three.csv", "x,y\n1,2\n2,1\n3,5\n"),
        "--components",
        "5",
        "--covariance",
        "full",
        "--n-init",
        "1",
    ],
    "fewer rows than any component count": lambda d, f: [
        "fit",
        _write(d, "three.csv", "x,y\n1,2\n2,1\n3,5\n"),
        "--components",
        "4-6",
        "--n-init",
        "1",
    ],
    "random bytes as model (predict)": lambda d, f: [
        "predict",
        _write(d, "model.gaussmix", np.random.default_rng(0).bytes(700)),
        _numeric_csv(d),
    ],
    "random bytes as model (info)": lambda d, f: [
        "info",
        _write(d, "model.gaussmix", np.random.default_rng(1).bytes(700)),
    ],
    "truncated model (score)": lambda d, f: ["score", _truncated_model(d, f), _numeric_csv(d)],
    "truncated model (sample)": lambda d, f: ["sample", _truncated_model(d, f), "-n", "5"],
    "truncated model (plot)": lambda d, f: ["plot", _truncated_model(d, f), _numeric_csv(d)],
    "a data file as model": lambda d, f: ["info", _numeric_csv(d)],
    "missing model file": lambda d, f: ["info", "absent.gaussmix"],
    "data without the model's columns": lambda d, f: [
        "predict",
        _model_copy(d, f),
        _write(d, "other.csv", "x,z\n1,2\n2,1\n3,5\n"),
    ],
    "data with no observed value for score": lambda d, f: [
        "score",
        _model_copy(d, f),
        _write(d, "holes.csv", "x,y,z\n,,1\n,,2\n"),
    ],
    "fit output under a regular file": lambda d, f: [
        "fit",
        _numeric_csv(d),
        "--components",
        "2",
        "--covariance",
        "full",
        "--n-init",
        "1",
        "--out",
        f"{_a_file_named(d)}/model.gaussmix",
    ],
    "predict output under a regular file": lambda d, f: [
        "predict",
        _model_copy(d, f),
        _numeric_csv(d),
        "--out",
        f"{_a_file_named(d)}/labels.csv",
    ],
    "score output under a regular file": lambda d, f: [
        "score",
        _model_copy(d, f),
        _numeric_csv(d),
        "--out",
        f"{_a_file_named(d)}/scores.csv",
    ],
    "sample output under a regular file": lambda d, f: [
        "sample",
        _model_copy(d, f),
        "--out",
        f"{_a_file_named(d)}/samples.csv",
    ],
    "plot folder is a regular file": lambda d, f: [
        "plot",
        _model_copy(d, f),
        _numeric_csv(d),
        "--out",
        _a_file_named(d),
    ],
    "unknown covariance": lambda d, f: ["fit", _numeric_csv(d), "--covariance", "bogus"],
    "unknown covariance in a list": lambda d, f: ["fit", _numeric_csv(d), "--covariance", "full,x"],
    "components zero": lambda d, f: ["fit", _numeric_csv(d), "--components", "0"],
    "components not a number": lambda d, f: ["fit", _numeric_csv(d), "--components", "three"],
    "components range reversed": lambda d, f: ["fit", _numeric_csv(d), "--components", "4-2"],
    "components list with zero": lambda d, f: ["fit", _numeric_csv(d), "--components", "2,0"],
    "lab components zero": lambda d, f: ["lab", "--components", "0"],
    "quantile outside [0, 1)": lambda d, f: [
        "score",
        _model_copy(d, f),
        _numeric_csv(d),
        "--quantile",
        "1.5",
    ],
    "quantile and threshold together": lambda d, f: [
        "score",
        _model_copy(d, f),
        _numeric_csv(d),
        "--quantile",
        "0.1",
        "--threshold",
        "-3",
    ],
    "no samples": lambda d, f: ["sample", _model_copy(d, f), "-n", "0"],
    "more samples than memory": lambda d, f: ["sample", _model_copy(d, f), "-n", "100000000000"],
    "nested model metadata (info)": lambda d, f: ["info", _hostile_model(d, f, _nested_metadata)],
    "array header claiming 10^12 rows (predict)": lambda d, f: [
        "predict",
        _hostile_model(d, f, _huge_array_header),
        _numeric_csv(d),
    ],
    "fit output is its data file": lambda d, f: ["fit", _numeric_csv(d), "--out", "data.csv"],
    "fit output links to its data file": lambda d, f: [
        "fit",
        _numeric_csv(d),
        "--out",
        _linked(d, "model.gaussmix", "data.csv"),
    ],
    "predict output is its data file": lambda d, f: [
        "predict",
        _model_copy(d, f),
        _numeric_csv(d),
        "--out",
        "data.csv",
    ],
    "predict data links to its output": lambda d, f: [
        "predict",
        _model_copy(d, f),
        _linked(d, "alias.csv", _numeric_csv(d)),
        "--out",
        "data.csv",
    ],
    "predict output is its model file": lambda d, f: [
        "predict",
        _model_copy(d, f),
        _numeric_csv(d),
        "--out",
        "model.gaussmix",
    ],
    "score output is a hard link to its data file": lambda d, f: [
        "score",
        _model_copy(d, f),
        _numeric_csv(d),
        "--out",
        _linked(d, "scores.csv", "data.csv", hard=True),
    ],
    "sample output is its model file": lambda d, f: [
        "sample",
        _model_copy(d, f),
        "--out",
        "./model.gaussmix",
    ],
    "plot figure is its data file": lambda d, f: [
        "plot",
        _model_copy(d, f),
        f"figures/{_numeric_csv(_made(d / 'figures'), 'density.png')}",
        "--out",
        "figures",
    ],
    "predict output is a folder": lambda d, f: [
        "predict",
        _model_copy(d, f),
        _numeric_csv(d),
        "--out",
        _made(d / "folder").name,
    ],
    "fit output is standard output": lambda d, f: ["fit", _numeric_csv(d), "--out", "-"],
    "plot output is standard output": lambda d, f: [
        "plot",
        _model_copy(d, f),
        _numeric_csv(d),
        "--out",
        "-",
    ],
    "lab output is standard output": lambda d, f: ["lab", "--out", "-"],
    "lab output folder holds other files": lambda d, f: [
        "lab",
        "--out",
        _lab_folder_with_notes(d),
    ],
}

# What the one error line must mention, where the problem has a name.
MESSAGE_NAMES = {
    "missing data file": "absent.csv",
    "missing data file for predict": "absent.csv",
    "empty file": "empty",
    "blank lines only": "empty",
    "header only": "no data rows",
    "non-numeric columns": "'name'",
    "all-NaN column": "'y'",
    "fewer rows than components": "3 distinct complete rows cannot fit 5 components",
    "fewer rows than any component count": "3 distinct complete rows cannot fit 4 components",
    "random bytes as model (predict)": "model.gaussmix",
    "truncated model (score)": "truncated",
    "a data file as model": "data.csv",
    "missing model file": "absent.gaussmix",
    "data without the model's columns": "'y'",
    "data with no observed value for score": "have no values",
    "fit output under a regular file": "taken",
    "predict output under a regular file": "taken",
    "score output under a regular file": "taken",
    "sample output under a regular file": "taken",
    "plot folder is a regular file": "taken",
    "unknown covariance": "bogus",
    "unknown covariance in a list": "'x'",
    "components zero": "'0'",
    "components not a number": "'three'",
    "components range reversed": "'4-2'",
    "components list with zero": "'2,0'",
    "quantile outside [0, 1)": "1.5",
    "more samples than memory": "-n 100000000000 samples of 2 features need about",
    "nested model metadata (info)": "nests 50002 levels deep",
    "array header claiming 10^12 rows (predict)": "(1000000000000, 2)",
    "fit output is its data file": "the output 'data.csv' is the data file 'data.csv'",
    "fit output links to its data file": "the output 'model.gaussmix' is the data file 'data.csv'",
    "predict output is its data file": "the output 'data.csv' is the data file 'data.csv'",
    "predict data links to its output": "the output 'data.csv' is the data file 'alias.csv'",
    "predict output is its model file": "is the model file 'model.gaussmix'",
    "score output is a hard link to its data file": "'scores.csv' is the data file 'data.csv'",
    "sample output is its model file": "is the model file 'model.gaussmix'",
    "plot figure is its data file": "is the data file 'figures/density.png'",
    "predict output is a folder": "folder",
    "fit output is standard output": "--out -",
    "plot output is standard output": "--out -",
    "lab output is standard output": "not standard output",
    "lab output folder holds other files": "notes.txt",
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_error_line_and_leaves_no_file(case, tmp_path, monkeypatch, fitted):
    monkeypatch.chdir(tmp_path)  # default outputs (model.gaussmix, gaussmix-lab) land here
    argv = BAD_INPUT[case](tmp_path, fitted)
    before = _files(tmp_path)
    status, out, err = _run(argv)
    line = _assert_one_error_line(status, out, err)
    if case in MESSAGE_NAMES:
        assert MESSAGE_NAMES[case] in line, line
    if case == "non-numeric columns":
        assert "'city'" in line and "--columns" in line
    assert _files(tmp_path) == before, "the failed command left files behind"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores file permissions"
)
@pytest.mark.parametrize("command", ["fit", "predict", "plot"])
def test_read_only_output_folder_is_one_error_line(command, tmp_path, monkeypatch, fitted):
    monkeypatch.chdir(tmp_path)
    data, model = _numeric_csv(tmp_path), _model_copy(tmp_path, fitted)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        argv = {
            "fit": ["fit", data, "--components", "2", "--n-init", "1", "--out", "locked/m.gm"],
            "predict": ["predict", model, data, "--out", "locked/labels.csv"],
            "plot": ["plot", model, data, "--out", "locked"],
        }[command]
        line = _assert_one_error_line(*_run(argv))
        assert "locked" in line
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("command", ["fit", "predict"])
def test_a_write_that_fails_midway_leaves_no_partial_file(command, tmp_path, monkeypatch, fitted):
    """A full disk after part of the output is written: one error line, nothing left behind."""
    monkeypatch.chdir(tmp_path)
    data, model = _numeric_csv(tmp_path), _model_copy(tmp_path, fitted)

    def disk_full():
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if command == "fit":
        # The model file is complete in its temporary file when fsync fails.
        def fsync(descriptor):
            raise disk_full()

        monkeypatch.setattr(os, "fsync", fsync)
        argv = ["fit", data, "--components", "2", "--covariance", "full", "--out", "new.gaussmix"]
    else:
        to_csv = pd.DataFrame.to_csv

        def partial_to_csv(frame, path, **kwargs):
            to_csv(frame.head(2), path, **kwargs)
            raise disk_full()

        monkeypatch.setattr(pd.DataFrame, "to_csv", partial_to_csv)
        argv = ["predict", model, data, "--out", "labels.csv"]
    before = _files(tmp_path)
    line = _assert_one_error_line(*_run(argv))
    assert os.strerror(errno.ENOSPC) in line
    assert _files(tmp_path) == before


def test_bad_input_from_the_shell_has_no_traceback(tmp_path):
    """``python -m gaussmix`` end to end: a corrupt model file, exit status 2, one line."""
    model = tmp_path / "model.gaussmix"
    model.write_bytes(np.random.default_rng(2).bytes(500))
    (tmp_path / "data.csv").write_text("x,y\n1,2\n2,1\n3,5\n")
    result = subprocess.run(
        [sys.executable, "-m", "gaussmix", "predict", "model.gaussmix", "data.csv"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gaussmix: error:"), result.stderr
    assert "model.gaussmix" in lines[0]
    assert sorted(_files(tmp_path)) == ["data.csv", "model.gaussmix"]


# ----------------------------------------------------------------------------- output targets
def _read_in_background(path, into):
    """Read a FIFO to its end in a thread: a writer blocks until a reader comes."""
    import threading

    def read():
        with open(path, "rb") as fifo:
            into.append(fifo.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


FIT_ARGS = ["--columns", "y,x", "--components", "3", "--covariance", "full", "--n-init", "1"]
CSV_COMMANDS = {
    "predict": lambda f: ["predict", f["model_path"], f["data"]],
    "score": lambda f: ["score", f["model_path"], f["data"], "--quantile", "0.1"],
    "sample": lambda f: ["sample", f["model_path"], "-n", "50", "--seed", "3"],
}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("command", sorted(CSV_COMMANDS))
def test_csv_output_into_a_fifo_reaches_its_reader_and_the_fifo_stays(command, tmp_path, fitted):
    import stat

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = _read_in_background(fifo, received)
    argv = CSV_COMMANDS[command](fitted)
    _ok([*argv, "--out", fifo])
    reader.join(timeout=60)
    expected, _ = _ok(argv)  # the same rows on stdout
    assert received == [expected.encode()]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fit_into_a_fifo_gives_the_model_file_bytes(tmp_path, fitted):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = _read_in_background(fifo, received)
    out, _ = _ok(["fit", fitted["data"], *FIT_ARGS, "--seed", "0", "--out", fifo])
    reader.join(timeout=60)
    assert received == [fitted["model_path"].read_bytes()]
    assert f"model: {fifo}" in out


@pytest.mark.skipif(not os.path.isdir("/dev/fd"), reason="no /dev/fd here")
def test_predict_into_an_open_descriptor_writes_through_it(fitted):
    """``--out /dev/fd/N`` (as ``/dev/stdout`` is): the descriptor's pipe gets the rows."""
    import threading

    read_end, write_end = os.pipe()
    received = []

    def read():
        with os.fdopen(read_end, "rb") as pipe:
            received.append(pipe.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        _ok(["predict", fitted["model_path"], fitted["data"], "--out", f"/dev/fd/{write_end}"])
    finally:
        os.close(write_end)
    reader.join(timeout=60)
    expected, _ = _ok(["predict", fitted["model_path"], fitted["data"]])
    assert received == [expected.encode()]


def _character_device(folder, name, minor):
    """A copy of /dev/null (minor 3) or /dev/full (minor 7) in ``folder``; root on Linux only."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not sys.platform.startswith("linux"):
        pytest.skip("making a device node needs root on Linux")
    path = folder / name
    try:
        os.mknod(path, 0o20666, os.makedev(1, minor))  # S_IFCHR | rw-rw-rw-
    except PermissionError:
        pytest.skip("this root may not make device nodes")
    return path


def test_fit_into_a_full_device_is_one_error_line_and_the_device_stays(tmp_path, fitted):
    """The issue: ``gaussmix fit ok.csv --out /dev/full`` as root replaced the device."""
    device = _character_device(tmp_path, "full", 7)
    before = os.lstat(device)
    line = _assert_one_error_line(*_run(["fit", fitted["data"], *FIT_ARGS, "--out", device]))
    assert "No space left on device" in line and str(device) in line
    after = os.lstat(device)
    assert (after.st_mode, after.st_rdev, after.st_ino) == (
        before.st_mode,
        before.st_rdev,
        before.st_ino,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def test_sample_into_a_null_device_succeeds_and_the_device_stays(tmp_path, fitted):
    device = _character_device(tmp_path, "null", 3)
    before = os.lstat(device)
    _ok(["sample", fitted["model_path"], "-n", "20", "--out", device])
    after = os.lstat(device)
    assert (after.st_mode, after.st_rdev, after.st_ino) == (
        before.st_mode,
        before.st_rdev,
        before.st_ino,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="no /dev/stdout here")
def test_fit_to_dev_stdout_writes_the_model_there_and_its_report_to_stderr(tmp_path, fitted):
    """``--out /dev/stdout`` in a shell pipe: the model file's bytes, nothing else."""
    command = [sys.executable, "-m", "gaussmix", "fit", fitted["data"], *FIT_ARGS, "--seed", "0"]
    result = subprocess.run(
        [*command, "--out", "/dev/stdout"],
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == fitted["model_path"].read_bytes()
    assert b"model: /dev/stdout" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_sample_larger_than_memory_names_a_size_above_the_draws_alone(tmp_path, fitted):
    n = 100_000_000_000
    line = _assert_one_error_line(*_run(["sample", fitted["model_path"], "-n", n]))
    value, unit = re.search(r"need about ([\d.]+) (KB|MB|GB|TB|PB)", line).groups()
    named = float(value) * 1000 ** ["KB", "MB", "GB", "TB", "PB"].index(unit) * 1000
    assert named >= n * 2 * 8  # two float64 features per sample, nothing else counted
    assert "available" in line


def test_running_out_of_memory_is_one_error_line(monkeypatch, fitted):
    def exhausted(path):
        raise MemoryError

    monkeypatch.setattr("gaussmix.cli.load", exhausted)
    line = _assert_one_error_line(*_run(["info", fitted["model_path"]]))
    assert "out of memory" in line


# ----------------------------------------------------------------------------- degenerate data
DEGENERATE = {
    # name: (CSV text, --components, what the one line names)
    "constant column": ("a,b\n1,2\n1,3\n1,4\n1,5\n1,7\n1,8\n", "2", "'a' (value 1) is constant"),
    "identical rows": ("a,b\n" + "1,2\n" * 6, "1-3", "all 6 complete rows are identical"),
    "five rows, five components": (
        "a,b\n1,2\n3,1\n4,5\n2,9\n6,3\n",
        "5",
        "5 distinct complete rows cannot fit 5 components",
    ),
}


@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_fit_refuses_data_no_mixture_can_fit_in_one_line(case, tmp_path):
    text, components, named = DEGENERATE[case]
    data = tmp_path / "data.csv"
    data.write_text(text)
    out = tmp_path / "model.gaussmix"
    status, stdout, err = _run(["fit", data, "--components", components, "--out", out])
    assert named in _assert_one_error_line(status, stdout, err)
    assert not out.exists()


def test_fit_warns_in_one_line_when_rows_are_fewer_than_the_parameters(tmp_path):
    rows = np.random.default_rng(0).normal(size=(10, 2))
    data = tmp_path / "ten.csv"
    pd.DataFrame(rows, columns=["a", "b"]).to_csv(data, index=False)
    _out, err = _ok(
        ["fit", data, "--components", "2", "--covariance", "full", "--out", tmp_path / "m"]
    )
    # Two full components in 2-D: 4 means, 6 covariance entries, 1 free weight.
    warned = [line for line in err.splitlines() if "fewer than the 11 free parameters" in line]
    assert len(warned) == 1 and warned[0].startswith("gaussmix: warning: 10 distinct")


def test_warnings_on_the_command_line_are_one_line_each_without_python_names(tmp_path):
    rng = np.random.default_rng(0)
    rows = np.vstack([rng.normal(-3, 1, (12, 2)), rng.normal(3, 1, (12, 2))])
    data = tmp_path / "small.csv"
    pd.DataFrame(rows, columns=["a", "b"]).to_csv(data, index=False)
    # Six VVV components on 24 rows collapse: spurious candidates are warned of.
    _out, err = _ok(
        ["fit", data, "--components", "2-6", "--covariance", "VVV", "--n-init", "1", "--jobs",
         "1", "--out", tmp_path / "m"]
    )  # fmt: skip
    warnings_shown = [line for line in err.splitlines() if line.startswith("gaussmix: warning:")]
    assert any("spurious" in line for line in warnings_shown), err
    assert len(warnings_shown) == len(set(warnings_shown))
    for line in warnings_shown:
        assert not re.search(r"\b\w+_(\[|\b)", line), line  # results_['reason'], n_iter_


def test_fit_leaves_out_a_saved_row_index_with_a_note(tmp_path):
    frame, _ = _simulate(n_rows=90)
    data = tmp_path / "indexed.csv"
    frame[["x", "y"]].to_csv(data)  # pandas' default: the index as an unnamed first column
    model_path = tmp_path / "m.gaussmix"
    _out, err = _ok(["fit", data, "--components", "3", "--covariance", "full", "--out", model_path])
    assert "saved row index" in err and err.count("gaussmix: note:") == 1
    model = gaussmix.load(model_path)
    assert list(model.feature_names_in_) == ["x", "y"]
    # Named columns are the user's choice: the index stays a feature when asked for.
    _ok(["fit", data, "--columns", "0,1,2", "--components", "1", "--out", model_path])
    assert gaussmix.load(model_path).n_features_in_ == 3


def test_lab_labels_need_the_users_data_file(tmp_path):
    status, out, err = _run(["lab", "--labels", "species", "--out", tmp_path / "lab"])
    assert "--data" in _assert_one_error_line(status, out, err)
    assert not (tmp_path / "lab").exists()


@pytest.mark.parametrize("command", ["lab", "fit"])
def test_help_says_a_number_of_components_is_fitted_exactly(command):
    out, _ = _ok([command, "--help"])
    text = " ".join(out.split())
    assert "3 fits exactly 3 components" in text and "1-9" in text
    if command == "lab":
        assert "--labels COLUMN" in text


# ----------------------------------------------------------------------------- streamed files
STREAM_FIT_ARGS = ["--components", "3", "--covariance", "full", "--n-init", "1", "--seed", "0"]


def _data_file(folder, frame, kind):
    path = folder / f"data.{kind}"
    if kind == "csv":
        frame.to_csv(path, index=False)
    else:
        pytest.importorskip("pyarrow")
        frame.to_parquet(path, index=False, row_group_size=64)
    return path


@pytest.fixture
def streamed(monkeypatch):
    """Every data file read block by block, output written in blocks of 100 rows."""
    monkeypatch.setenv("GAUSSMIX_STREAM_BYTES", "0")
    monkeypatch.setattr("gaussmix.cli.OUTPUT_BLOCK_ROWS", 100)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_streamed_fit_gives_the_whole_file_model(tmp_path, fitted, streamed, kind):
    data = _data_file(tmp_path, fitted["frame"], kind)
    model_path = tmp_path / "model.gaussmix"
    out, _ = _ok(
        ["fit", data, "--columns", ",".join(MODEL_COLUMNS), *STREAM_FIT_ARGS, "--out", model_path]
    )
    model, reference = gaussmix.load(model_path), fitted["model"]
    assert list(model.feature_names_in_) == MODEL_COLUMNS
    for attribute in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(
            getattr(model, attribute), getattr(reference, attribute), rtol=1e-9, atol=1e-12
        )
    # The criteria, computed block by block, as the whole-file path prints them.
    criteria = re.search(r"BIC -?[\d.]+\s+AIC -?[\d.]+", out).group()
    assert criteria == re.search(r"BIC -?[\d.]+\s+AIC -?[\d.]+", fitted["fit_out"]).group()


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_streamed_predict_and_score_write_what_the_whole_file_path_writes(
    tmp_path, fitted, monkeypatch, kind
):
    data = _data_file(tmp_path, fitted["frame"], kind)
    threshold = str(round(float(np.median(fitted["model"].score_samples(_model_rows(fitted)))), 2))
    commands = {
        "predict": ["predict", fitted["model_path"], data],
        "score": ["score", fitted["model_path"], data, "--threshold", threshold],
    }
    whole = {name: _ok(argv) for name, argv in commands.items()}
    monkeypatch.setenv("GAUSSMIX_STREAM_BYTES", "0")
    monkeypatch.setattr("gaussmix.cli.OUTPUT_BLOCK_ROWS", 100)  # five blocks, one header
    for name, argv in commands.items():
        out, err = _ok(argv)
        assert out == whole[name][0], name
        assert err == whole[name][1], name
        written = tmp_path / f"{name}.csv"
        _ok([*argv, "--out", written])
        assert written.read_text() == whole[name][0]
    assert _read_csv(out)["outlier"].sum() > 0


def test_stream_option_streams_a_small_file(tmp_path, fitted, monkeypatch):
    calls = []
    original = gaussmix.cli._open_rows
    monkeypatch.setattr(
        "gaussmix.cli._open_rows", lambda *args: calls.append(args) or original(*args)
    )
    out, _ = _ok(["predict", fitted["model_path"], fitted["data"]])
    assert calls == []
    assert _ok(["predict", fitted["model_path"], fitted["data"], "--stream"])[0] == out
    assert len(calls) == 1


def test_streamed_score_refuses_a_quantile_in_one_line(tmp_path, fitted, streamed):
    out_path = tmp_path / "scores.csv"
    status, out, err = _run(
        ["score", fitted["model_path"], fitted["data"], "--quantile", "0.1", "--out", out_path]
    )
    line = _assert_one_error_line(status, out, err)
    assert "--quantile" in line and "--threshold" in line
    assert not out_path.exists()


@pytest.mark.parametrize("command", ["fit", "predict"])
def test_streamed_file_with_a_missing_value_names_its_row(tmp_path, fitted, streamed, command):
    frame = fitted["frame"][MODEL_COLUMNS].copy()
    frame.iloc[123, 1] = np.nan
    data = tmp_path / "holes.csv"
    frame.to_csv(data, index=False)
    out_path = tmp_path / "out"
    argv = (
        ["fit", data, *STREAM_FIT_ARGS, "--out", out_path]
        if command == "fit"
        else ["predict", fitted["model_path"], data, "--out", out_path]
    )
    line = _assert_one_error_line(*_run(argv))
    assert "missing value in column 'x', row 123" in line and "drop or fill" in line
    assert _files(tmp_path).keys() == {"holes.csv"}


def test_streamed_fit_leaves_out_a_saved_row_index_with_a_note(tmp_path, streamed):
    frame, _ = _simulate(n_rows=250)
    data = tmp_path / "indexed.csv"
    frame[["x", "y"]].to_csv(data)
    model_path = tmp_path / "m.gaussmix"
    _out, err = _ok(["fit", data, *STREAM_FIT_ARGS, "--out", model_path])
    assert "saved row index" in err and err.count("gaussmix: note:") == 1
    assert list(gaussmix.load(model_path).feature_names_in_) == ["x", "y"]


def test_a_parquet_folder_is_streamed_whatever_its_size(tmp_path, fitted):
    pytest.importorskip("pyarrow")
    folder = tmp_path / "dataset"
    folder.mkdir()
    frame = fitted["frame"]
    for i, start in enumerate(range(0, N_ROWS, 200)):
        frame.iloc[start : start + 200].to_parquet(folder / f"part-{i}.parquet", index=False)
    out, _ = _ok(["predict", fitted["model_path"], folder])
    np.testing.assert_array_equal(
        _read_csv(out)["label"].to_numpy(), fitted["model"].predict(_model_rows(fitted))
    )


def test_streamed_passes_draw_a_progress_bar_each_on_a_terminal(tmp_path, fitted, monkeypatch):
    monkeypatch.setenv("GAUSSMIX_STREAM_BYTES", "0")
    monkeypatch.setattr("gaussmix.cli._stderr_is_terminal", lambda: True)
    _, err = _ok(["predict", fitted["model_path"], fitted["data"], "--out", tmp_path / "p.csv"])
    assert "predicting, pass 1" in err and "pass 2" not in err
    _, err = _ok(
        ["predict", fitted["model_path"], fitted["data"], "--out", tmp_path / "q.csv",
         "--no-progress"]
    )  # fmt: skip
    assert "pass 1" not in err


def test_scheduler_that_cannot_be_reached_is_one_error_line(tmp_path, fitted, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr("gaussmix.cli.SCHEDULER_TIMEOUT", 1)
    out_path = tmp_path / "m.gaussmix"
    argv = ["fit", fitted["data"], "--columns", "y,x", *STREAM_FIT_ARGS, "--out", out_path]
    line = _assert_one_error_line(*_run([*argv, "--scheduler", "tcp://127.0.0.1:1"]))
    assert "--scheduler tcp://127.0.0.1:1: cannot reach the Dask scheduler" in line
    # The environment variable names it too; without distributed, the fix is named.
    monkeypatch.setenv("GAUSSMIX_SCHEDULER", "tcp://127.0.0.1:1")
    monkeypatch.setitem(sys.modules, "distributed", None)
    line = _assert_one_error_line(*_run(argv))
    assert "install gaussmix[dask]" in line
    assert not out_path.exists()


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_fit_on_a_dask_cluster_gives_the_model_of_the_rows(tmp_path, fitted, kind):
    distributed = pytest.importorskip("distributed")
    data = _data_file(tmp_path, fitted["frame"], kind)
    model_path = tmp_path / "m.gaussmix"
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        argv = [
            "fit",
            data,
            "--columns",
            ",".join(MODEL_COLUMNS),
            *STREAM_FIT_ARGS,
            "--out",
            model_path,
        ]
        out, err = _ok([*argv, "--scheduler", cluster.scheduler_address])
    assert "fitting on the Dask cluster" in err
    model = gaussmix.load(model_path)
    assert list(model.feature_names_in_) == MODEL_COLUMNS
    rows = _model_rows(fitted)
    assert adjusted_rand_score(fitted["labels"], model.predict(rows)) > 0.97
    bic = float(re.search(r"BIC (-?[\d.]+)", out).group(1))
    np.testing.assert_allclose(bic, model.bic(rows), atol=0.01)


# A fresh interpreter: warm up on a small file (imports, thread pools, the 50,000-row
# sample of the start), then limit its address space to what it has plus a headroom,
# and fit and predict a file several times larger than the headroom.
MEMORY_LIMITED_RUN = """
import os, resource, sys, threading

# New threads reserve their stack in the address space: the reader thread of each pass
# gets 1 MiB rather than 8, which is address space, not memory.
threading.stack_size(2**20)
from gaussmix.cli import main

small, large, folder, headroom = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def run(data, name):
    model = os.path.join(folder, name + ".gaussmix")
    fit = ["fit", data, "--stream", "--components", "2", "--covariance", "VVI", "--n-init", "1",
           "--out", model]
    predict = ["predict", model, data, "--stream", "--out", os.path.join(folder, name + ".csv")]
    for argv in (fit, predict):
        status = main(argv)
        if status:
            sys.exit(status)


run(small, "small")
with open("/proc/self/status") as status:
    size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
limit = size + headroom
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
run(large, "large")
"""


def _write_two_clusters(path, n_rows, row_group_size, seed, n_features=8):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    with pq.ParquetWriter(
        path,
        pa.schema([(f"x{j}", pa.float32()) for j in range(n_features)]),
        compression="none",
        use_dictionary=False,
    ) as writer:
        for start in range(0, n_rows, 500_000):
            n = min(500_000, n_rows - start)
            shift = np.where(rng.random(n) < 0.4, 6.0, -2.0).astype(np.float32)[:, None]
            X = rng.standard_normal((n, n_features), dtype=np.float32) + shift
            table = pa.table({f"x{j}": X[:, j] for j in range(n_features)})
            writer.write_table(table, row_group_size=row_group_size)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc: Linux")
def test_fit_and_predict_a_parquet_file_larger_than_the_memory_allowed(tmp_path):
    pytest.importorskip("pyarrow")
    headroom = 24 * 2**20
    small, large = tmp_path / "small.parquet", tmp_path / "large.parquet"
    _write_two_clusters(small, 60_000, 50_000, seed=0)
    _write_two_clusters(large, 2_600_000, 50_000, seed=1)
    assert large.stat().st_size > 3 * headroom
    env = {
        **os.environ,
        # Out-of-core from the warm-up on (small inputs would be loaded whole), reads of
        # 2 MiB, one worker thread, no thread pools or allocator arenas that reserve
        # address space after the limit is set, and large allocations given back to the
        # system when freed (glibc's moving threshold would keep them in its heap).
        "GAUSSMIX_LOAD_BYTES": "0",
        "GAUSSMIX_BLOCK_BYTES": str(2 * 2**20),
        "MALLOC_MMAP_THRESHOLD_": str(256 * 2**10),
        "GAUSSMIX_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "1",
        "ARROW_DEFAULT_MEMORY_POOL": "system",
    }
    run = subprocess.run(
        [sys.executable, "-c", MEMORY_LIMITED_RUN, small, large, tmp_path, str(headroom)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    model = gaussmix.load(tmp_path / "large.gaussmix")
    assert sorted(np.round(model.means_[:, 0])) == [-2.0, 6.0]
    np.testing.assert_allclose(sorted(model.weights_), [0.4, 0.6], atol=0.01)
    labels = pd.read_csv(tmp_path / "large.csv", usecols=["label"])["label"].to_numpy()
    assert len(labels) == 2_600_000
    # Clusters 8 standard deviations apart in each of 8 features: labels follow any feature.
    first = pd.read_parquet(large, columns=["x0"]).to_numpy()[:, 0]
    high = int(np.argmax(model.means_[:, 0]))
    assert np.mean((labels == high) == (first > 2.0)) > 0.999
