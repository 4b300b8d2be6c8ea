"""`lakehouse ai ...`: prediction tasks for AI teams, inside the perimeter (docs/ai-evaluation.md).
Registered in ingest/cli/__init__.py."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ingest import settings
from ingest.cli.common import bound_lake, handle_errors, out

if TYPE_CHECKING:
    from ingest.ai.evaluate import Evaluation
    from ingest.ai.task import PredictionTask
    from ingest.lake.storage import ObjectStore

_TASK = click.option(
    "--task",
    "task_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Task file (YAML), e.g. tasks/ed_referral_after_act.yaml.",
)


def _check_project(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """The key store's own rule, checked before anything is read (it raised a ValueError traceback)."""
    from ingest.lake.keys import _PROJECT_ID

    if not _PROJECT_ID.fullmatch(value):
        raise click.BadParameter(f"`{value}` must match {_PROJECT_ID.pattern} (lower case, digits, - and _)")
    return value


_PROJECT = click.option(
    "--project",
    "project_id",
    required=True,
    callback=_check_project,
    help="Project id (as in study extracts).",
)


def _handout_dir(out_dir: Path | None) -> Path:
    return out_dir or settings.home() / "ai"


def _report(
    folder: Path, task: PredictionTask, project_id: str, store: ObjectStore, result: Evaluation | None
) -> Path:
    """The report of an evaluation (or of the baselines alone), with the project's baselines."""
    from ingest.ai.evaluate import budget_used, context, load_baselines
    from ingest.ai.report import write_report

    return write_report(
        folder,
        task,
        project_id,
        context(store, project_id, task.task_id),
        result,
        load_baselines(store, project_id, task.task_id),
        budget_used=budget_used(store, project_id, task.task_id),
    )


@click.group("ai")
def ai() -> None:
    """Prediction tasks: extracts for a project, evaluation that lets only aggregates out, baselines."""


@ai.command("extract")
@_TASK
@_PROJECT
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for <project>/<task>/ [default: $LAKEHOUSE_HOME/ai].",
)
@click.option(
    "--development",
    metavar="FIRST:LAST",
    help="Development period instead of the task file's (dates YYYY-MM-DD:YYYY-MM-DD).",
)
@click.option("--test", metavar="FIRST:LAST", help="Test period instead of the task file's.")
@handle_errors
def ai_extract(
    task_file: Path, project_id: str, out_dir: Path | None, development: str | None, test: str | None
) -> None:
    """Write the task's development set (with labels) and test set (without), encrypted for the project;
    the test labels stay in the lake. Logged in the audit trail (with the periods used)."""
    from ingest.ai.extract import make_extract
    from ingest.ai.task import load_task, with_periods
    from ingest.publish.query import open_locked_warehouse

    task = with_periods(load_task(task_file), development, test)
    store, keystore = bound_lake()
    con = open_locked_warehouse(settings.warehouse_path(), keystore)
    try:
        result = make_extract(
            con, task, task_file.read_bytes(), project_id, keystore, store, _handout_dir(out_dir)
        )
    finally:
        con.close()
    out.print(
        f"Project {project_id}, task {task.task_id}: {result.development_rows:,} development rows "
        f"({result.development_patients:,} patients), {result.test_rows:,} test rows "
        f"({result.test_patients:,} patients), {result.suppressed_rows:,} rows suppressed (k={task.k}).\n"
        f"  {result.development_path}\n  {result.test_path}\n  {result.dictionary_path}\n"
        f"Hand the key over separately: lakehouse ai key --project {project_id}",
        highlight=False,
    )


@ai.command("key")
@_PROJECT
@handle_errors
def ai_key(project_id: str) -> None:
    """Print the project's hand-out key (base64), to send to the team by another channel than the files."""
    from ingest.ai.extract import handout_key
    from ingest.lake import audit

    store, keystore = bound_lake()
    key = handout_key(keystore, project_id)
    # The fingerprint the dictionary.json of the project's files shows: which key went out, not the key.
    fingerprint = hashlib.sha256(key).hexdigest()[:16]
    audit.record(
        store, keystore, "ai_key_release", {"project_id": project_id, "key_fingerprint": fingerprint}
    )
    out.print(base64.b64encode(key).decode("ascii"), highlight=False)


@ai.command("baseline")
@_TASK
@_PROJECT
@click.option(
    "--extract-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where `ai extract` wrote the files [default: $LAKEHOUSE_HOME/ai].",
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Report folder.")
@handle_errors
def ai_baseline(task_file: Path, project_id: str, extract_dir: Path | None, out_dir: Path | None) -> None:
    """Train the in-house reference models on the project's development set and evaluate them on the test
    labels (no budget spent); every later report of the project shows them."""
    from ingest.ai.baseline import run_baselines
    from ingest.ai.report import interval_text
    from ingest.ai.task import load_task

    task = load_task(task_file)
    store, keystore = bound_lake()
    folder = _handout_dir(extract_dir) / project_id / task.task_id
    result = run_baselines(
        store, keystore, task, project_id, str(folder / "development.parquet"), str(folder / "test.parquet")
    )
    for e in result.evaluations:
        auroc = e.overall["auroc"]
        out.print(f"{result.titles[e.label]}: AUROC {interval_text(auroc)}", highlight=False)
    page = _report(out_dir or folder / "reports" / "baseline", task, project_id, store, None)
    out.print(f"Report: {page}", highlight=False)


@ai.command("evaluate")
@_TASK
@_PROJECT
@click.option(
    "--predictions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="CSV or Parquet: row_id, probability, one row per test row.",
)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Report folder.")
@handle_errors
def ai_evaluate(task_file: Path, project_id: str, predictions: Path, out_dir: Path | None) -> None:
    """Evaluate the team's predictions on the withheld labels: spends one evaluation of the budget, writes
    an HTML report and its JSON (aggregates only), logged in the audit trail."""
    from ingest.ai.evaluate import (
        evaluate_submission,
        read_submission,
    )
    from ingest.ai.report import interval_text
    from ingest.ai.task import load_task

    task = load_task(task_file)
    store, keystore = bound_lake()
    submission = read_submission(predictions)
    result = evaluate_submission(store, keystore, task, project_id, submission, source=str(predictions))
    folder = (
        out_dir
        or settings.home() / "ai" / project_id / task.task_id / "reports" / f"evaluation-{result.slot}"
    )
    page = _report(folder, task, project_id, store, result)
    auroc = result.overall["auroc"]
    out.print(
        f"Evaluation {result.slot} of {task.budget}: AUROC {interval_text(auroc)}\nReport: {page}",
        highlight=False,
    )


@ai.command("budget")
@_TASK
@_PROJECT
@handle_errors
def ai_budget(task_file: Path, project_id: str) -> None:
    """How many evaluations the project has used of its budget for the task."""
    from ingest.ai.evaluate import budget_used
    from ingest.ai.task import load_task

    task = load_task(task_file)
    store, _ = bound_lake()
    used = budget_used(store, project_id, task.task_id)
    out.print(f"Project {project_id}, task {task.task_id}: {used} of {task.budget} evaluations used")
