"""The lab's HTML report: self-contained, escaped, and stating the run's numbers."""

from __future__ import annotations

import base64
import html
import re

import numpy as np
import pandas as pd
import pytest

from gaussmix.lab import run_lab
from gaussmix.lab.report import render_report


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    rng = np.random.RandomState(1)
    X = np.vstack([rng.normal(-4, 1, (60, 2)), rng.normal(4, 1, (60, 2))])
    # A hostile column name must come out escaped, never as markup.
    names = ["<b>width</b>", "height & depth"]
    path = folder / "data.csv"
    pd.DataFrame(X, columns=names).to_csv(path, index=False)
    result = run_lab(
        data=path,
        out_dir=folder / "out",
        n_components=range(1, 4),
        covariance_types=("spherical", "full"),
        test_size=0,
        n_init=2,
    )
    return result


def test_report_escapes_names_and_embeds_only_data_uris(small_run):
    page = render_report(small_run)
    assert "<b>width</b>" not in page
    assert html.escape("<b>width</b>") in page
    assert html.escape("height & depth") in page
    sources = re.findall(r'src="([^"]+)"', page)
    assert len(sources) == 4
    assert all(source.startswith("data:image/png;base64,") for source in sources)
    for source in sources:
        base64.b64decode(source.split(",", 1)[1], validate=True)
    assert "<script" not in page


def test_report_states_the_runs_numbers(small_run):
    page = render_report(small_run)
    summary = small_run.summary
    assert f"{summary['train']['bic']:.2f}" in page
    assert f"{summary['train']['aic']:.2f}" in page
    assert "no test set" in page
    model = small_run.model
    assert f"{model.n_components} components, {model.covariance_type} covariance" in page
    for weight in summary["model"]["weights"]:
        assert f"{weight:.4f}" in page
    # One table row per candidate shown, the chosen one marked.
    assert page.count('<tr class="chosen">') == 1


def test_cluster_means_are_reported_in_the_data_units(small_run):
    page = render_report(small_run)
    means = small_run.prepared.inverse_transform(small_run.model.means_)
    for value in means.ravel():
        assert f"{value:.4f}" in page
    # Sanity: the two blobs sit near -4 and +4 in the raw units.
    assert np.allclose(np.sort(means[:, 0]), [-4, 4], atol=0.5)


def test_candidates_run_from_their_leading_starts_only_say_so():
    from gaussmix.lab.report import _note

    results = {"reason": ["", "flat component", ""], "all_starts": [True, False, False]}
    assert _note(results, 0) == ""
    assert _note(results, 1) == "flat component; leading starts only (more than 10 behind the best)"
    assert _note(results, 2) == "leading starts only (more than 10 behind the best)"
