"""The lab's report: one self-contained HTML page, figures embedded, no network needed."""

from __future__ import annotations

import base64
import html
import math

import numpy as np

FIGURE_CAPTIONS = {
    "clusters": "Clusters: each sample coloured by its most probable component; component "
    "means marked, with their 1-, 2- and 3-sigma ellipses.",
    "density": "Density: filled contours of the fitted mixture's log-density, data on top.",
    "uncertainty": "Uncertainty of each sample's classification (1 - max responsibility).",
    "criterion": "Model selection: the criterion of every candidate (lower is better), one "
    "line per covariance type; the chosen model is marked, spurious fits are grey crosses.",
}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
tr.chosen td { font-weight: bold; background: #eef6ee; }
tr.spurious td { color: #999; }
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


def _table(header, rows, row_classes=None, text_columns=()):
    out = ["<table>", "<tr>"]
    for i, name in enumerate(header):
        cls = ' class="text"' if i in text_columns else ""
        out.append(f"<th{cls}>{html.escape(name)}</th>")
    out.append("</tr>")
    for r, row in enumerate(rows):
        cls = f' class="{row_classes[r]}"' if row_classes and row_classes[r] else ""
        out.append(f"<tr{cls}>")
        for i, value in enumerate(row):
            td = ' class="text"' if i in text_columns else ""
            out.append(f"<td{td}>{_cell(value)}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "\n".join(out)


def _key_values(pairs):
    return _table(["", ""], pairs, text_columns=(0, 1))


def _embedded_png(path):
    with open(path, "rb") as handle:
        encoded = base64.b64encode(handle.read()).decode("ascii")
    return f"data:image/png;base64,{encoded}"


def _note(results, index):
    notes = [results["reason"][index] or ""]
    # Screened candidates ran only their leading starts to convergence.
    if not results.get("all_starts", [True] * (index + 1))[index]:
        notes.append("leading starts only (more than 10 behind the best)")
    return "; ".join(note for note in notes if note)


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
                _note(results, i),
            ]
        )
        classes.append(
            "chosen"
            if i == selector.best_index_
            else ("spurious" if results["spurious"][i] else "")
        )
    header = ["components", "covariance", "BIC", "AIC", "ICL", "log-likelihood", "parameters"]
    return _table([*header, "converged", "note"], rows, classes, text_columns=(1, 8))


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
                ("rows with missing values", pre["rows_with_missing"]),
                (
                    "missing values",
                    f"{pre['values_imputed']} imputed (training medians), "
                    f"{pre['rows_dropped']} rows dropped ({pre['missing']})",
                ),
                (
                    "scaling",
                    "standardised (training means and deviations)" if pre["scaled"] else "none",
                ),
                (
                    "train / test split",
                    f"{pre['n_train']} / {pre['n_test']} rows (test_size "
                    f"{pre['test_size']}, seed {pre['random_state']})",
                ),
            ]
        ),
        "<h2>Chosen model</h2>",
        _key_values(
            [
                (
                    "model",
                    f"{model.n_components} components, {model.covariance_type} covariance",
                ),
                (
                    "chosen by",
                    f"{s['search']['criterion'].upper()} over {s['search']['n_candidates']} "
                    f"candidates ({s['search']['n_init']} starts each; "
                    f"{s['search']['n_spurious']} spurious fits excluded)",
                ),
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
    rows = []
    for k in range(model.n_components):
        rows.append([k, s["model"]["weights"][k], s["model"]["train_cluster_sizes"][k], *means[k]])
    parts.append(
        _table(
            ["component", "weight", "training rows", *[f"mean {f}" for f in feature_labels]], rows
        )
    )
    parts.append("<h2>Figures</h2>")
    for kind, caption in FIGURE_CAPTIONS.items():
        if kind in result.files:
            parts.append(
                f'<figure><img alt="{esc(kind)} figure" src="{_embedded_png(result.files[kind])}">'
                f"<figcaption>{esc(caption)}</figcaption></figure>"
            )
    parts.append("<h2>Candidates</h2>")
    parts.append(_candidates_table(result.selector))
    parts.append(
        f"<p>Written by gaussmix {esc(s['gaussmix_version'])} in {s.get('seconds', 0):.1f} s."
        "</p></body></html>"
    )
    return "\n".join(parts)
