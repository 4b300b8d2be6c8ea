"""The data-protection officer's commands, end to end through the CLI on a real local lake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.lake import audit
from ingest.lake.crypto import connect_duckdb
from ingest.lake.keys import LocalKeyStore
from ingest.lake.storage import open_store
from tests.extract_builder import NIR, act_row, write_extract


@pytest.fixture
def home(tmp_path: Path, keystore: LocalKeyStore, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LAKEHOUSE_LAKE", raising=False)
    monkeypatch.delenv("LAKEHOUSE_WAREHOUSE", raising=False)
    return tmp_path / "home"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_objection_then_purge_then_audit_verify_and_tamper(home: Path, tmp_path: Path) -> None:
    rows = [act_row("1"), act_row("2", patient_nir="", patient_nom="Autre")]
    write_extract(tmp_path / "in", "actes", rows)
    assert invoke("ingest", str(tmp_path / "in"))[0] == 0

    code, output = invoke("opposition", "add", "--nir", NIR)
    assert code == 2 and "give --nir, --birth-date and --sex" in output and NIR not in output
    code, output = invoke("opposition", "add", "--nir", NIR, "--birth-date", "1950-03-02", "--sex", "F")
    assert code == 0 and NIR not in output
    code, output = invoke("purge", "--opposition")
    assert code == 0 and "raw/acts: 1" in output, output
    code, output = invoke("purge")
    assert code == 2 and "choose one of" in output

    code, output = invoke("audit", "verify")
    assert code == 0 and "intact" in output
    store = open_store(str(home / "lake"))
    actions = [e.action for e in audit.entries(store)]
    assert actions == ["ingest", "opposition_add", "purge_opposition"]

    # Alter one recorded count: the chain no longer verifies, and the command names the entry.
    first = sorted(store.list("_audit"))[0]
    entry = json.loads(store.get(first))
    entry["data"]["rows_accepted"] += 1
    store.put(first, json.dumps(entry).encode())
    code, output = invoke("audit", "verify")
    assert code == 8 and "Error:" in output and "1" in output


def test_query_goes_to_the_encrypted_warehouse_and_is_audited(home: Path, keystore: LocalKeyStore) -> None:
    warehouse = home / "warehouse.duckdb"
    home.mkdir(parents=True)
    con = connect_duckdb()
    con.execute(f"attach '{warehouse}' as w (encryption_key '{keystore.warehouse_db_key()}')")
    con.execute("create schema w.cdm")
    con.execute("create table w.cdm.person as select range as person_id from range(42)")
    con.close()

    code, output = invoke("query", "select count(*) as n from cdm.person")
    assert code == 0 and "42" in output
    code, output = invoke("query", "select * from cdm.person", "--out", str(home / "p.csv"))
    assert code == 0 and (home / "p.csv").read_text().count("\n") == 43
    store = open_store(str(home / "lake"))
    queries = [e for e in audit.entries(store) if e.action == "query"]
    assert [q.data["rows"] for q in queries] == [1, 42]
    assert all(q.data["tables"] == ["warehouse.cdm.person"] for q in queries)
    assert "select" not in json.dumps([q.data for q in queries])  # the SQL text itself is not kept

    code, output = invoke("query", "drop table cdm.person")  # read-only: refused, and still logged
    assert code == 1 and output.startswith("Error: only a query (SELECT ...) is accepted, not DROP")
    assert [e.outcome for e in audit.entries(store) if e.action == "query"][-1] == "refused"
