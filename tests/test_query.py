"""`lakehouse query` as an attacker would use it (issue 16 §1): each escape that worked on the unlocked
connection is refused, nothing is written or read outside the warehouse, and the audit trail records
what was really returned. Runs the real CLI on a real encrypted warehouse file."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.lake import audit
from ingest.lake.crypto import connect_duckdb
from ingest.lake.keys import LocalKeyStore
from ingest.lake.storage import ObjectStore, open_store
from ingest.publish.query import BATCH_ROWS, open_locked_warehouse
from tests.test_study_extract import PROTOCOL

PERSONS = 3 * BATCH_ROWS + 17  # several record batches


@pytest.fixture
def home(tmp_path: Path, keystore: LocalKeyStore, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An encrypted warehouse with a CDM table and a mart view over it, as `lakehouse build` leaves one."""
    home = tmp_path / "home"
    monkeypatch.setenv("LAKEHOUSE_HOME", str(home))
    monkeypatch.delenv("LAKEHOUSE_LAKE", raising=False)
    monkeypatch.delenv("LAKEHOUSE_WAREHOUSE", raising=False)
    home.mkdir()
    con = connect_duckdb()
    con.execute(
        f"attach '{home / 'warehouse.duckdb'}' as warehouse (encryption_key '{keystore.warehouse_db_key()}')"
    )
    con.execute("use warehouse")
    con.execute("create schema cdm")
    con.execute("create schema epidemiology")
    con.execute(
        f"create table cdm.person as select range as person_id, 'Jeanne' || range as given_name "
        f"from range({PERSONS})"
    )
    con.execute("create table cdm.visit as select range % 100 as person_id from range(1000)")
    con.execute(
        "create view epidemiology.weekly as select count(*) as n from cdm.person p join cdm.visit v "
        "on p.person_id = v.person_id"
    )
    con.close()
    return home


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def _lake(home: Path) -> ObjectStore:
    return open_store(str(home / "lake"))


def _last_query(home: Path) -> audit.AuditEntry:
    return [e for e in audit.entries(_lake(home)) if e.action == "query"][-1]


def _persons(home: Path, keystore: LocalKeyStore) -> int:
    con = open_locked_warehouse(home / "warehouse.duckdb", keystore)
    try:
        (count,) = con.execute("select count(*) from cdm.person").fetchone()  # type: ignore[misc]
        return int(count)
    finally:
        con.close()


def test_copy_to_a_file_is_refused(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    code, output = invoke("query", f"COPY (select * from cdm.person) TO '{target}'")
    assert code == 1 and output.startswith("Error: only a query (SELECT ...) is accepted, not COPY")
    assert not target.exists()
    entry = _last_query(home)
    assert (entry.outcome, entry.data["rows"], entry.data["error"]) == ("refused", None, "QueryRefused")


@pytest.mark.parametrize(
    "reader",
    [
        "read_text('{keystore}')",
        "read_blob('{keystore}')",
        "read_csv('/etc/passwd')",
        "glob('/etc/*')",
        "read_csv('http://127.0.0.1:9/x.csv')",  # nor the network
    ],
)
def test_reading_files_is_refused(home: Path, keystore: LocalKeyStore, reader: str) -> None:
    """The key store holds every key of the lake: a SELECT reading it printed them all."""
    code, output = invoke("query", f"select * from {reader.format(keystore=keystore.path)}")
    assert code == 1 and "Permission Error" in output and "EXPLAIN" not in output
    assert keystore.warehouse_db_key() not in output and "root:" not in output
    entry = _last_query(home)
    assert (entry.outcome, entry.data["rows"]) == ("failure", 0)


def test_attach_of_a_plaintext_copy_is_refused(home: Path, tmp_path: Path) -> None:
    copy = tmp_path / "plain.duckdb"
    code, output = invoke("query", f"ATTACH '{copy}' AS plain")
    assert code == 1 and "not ATTACH" in output
    sql = f"ATTACH '{copy}' AS plain; CREATE TABLE plain.p AS SELECT * FROM warehouse.cdm.person"
    code, output = invoke("query", sql)
    assert code == 1 and "exactly one statement is accepted, got 2" in output
    assert not copy.exists()


def test_extension_install_and_load_are_refused(home: Path) -> None:
    for sql in ("INSTALL spatial", "LOAD spatial", "SET enable_external_access = true"):
        code, output = invoke("query", sql)
        assert code == 1 and output.startswith("Error: only a query"), sql


def test_multi_statement_detach_reattach_delete_is_refused(home: Path, keystore: LocalKeyStore) -> None:
    """The reproduction: detach the read-only warehouse, attach a copy with the key read earlier,
    delete rows. Not one statement of it runs."""
    copy = home / "copy.duckdb"
    shutil.copy(home / "warehouse.duckdb", copy)
    sql = (
        "use memory; detach warehouse; "
        f"attach '{copy}' as warehouse (encryption_key '{keystore.warehouse_db_key()}'); "
        "delete from warehouse.cdm.person; select 1"
    )
    code, output = invoke("query", sql)
    assert code == 1 and "exactly one statement is accepted, got 5" in output
    assert _persons(home, keystore) == PERSONS
    con = connect_duckdb()
    con.execute(f"attach '{copy}' as c (encryption_key '{keystore.warehouse_db_key()}', read_only)")
    assert con.execute("select count(*) from c.cdm.person").fetchone() == (PERSONS,)
    con.close()


def test_the_lock_holds_on_the_connection_itself(home: Path, keystore: LocalKeyStore, tmp_path: Path) -> None:
    """Not only the statement filter: the locked connection refuses by itself (defence in depth)."""
    con = open_locked_warehouse(home / "warehouse.duckdb", keystore)
    try:
        for sql in (
            f"copy (select 1) to '{tmp_path / 'y.csv'}'",
            f"attach '{tmp_path / 'z.duckdb'}' as z",
            "install spatial",
            "load spatial",
        ):
            with pytest.raises(duckdb.PermissionException):
                con.execute(sql)
        with pytest.raises(duckdb.InvalidInputException, match="locked"):
            con.execute("set enable_external_access = true")
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("delete from cdm.person")
    finally:
        con.close()
    assert not (tmp_path / "y.csv").exists() and not (tmp_path / "z.duckdb").exists()


def test_legitimate_queries_still_work_and_name_the_tables_read(home: Path) -> None:
    code, output = invoke("query", "with w as (select n from epidemiology.weekly) select n from w")
    assert code == 0 and "1000" in output
    entry = _last_query(home)
    # The view is expanded: the trail names the tables whose rows were read.
    assert entry.data["tables"] == ["warehouse.cdm.person", "warehouse.cdm.visit"]
    assert (entry.outcome, entry.data["rows"]) == ("success", 1)
    code, output = invoke("query", "describe cdm.person")
    assert code == 0 and "given_name" in output


def test_rows_are_streamed_to_a_file_and_counted(home: Path) -> None:
    out = home / "persons.parquet"
    code, output = invoke("query", "select * from cdm.person", "--out", str(out))
    assert code == 0 and f"{PERSONS:,} rows written" in output
    assert pq.read_metadata(out).num_rows == PERSONS
    entry = _last_query(home)
    assert (entry.data["rows"], entry.data["truncated"]) == (PERSONS, False)


def test_row_cap_stops_the_stream_says_so_and_the_audit_counts_what_was_returned(home: Path) -> None:
    out = home / "persons.csv"
    cap = BATCH_ROWS + 5  # inside the second batch
    code, output = invoke("query", "select * from cdm.person", "--out", str(out), "--max-rows", str(cap))
    assert code == 0 and f"Stopped at --max-rows {cap:,}: the result has more rows" in output
    assert out.read_text().count("\n") == cap + 1  # header
    entry = _last_query(home)
    assert (entry.data["rows"], entry.data["truncated"], entry.data["max_rows"]) == (cap, True, cap)

    code, output = invoke("query", "select * from cdm.person", "--max-rows", str(PERSONS))
    assert code == 0 and "Stopped" not in output and f"{PERSONS:,} rows in all" in output
    assert _last_query(home).data["rows"] == PERSONS


def test_failed_query_is_logged(home: Path) -> None:
    code, output = invoke("query", "select * from cdm.nowhere")
    assert code == 1 and output.startswith("Error: the query failed (logged)")
    entry = _last_query(home)
    assert (entry.outcome, entry.data["error"]) == ("failure", "CatalogException")
    code, output = invoke("query", "selec 1")
    assert code == 1 and output.startswith("Error: not valid SQL")
    code, output = invoke("query", "  ;  ")
    assert code == 1 and "got 0" in output


def test_a_cap_on_a_batch_boundary_still_says_the_result_has_more(home: Path) -> None:
    out = home / "persons.csv"
    code, output = invoke(
        "query", "select * from cdm.person", "--out", str(out), "--max-rows", str(BATCH_ROWS)
    )
    assert code == 0 and "Stopped at --max-rows" in output
    assert out.read_text().count("\n") == BATCH_ROWS + 1
    code, output = invoke("query", "select * from cdm.person", "--max-rows", str(PERSONS))
    assert code == 0 and "Stopped" not in output  # exactly the cap: nothing more to say


def test_study_extract_goes_through_the_same_locked_door(home: Path, tmp_path: Path) -> None:
    """`extract --sql` ran on the unlocked connection too: a COPY wrote the cohort out in clear."""
    protocol = tmp_path / "p.yaml"
    protocol.write_text(PROTOCOL.format(project="grippe-2024", k=3))
    target = tmp_path / "cohort.csv"
    args = ["extract", "--protocol", str(protocol), "--out", str(tmp_path / "out")]
    code, output = invoke(*args, "--sql", f"copy (select * from cdm.person) to '{target}'")
    assert code == 1 and "only a query (SELECT ...) is accepted, not COPY" in output
    assert not target.exists()
    entry = [e for e in audit.entries(_lake(home)) if e.action == "extract"][-1]
    assert (entry.outcome, entry.data["reason"]) == ("refused", "not_a_query")
    code, output = invoke(*args, "--sql", f"select * from read_csv('{target}')")
    assert code == 1 and "Permission Error" in output
    # A cohort query still works: the protocol's columns checked, then k-anonymity.
    code, output = invoke(*args, "--sql", "select given_name as patient_sex from cdm.person")
    assert code == 7 and "columns not in the query result" in output
