"""The lab's report: one self-contained HTML page, figures embedded, no network needed."""

from __future__ import annotations

import base64
import html
import math

import numpy as np

FIGURE_CAPTIONS = {
    "clusters": "Clusters: each row coloured by its most probable component; component "
    "means marked, with their 1-, 2- and 3-sigma ellipses.",
    "density": "Density: filled contours of the fitted mixture's log-density, data on top.",
    "uncertainty": "Uncertainty of each row's classification (1 - max responsibility).",
    "criterion": "Model selection: the criterion of every candidate (lower is better), one "
    "line per covariance model; the chosen model is marked, spurious fits are grey crosses, "
    "candidates beyond the axis are triangles on its edge.",
    "weights": "Component weights of the variational fit: every component's share of the "
    "training rows (n_k / n), largest first; the components above the dashed 1% line are "
    "kept (coloured as in the other figures), the grey ones are left out.",
}

# What the figures of a data set of each width show, said once under them.
LAYOUT_NOTES = {
    "one": "One feature: histograms of the rows under the mixture's densities.",
    "pairs": "A grid over every pair of features: the lower panels show the pair, the "
    "diagonal each feature's histogram under the mixture's 1-D marginal density, the upper "
    "panels each component's correlation of the two features.",
    "projection": "More than five features: the rows and the components projected on the "
    "first two principal components of the standardised training rows.",
}
IMPUTED_NOTE = (
    "Rows with missing values are drawn at their model-imputed values (the conditional mean "
    "of the missing features given the row's observed ones); their labels, densities and "
    "uncertainties in assignments.csv are from their observed values only."
)
SPLIT_NOTE = (
    "Where the figures show held-out rows, training rows are filled circles and test rows "
    "open triangles (outlined histograms on a histogram)."
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
th[scope="row"] { font-weight: normal; }
table.key-values th { white-space: nowrap; vertical-align: top; }
.scroll { overflow-x: auto; max-width: 100%; }
tr.chosen td { font-weight: bold; background: #eef6ee; }
tr.spurious td { color: #999; }
span.note { text-decoration: underline dotted; cursor: help; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; }
"""


def _cell(value, digits=4):
    if value is None:
        return "&ndash;"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            return "&ndash;"
        return f"{value:.{digits}f}"
    return html.escape(str(value))


class _Markup(str):
    """A cell's HTML, already escaped (a note with its tooltip)."""


def _table(header, rows, row_classes=None, text_columns=(), row_headers=False, digits=None):
    """A table in its own horizontally scrolling box, so that a wide one never widens the page.

    With ``row_headers``, each row's first cell is its header (``<th scope="row">``);
    a row given as markup (a heading spanning the table) is taken as it is.
    ``digits`` maps a column to its decimals (default 4).
    """
    out = ['<div class="scroll"><table>', "<tr>"]
    for i, name in enumerate(header):
        cls = ' class="text"' if i in text_columns else ""
        out.append(f'<th scope="col"{cls}>{html.escape(name)}</th>')
    out.append("</tr>")
    for r, row in enumerate(rows):
        cls = f' class="{row_classes[r]}"' if row_classes and row_classes[r] else ""
        if isinstance(row, _Markup):  # a heading row spanning the table
            out.append(f"<tr{cls}>{row}</tr>")
            continue
        out.append(f"<tr{cls}>")
        for i, value in enumerate(row):
            places = (digits or {}).get(i, 4)
            text = value if isinstance(value, _Markup) else _cell(value, places)
            tag = "th" if row_headers and i == 0 else "td"
            scope = ' scope="row"' if tag == "th" else ""
            td = ' class="text"' if i in text_columns else ""
            out.append(f"<{tag}{scope}{td}>{text}</{tag}>")
        out.append("</tr>")
    out.append("</table></div>")
    return "\n".join(out)


def _key_values(pairs):
    """A two-column table of names and values: each row headed by its name, no header row."""
    out = ['<div class="scroll"><table class="key-values">']
    for key, value in pairs:
        out.append(
            f'<tr><th scope="row" class="text">{html.escape(key)}</th>'
            f'<td class="text">{_cell(value)}</td></tr>'
        )
    out.append("</table></div>")
    return "\n".join(out)


def _embedded_png(path):
    with open(path, "rb") as handle:
        encoded = base64.b64encode(handle.read()).decode("ascii")
    return f"data:image/png;base64,{encoded}"


def _note(results, index):
    """Everything worth knowing about a candidate's fit, in full (the note's tooltip)."""
    notes = [results["reason"][index] or ""]
    # Screened candidates ran only their leading starts, to convergence or until
    # they settled near it.
    if not results.get("all_starts", [True] * (index + 1))[index]:
        notes.append(
            "leading starts only, run to convergence or to within about 1 of it "
            "(more than 10 behind the best)"
        )
    return "; ".join(note for note in notes if note)


def _short_note(results, index):
    """A few words for the note column; the full text is its tooltip."""
    words = []
    if results["spurious"][index]:
        words.append("spurious")
    elif results["reason"][index]:
        words.append("fit failed")
    if not results.get("all_starts", [True] * (index + 1))[index]:
        words.append("leading starts only")
    if not words:
        return ""
    return _Markup(
        f'<span class="note" title="{html.escape(_note(results, index))}">'
        f"{html.escape(', '.join(words))}</span>"
    )


def _candidates_table(selector, limit=15):
    results = selector.results_
    criterion = selector.criterion
    values = np.asarray(results[criterion], dtype=np.float64)
    order = np.argsort(np.where(np.isfinite(values), values, np.inf), kind="stable")[:limit]
    rows, classes = [], []
    for i in order:
        rows.append(
            [
                results["n_components"][i],
                results["covariance_type"][i],
                results["bic"][i],
                results["aic"][i],
                results["icl"][i],
                results["log_likelihood"][i],
                results["n_parameters"][i],
                results["converged"][i],
                _short_note(results, i),
            ]
        )
        classes.append(
            "chosen"
            if i == selector.best_index_
            else ("spurious" if results["spurious"][i] else "")
        )
    header = ["components", "covariance", "BIC", "AIC", "ICL", "log-likelihood", "parameters"]
    shown = (
        f"<p>The {len(order)} best of {len(values)} candidates by {criterion.upper()}; "
        "every candidate is in <code>candidates.csv</code>. Hover over a note for its "
        "full text.</p>"
    )
    # Criteria to two decimals, as in the chosen model's table.
    digits = dict.fromkeys((2, 3, 4, 5), 2)
    table = _table(
        [*header, "converged", "note"], rows, classes, text_columns=(1, 8), digits=digits
    )
    return shown + table


def _counts_text(counts):
    """``1-9`` for consecutive counts, else the counts listed."""
    counts = sorted(int(count) for count in counts)
    if len(counts) > 1 and counts == list(range(counts[0], counts[-1] + 1)):
        return f"{counts[0]}-{counts[-1]}"
    return ", ".join(map(str, counts))


def _left_out(summary):
    """mclust's covariance models the search did not try, each with why.

    The lab says which models it left out of its grid, and why, in
    ``summary["search"]["left_out"]``. A summary without it (an older lab's)
    is read by the lab's own rule: on more than ``MAX_ROTATION_FEATURES``
    features its default grid is mclust's 14 without EVE and VVE.
    """
    from ..covariance import MCLUST_NAMES
    from .workflow import MAX_ROTATION_FEATURES

    search = summary["search"]
    searched = set(search["covariance_types"])
    n_features = summary["n_features"]
    if n_features < 2 or not searched <= set(MCLUST_NAMES):
        return dict(search.get("left_out") or {})
    reasons = dict(search.get("left_out") or {})
    rotations = {"EVE", "VVE"}
    if (
        not reasons
        and n_features > MAX_ROTATION_FEATURES
        and searched == set(MCLUST_NAMES) - rotations
    ):
        reasons = dict.fromkeys(
            sorted(rotations, key=MCLUST_NAMES.index),
            f"left out of the lab's default grid on more than {MAX_ROTATION_FEATURES} "
            "features: their shared rotation is fitted by Newton steps over "
            f"{n_features * (n_features - 1) // 2} angles, minutes per candidate "
            "(include them with --covariance)",
        )
    for name in MCLUST_NAMES:
        if name not in searched and name not in reasons:
            reasons[name] = "not in the requested grid"
    return {name: reasons[name] for name in MCLUST_NAMES if name in reasons}


def _search_rows(summary):
    search = summary["search"]
    types = search["covariance_types"]
    rows = [
        (
            "grid searched",
            f"{_counts_text(search['n_components'])} components x {len(types)} covariance "
            f"model{'s' if len(types) != 1 else ''} ({', '.join(types)}): "
            f"{search['n_candidates']} candidates",
        )
    ]
    by_reason = {}
    for name, reason in _left_out(summary).items():
        by_reason.setdefault(reason, []).append(name)
    for reason, names in by_reason.items():
        rows.append(("not searched", f"{', '.join(names)}: {reason}"))
    return rows


def _figure_notes(summary):
    n_features = summary["n_features"]
    if n_features == 1:
        layout = LAYOUT_NOTES["one"]
    elif n_features == 2:
        layout = ""
    elif n_features <= _max_pair_features():
        layout = LAYOUT_NOTES["pairs"]
    else:
        layout = LAYOUT_NOTES["projection"]
    pre = summary["preprocessing"]
    split = SPLIT_NOTE if pre["n_test"] > 0 else ""
    imputed = IMPUTED_NOTE if pre["missing"] == "model" and pre.get("values_missing") else ""
    text = " ".join(note for note in (layout, split, imputed) if note)
    return f"<p>{html.escape(text)}</p>" if text else ""


def _max_pair_features():
    from ..plot import MAX_PAIR_FEATURES

    return MAX_PAIR_FEATURES


def _clusters_table(summary, means, feature_labels):
    """Components as columns, features as rows: as many rows as features, never too wide."""
    weights = summary["model"]["weights"]
    sizes = summary["model"]["train_cluster_sizes"]
    n_components = len(weights)
    header = ["component", *[str(k) for k in range(n_components)]]
    rows = [["weight", *weights], ["training rows", *sizes]]
    group = _Markup(
        f'<th scope="colgroup" colspan="{n_components + 1}" class="text">'
        "mean of each feature, in the data's units</th>"
    )
    rows.append(group)
    rows += [[label, *means[:, j]] for j, label in enumerate(feature_labels)]
    return _table(header, rows, text_columns=(0,), row_headers=True)


def _sample_rows(summary) -> list:
    """What was sampled from a file too large for memory, and what the refit saw."""
    sample = summary.get("sample")
    if not sample:
        return []
    return [
        (
            "sample",
            f"a seeded sample of {sample['n_rows']:,} of the {sample['of_n_rows']:,} rows "
            f"(seed {sample['random_state']}): the preprocessing, the split above, the search, "
            "the criteria, the clusters and the figures are the sample's",
        ),
        (
            "refit",
            f"the chosen model refitted on {sample['refit_n_rows']:,} rows, every row of the "
            "file but the sample's test rows, read block by block; mean log-likelihood "
            f"{sample['refit_mean_log_likelihood']:.4f}",
        ),
    ]


def _missing_rows(pre) -> list:
    """The missing values: how many, in how many rows and patterns, and how they were handled."""
    if "values_missing" not in pre:  # an older lab's summary
        return [
            ("rows with missing values", pre["rows_with_missing"]),
            (
                "missing values",
                f"{pre['values_imputed']} imputed (training medians), "
                f"{pre['rows_dropped']} rows dropped ({pre['missing']})",
            ),
        ]
    values, rows = pre["values_missing"], pre["rows_with_missing"]
    if not values:
        return [("missing values", "none")]
    counted = (
        f"{values} values missing in {rows} row{'s' if rows != 1 else ''} "
        f"({pre['missing_patterns']} distinct pattern{'s' if pre['missing_patterns'] != 1 else ''}"
        " of observed features, complete rows included)"
    )
    if pre["missing"] == "model":
        without = pre["rows_without_values"]
        handled = (
            "by the model (missing model): the mixture is fitted on the incomplete rows, "
            "each row labelled and scored on its observed features; the figures draw "
            "incomplete rows at their model-imputed values"
            + (
                f"; {without} row{'s' if without != 1 else ''} with no observed value left "
                "out (split 'dropped', no label, in assignments.csv)"
                if without
                else ""
            )
        )
    elif pre["missing"] == "impute":
        handled = (
            f"imputed (missing impute): {pre['values_imputed']} values set to training medians"
        )
    else:
        handled = f"dropped (missing drop): {pre['rows_dropped']} rows left out"
    if pre.get("missing_requested", pre["missing"]) != pre["missing"]:
        handled += f" (missing {pre['missing_requested']} asked for: see the notice above)"
    return [("missing values", counted), ("handled", handled)]


def _method_rows(summary, model) -> list:
    """How the model was chosen: the search's grid, or the variational fit's kept components."""
    if "search" in summary:
        search = summary["search"]
        return [
            (
                "chosen by",
                f"{search['criterion'].upper()} over {search['n_candidates']} "
                f"candidates ({search['n_init']} starts each; "
                f"{search['n_spurious']} spurious "
                f"fit{'' if search['n_spurious'] == 1 else 's'} excluded)",
            ),
            *_search_rows(summary),
        ]
    bayes = summary["variational"]
    return [
        (
            "chosen by",
            f"a variational fit (method bayes: BayesianGaussianMixture, "
            f"{bayes['covariance_type']} covariance, Dirichlet-process prior on the weights, "
            f"concentration {bayes['weight_concentration_prior']:.3g}) with "
            f"{bayes['n_components']} components, {bayes['n_init']} starts; "
            f"{'converged' if bayes['converged'] else 'not converged'} after "
            f"{bayes['n_iter']} iterations",
        ),
        (
            "components kept",
            f"the data kept {bayes['effective_n_components']} of {bayes['n_components']} "
            f"components (each more than {bayes['threshold']:.0%} of the training rows); the "
            "model below is those components (to_gaussian_mixture()), the whole variational "
            "fit is in model-variational.gaussmix",
        ),
    ]


def render_report(result) -> str:
    """The HTML page of a lab run.

    Parameters
    ----------
    result : gaussmix.lab.LabResult
        A finished run; its figure files are read and embedded.

    Returns
    -------
    str
        A complete HTML document with no external references.
    """
    s = result.summary
    pre = s["preprocessing"]
    model = result.model
    esc = html.escape
    units = result.units or {}
    feature_labels = [
        f"{name} ({units[name]})" if units.get(name) else name for name in result.feature_names
    ]
    means = result.prepared.inverse_transform(np.asarray(model.means_, dtype=np.float64))

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>gaussmix lab: {esc(s['source'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>gaussmix lab: {esc(s['source'])}</h1>",
        f"<p>{esc(s['description'])}</p>",
        "<h2>Data and preprocessing</h2>",
        _key_values(
            [
                ("rows x features", f"{s['n_rows']} x {s['n_features']}"),
                ("features", ", ".join(feature_labels)),
                *_missing_rows(pre),
                (
                    "scaling",
                    "standardised (training means and deviations)" if pre["scaled"] else "none",
                ),
                (
                    "train / test split",
                    f"{pre['n_train']} / {pre['n_test']} rows (test_size "
                    f"{pre['test_size']}, seed {pre['random_state']})",
                ),
                *_sample_rows(s),
            ]
        ),
        "<h2>Chosen model</h2>",
        _key_values(
            [
                (
                    "model",
                    f"{model.n_components} components, {model.covariance_type} covariance",
                ),
                *_method_rows(s, model),
                ("free parameters", s["model"]["n_parameters"]),
                (
                    "converged",
                    f"{'yes' if s['model']['converged'] else 'no'} after "
                    f"{s['model']['n_iter']} iterations",
                ),
                ("BIC (training rows)", f"{s['train']['bic']:.2f}"),
                ("AIC (training rows)", f"{s['train']['aic']:.2f}"),
                ("ICL (training rows)", f"{s['train']['icl']:.2f}"),
                ("mean log-likelihood, train", f"{s['train']['mean_log_likelihood']:.4f}"),
                (
                    "mean log-likelihood, test",
                    "no test set"
                    if s["test"]["mean_log_likelihood"] is None
                    else f"{s['test']['mean_log_likelihood']:.4f}",
                ),
            ]
        ),
        "<p>Criteria in scikit-learn's sign (lower is better); log-likelihoods on the "
        "standardised scale the model was fitted on.</p>",
    ]
    if "adjusted_rand_index" in s:
        ari = s["adjusted_rand_index"]
        parts.append(
            _key_values(
                [
                    ("adjusted Rand index vs true classes (all rows)", f"{ari['all']:.3f}"),
                    ("adjusted Rand index, training rows", f"{ari['train']:.3f}"),
                    (
                        "adjusted Rand index, test rows",
                        "no test set" if ari["test"] is None else f"{ari['test']:.3f}",
                    ),
                ]
            )
        )
    parts.append("<h2>Clusters</h2>")
    parts.append(_clusters_table(s, means, feature_labels))
    parts.append("<p>Training rows counted by their most probable component.</p>")
    parts.append("<h2>Figures</h2>")
    parts.append(_figure_notes(s))
    for kind, caption in FIGURE_CAPTIONS.items():
        if kind in result.files:
            parts.append(
                f'<figure><img alt="{esc(kind)} figure" src="{_embedded_png(result.files[kind])}">'
                f"<figcaption>{esc(caption)}</figcaption></figure>"
            )
    if result.selector is not None:
        parts.append("<h2>Candidates</h2>")
        parts.append(_candidates_table(result.selector))
    parts.append(
        f"<p>Written by gaussmix {esc(s['gaussmix_version'])} in {s.get('seconds', 0):.1f} s."
        "</p></body></html>"
    )
    return "\n".join(parts)
