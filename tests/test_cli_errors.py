"""Careless or hostile command lines end in one error line with a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.lake.keys import LocalKeyStore
from tests.extract_builder import NIR


@pytest.fixture
def home(tmp_path: Path, keystore: LocalKeyStore, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAKEHOUSE_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", str(tmp_path / "home" / "warehouse.duckdb"))
    return tmp_path / "home"


def _one_error_line(args: list[str], expected_code: int) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == expected_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


def test_generate_into_a_file(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    line = _one_error_line(["generate", "--out", str(target), "--scale", "0.01", "--associations", "1"], 2)
    assert str(target) in line and "not a folder" in line
    line = _one_error_line(["generate", "--out", str(target / "below"), "--scale", "0.01"], 2)
    assert target.read_text() == "not a folder"


def test_audit_verify_with_a_malformed_head(home: Path) -> None:
    line = _one_error_line(["audit", "verify", "--expected-head", "garbage"], 2)
    assert "--expected-head" in line and "SEQ:HASH" in line


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "retire", "../../etc"],
        ["keys", "retire", "raw/../../etc"],
        ["keys", "retire", "raw/acts/../../../etc/passwd"],
        ["keys", "remove-master", "../../etc"],
        ["keys", "remove-master", "raw-v1/../x"],
    ],
    ids=lambda args: args[-1],
)
def test_key_ids_that_climb_out_of_the_lake(home: Path, tmp_path: Path, args: list[str]) -> None:
    line = _one_error_line(args, 2)
    assert "must" in line or "is not one of" in line
    assert not (tmp_path / "etc").exists()


def test_key_store_that_is_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_KEYSTORE", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_LAKE", str(tmp_path / "lake"))
    for args in (["keys", "init"], ["ingest", str(tmp_path)], ["purge", "--opposition"]):
        line = _one_error_line(args, 2)
        assert f"`{tmp_path}` is not a regular file" in line


def test_key_store_that_is_a_fifo_does_not_hang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fifo = tmp_path / "keystore.json"
    os.mkfifo(fifo, 0o600)
    monkeypatch.setenv("LAKEHOUSE_KEYSTORE", str(fifo))
    line = _one_error_line(["keys", "init"], 2)
    assert "is not a regular file" in line


@pytest.mark.parametrize("birth_date", ["2099-01-01", "1850-06-01"])
def test_objection_with_an_impossible_birth_date(home: Path, birth_date: str) -> None:
    args = ["opposition", "add", "--nir", NIR, "--birth-date", birth_date, "--sex", "F"]
    line = _one_error_line(args, 2)
    assert "--birth-date" in line and NIR not in line
    assert not (home.parent / "lake" / "_opposition").exists()


_HOLDERS = {
    # A `lakehouse build` in progress holds the warehouse lock for the life of its dbt run.
    "build": """
        from pathlib import Path
        from ingest.build.warehouse_lock import hold_warehouse
        with hold_warehouse(Path({warehouse!r}), "build"):
            print("ready", flush=True)
            time.sleep(60)
        """,
    # A dbt run started by hand (or an analyst's session) holds DuckDB's own lock on the file.
    "duckdb": """
        from ingest.lake.crypto import connect_duckdb
        from ingest.lake.keys import open_keystore
        con = connect_duckdb()
        key = open_keystore().warehouse_db_key()
        con.execute(f"attach '{warehouse}' as w (encryption_key '{{key}}')")
        print("ready", flush=True)
        time.sleep(60)
        """,
}


@pytest.mark.parametrize("holder", list(_HOLDERS))
@pytest.mark.parametrize(
    "command", [["build", "--select", "person"], ["keys", "rotate", "--zone", "warehouse"]]
)
def test_a_second_build_is_told_another_holds_the_warehouse(
    home: Path, keystore: LocalKeyStore, holder: str, command: list[str]
) -> None:
    keys_before = keystore.path.read_bytes()
    warehouse = home / "warehouse.duckdb"
    home.mkdir(parents=True)
    code = "import time\n" + textwrap.dedent(_HOLDERS[holder]).format(warehouse=str(warehouse))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        started = time.monotonic()
        line = _one_error_line(command, 5)
        assert time.monotonic() - started < 10  # refused at once: dbt was not even started
    finally:
        proc.kill()
        proc.wait()
    assert str(warehouse) in line
    assert keystore.path.read_bytes() == keys_before  # a refused rotation changed no key
    if holder == "build":
        assert f"Another build holds the warehouse `{warehouse}` (build, pid {proc.pid}" in line
    else:
        assert "Another process holds the warehouse" in line


def test_build_check_and_export_read_the_manifest_of_dbt_target_path(
    home: Path, keystore: LocalKeyStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.cli.pipeline import BuildFailed, _check_disclosure
    from ingest.lake.crypto import connect_duckdb

    untested = {
        "resource_type": "model",
        "name": "untested_mart",
        "path": "marts/untested_mart.sql",
        "database": "warehouse",
        "schema": "epidemiology",
        "alias": "untested_mart",
        "config": {
            "materialized": "table",
            "meta": {"disclosure": {"output": "aggregate", "published": True}},
        },
    }
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "manifest.json").write_text(json.dumps({"nodes": {"model.p.untested_mart": untested}}))
    monkeypatch.setenv("DBT_TARGET_PATH", str(target))

    # untested_mart lacks both its tests and declares no disclosure role: three findings, one mart.
    with pytest.raises(BuildFailed, match="3 disclosure-control finding"):
        _check_disclosure()
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "manifest.json").write_text(json.dumps({"nodes": {}}))
    _check_disclosure(("--target-path", str(clean)))  # build's own --target-path wins

    home.mkdir(parents=True)
    con = connect_duckdb()
    con.execute(f"attach '{home / 'warehouse.duckdb'}' as w (encryption_key '{keystore.warehouse_db_key()}')")
    con.close()
    result = CliRunner().invoke(main, ["export"])
    assert result.exit_code != 0 and "Mart `untested_mart` cannot be read" in result.output, result.output


@pytest.mark.parametrize("state", ["rotation_interrupted", "another_key_store"])
@pytest.mark.parametrize("command", [["query", "select 1"], ["export"]])
def test_a_warehouse_the_key_store_does_not_open(
    home: Path,
    keystore: LocalKeyStore,
    state: str,
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ingest.lake.crypto import connect_duckdb

    # The export reads dbt's manifest before the warehouse: give it one, whatever the checkout holds.
    target = tmp_path / "target"
    target.mkdir()
    (target / "manifest.json").write_text(json.dumps({"nodes": {}}))
    monkeypatch.setenv("DBT_TARGET_PATH", str(target))

    if state == "rotation_interrupted":  # killed after the rename, before the key store switched
        key = keystore.begin_warehouse_db_key_rotation()
    else:
        key = "another-key-store-s-warehouse-key-0123456789"
    home.mkdir(parents=True)
    con = connect_duckdb()
    con.execute(f"attach '{home / 'warehouse.duckdb'}' as w (encryption_key '{key}')")
    con.close()
    result = CliRunner().invoke(main, command)
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    warehouse = home / "warehouse.duckdb"
    assert f"The warehouse `{warehouse}` does not open with the warehouse key" in result.output
    expected = "--resume" if state == "rotation_interrupted" else "built with another key store"
    assert expected in result.output
