"""Data tests whose every input is stamped and unchanged since they passed are not run again
(macros/materializations/test_if_inputs_changed.sql), on a small dbt project of its own: a seed and the
view made of it (stamped), a table that is not; a changed input runs the test again, and a failure is
seen; a failed test, a changed test and a --full-refresh run again."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.test_seed_when_changed import PROFILE, PROJECT

DBT_PROJECT = """name: fixture
version: '1.0.0'
config-version: 2
profile: fixture
models:
  fixture:
    codes_view: {+materialized: view_if_inputs_changed}
    plain: {+materialized: table}
"""

MODELS = {
    "codes_view": "select a, b from {{ ref('codes') }}",
    # Not stamped (dbt's materialisation): its tests always run.
    "plain": "select a from {{ ref('codes') }}",
}

SCHEMA = """version: 2
models:
  - name: codes_view
    columns:
      - name: a
        data_tests: [not_null]
  - name: plain
    columns:
      - name: a
        data_tests: [not_null]
"""

SKIPPED = "skipped: inputs unchanged since pass at"


def _build(work: Path, *args: str, ok: bool = True) -> dict[str, str]:
    """{test name: its adapter response code (SKIPPED, or what dbt's statement said)}, and the run's
    status of each test under `status:<name>`."""
    command = [str(Path(sys.executable).parent / "dbt"), "build", *args]
    command += ["--project-dir", str(work / "project"), "--profiles-dir", str(work / "project")]
    command += ["--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=work / "project")
    assert (result.returncode == 0) == ok, result.stdout[-3000:]
    outcome: dict[str, str] = {"stdout": result.stdout}
    for r in json.loads((work / "target" / "run_results.json").read_text())["results"]:
        if r["unique_id"].startswith("test."):
            name = r["unique_id"].split(".")[2]
            outcome[name] = r["status"]
            outcome[f"code:{name}"] = str(r["adapter_response"].get("code"))
    return outcome


def test_a_test_runs_again_only_when_its_inputs_changed(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for folder in ("seeds", "models", "macros"):
        (project / folder).mkdir(parents=True)
    for macros in ("seed_when_changed.sql", "if_inputs_changed.sql", "test_if_inputs_changed.sql"):
        shutil.copy(PROJECT / "macros" / "materializations" / macros, project / "macros")
    shutil.copy(PROJECT / "models" / "build_state" / "data_test_passes.sql", project / "models")
    (project / "dbt_project.yml").write_text(DBT_PROJECT, encoding="utf-8")
    (project / "profiles.yml").write_text(PROFILE.format(db=tmp_path / "fixture.duckdb"), encoding="utf-8")
    codes = project / "seeds" / "codes.csv"
    codes.write_text("a,b\n1,x\n2,y\n", encoding="utf-8")
    for name, sql in MODELS.items():
        (project / "models" / f"{name}.sql").write_text(sql, encoding="utf-8")
    (project / "models" / "schema.yml").write_text(SCHEMA, encoding="utf-8")
    stamped, plain = "not_null_codes_view_a", "not_null_plain_a"

    # The first build runs every test (no pass recorded yet, the passes table built during it).
    first = _build(tmp_path)
    assert first[stamped] == "pass" and first[plain] == "pass"
    # The first build with the passes table in place records the stamped test's pass...
    _build(tmp_path)
    # ...and the next one reports it without running it; the test on the unstamped table runs.
    again = _build(tmp_path)
    assert again[stamped] == "pass" and again[f"code:{stamped}"] == "SKIPPED", again["stdout"][-3000:]
    assert f"{stamped} {SKIPPED}" in again["stdout"]
    assert again[plain] == "pass" and again[f"code:{plain}"] != "SKIPPED"

    # An input changed (a null in the seed): the test runs again, and fails.
    codes.write_text("a,b\n1,x\n2,y\n,z\n", encoding="utf-8")
    failed = _build(tmp_path, ok=False)
    assert failed[stamped] == "fail" and failed[f"code:{stamped}"] != "SKIPPED"
    # A failed test is not recorded: with the same inputs it runs, and fails, again.
    failed = _build(tmp_path, ok=False)
    assert failed[stamped] == "fail" and SKIPPED not in failed["stdout"]

    # The input as it was: the pass recorded with that stamp stands (same inputs, same result).
    codes.write_text("a,b\n1,x\n2,y\n", encoding="utf-8")
    assert _build(tmp_path)[f"code:{stamped}"] == "SKIPPED"

    # A changed test definition runs again (then is skipped again), and so does a --full-refresh.
    where = 'data_tests: [{not_null: {config: {where: "b is not null"}}}]'
    (project / "models" / "schema.yml").write_text(
        SCHEMA.replace("data_tests: [not_null]", where, 1), encoding="utf-8"
    )
    changed = _build(tmp_path)
    assert changed[stamped] == "pass" and changed[f"code:{stamped}"] != "SKIPPED"
    assert _build(tmp_path)[f"code:{stamped}"] == "SKIPPED"
    assert _build(tmp_path, "--full-refresh")[f"code:{stamped}"] != "SKIPPED"
