"""The one-scan generic tests that replace one test per column (macros/tests/not_null_columns.sql,
omop_max_lengths in macros/tests/omop_dqd.sql), run by dbt on a small project of their own: a defect in any
listed column fails the test, its failure rows name that column, and a clean table passes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

PROJECT = Path(__file__).resolve().parent.parent

PROFILE = """fixture:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{db}"
      threads: 1
"""

SCHEMA = """version: 2
models:
  - name: checked
    data_tests:
      - not_null_columns:
          arguments:
            columns: [id, code, label]
      - omop_max_lengths:
          arguments:
            lengths: {code: 3, label: 5}
"""


def _project(work: Path, rows: str) -> Path:
    project = work / "project"
    (project / "models").mkdir(parents=True)
    (project / "macros").mkdir()
    for macro in ("not_null_columns.sql", "omop_dqd.sql"):
        shutil.copy(PROJECT / "macros" / "tests" / macro, project / "macros" / macro)
    (project / "dbt_project.yml").write_text(
        "name: fixture\nversion: '1.0.0'\nconfig-version: 2\nprofile: fixture\n", encoding="utf-8"
    )
    (project / "profiles.yml").write_text(PROFILE.format(db=work / "fixture.duckdb"), encoding="utf-8")
    (project / "models" / "checked.sql").write_text(
        f"select * from (values {rows}) as t (id, code, label, unchecked)", encoding="utf-8"
    )
    (project / "models" / "schema.yml").write_text(SCHEMA, encoding="utf-8")
    return project


def _build(work: Path, rows: str) -> tuple[subprocess.CompletedProcess[str], dict[str, list[tuple]]]:
    return _build_project(work, _project(work, rows))


def _build_project(
    work: Path, project: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, list[tuple]]]:
    command = [str(Path(sys.executable).parent / "dbt"), "build", "--store-failures"]
    command += ["--project-dir", str(project), "--profiles-dir", str(project)]
    command += ["--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=project)
    failures: dict[str, list[tuple]] = {}
    con = duckdb.connect(str(work / "fixture.duckdb"), read_only=True)
    try:
        for (table,) in con.execute(
            "select table_name from duckdb_tables() where schema_name like '%dbt_test__audit'"
        ).fetchall():
            rows_ = con.execute(f'select * from main_dbt_test__audit."{table}" order by 1').fetchall()
            failures[table.split("_checked")[0]] = rows_
    finally:
        con.close()
    return result, failures


CLEAN = "(1, 'abc', 'hello', null), (2, 'de', 'hi', null)"


def test_a_clean_table_passes_every_column_check(tmp_path: Path) -> None:
    result, failures = _build(tmp_path, CLEAN)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "PASS=3" in result.stdout  # the model and its two tests
    assert all(rows == [] for rows in failures.values()), failures


@pytest.mark.parametrize(
    ("rows", "failing"),
    [
        # A null in the first, a middle or the last listed column: each one is checked.
        (CLEAN + ", (null, 'x', 'y', 1)", [("id", 1)]),
        (CLEAN + ", (3, null, 'y', 1), (4, null, 'z', 1)", [("code", 2)]),
        (CLEAN + ", (3, 'x', null, 1), (4, null, 'z', 1)", [("code", 1), ("label", 1)]),
    ],
)
def test_a_null_in_any_listed_column_fails_and_names_it(
    tmp_path: Path, rows: str, failing: list[tuple]
) -> None:
    result, failures = _build(tmp_path, rows)
    assert result.returncode == 1, result.stdout[-3000:]
    assert "FAIL" in result.stdout and "not_null_columns_checked" in result.stdout
    assert failures["not_null_columns"] == failing
    assert failures["omop_max_lengths"] == []


def test_a_value_too_long_in_any_listed_column_fails_and_names_it(tmp_path: Path) -> None:
    result, failures = _build(tmp_path, CLEAN + ", (3, 'abcd', 'hello', 1), (4, 'x', 'longer', 1)")
    assert result.returncode == 1, result.stdout[-3000:]
    assert failures["omop_max_lengths"] == [("code", 3, 1), ("label", 5, 1)]
    assert failures["not_null_columns"] == []


def test_an_unlisted_column_is_not_checked(tmp_path: Path) -> None:
    """The column `unchecked` is null in every row and not listed: the test is about the listed columns."""
    result, _ = _build(tmp_path, CLEAN)
    assert result.returncode == 0, result.stdout[-3000:]


CDM_SCHEMA = """version: 2
models:
  - name: concept
  - name: checked
    data_tests:
      - omop_foreign_keys:
          arguments:
            columns: {id: {to: concept, field: concept_id}, code: {to: concept, field: concept_code}}
      - omop_plausible_values:
          arguments:
            columns: {id: {low: '1', high: '100', threshold_pct: 0}, unchecked: {low: '0'}}
      - omop_concept_conformances:
          arguments:
            columns: {id: {domain_id: Gender, standard_valid: true}}
"""


def _cdm_build(work: Path, rows: str) -> tuple[subprocess.CompletedProcess[str], dict[str, list[tuple]]]:
    project = _project(work, rows)
    (project / "models" / "schema.yml").write_text(CDM_SCHEMA, encoding="utf-8")
    (project / "models" / "concept.sql").write_text(
        "select * from (values (1, 'abc', 'Gender', 'S', null), (2, 'de', 'Gender', 'S', null))"
        " as t (concept_id, concept_code, domain_id, standard_concept, invalid_reason)",
        encoding="utf-8",
    )
    return _build_project(work, project)


def test_the_cdm_table_tests_fail_on_the_column_at_fault(tmp_path: Path) -> None:
    result, failures = _cdm_build(tmp_path / "clean", CLEAN)
    assert result.returncode == 0, result.stdout[-3000:]
    # An id neither in concept nor plausible (and so not a standard Gender concept), a code not in concept.
    result, failures = _cdm_build(tmp_path / "faulty", CLEAN + ", (300, 'zz', 'x', 1)")
    assert result.returncode == 1, result.stdout[-3000:]
    assert failures["omop_foreign_keys"] == [("code", 1), ("id", 1)]
    assert failures["omop_plausible_values"] == [("id", 1, 3)]
    (conformance,) = [rows for name, rows in failures.items() if name.startswith("omop_concept_conformances")]
    assert conformance == [("id", 1, 3)]


DATED_SCHEMA = """version: 2
models:
  - name: person
  - name: death
  - name: checked
    data_tests:
      - omop_after_births:
          arguments:
            columns:
              start_date: {threshold_pct: 0}
              end_date: {threshold_pct: 0}
              label: {threshold_pct: 50}
      - omop_before_deaths:
          arguments:
            columns: {start_date: {threshold_pct: 0}, end_date: {threshold_pct: 0}}
"""
# Person 1 born 1990-05 (day unknown), person 2 born 2000-01-01 and dead on 2020-01-01, with a second
# death row a day later (death has no key: the DQD counts a violation per matching death row).
PERSONS = "(1, 1990, 5, null, null), (2, 2000, 1, 1, timestamp '2000-01-01 08:00')"
DEATHS = "(2, date '2020-01-01'), (2, date '2020-01-02')"
DATED_CLEAN = (
    "(1, date '2019-01-01', date '2019-01-02', date '2019-01-01'), "
    "(2, date '2019-06-01', date '2020-02-29', null)"  # within the DQD's 60 days after death
)


def _dated_build(work: Path, rows: str) -> tuple[subprocess.CompletedProcess[str], dict[str, list[tuple]]]:
    project = _project(work, "(1, 'a', 'b', null)")
    models = project / "models"
    (models / "schema.yml").write_text(DATED_SCHEMA, encoding="utf-8")
    (models / "person.sql").write_text(
        f"select * from (values {PERSONS}) as t "
        "(person_id, year_of_birth, month_of_birth, day_of_birth, birth_datetime)",
        encoding="utf-8",
    )
    (models / "death.sql").write_text(
        f"select * from (values {DEATHS}) as t (person_id, death_date)", encoding="utf-8"
    )
    (models / "checked.sql").write_text(
        f"select * from (values {rows}) as t (person_id, start_date, end_date, label)", encoding="utf-8"
    )
    return _build_project(work, project)


def test_the_dated_table_tests_fail_on_the_column_at_fault(tmp_path: Path) -> None:
    result, failures = _dated_build(tmp_path / "clean", DATED_CLEAN)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "PASS=5" in result.stdout  # three models, two tests
    # An end before person 1's birth month; a start more than 60 days after both of person 2's death
    # rows, an end after the first only; `label` before birth in one row of three is within its 50 %
    # threshold.
    faulty = DATED_CLEAN + (
        ", (1, date '2019-01-01', date '1990-04-30', date '1980-01-01')"
        ", (2, date '2020-03-05', date '2020-03-02', null)"
    )
    result, failures = _dated_build(tmp_path / "faulty", faulty)
    assert result.returncode == 1, result.stdout[-3000:]
    assert failures["omop_after_births"] == [("end_date", 1, 4)]
    assert failures["omop_before_deaths"] == [("end_date", 1, 4), ("start_date", 2, 4)]


KEY_SCHEMA = """version: 2
models:
  - name: checked
    columns:
      - name: id
        data_tests: [unique_not_null]
"""


def _key_build(work: Path, rows: str) -> tuple[subprocess.CompletedProcess[str], dict[str, list[tuple]]]:
    project = _project(work, rows)
    shutil.copy(PROJECT / "macros" / "tests" / "unique_not_null.sql", project / "macros")
    (project / "models" / "schema.yml").write_text(KEY_SCHEMA, encoding="utf-8")
    return _build_project(work, project)


@pytest.mark.parametrize(
    ("rows", "failing"),
    [
        (CLEAN, []),
        (CLEAN + ", (2, 'x', 'y', 1)", [(2, 2)]),  # dbt's unique would fail
        (CLEAN + ", (null, 'x', 'y', 1), (null, 'z', 'y', 1)", [(None, 2)]),  # dbt's not_null would fail
    ],
)
def test_unique_not_null_fails_on_a_repeated_or_null_key(tmp_path: Path, rows: str, failing: list) -> None:
    result, failures = _key_build(tmp_path, rows)
    assert (result.returncode == 0) == (not failing), result.stdout[-3000:]
    assert failures["unique_not_null"] == failing
