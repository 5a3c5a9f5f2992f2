"""The ``gaussmix`` command line, against scikit-learn fitted the same way."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gaussmix.cli import main
from gaussmix.datasets import load_faithful

LINE = re.compile(
    r"component (\d+): weight ([\d.]+); mean eruptions=([\d.]+) min, waiting=([\d.]+) min"
)


def _parse(output):
    rows = [tuple(float(v) for v in m.groups()) for m in LINE.finditer(output)]
    return np.array(rows)


def _sklearn_lab(n_components=2, covariance_type="full"):
    X, _ = load_faithful()
    return X, SkGaussianMixture(
        n_components=n_components, covariance_type=covariance_type, n_init=5, random_state=0
    ).fit(X)


@pytest.mark.parametrize(
    ("argv", "n_components", "covariance_type"),
    [(["lab"], 2, "full"), (["lab", "--components", "3", "--covariance", "diag"], 3, "diag")],
)
def test_lab_prints_the_model_sklearn_fits(capsys, argv, n_components, covariance_type):
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    out = captured.out
    assert "272 eruptions" in out
    assert f"n_components={n_components}" in out and repr(covariance_type) in out

    X, sk = _sklearn_lab(n_components, covariance_type)
    rows = _parse(out)
    assert rows.shape == (n_components, 4)
    # Printed heaviest first, with their component numbers; 3 decimals are printed.
    np.testing.assert_array_equal(rows[:, 0], np.argsort(-sk.weights_))
    order = rows[:, 0].astype(int)
    np.testing.assert_allclose(rows[:, 1], sk.weights_[order], atol=5e-4 + 1e-9)
    np.testing.assert_allclose(rows[:, 2:], sk.means_[order], atol=5e-4 + 1e-9)

    loglik = float(re.search(r"mean log-likelihood (-?[\d.]+)", out).group(1))
    np.testing.assert_allclose(loglik, sk.lower_bound_, atol=5e-5 + 1e-9)
    bic, aic = (float(v) for v in re.search(r"BIC (-?[\d.]+)\s+AIC (-?[\d.]+)", out).groups())
    np.testing.assert_allclose(bic, sk.bic(X), atol=5e-3 + 1e-6)
    np.testing.assert_allclose(aic, sk.aic(X), atol=5e-3 + 1e-6)


def test_lab_as_a_module_in_a_fresh_interpreter(capsys):
    result = subprocess.run(
        [sys.executable, "-m", "gaussmix", "lab"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    main(["lab"])
    assert result.stdout == capsys.readouterr().out
    _, sk = _sklearn_lab()
    rows = _parse(result.stdout)
    np.testing.assert_allclose(rows[:, 2:], sk.means_[rows[:, 0].astype(int)], atol=5e-4 + 1e-9)


@pytest.mark.parametrize("components", ["0", "-1", "300"])
def test_bad_argument_is_one_line_without_traceback(capsys, components):
    status = main(["lab", "--components", components])
    captured = capsys.readouterr()
    assert status != 0
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("gaussmix: error:")
    assert "Traceback" not in captured.err


def test_bad_argument_exit_status_from_the_shell():
    result = subprocess.run(
        [sys.executable, "-m", "gaussmix", "lab", "--components", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "n_components" in result.stderr
