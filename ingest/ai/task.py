"""Prediction tasks declared as data: a YAML task file, in the vocabulary of OHDSI PatientLevelPrediction.

A task names the target cohort (which OMOP visits, and t = 0), the outcome, the time at risk, the
observation window before t = 0, the feature set (names from `ingest.ai.features.FEATURES`), the subgroups
reported, the quasi-identifiers checked for k-anonymity, the split by time and patient, and the evaluation
budget. `tasks/ed_referral_after_act.yaml` is the shipped example; docs/ai-evaluation.md describes each field.
Every error names the file and the field.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from ingest.exceptions import LakehouseError

__all__ = [
    "INDEX_FIELDS",
    "OUTCOME_FIELDS",
    "SUBGROUPS",
    "PredictionTask",
    "TaskError",
    "load_task",
    "parse_task",
    "with_periods",
]

TASK_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# t = 0 may be the start or the end of the act; features are only taken from before it.
INDEX_FIELDS = ("visit_end_datetime", "visit_start_datetime")
# Where an outcome is read. `discharged_to_source_value`: the act's own outcome, decided at t = 0
# (visit_occurrence; also observation `outcome:<code>`), time at risk [0, 0]. `later_visit`: another act
# of the same person starting within the time at risk, in days after t = 0's date (OHDSI's risk window);
# `values`, if given, keeps only later acts with those outcome codes.
OUTCOME_FIELDS = ("discharged_to_source_value", "later_visit")
# Columns an evaluation may break performance down by (all known at t = 0, kept inside the perimeter).
SUBGROUPS = ("age_class", "sex", "region", "season", "time_of_day")
_TOP_FIELDS = {
    "task_id", "version", "title", "description", "target_cohort", "index", "outcome", "time_at_risk",
    "observation_window_days", "features", "subgroups", "quasi_identifiers", "k", "split", "evaluation",
}  # fmt: skip


class TaskError(LakehouseError):
    """The task file is not a valid prediction task."""

    exit_code = 2


@dataclass(frozen=True)
class PredictionTask:
    task_id: str
    version: int
    title: str
    description: str
    cohort_description: str
    visit_concept_ids: tuple[int, ...]
    exclude_discharged_to: tuple[str, ...]
    index_field: str
    index_description: str
    outcome_field: str
    outcome_values: tuple[str, ...]
    outcome_description: str
    time_at_risk: tuple[int, int]
    time_at_risk_description: str
    observation_window_days: int
    features: tuple[str, ...]
    subgroups: tuple[str, ...]
    quasi_identifiers: tuple[str, ...]
    k: int
    development_start: date
    development_end: date
    test_start: date
    test_end: date
    test_patient_share: float
    budget: int
    bootstrap: int
    source: str = "<task>"
    sha256: str | None = None  # of the task file's bytes, when read from a file (audit, reports)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, field: str, why: str) -> TaskError:
        return TaskError(f"task file `{self.source}`: field `{field}` {why}")

    def mapping(self, doc: Any, field: str) -> dict[str, Any]:
        if not isinstance(doc, dict):
            raise self.error(field, "must be a mapping")
        return doc

    def text(self, doc: dict[str, Any], name: str, field: str, *, default: str | None = None) -> str:
        value = doc.get(name, default)
        if not isinstance(value, str) or not value.strip():
            raise self.error(field, "must be a non-empty text")
        return value.strip()

    def integer(
        self, doc: dict[str, Any], name: str, field: str, low: int, default: int | None = None
    ) -> int:
        value = doc.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise self.error(field, f"must be an integer of at least {low}")
        return value

    def day(self, doc: dict[str, Any], name: str, field: str) -> date:
        value = doc.get(name)
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                pass
        if not isinstance(value, date):
            raise self.error(field, "must be a date YYYY-MM-DD")
        return value

    def names(self, value: Any, field: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.error(field, "must be a non-empty list of names")
        if len(set(value)) != len(value):
            raise self.error(field, "lists a name twice")
        if allowed is not None:
            unknown = [v for v in value if v not in allowed]
            if unknown:
                raise self.error(
                    field, f"has unknown names {', '.join(unknown)} (known: {', '.join(allowed)})"
                )
        return tuple(value)


def parse_task(document: Any, source: str = "<task>") -> PredictionTask:
    from ingest.ai.features import FEATURES

    r = _Reader(source)
    doc = r.mapping(document, "(top level)")
    unknown = sorted(set(doc) - _TOP_FIELDS)
    if unknown:
        raise TaskError(f"task file `{source}`: unknown fields {', '.join(unknown)}")
    task_id = doc.get("task_id")
    if not isinstance(task_id, str) or not TASK_ID.fullmatch(task_id):
        raise r.error("task_id", f"must match {TASK_ID.pattern}")
    cohort = r.mapping(doc.get("target_cohort"), "target_cohort")
    concepts = cohort.get("visit_concept_ids")
    if not isinstance(concepts, list) or not concepts or not all(isinstance(c, int) for c in concepts):
        raise r.error("target_cohort.visit_concept_ids", "must be a non-empty list of OMOP concept ids")
    excluded = cohort.get("exclude_discharged_to", [])
    if not isinstance(excluded, list) or not all(isinstance(c, str) for c in excluded):
        raise r.error("target_cohort.exclude_discharged_to", "must be a list of outcome codes")
    index = r.mapping(doc.get("index"), "index")
    if index.get("field") not in INDEX_FIELDS:
        raise r.error("index.field", f"must be one of {', '.join(INDEX_FIELDS)}")
    outcome = r.mapping(doc.get("outcome"), "outcome")
    if outcome.get("field") not in OUTCOME_FIELDS:
        raise r.error("outcome.field", f"must be one of {', '.join(OUTCOME_FIELDS)}")
    later = outcome["field"] == "later_visit"
    values: tuple[str, ...] = ()
    if not later or "values" in outcome:
        values = r.names(outcome.get("values"), "outcome.values")
    if not later and set(values) & set(excluded):
        raise r.error("outcome.values", "overlaps target_cohort.exclude_discharged_to")
    tar = r.mapping(doc.get("time_at_risk"), "time_at_risk")
    tar_start = r.integer(tar, "start_days", "time_at_risk.start_days", 0)
    tar_end = r.integer(tar, "end_days", "time_at_risk.end_days", 0)
    if not later and (tar_start, tar_end) != (0, 0):
        # The act's own outcome is what the doctor decided at its end: nothing later can be it.
        raise r.error(
            "time_at_risk", "must be start_days: 0, end_days: 0 for the act's own outcome (outcome.field)"
        )
    if later and not 1 <= tar_start <= tar_end:
        # Day 0 would mix acts before and after t = 0 on the same day (the risk window is in days).
        raise r.error("time_at_risk", "must have 1 <= start_days <= end_days for outcome.field later_visit")
    features = r.names(doc.get("features"), "features", tuple(FEATURES))
    subgroups = r.names(doc.get("subgroups"), "subgroups", SUBGROUPS)
    quasi = r.names(doc.get("quasi_identifiers"), "quasi_identifiers", SUBGROUPS)
    split = r.mapping(doc.get("split"), "split")
    dev_start = r.day(split, "development_start", "split.development_start")
    dev_end = r.day(split, "development_end", "split.development_end")
    test_start = r.day(split, "test_start", "split.test_start")
    test_end = r.day(split, "test_end", "split.test_end")
    if not dev_start <= dev_end < test_start <= test_end:
        raise r.error("split", "must have development_start <= development_end < test_start <= test_end")
    share = split.get("test_patient_share", 0.3)
    if not isinstance(share, float | int) or isinstance(share, bool) or not 0 < share < 1:
        raise r.error("split.test_patient_share", "must be a number between 0 and 1")
    evaluation = r.mapping(doc.get("evaluation", {}), "evaluation")
    return PredictionTask(
        task_id=task_id,
        version=r.integer(doc, "version", "version", 1, default=1),
        title=r.text(doc, "title", "title"),
        description=r.text(doc, "description", "description"),
        cohort_description=r.text(cohort, "description", "target_cohort.description"),
        visit_concept_ids=tuple(concepts),
        exclude_discharged_to=tuple(excluded),
        index_field=index["field"],
        index_description=r.text(index, "description", "index.description"),
        outcome_field=outcome["field"],
        outcome_values=values,
        outcome_description=r.text(outcome, "description", "outcome.description"),
        time_at_risk=(tar_start, tar_end),
        time_at_risk_description=r.text(tar, "description", "time_at_risk.description"),
        observation_window_days=r.integer(doc, "observation_window_days", "observation_window_days", 1),
        features=features,
        subgroups=subgroups,
        quasi_identifiers=quasi,
        k=r.integer(doc, "k", "k", 2, default=11),
        development_start=dev_start,
        development_end=dev_end,
        test_start=test_start,
        test_end=test_end,
        test_patient_share=float(share),
        budget=r.integer(evaluation, "budget", "evaluation.budget", 1, default=10),
        bootstrap=r.integer(evaluation, "bootstrap", "evaluation.bootstrap", 50, default=200),
        source=source,
    )


def with_periods(task: PredictionTask, development: str | None, test: str | None) -> PredictionTask:
    """The task with its development and/or test period replaced ("YYYY-MM-DD:YYYY-MM-DD"): the same
    prediction problem on a warehouse that holds other dates (e.g. one national year)."""
    changes: dict[str, date] = {}
    for name, value in (("development", development), ("test", test)):
        if value is None:
            continue
        first, sep, last = value.partition(":")
        try:
            start, end = date.fromisoformat(first), date.fromisoformat(last)
        except ValueError:
            start = end = None  # type: ignore[assignment]
        if not sep or start is None or end is None:
            raise TaskError(
                f"option `--{name}` must be FIRST:LAST dates (YYYY-MM-DD:YYYY-MM-DD), not `{value}`"
            )
        changes[f"{name}_start"], changes[f"{name}_end"] = start, end
    changed = dataclasses.replace(task, **changes)
    if not changed.development_start <= changed.development_end < changed.test_start <= changed.test_end:
        raise TaskError(
            f"task `{task.source}` with options --development/--test: must have development_start <= "
            "development_end < test_start <= test_end"
        )
    return changed


def load_task(path: str | Path) -> PredictionTask:
    path = Path(path)
    try:
        raw = path.read_bytes()
        document = yaml.safe_load(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TaskError(f"task file `{path}` cannot be read as YAML ({type(exc).__name__})") from exc
    return dataclasses.replace(parse_task(document, str(path)), sha256=hashlib.sha256(raw).hexdigest())
