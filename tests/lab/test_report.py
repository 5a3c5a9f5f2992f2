"""The lab's HTML report: self-contained, escaped, stating the run's numbers and the grid
searched, with tables that never widen the page (measured in headless Chromium where present).
"""

from __future__ import annotations

import base64
import copy
import html
import re
import shutil
import subprocess
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from gaussmix.covariance import MCLUST_NAMES
from gaussmix.lab import run_lab
from gaussmix.lab.report import render_report

CHROMIUM = next(
    (path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None
)


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
    screened = (
        "leading starts only, run to convergence or to within about 1 of it "
        "(more than 10 behind the best)"
    )
    assert _note(results, 0) == ""
    assert _note(results, 1) == f"flat component; {screened}"
    assert _note(results, 2) == screened


# ---------------------------------------------------------------- wide data
N_WIDE_FEATURES = 30
WIDE_NAMES = [f"mean radius {i}" for i in range(N_WIDE_FEATURES)]


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory):
    """30 features, named as breast_cancer's are ("mean radius"), on a two-model grid."""
    folder = tmp_path_factory.mktemp("wide")
    rng = np.random.RandomState(2)
    X = np.vstack(
        [rng.normal(-2, 1, (80, N_WIDE_FEATURES)), rng.normal(2, 1, (80, N_WIDE_FEATURES))]
    )
    path = folder / "wide.csv"
    pd.DataFrame(X, columns=WIDE_NAMES).to_csv(path, index=False)
    return run_lab(
        data=path,
        out_dir=folder / "out",
        n_components=range(1, 3),
        covariance_types=("EII", "VII"),
        n_init=1,
        n_jobs=1,
    )


def _rows(page):
    return re.findall(r"<tr[^>]*>(.*?)</tr>", page, flags=re.S)


def test_no_empty_header_cells_and_no_header_rows_on_key_value_tables(small_run, wide_run):
    for result in (small_run, wide_run):
        page = render_report(result)
        assert not re.search(r"<th[^>]*>\s*</th>", page)
        for row in _rows(page):
            cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)
            assert any(cell.strip() for cell in cells), row
        for table in re.findall(r'<table class="key-values">(.*?)</table>', page, flags=re.S):
            rows = _rows(table)
            assert rows
            # Each row: its name as a row header, then its value; no column headers.
            for row in rows:
                assert re.fullmatch(
                    r'\s*<th scope="row" class="text">[^<]+</th>\s*<td class="text">.+</td>\s*',
                    row,
                    flags=re.S,
                ), row


def test_every_table_scrolls_in_its_own_box(wide_run):
    page = render_report(wide_run)
    n_tables = page.count("<table")
    assert n_tables >= 4
    assert page.count('<div class="scroll"><table') == n_tables
    assert page.count("</table></div>") == n_tables
    assert re.search(r"\.scroll\s*\{[^}]*overflow-x:\s*auto", page)


def test_cluster_means_have_one_row_per_feature_named_once(wide_run):
    page = render_report(wide_run)
    assert "mean mean" not in page and "mean of mean" not in page
    for name in WIDE_NAMES:
        # Row headers, each name exactly once in the clusters table.
        assert page.count(f'<th scope="row" class="text">{name}</th>') == 1
    means = wide_run.prepared.inverse_transform(wide_run.model.means_)
    for j, name in enumerate(WIDE_NAMES):
        (row,) = [r for r in _rows(page) if f">{name}</th>" in r]
        values = [float(v) for v in re.findall(r"<td>([^<]+)</td>", row)]
        np.testing.assert_allclose(values, means[:, j], atol=5e-5)


def test_the_grid_searched_and_the_models_left_out_are_stated(wide_run):
    page = html.unescape(render_report(wide_run))
    assert "1-2 components x 2 covariance models (EII, VII): 4 candidates" in page
    others = [name for name in MCLUST_NAMES if name not in ("EII", "VII")]
    assert f"{', '.join(others)}: not in the requested grid" in page

    # The lab's default grid on more than 15 features: the 12 models without EVE and VVE.
    result = copy.copy(wide_run)
    result.summary = copy.deepcopy(wide_run.summary)
    searched = [name for name in MCLUST_NAMES if name not in ("EVE", "VVE")]
    result.summary["search"]["covariance_types"] = searched
    page = html.unescape(render_report(result))
    assert f"x 12 covariance models ({', '.join(searched)})" in page
    (row,) = [r for r in _rows(page) if "not searched" in r]
    assert "EVE, VVE: left out of the lab's default grid on more than 15 features" in row
    assert f"{N_WIDE_FEATURES * (N_WIDE_FEATURES - 1) // 2} angles" in row

    # What the lab says about the models it left out is what the report says.
    result.summary["search"]["left_out"] = {"EVE": "too slow here", "VVE": "too slow here"}
    page = html.unescape(render_report(result))
    assert "EVE, VVE: too slow here" in page


def test_long_notes_are_tooltips_of_a_few_words():
    from gaussmix.lab.report import _candidates_table

    reason = (
        "component 4 has variance at the reg_covar floor in some direction (0.0e+00 of the "
        "data's); component 4 has 1.00 effective points for 2 parameters"
    )
    results = {
        "n_components": [2, 5, 3],
        "covariance_type": ["VVV", "VVV", "EEE"],
        "bic": [10.0, 5.0, 20.0],
        "aic": [9.0, 4.0, 19.0],
        "icl": [11.0, 6.0, 21.0],
        "log_likelihood": [-1.0, -0.5, -2.0],
        "n_parameters": [11, 29, 12],
        "converged": [True, True, True],
        "spurious": [False, True, False],
        "reason": ["", reason, ""],
        "all_starts": [True, True, False],
    }
    selector = SimpleNamespace(results_=results, criterion="bic", best_index_=0)
    table = _candidates_table(selector)
    notes = re.findall(r'<span class="note" title="([^"]*)">([^<]*)</span>', table)
    assert notes == [
        (html.escape(reason), "spurious"),
        (
            "leading starts only, run to convergence or to within about 1 of it "
            "(more than 10 behind the best)",
            "leading starts only",
        ),
    ]
    assert table.count(reason) == 0  # never as the cell's text, only escaped in the tooltip


# ---------------------------------------------------------------- in a browser
PROBE = """<script>
document.body.setAttribute("data-page-width",
  document.documentElement.scrollWidth + " " + document.documentElement.clientWidth);
</script>"""


def _page_width(page, folder, window_width):
    """``(scrollWidth, clientWidth)`` of the page's root in headless Chromium at that width."""
    path = folder / "probed.html"
    # The probe goes into a copy: the report itself holds no script.
    path.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={folder / 'profile'}",
            f"--window-size={window_width},900",
            "--virtual-time-budget=5000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (widths,) = re.findall(r'data-page-width="(\d+) (\d+)"', done.stdout)
    return int(widths[0]), int(widths[1])


@pytest.mark.skipif(
    CHROMIUM is None, reason="needs headless Chromium (Debian: apt install chromium)"
)
@pytest.mark.parametrize("window_width", [1280, 640])
def test_page_never_scrolls_sideways(wide_run, tmp_path, window_width):
    scroll_width, client_width = _page_width(render_report(wide_run), tmp_path, window_width)
    assert client_width > 0.9 * window_width - 40  # the window's width, less a scroll bar
    assert scroll_width <= client_width
