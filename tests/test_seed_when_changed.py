"""Seeds are loaded again only when they changed (macros/materializations/seed_when_changed.sql), on a small
dbt project of their own: an unchanged file leaves its table as it is, a changed file or config and a
--full-refresh load it again."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

PROJECT = Path(__file__).resolve().parent.parent

PROFILE = """fixture:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{db}"
      threads: 1
"""


def _seed(work: Path, *args: str) -> str:
    command = [str(Path(sys.executable).parent / "dbt"), "seed", *args]
    command += ["--project-dir", str(work / "project"), "--profiles-dir", str(work / "project")]
    command += ["--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=work / "project")
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout


def _rows(work: Path, sql: str = "select a, b from main.codes order by a") -> list[tuple]:
    con = duckdb.connect(str(work / "fixture.duckdb"))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_seed_is_loaded_again_only_when_it_changed(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "seeds").mkdir(parents=True)
    (project / "macros").mkdir()
    for macros in ("seed_when_changed.sql", "stamps.sql"):
        shutil.copy(PROJECT / "macros" / "materializations" / macros, project / "macros")
    (project / "dbt_project.yml").write_text(
        "name: fixture\nversion: '1.0.0'\nconfig-version: 2\nprofile: fixture\n", encoding="utf-8"
    )
    (project / "profiles.yml").write_text(PROFILE.format(db=tmp_path / "fixture.duckdb"), encoding="utf-8")
    codes = project / "seeds" / "codes.csv"
    codes.write_text("a,b\n1,x\n2,y\n", encoding="utf-8")

    assert "INSERT 2" in _seed(tmp_path)
    assert _rows(tmp_path) == [(1, "x"), (2, "y")]
    # Unchanged: the table is left as it is (a row changed behind dbt's back shows it was not reloaded).
    _rows(tmp_path, "update main.codes set b = 'kept' where a = 1 returning a")
    assert "UNCHANGED" in _seed(tmp_path)
    assert _rows(tmp_path) == [(1, "kept"), (2, "y")]
    # A changed file is loaded again.
    codes.write_text("a,b\n1,x\n2,y\n3,z\n", encoding="utf-8")
    assert "INSERT 3" in _seed(tmp_path)
    assert _rows(tmp_path) == [(1, "x"), (2, "y"), (3, "z")]
    # A changed config too (the same file read with other types).
    _rows(tmp_path, "update main.codes set b = 'kept' where a = 1 returning a")
    (project / "dbt_project.yml").write_text(
        "name: fixture\nversion: '1.0.0'\nconfig-version: 2\nprofile: fixture\n"
        "seeds:\n  fixture:\n    codes:\n      +column_types: {a: varchar}\n",
        encoding="utf-8",
    )
    assert "INSERT 3" in _seed(tmp_path)
    assert _rows(tmp_path) == [("1", "x"), ("2", "y"), ("3", "z")]  # the new types, without --full-refresh
    # And every --full-refresh.
    _rows(tmp_path, "update main.codes set b = 'kept' where a = 1 returning a")
    assert "CREATE 3" in _seed(tmp_path, "--full-refresh")
    assert _rows(tmp_path) == [("1", "x"), ("2", "y"), ("3", "z")]
    # A column added to the file: the table takes it (dbt would insert into the old columns, and fail).
    codes.write_text("a,b,c\n1,x,u\n2,y,v\n", encoding="utf-8")
    assert "INSERT 2" in _seed(tmp_path)
    assert _rows(tmp_path, "select a, b, c from main.codes order by a") == [("1", "x", "u"), ("2", "y", "v")]
