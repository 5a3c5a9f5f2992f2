"""The package's layout: every documented name at its documented path, and imports that only
go down the layers.

The truth for names is the list the README and docstrings document, written out
here; the truth for layers is the source itself, read with ``ast`` (lazy imports
inside functions count as much as those at the top).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import gaussmix

PACKAGE_ROOT = Path(gaussmix.__file__).resolve().parent

# The public names, by the path the README documents them at.
DOCUMENTED = {
    "gaussmix": {
        "BayesianGaussianMixture",
        "CollapseError",
        "CollapseWarning",
        "ConjugatePrior",
        "GaussianMixture",
        "GaussianMixtureIC",
        "GaussianMixtureImputer",
        "GaussianMixtureRegressor",
        "ModelFileError",
        "SpuriousFitWarning",
        "__version__",
        "load",
    },
    "gaussmix.data": {
        "CsvRows",
        "DATASET_NAMES",
        "MISSING_VALUES",
        "Dataset",
        "ParquetRows",
        "Prepared",
        "Table",
        "load_dataset",
        "prepare",
        "read_table",
    },
    "gaussmix.datasets": {
        "DATASET_NAMES",
        "FAITHFUL_UNITS",
        "Dataset",
        "load_dataset",
        "load_faithful",
    },
    "gaussmix.plot": {
        "EFFECTIVE_WEIGHT",
        "FIGURE_INCHES",
        "KINDS",
        "MAX_PAIR_FEATURES",
        "MAX_SCATTER_ROWS",
        "PAIR_PANEL_INCHES",
        "component_colors",
        "component_covariances",
        "component_shares",
        "marginal_log_density",
        "plot_clusters",
        "plot_criterion",
        "plot_density",
        "plot_overview",
        "plot_pairs",
        "plot_projection",
        "plot_uncertainty",
        "plot_univariate",
        "plot_weights",
    },
    "gaussmix.covariance": {
        "COVARIANCE_MODELS",
        "CovarianceModel",
        "MCLUST_NAMES",
        "Prepared",
        "SKLEARN_NAMES",
        "UNIVARIATE_NAMES",
        "get_covariance_model",
    },
    "gaussmix.lab": {"DEFAULT_COVARIANCE_TYPES", "LabResult", "format_summary", "run_lab"},
    "gaussmix.starts": {
        "Assignment",
        "hc_assignments",
        "hc_labels",
        "initial_assignment",
        "same_partition",
        "sampled_assignment",
    },
    # Paths of the first releases, kept working.
    "gaussmix.model_io": {"ModelFileError", "load_model", "save_model", "covariance_storage"},
    "gaussmix.criteria": {"aic", "bic", "icl", "component_covariance_matrices", "degeneracy"},
}

# What each part of the package may import, besides itself: the layers, bottom to top.
ALLOWED = {
    "_version": set(),
    "covariance": set(),
    "datasets": set(),
    "engine": {"covariance"},
    "backends": {"covariance", "engine"},
    "starts": {"covariance", "engine"},
    "data": {"_version", "covariance", "datasets"},
    "estimators": {"_version", "covariance", "engine", "backends", "starts", "data", "datasets"},
    "plot": {"covariance", "engine", "datasets"},
    "lab": {
        *("_version", "covariance", "engine", "backends", "starts", "data", "datasets"),
        *("estimators", "plot"),
    },
    # The compatibility paths re-export what they always held.
    "criteria": {"engine"},
    "model_io": {"data", "estimators"},
    "cli": {
        *("_version", "covariance", "engine", "data", "datasets", "estimators", "plot", "lab"),
        "__init__",
    },
    "__main__": {"cli"},
    "__init__": {"_version", "data", "engine", "estimators"},
}
BELOW_ESTIMATORS = ("_version", "covariance", "datasets", "engine", "backends", "starts", "data")


def _module_files():
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        yield path, parts, is_package


def _is_module(dotted: list[str]) -> bool:
    folder = PACKAGE_ROOT.parent.joinpath(*dotted)
    return folder.with_suffix(".py").is_file() or (folder / "__init__.py").is_file()


def _imported_modules(path, parts, is_package):
    """Every gaussmix module ``path`` imports, as lists of name parts."""
    package = parts if is_package else parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
            else:
                base = []
            base = base + (node.module.split(".") if node.module else [])
            for alias in node.names:
                # ``from pkg import name`` imports the submodule pkg.name if there is one.
                submodule = [*base, alias.name]
                yield submodule if _is_module(submodule) else base


def _part(parts: list[str]) -> str:
    return parts[1] if len(parts) > 1 else "__init__"


def _violations():
    found = []
    for path, parts, is_package in _module_files():
        part = _part(parts)
        for target in _imported_modules(path, parts, is_package):
            if not target or target[0] != "gaussmix":
                continue
            target_part = _part(target)
            if target_part != part and target_part not in ALLOWED.get(part, set()):
                found.append(f"{'.'.join(parts)} imports {'.'.join(target)}")
    return found


@pytest.mark.parametrize("path", sorted(DOCUMENTED))
def test_every_documented_name_imports_from_its_documented_path(path):
    module = importlib.import_module(path)
    missing = sorted(name for name in DOCUMENTED[path] if not hasattr(module, name))
    assert not missing, f"{path} lacks {missing}"
    exported = set(getattr(module, "__all__", ()))
    undocumented = sorted(exported - DOCUMENTED[path])
    if path not in ("gaussmix.model_io", "gaussmix.criteria"):
        assert not undocumented, f"{path}.__all__ has undocumented {undocumented}"


def test_every_part_of_the_package_has_a_layer():
    parts = {_part(parts) for _, parts, _ in _module_files()}
    assert parts <= set(ALLOWED), f"parts without a layer: {sorted(parts - set(ALLOWED))}"


def test_imports_only_go_down_the_layers():
    assert _violations() == []


def test_nothing_below_the_estimators_imports_them_or_anything_above():
    above = {"estimators", "lab", "plot", "cli", "__init__", "model_io", "criteria"}
    for part in BELOW_ESTIMATORS:
        assert not (ALLOWED[part] & above), part


def test_the_checker_catches_an_upward_import(tmp_path, monkeypatch):
    package = tmp_path / "gaussmix"
    (package / "engine").mkdir(parents=True)
    (package / "estimators").mkdir()
    (package / "__init__.py").write_text("")
    (package / "engine" / "__init__.py").write_text("")
    (package / "estimators" / "__init__.py").write_text("")
    (package / "engine" / "em.py").write_text(
        "def fit():\n    from ..estimators import GaussianMixture\n"
    )
    monkeypatch.setitem(globals(), "PACKAGE_ROOT", package)
    assert _violations() == ["gaussmix.engine.em imports gaussmix.estimators"]
