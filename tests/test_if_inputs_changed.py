"""Tables and views materialised `table_if_inputs_changed` / `view_if_inputs_changed` are built again only
when their SQL, config or a stamped parent changed (macros/materializations/if_inputs_changed.sql), on a
small dbt project of its own: seed -> view -> table, beside tables that must always be built (a parent
without a stamp, no parent, dbt's own materialisation)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.test_seed_when_changed import PROFILE, PROJECT

DBT_PROJECT = """name: fixture
version: '1.0.0'
config-version: 2
profile: fixture
models:
  fixture:
    +materialized: "{{ 'table_if_inputs_changed' if var('stamped', true) else 'table' }}"
    codes_view: {+materialized: view_if_inputs_changed}
    plain: {+materialized: table}
"""

MODELS = {
    "codes_view": "select a, b from {{ ref('codes') }}",
    "codes_table": "select a, b from {{ ref('codes_view') }}",
    # Its parent opts out: it has no stamp, so this table is always built.
    "plain": "select a from {{ ref('codes') }}",
    "after_plain": "select a from {{ ref('plain') }}",
    # No parent: it may read anything, so it is always built.
    "orphan": "select 1 as a",
}


def _build(work: Path, *args: str) -> str:
    command = [str(Path(sys.executable).parent / "dbt"), "build", *args]
    command += ["--project-dir", str(work / "project"), "--profiles-dir", str(work / "project")]
    command += ["--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=work / "project")
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout


def _sql(work: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(work / "fixture.duckdb"))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _tamper(work: Path) -> None:
    """Change every table's rows behind dbt's back: a table that still shows it was not built again."""
    for table in ("codes_table", "after_plain", "orphan", "plain"):
        _sql(work, f"update main.{table} set a = -1 returning a")


def _tampered(work: Path) -> set[str]:
    tables = ("codes_table", "after_plain", "orphan", "plain")
    return {t for t in tables if _sql(work, f"select min(a) from main.{t}") == [(-1,)]}


def test_models_are_built_again_only_when_their_inputs_changed(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "seeds").mkdir(parents=True)
    (project / "models").mkdir()
    (project / "macros").mkdir()
    for macros in ("seed_when_changed.sql", "if_inputs_changed.sql", "stamps.sql"):
        shutil.copy(PROJECT / "macros" / "materializations" / macros, project / "macros")
    (project / "dbt_project.yml").write_text(DBT_PROJECT, encoding="utf-8")
    (project / "profiles.yml").write_text(PROFILE.format(db=tmp_path / "fixture.duckdb"), encoding="utf-8")
    codes = project / "seeds" / "codes.csv"
    codes.write_text("a,b\n1,x\n2,y\n", encoding="utf-8")
    for name, sql in MODELS.items():
        (project / "models" / f"{name}.sql").write_text(sql, encoding="utf-8")

    _build(tmp_path)
    assert _sql(tmp_path, "select a, b from main.codes_table order by a") == [(1, "x"), (2, "y")]

    # Nothing changed: the seed, the view and the table that reads it are left as they are; the others
    # are built again.
    _tamper(tmp_path)
    out = _build(tmp_path)
    assert out.count("UNCHANGED") == 3, out[-3000:]
    assert _tampered(tmp_path) == {"codes_table"}

    # A changed seed: the view, then the table, are built again.
    codes.write_text("a,b\n1,x\n2,y\n3,z\n", encoding="utf-8")
    _tamper(tmp_path)
    _build(tmp_path)
    assert _tampered(tmp_path) == set()
    assert _sql(tmp_path, "select count(*) from main.codes_table") == [(3,)]

    # A changed view (the table's parent): the table is built again.
    _tamper(tmp_path)
    assert "UNCHANGED" in _build(tmp_path)
    assert _tampered(tmp_path) == {"codes_table"}
    models = project / "models"
    (models / "codes_view.sql").write_text(MODELS["codes_view"] + " where a > 1", encoding="utf-8")
    _build(tmp_path)
    assert _sql(tmp_path, "select a from main.codes_table order by a") == [(2,), (3,)]

    # A changed table SQL, a --full-refresh and dbt's own materialisation each build it again.
    _tamper(tmp_path)
    (models / "codes_table.sql").write_text(MODELS["codes_table"] + " where a < 3", encoding="utf-8")
    _build(tmp_path)
    assert _sql(tmp_path, "select a from main.codes_table order by a") == [(2,)]
    for args in (["--full-refresh"], ["--vars", "{stamped: false}"]):
        _tamper(tmp_path)
        _build(tmp_path, *args)
        assert _tampered(tmp_path) == set(), args
    # Built by dbt's materialisation, the table lost its stamp: it is built once more, then left.
    _tamper(tmp_path)
    _build(tmp_path)
    assert _tampered(tmp_path) == set()
    _tamper(tmp_path)
    _build(tmp_path)
    assert _tampered(tmp_path) == {"codes_table"}
