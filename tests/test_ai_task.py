"""Task files: the shipped task loads; a wrong field gets a one-line error naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ingest.ai.features import FEATURES
from ingest.ai.task import TaskError, load_task
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
