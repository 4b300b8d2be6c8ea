"""Task files: the shipped task loads; a wrong field gets a one-line error naming the file and the field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from ingest.ai.features import FEATURES
from ingest.ai.task import TaskError, load_task, with_periods
from tests.ai_fixtures import TASK_FILE


def test_the_shipped_task_loads_with_its_declared_parts() -> None:
    task = load_task(TASK_FILE)
    assert task.task_id == "ed-referral-after-act"
    assert task.visit_concept_ids == (581476, 9202)  # Home Visit, Outpatient Visit
    assert task.outcome_values == ("URG", "HOSP")
    assert task.outcome_field == "discharged_to_source_value"
    assert task.index_field == "visit_end_datetime"
    assert set(task.features) <= set(FEATURES)
    assert "vital_signs" in task.features
    assert task.development_end < task.test_start
    assert task.k == 11


def _broken(tmp_path: Path, path: list[str], value: object) -> Path:
    document = yaml.safe_load(TASK_FILE.read_text(encoding="utf-8"))
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    out = tmp_path / "task.yaml"
    out.write_text(yaml.safe_dump(document), encoding="utf-8")
    return out


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["task_id"], "Bad Id!", "task_id"),
        (["features"], ["age_class", "shoe_size"], "features"),
        (["subgroups"], ["postcode"], "subgroups"),
        (["outcome", "field"], "visit_end_date", "outcome.field"),
        (["index", "field"], "death_date", "index.field"),
        (["split", "test_start"], "2023-06-01", "split"),
        (["split", "test_patient_share"], 1.5, "split.test_patient_share"),
        (["time_at_risk", "end_days"], 30, "time_at_risk"),
        (["k"], 1, "k"),
        (["target_cohort", "visit_concept_ids"], [], "target_cohort.visit_concept_ids"),
        (["evaluation", "budget"], 0, "evaluation.budget"),
    ],
)
def test_a_wrong_field_is_named_with_the_file(
    tmp_path: Path, path: list[str], value: object, field: str
) -> None:
    broken = _broken(tmp_path, path, value)
    with pytest.raises(TaskError) as caught:
        load_task(broken)
    message = str(caught.value)
    assert str(broken) in message
    assert f"field `{field}`" in message
    assert "\n" not in message


def test_unknown_top_level_fields_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    broken = _broken(tmp_path, ["labels_for_test"], True)
    with pytest.raises(TaskError, match="unknown fields labels_for_test"):
        load_task(broken)
    bad = tmp_path / "bad.yaml"
    bad.write_text("task_id: [unclosed", encoding="utf-8")
    with pytest.raises(TaskError, match="cannot be read as YAML"):
        load_task(bad)


RETURN_TASK = TASK_FILE.parent / "return_visit_within_7_days.yaml"


def test_the_second_task_reads_its_outcome_from_later_acts_within_its_time_at_risk() -> None:
    task = load_task(RETURN_TASK)
    assert (task.outcome_field, task.outcome_values, task.time_at_risk) == ("later_visit", (), (1, 7))
    assert {"URG", "HOSP", "DC"} <= set(task.exclude_discharged_to)


@pytest.mark.parametrize(
    ("source", "path", "value"),
    [
        # The act's own outcome is decided at t = 0: no later time at risk for it.
        (TASK_FILE, ["time_at_risk", "end_days"], 7),
        # A later act from day 0 could be the act itself, or an act before t = 0 on the same day.
        (RETURN_TASK, ["time_at_risk", "start_days"], 0),
        (RETURN_TASK, ["time_at_risk", "end_days"], 0),
    ],
)
def test_a_time_at_risk_that_does_not_fit_the_outcome_is_refused(
    tmp_path: Path, source: Path, path: list[str], value: int
) -> None:
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    document[path[0]][path[1]] = value
    broken = tmp_path / "task.yaml"
    broken.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(TaskError, match=r"field `time_at_risk`"):
        load_task(broken)


def test_periods_given_on_the_command_line_replace_the_task_files() -> None:
    task = with_periods(load_task(TASK_FILE), "2015-01-01:2015-09-30", "2015-10-01:2015-12-31")
    assert (task.development_start, task.development_end) == (date(2015, 1, 1), date(2015, 9, 30))
    assert (task.test_start, task.test_end) == (date(2015, 10, 1), date(2015, 12, 31))
    with pytest.raises(TaskError, match=r"option `--test` must be FIRST:LAST"):
        with_periods(load_task(TASK_FILE), None, "2015-10-01")
    # Only the development period moved, past the file's test period: refused.
    with pytest.raises(TaskError, match=r"development_end < test_start"):
        with_periods(load_task(TASK_FILE), "2024-01-01:2024-12-31", None)
