"""Evaluate a project's predictions on the test set inside the perimeter; only aggregates come out.

The label oracle is bounded four ways (Whitehill 2016, "Exploiting an oracle that reports AUC scores in
machine learning contests"):
1. a submission must give a probability in [0, 1] for every test row, each exactly once (a subset would let
   a team evaluate a handful of rows);
2. each project has a budget of evaluations per task, counted in the lake by objects written
   put-if-absent (`_ai/<project>/<task>/evaluations/<n>.json`): two concurrent submissions cannot both
   take the last one, and a refused or failed evaluation still spends its slot once metrics are at stake;
3. a submission that differs from an earlier one of the project on fewer than `min_changed_rows` rows
   (probability moved by more than 0.01) is refused: probing a few rows at a time is what the attack does;
4. every metric is rounded to the precision its bootstrap interval supports (`metrics.reported`), and
   subgroups with fewer than k outcomes or non-outcomes are not reported.
Baselines trained inside (`ingest.ai.baseline`) go through the same computation without spending budget.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ingest.ai import metrics
from ingest.ai.extract import TaskChanged, _reference_key, load_summary, reference_for, task_prefix
from ingest.ai.task import PredictionTask
from ingest.exceptions import LakehouseError
from ingest.lake import audit
from ingest.lake.crypto import decrypt_parquet, encrypt_parquet
from ingest.lake.keys import KeyStore
from ingest.lake.storage import ObjectStore

__all__ = [
    "BudgetExhausted",
    "Evaluation",
    "SubmissionRefused",
    "budget_used",
    "evaluate_predictions",
    "evaluate_submission",
    "min_changed_rows",
    "read_submission",
    "released",
]

# A probability moved by less than this does not count as a changed row (ranks kept, Brier moved by noise).
_CHANGED = 0.01


class SubmissionRefused(LakehouseError):
    """The prediction file is not a complete, valid submission for the test set."""

    exit_code = 7


class BudgetExhausted(LakehouseError):
    """The project has used every evaluation of its budget for this task."""

    exit_code = 7


def min_changed_rows(n: int, k: int) -> int:
    """Rows a submission must change against every earlier one: 5 % of the test set, at least 2k."""
    return max(2 * k, math.ceil(0.05 * n))


def read_submission(path: str | Path) -> pa.Table:
    """A CSV or Parquet file with columns row_id (text) and probability (number)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".parquet":
            table = pq.read_table(path)
        else:
            table = pacsv.read_csv(
                path, convert_options=pacsv.ConvertOptions(column_types={"row_id": pa.string()})
            )
    except (OSError, pa.ArrowException) as exc:
        raise SubmissionRefused(
            f"submission `{path}` cannot be read as CSV or Parquet ({type(exc).__name__})"
        ) from exc
    for column in ("row_id", "probability"):
        if column not in table.column_names:
            raise SubmissionRefused(
                f"submission `{path}`: field `{column}` is missing (columns: row_id, probability)"
            )
    try:
        probability = pc.cast(table["probability"], pa.float64())
    except pa.ArrowInvalid as exc:
        raise SubmissionRefused(f"submission `{path}`: field `probability` is not numeric") from exc
    return pa.table({"row_id": pc.cast(table["row_id"], pa.string()), "probability": probability})


def _aligned(submission: pa.Table, reference_ids: pa.ChunkedArray, source: str) -> np.ndarray:
    """Probabilities in the reference's row order; refuses anything but exactly one valid value per row."""
    ids = submission["row_id"]
    if ids.null_count:
        raise SubmissionRefused(f"submission `{source}`: field `row_id` is empty on {ids.null_count} rows")
    if len(pc.unique(ids)) != len(ids):
        raise SubmissionRefused(
            f"submission `{source}`: field `row_id` repeats {len(ids) - len(pc.unique(ids))} ids"
        )
    probability = submission["probability"]
    values = probability.to_numpy(zero_copy_only=False).astype(float)
    bad = int(probability.null_count + np.sum(~np.isfinite(values)) + np.sum((values < 0) | (values > 1)))
    if bad:
        raise SubmissionRefused(
            f"submission `{source}`: field `probability` must be a number in [0, 1] on every row "
            f"({bad} are not)"
        )
    position = pc.index_in(reference_ids, value_set=ids.combine_chunks())
    missing = position.null_count
    unknown = len(ids) - (len(reference_ids) - missing)
    if missing or unknown:
        raise SubmissionRefused(
            f"submission `{source}`: field `row_id` must cover the test set exactly: {missing} test rows "
            f"missing, {unknown} ids not in the test set"
        )
    return values[position.to_numpy(zero_copy_only=False)]


def _evaluations_prefix(project_id: str, task_id: str) -> str:
    return f"{task_prefix(project_id, task_id)}/evaluations"


def budget_used(store: ObjectStore, project_id: str, task_id: str) -> int:
    return sum(1 for p in store.list(_evaluations_prefix(project_id, task_id)) if p.endswith(".json"))


def _claim_slot(store: ObjectStore, task: PredictionTask, project_id: str, digest: str) -> int:
    """Take the next evaluation slot (put-if-absent); BudgetExhausted when none is left."""
    prefix = _evaluations_prefix(project_id, task.task_id)
    while True:
        used = budget_used(store, project_id, task.task_id)
        if used >= task.budget:
            raise BudgetExhausted(
                f"project `{project_id}` has used its {task.budget} evaluations of task `{task.task_id}`; "
                "ask the data-protection officer (docs/ai-evaluation.md)"
            )
        slot = used + 1
        body = {
            "slot": slot,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "submission_sha256": digest,
        }
        if store.put_if_absent(f"{prefix}/{slot:06d}.json", json.dumps(body).encode()):
            return slot


def _earlier_submissions(
    store: ObjectStore, keystore: KeyStore, project_id: str, task_id: str
) -> list[np.ndarray]:
    key = _reference_key(keystore, project_id, task_id)
    out = []
    for path in store.list(f"{task_prefix(project_id, task_id)}/submissions"):
        out.append(decrypt_parquet(store.get(path), key, path=path)["probability"].to_numpy())
    return out


@dataclass
class Evaluation:
    label: str
    overall: dict[str, dict[str, float | int]]
    subgroups: dict[str, list[dict[str, Any]]]
    calibration: list[dict[str, float]]
    rows: int
    outcomes: int
    slot: int | None = None
    budget: int | None = None
    unrounded: dict[str, float] = field(default_factory=dict, repr=False)

    def public(self) -> dict[str, Any]:
        """What may leave the perimeter (no unrounded values)."""
        return {
            "label": self.label,
            "overall": self.overall,
            "subgroups": self.subgroups,
            "calibration_curve": self.calibration,
            "test_rows": self.rows,
            "test_outcomes": self.outcomes,
            "evaluation_slot": self.slot,
            "budget": self.budget,
        }


def _seed(task: PredictionTask) -> int:
    # Fixed per task: the same predictions always give the same report (no fresh noise to average out).
    return int(hashlib.sha256(task.task_id.encode()).hexdigest()[:8], 16)


def _summarise(y: np.ndarray, p: np.ndarray, task: PredictionTask) -> dict[str, dict[str, float | int]]:
    point = metrics.point_metrics(y, p)
    intervals = metrics.bootstrap_intervals(y, p, task.bootstrap, _seed(task))
    return {m: metrics.reported(point[m], *intervals[m]).as_dict() for m in metrics.METRICS}


def evaluate_predictions(
    y: np.ndarray, p: np.ndarray, reference: pa.Table, task: PredictionTask, label: str
) -> Evaluation:
    """Overall and per-subgroup metrics, rounded; subgroups below k outcomes or non-outcomes withheld."""
    subgroups: dict[str, list[dict[str, Any]]] = {}
    for name in task.subgroups:
        # One integer code per row (not a Python string per row: the test set may hold 10^6 rows).
        column = pc.fill_null(pc.cast(reference[name], pa.string()), "None").combine_chunks()
        encoded = column.dictionary_encode()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        rows = []
        for code, value in sorted(enumerate(encoded.dictionary.to_pylist()), key=lambda item: item[1]):
            mask = codes == code
            n_pos = int(y[mask].sum())
            if n_pos < task.k or int(mask.sum()) - n_pos < task.k:
                rows.append({"value": value, "reported": False})
                continue
            rows.append({"value": value, "reported": True, **_summarise(y[mask], p[mask], task)})
        subgroups[name] = rows
    return Evaluation(
        label=label,
        overall=_summarise(y, p, task),
        subgroups=subgroups,
        calibration=metrics.calibration_curve(y, p, task.k),
        rows=len(y),
        outcomes=int(y.sum()),
        unrounded=metrics.point_metrics(y, p),
    )


def evaluate_submission(
    store: ObjectStore,
    keystore: KeyStore,
    task: PredictionTask,
    project_id: str,
    submission: pa.Table,
    *,
    source: str,
    label: str = "submission",
) -> Evaluation:
    """Validate, spend a budget slot, refuse near-duplicates, evaluate, keep the submission (encrypted)."""
    log: dict[str, Any] = {
        "project_id": project_id,
        "task_id": task.task_id,
        "task_version": task.version,
        "task_sha256": task.sha256,
        "budget": task.budget,
    }

    def refused(reason: str, used: int | None = None, **extra: Any) -> None:
        # `used` is the budget spent so far when no slot was claimed for this submission.
        used = budget_used(store, project_id, task.task_id) if used is None else used
        entry = {**log, **_budget(task, used), "reason": reason, **extra}
        audit.record(store, keystore, "ai_evaluate", entry, outcome="refused")

    try:
        reference = reference_for(store, keystore, project_id, task)
    except TaskChanged:
        refused("task_changed")
        raise
    try:
        p = _aligned(submission, reference["row_id"], source)
    except SubmissionRefused:
        refused("invalid_submission")
        raise
    # Of the probabilities in the test set's order: the same predictions, whatever the file's row order.
    digest = hashlib.sha256(p.tobytes()).hexdigest()
    log["submission_sha256"] = digest
    try:
        slot = _claim_slot(store, task, project_id, digest)
    except BudgetExhausted:
        refused("budget_exhausted", task.budget)
        raise
    needed = min_changed_rows(len(p), task.k)
    for earlier in _earlier_submissions(store, keystore, project_id, task.task_id):
        if len(earlier) != len(p):
            continue  # made for an earlier extract of the task (another test set): not comparable
        changed = int(np.sum(np.abs(earlier - p) > _CHANGED))
        if changed < needed:
            refused("near_duplicate", slot, slot=slot)
            raise SubmissionRefused(
                f"submission `{source}` differs from an earlier one of project `{project_id}` on {changed} "
                f"rows (at least {needed} must change by more than {_CHANGED}); evaluation {slot} of "
                f"{task.budget} spent"
            )
    y = reference["label"].to_numpy().astype(int)
    result = evaluate_predictions(y, p, reference, task, label)
    result.slot, result.budget = slot, task.budget
    kept = pa.table({"probability": p})
    store.put(
        f"{task_prefix(project_id, task.task_id)}/submissions/{slot:06d}.parquet",
        encrypt_parquet(kept, _reference_key(keystore, project_id, task.task_id)),
    )
    audit.record(
        store,
        keystore,
        "ai_evaluate",
        {**log, **_budget(task, slot), "slot": slot, "rows": result.rows, **released(result)},
    )
    return result


def _budget(task: PredictionTask, used: int) -> dict[str, int]:
    return {"budget_used": used, "budget_left": max(task.budget - used, 0)}


def released(result: Evaluation) -> dict[str, Any]:
    """What an evaluation let out, for the audit trail: the overall metrics as reported (rounded, with
    their intervals), how many subgroups were reported and withheld, how many calibration bins."""
    groups = [g for rows in result.subgroups.values() for g in rows]
    reported = sum(1 for g in groups if g["reported"])
    return {
        "metrics": {name: [m["value"], m["ci_low"], m["ci_high"]] for name, m in result.overall.items()},
        "subgroups_reported": reported,
        "subgroups_withheld": len(groups) - reported,
        "calibration_bins": len(result.calibration),
    }


def baseline_path(project_id: str, task_id: str) -> str:
    return f"{task_prefix(project_id, task_id)}/baseline.json"


def load_baselines(store: ObjectStore, project_id: str, task_id: str) -> list[dict[str, Any]]:
    path = baseline_path(project_id, task_id)
    return json.loads(store.get(path))["models"] if store.exists(path) else []


def context(store: ObjectStore, project_id: str, task_id: str) -> dict[str, Any]:
    """The extract's summary (dates, sizes, missing data) for the report."""
    return load_summary(store, project_id, task_id)
