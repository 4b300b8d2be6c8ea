# ruff: noqa: E501 - the HTML template keeps one element per line, which is what a reviewer compares.
"""The evaluation report: an HTML page with figures and the same numbers as JSON, generated from the task
file, the extract's summary and the evaluation, never hand-written. Sections follow the TRIPOD+AI items
that apply to an external evaluation of a submitted model (Collins et al., BMJ 2024;385:e078378): source
of data and dates (5a, 5b), eligibility (6a), outcome (7a), predictors (8a), sample size (9), missing data
(10), analysis (12), participants (20a), performance with uncertainty (23a), subgroups / fairness (23b).

No ROC or precision-recall curve is drawn: the curve of a test set, point by point, is the sequence of
its labels along the submitted ranking (a label oracle). The calibration curve is binned (each bin at
least k outcomes and k non-outcomes) and rounded.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest import settings
from ingest.ai.evaluate import Evaluation
from ingest.ai.features import FEATURES
from ingest.ai.task import PredictionTask

__all__ = ["write_report"]

_NAMES = {
    "auroc": "AUROC",
    "auprc": "AUPRC",
    "brier": "Brier score",
    "calibration_intercept": "Calibration intercept",
    "calibration_slope": "Calibration slope",
}
_CSS = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}.note{color:#555;font-size:.92em}h2{border-bottom:1px solid #ddd;margin-top:1.6em}
.tripod{color:#777;font-size:.8em;font-weight:normal}"""


def interval_text(m: dict[str, Any]) -> str:
    """A reported metric as "value (low to high)", with the decimals its interval supports."""
    return _fmt(m)


def _fmt(m: dict[str, Any]) -> str:
    d = int(m["decimals"])
    # + 0.0 turns a rounded -0.0 into 0.0.
    value, low, high = (m[k] + 0.0 for k in ("value", "ci_low", "ci_high"))
    return f"{value:.{d}f} ({low:.{d}f} to {high:.{d}f})"


def _e(value: object) -> str:
    return html.escape(str(value))


def _figures(folder: Path, models: list[dict[str, Any]], task: PredictionTask) -> dict[str, str]:
    from matplotlib.figure import Figure

    settings.use_private_matplotlib_cache()
    (folder / "figures").mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    fig = Figure(figsize=(5.2, 5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1, label="perfect calibration")
    top = 0.05
    for model in models:
        points = model["calibration_curve"]
        if points:
            xs, ys = [p["predicted"] for p in points], [p["observed"] for p in points]
            ax.plot(xs, ys, marker="o", label=model["title"])
            top = max(top, *xs, *ys)
    ax.set_xlim(0, min(1, top * 1.15))
    ax.set_ylim(0, min(1, top * 1.15))
    ax.set_xlabel("mean predicted probability (bin)")
    ax.set_ylabel("observed proportion (bin)")
    ax.set_title(f"Calibration (bins of at least {task.k} outcomes and non-outcomes)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "figures" / "calibration.png", dpi=110, metadata={"Software": None})
    out["calibration"] = "figures/calibration.png"

    rows: list[tuple[str, str, dict[str, Any]]] = []
    for model in models:
        rows.append(("overall", model["title"], model["overall"]["auroc"]))
        for name, groups in model["subgroups"].items():
            for g in groups:
                if g["reported"]:
                    rows.append((f"{name} = {g['value']}", model["title"], g["auroc"]))
    fig = Figure(figsize=(7, max(2.5, 0.22 * len(rows) + 1)))
    ax = fig.subplots()
    colours = {m["title"]: f"C{i}" for i, m in enumerate(models)}
    for i, (_group, title, metric) in enumerate(reversed(rows)):
        ax.errorbar(
            metric["value"],
            i,
            xerr=[[metric["value"] - metric["ci_low"]], [metric["ci_high"] - metric["value"]]],
            fmt="o",
            color=colours[title],
            markersize=3,
        )
    ax.set_yticks(range(len(rows)), [f"{g} · {t}" for g, t, _ in reversed(rows)], fontsize=6)
    ax.axvline(0.5, color="#999", linestyle="--", linewidth=1)
    ax.set_xlabel("AUROC (95 % bootstrap interval)")
    fig.tight_layout()
    fig.savefig(folder / "figures" / "auroc_by_subgroup.png", dpi=110, metadata={"Software": None})
    out["subgroups"] = "figures/auroc_by_subgroup.png"
    return out


def _performance_table(models: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{_e(_NAMES[m])}</th>" for m in _NAMES)
    body = "".join(
        f"<tr><td>{_e(model['title'])}</td>"
        + "".join(f"<td>{_fmt(model['overall'][m])}</td>" for m in _NAMES)
        + "</tr>"
        for model in models
    )
    return f"<table><tr><th>model</th>{head}</tr>{body}</table>"


def _subgroup_table(models: list[dict[str, Any]], k: int) -> str:
    """One row per subgroup value and model (a column per model overflowed the page with four models).
    Whether a value is reported depends on the labels only, so it is the same for every model."""
    out = []
    metrics = ("auroc", "brier", "calibration_slope")
    for name in models[0]["subgroups"]:
        body = ""
        for i, group in enumerate(models[0]["subgroups"][name]):
            value = _e(group["value"])
            if not group["reported"]:
                body += (
                    f'<tr><td>{value}</td><td colspan="4" class="note">not reported (fewer than {k} '
                    "outcomes or non-outcomes)</td></tr>"
                )
                continue
            for j, model in enumerate(models):
                g = model["subgroups"][name][i]
                first = f'<td rowspan="{len(models)}">{value}</td>' if j == 0 else ""
                cells = "".join(f"<td>{_fmt(g[m])}</td>" for m in metrics)
                body += f"<tr>{first}<td>{_e(model['title'])}</td>{cells}</tr>"
        head = f"<tr><th>{_e(name)}</th><th>model</th><th>AUROC</th><th>Brier score</th><th>Calibration slope</th></tr>"
        out.append(f"<h3>{_e(name)}</h3><table>{head}{body}</table>")
    return "".join(out)


def _features_table(task: PredictionTask, summary: dict[str, Any]) -> str:
    body = ""
    for name in task.features:
        f = FEATURES[name]
        for column, kind in f.columns:
            dev = summary["development"]["missing"].get(column, 0.0)
            test = summary["test"]["missing"].get(column, 0.0)
            body += (
                f"<tr><td>{_e(column)}</td><td>{_e(kind)}</td><td>{_e(f.definition)}</td><td>{_e(f.source)}</td>"
                f"<td>{dev:.0%}</td><td>{test:.0%}</td></tr>"
            )
    return (
        "<table><tr><th>column</th><th>kind</th><th>definition (known at t = 0)</th><th>OMOP source</th>"
        f"<th>missing, development</th><th>missing, test</th></tr>{body}</table>"
    )


def _budget_line(evaluation: Evaluation | None, used: int, budget: int) -> str:
    if evaluation is None:
        return (
            f"In-house baselines only (no budget spent); the project has used {used} of {budget} evaluations."
        )
    return f"Evaluation {evaluation.slot} of a budget of {budget}."


def _regions(summary: dict[str, Any]) -> str:
    counts = [summary[part].get("regions") for part in ("development", "test")]
    if None in counts:
        return ""  # an extract made before régions were counted
    return f"; patients of {counts[0]} régions in the development set, {counts[1]} in the test set"


def _sample_size(task: PredictionTask, dev: dict[str, Any], test_rows: int, test_outcomes: int) -> str:
    """TRIPOD+AI 9, from the extract: events per candidate predictor column in development (Riley et al.,
    BMJ 2020;368:m441, for the development side), outcomes and non-outcomes in the test set against the
    100 of each that external validation asks at least (Collins et al., Stat Med 2016;35:214)."""
    columns = sum(len(FEATURES[name].columns) for name in task.features)
    epv = dev["outcomes"] / max(columns, 1)
    fewest = min(test_outcomes, test_rows - test_outcomes)
    verdict = "meets" if fewest >= 100 else "falls short of"
    return (
        f"<p>All eligible acts of the periods were used (no sampling). Development: {dev['outcomes']} outcomes "
        f"for {columns} candidate predictor columns ({epv:.0f} events per column, before one-hot coding). "
        f"Test: {test_outcomes} outcomes and {test_rows - test_outcomes} non-outcomes; the smaller "
        f"({fewest}) {verdict} the 100 events and 100 non-events suggested for validation. The intervals "
        "above show the precision this gives.</p>"
    )


def _analysis(task: PredictionTask, evaluation: Evaluation | None, baselines: list[dict[str, Any]]) -> str:
    parts = []
    if evaluation is not None:
        parts.append(
            "The team received the development set with labels and the test set without; it returned a "
            f"probability for every one of the {evaluation.rows} test rows (evaluation {evaluation.slot} of "
            f"{evaluation.budget})."
        )
    parts.append(
        f"Metrics were computed inside the perimeter on the withheld labels, with {task.bootstrap} bootstrap "
        "resamples of the test rows for each interval."
    )
    if baselines:
        titles = ", ".join(_e(b["title"]) for b in baselines)
        parts.append(f"In-house baselines (scikit-learn), trained on the same development file: {titles}.")
    else:
        parts.append("No in-house baseline was run for this project.")
    return f"<p>{' '.join(parts)}</p>"


def _outcome_definition(task: PredictionTask) -> str:
    """What the label is, from the task's fields (the description above it is the author's words)."""
    codes = ", ".join(task.outcome_values)
    if task.outcome_field == "later_visit":
        start, end = task.time_at_risk
        which = f"with outcome code {_e(codes)}" if codes else "of any kind"
        return (
            f"Label 1 when the person has another act {which} starting {start} to {end} days after the date "
            f"of t = 0; acts whose window ends after their period's end are left out (full time at risk)."
        )
    return f"Label 1 when the act's own outcome code is {_e(codes)} (time at risk: the act itself)."


def write_report(
    folder: Path,
    task: PredictionTask,
    project_id: str,
    summary: dict[str, Any],
    evaluation: Evaluation | None,
    baselines: list[dict[str, Any]],
    *,
    budget_used: int,
) -> Path:
    """Write `folder/index.html`, `folder/report.json` and the figures; returns the page's path."""
    folder.mkdir(parents=True, exist_ok=True)
    models = ([{"title": "Submitted model", **evaluation.public()}] if evaluation else []) + baselines
    if not models:
        raise ValueError("nothing to report")
    dev, test = summary["development"], summary["test"]
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    document = {
        "task": {
            "task_id": task.task_id,
            "version": task.version,
            "title": task.title,
            "sha256": summary["task_sha256"],
        },
        "project_id": project_id,
        "generated_at": generated,
        "data": {
            "development": {
                k: dev[k] for k in ("rows", "patients", "outcomes", "dates", "missing", "suppressed_rows")
            },
            "test": {
                "rows": test["rows"],
                "patients": test["patients"],
                "dates": test["dates"],
                "missing": test["missing"],
            },
        },
        "periods": summary.get("split"),
        "budget": {"allowed": task.budget, "used": budget_used},
        "models": models,
    }
    figures = _figures(folder, models, task)
    standing = ""
    if evaluation and baselines:
        best = max(baselines, key=lambda b: b["overall"]["auroc"]["value"])
        mine, theirs = evaluation.overall["auroc"], best["overall"]["auroc"]
        verdict = (
            "above"
            if mine["ci_low"] > theirs["ci_high"]
            else "below"
            if mine["ci_high"] < theirs["ci_low"]
            else "level with"
        )
        standing = (
            f"<p><b>Where the submitted model stands:</b> AUROC {_fmt(mine)}, {verdict} the best in-house "
            f"baseline ({_e(best['title'])}, {_fmt(theirs)}) (intervals {'overlap' if verdict == 'level with' else 'do not overlap'}).</p>"
        )
    elif evaluation:
        standing = "<p class='note'>No in-house baseline yet: run <code>lakehouse ai baseline</code>.</p>"
    t = task
    # The periods the extract used (the task file's, or those given to `ai extract`).
    declared = {
        "development": [t.development_start.isoformat(), t.development_end.isoformat()],
        "test": [t.test_start.isoformat(), t.test_end.isoformat()],
    }
    periods = summary.get("split", declared)
    periods_note = "" if periods == declared else ", periods given to the extract instead of the task file's"
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(t.title)}</title><style>{_CSS}</style></head><body>
<h1>{_e(t.title)}</h1>
<p class="note">Task <code>{_e(t.task_id)}</code> version {t.version} (task file SHA-256 {_e(summary["task_sha256"][:16])}…), project
<code>{_e(project_id)}</code>; report generated {generated} from the task file, the extract and the evaluation.
{_budget_line(evaluation, budget_used, t.budget)}</p>
{standing}
<h2>Performance <span class="tripod">TRIPOD+AI 23a</span></h2>
{_performance_table(models)}
<p class="note">Point estimate (95 % percentile bootstrap interval, {t.bootstrap} resamples of the test rows). Every value
is rounded to the decimal place its interval width reaches: finer digits would not be supported by the data,
and would make the evaluation a sharper label oracle. Calibration intercept: logistic recalibration with
logit(p) as offset (0 is ideal); slope: on logit(p) (1 is ideal).</p>
<img src="{figures["calibration"]}" alt="calibration curve">
<h2>Subgroups <span class="tripod">TRIPOD+AI 23b</span></h2>
<p class="note">A subgroup with fewer than {t.k} outcomes or {t.k} non-outcomes in the test set is not reported.</p>
{_subgroup_table(models, t.k)}
<img src="{figures["subgroups"]}" alt="AUROC by subgroup">
<h2>Source of data <span class="tripod">5a, 5b</span></h2>
<p>Out-of-hours general-practice acts of the network's associations (OMOP visit concepts
{_e(", ".join(str(c) for c in t.visit_concept_ids))}{_regions(summary)}), pseudonymised and landed encrypted in the
lakehouse, transformed to the OMOP CDM v5.4 (synthetic data in this project). Development period: acts with t = 0 from {_e(dev["dates"]["first"])} to {_e(dev["dates"]["last"])}
(declared {_e(periods["development"][0])} to {_e(periods["development"][1])}); test period: {_e(test["dates"]["first"])} to
{_e(test["dates"]["last"])} (declared {_e(periods["test"][0])} to {_e(periods["test"][1])}){_e(periods_note)}.</p>
<h2>Participants and eligibility <span class="tripod">6a, 20a</span></h2>
<p>{_e(t.cohort_description)} t = 0: {_e(t.index_description)}</p>
<p>Split by time and by patient: a keyed hash of each patient puts {t.test_patient_share:.0%} of patients in the
test group; the development set holds the other patients' acts of the development period, the test set the test
group's acts of the test period. No patient is in both. Rows of quasi-identifier classes
({_e(", ".join(t.quasi_identifiers))}) with fewer than {t.k} patients were suppressed:
{dev["suppressed_rows"]} development and {test["suppressed_rows"]} test rows.</p>
<table><tr><th></th><th>acts</th><th>patients</th><th>outcomes</th></tr>
<tr><td>development</td><td>{dev["rows"]}</td><td>{dev["patients"]}</td><td>{dev["outcomes"]} ({dev["outcomes"] / max(dev["rows"], 1):.1%})</td></tr>
<tr><td>test</td><td>{test["rows"]}</td><td>{test["patients"]}</td><td>{models[0]["test_outcomes"]} ({models[0]["test_outcomes"] / max(test["rows"], 1):.1%})</td></tr></table>
<h2>Outcome <span class="tripod">7a</span></h2>
<p>{_e(t.outcome_description)} {_outcome_definition(t)} Time at risk: {_e(t.time_at_risk_description)}</p>
<h2>Predictors and missing data <span class="tripod">8a, 10</span></h2>
<p>Observation window: {t.observation_window_days} days before t = 0. Missing values are handed out as missing; the
in-house baselines impute the median with a missing-value indicator (logistic regression) or use the
boosting's native handling.</p>
{_features_table(t, summary)}
<h2>Sample size <span class="tripod">9</span></h2>
{_sample_size(t, dev, models[0]["test_rows"], models[0]["test_outcomes"])}
<h2>Analysis <span class="tripod">12</span></h2>
{_analysis(t, evaluation, baselines)}
</body></html>"""
    (folder / "report.json").write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
    partial = folder / ".index.html.tmp"
    partial.write_text(page, encoding="utf-8")
    partial.replace(folder / "index.html")
    return folder / "index.html"
