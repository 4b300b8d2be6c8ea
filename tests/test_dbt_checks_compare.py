"""tools/dbt_checks/compare.py counts a per-table test as the single-column tests it replaced, and reports a
check that one manifest has and the other has not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tools.dbt_checks.compare import main


def _test(name: str, model: str, **kwargs: Any) -> dict[str, Any]:
    return {
        "resource_type": "test",
        "name": f"{name}_{model}",
        "attached_node": f"model.p.{model}",
        "config": {"where": None, "severity": "ERROR"},
        "test_metadata": {"name": name, "kwargs": {"model": "{{ ref(...) }}", **kwargs}},
    }


def _manifest(path: Path, tests: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"nodes": {f"test.p.{i}": t for i, t in enumerate(tests)}}), encoding="utf-8")
    return path


PER_COLUMN = [
    _test("not_null", "person", column_name="person_id"),
    _test("not_null", "person", column_name="year_of_birth"),
    _test("omop_max_length", "person", column_name="gender_source_value", length=50),
    _test("relationships", "person", column_name="location_id", to="ref('location')", field="location_id"),
    _test("omop_plausible_value", "person", column_name="year_of_birth", low="1850", threshold_pct=1.0),
    _test("unique", "person", column_name="person_id"),
    _test("omop_after_birth", "death", column_name="death_date", threshold_pct=1.0),
    _test("omop_after_birth", "death", column_name="death_datetime", threshold_pct=1.0),
]
PER_TABLE = [
    _test("not_null_columns", "person", columns=["person_id", "year_of_birth"]),
    _test("omop_max_lengths", "person", lengths={"gender_source_value": 50}),
    _test("omop_foreign_keys", "person", columns={"location_id": {"to": "location", "field": "location_id"}}),
    _test(
        "omop_plausible_values", "person", columns={"year_of_birth": {"low": "1850", "threshold_pct": 1.0}}
    ),
    _test("unique", "person", column_name="person_id"),
    _test(
        "omop_after_births",
        "death",
        columns={"death_date": {"threshold_pct": 1.0}, "death_datetime": {"threshold_pct": 1.0}},
    ),
]


def test_the_per_table_tests_hold_the_same_checks(tmp_path: Path, capsys: Any) -> None:
    before = _manifest(tmp_path / "before.json", PER_COLUMN)
    after = _manifest(tmp_path / "after.json", PER_TABLE)
    assert main([str(before), str(after)]) == 0
    out = capsys.readouterr().out
    assert "before: 8 checks in 8 test nodes" in out and "after:  8 checks in 6 test nodes" in out


def test_a_check_lost_or_changed_is_reported(tmp_path: Path, capsys: Any) -> None:
    weaker = [
        _test("not_null_columns", "person", columns=["person_id"]),
        _test("omop_max_lengths", "person", lengths={"gender_source_value": 60}),
        *PER_TABLE[2:-1],
        _test("omop_after_births", "death", columns={"death_date": {"threshold_pct": 1.0}}),
    ]
    before = _manifest(tmp_path / "before.json", PER_COLUMN)
    after = _manifest(tmp_path / "after.json", weaker)
    assert main([str(before), str(after)]) == 1
    out = capsys.readouterr().out
    assert "only before: not_null | person | year_of_birth" in out
    assert 'only before: omop_max_length | person | gender_source_value | {"length": 50}' in out
    assert 'only after: omop_max_length | person | gender_source_value | {"length": 60}' in out
    assert "only before: omop_after_birth | death | death_datetime" in out
