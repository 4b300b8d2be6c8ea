"""The audit trail on both stores: chaining, tamper detection (altered, removed, reordered, truncated),
concurrent writers that cannot fork the chain, and the query helper."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from ingest import audit
from ingest.crypto import connect_duckdb
from ingest.storage import ObjectStore


def _fill(store: ObjectStore, n: int) -> None:
    for i in range(n):
        audit.record(store, "ingest", {"files": i, "datasets": ["acts"], "rows": {"acts": 10 * i}})


def test_entries_chain_and_name_who_what_when(store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_ACTOR", "dpo.martin")
    _fill(store, 3)
    entries = audit.entries(store)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == audit.GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert {e.actor for e in entries} == {"dpo.martin"}
    assert entries[2].data == {"files": 2, "datasets": ["acts"], "rows": {"acts": 20}}
    assert entries[0].at.endswith("+00:00")
    assert store.list("_audit") == [f"_audit/{i:012d}.json" for i in (1, 2, 3)]
    result = audit.verify(store)
    assert result.ok and result.entries == 3 and result.head_seq == 3 and result.head_hash == entries[2].hash


def test_altered_entry_is_named(store: ObjectStore) -> None:
    _fill(store, 4)
    path = "_audit/000000000002.json"
    body = json.loads(store.get(path))
    body["data"]["rows"]["acts"] = 999
    store.put(path, json.dumps(body).encode())
    result = audit.verify(store)
    assert not result.ok
    assert result.problems == [f"`{path}`: content does not match its hash (altered)"]


def test_altered_entry_with_recomputed_hash_breaks_the_next_link(store: ObjectStore) -> None:
    _fill(store, 4)
    path = "_audit/000000000002.json"
    body = json.loads(store.get(path))
    body["actor"] = "someone-else"
    body["hash"] = audit._entry_hash(body)
    store.put(path, json.dumps(body).encode())
    (problem,) = audit.verify(store).problems
    assert problem.startswith("`_audit/000000000003.json`: does not chain")


def test_removed_entry_is_named(store: ObjectStore) -> None:
    _fill(store, 5)
    store.delete("_audit/000000000003.json")
    problems = audit.verify(store).problems
    assert problems[0] == "`_audit/000000000004.json`: entry 3 removed before it (sequence gap)"


def test_reordered_entries_are_named(store: ObjectStore) -> None:
    _fill(store, 4)
    a, b = store.get("_audit/000000000002.json"), store.get("_audit/000000000003.json")
    store.put("_audit/000000000002.json", b)
    store.put("_audit/000000000003.json", a)
    problems = audit.verify(store).problems
    assert "`_audit/000000000002.json`: holds entry 3 (moved or reordered)" in problems
    assert "`_audit/000000000003.json`: holds entry 2 (moved or reordered)" in problems


def test_truncated_tail_needs_the_recorded_head(store: ObjectStore) -> None:
    _fill(store, 4)
    head = audit.verify(store)
    store.delete("_audit/000000000004.json")
    assert audit.verify(store).ok  # a shorter chain is still a valid chain...
    result = audit.verify(store, expected_head=(head.head_seq, head.head_hash))
    assert result.problems == ["trail ends at entry 3, the recorded head is entry 4 (truncated)"]


def test_concurrent_writers_never_fork_the_chain(store: ObjectStore) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda i: audit.record(store, "query", {"rows": i}), range(24)))
    result = audit.verify(store)
    assert result.ok, result.problems
    assert result.entries == 24
    assert sorted(e.data["rows"] for e in audit.entries(store)) == list(range(24))


@pytest.mark.parametrize(
    "data",
    [
        {"note": "Dupont Jeanne née le 02/03/1950"},
        {"sql": "select * from acts where patient_pseudonym = 'ab12'"},
        {"values": ["ok", "06 12 34 56 78 (phone)"]},
        {"blob": b"bytes"},
    ],
)
def test_entries_refuse_free_text(local_store: ObjectStore, data: dict[str, object]) -> None:
    with pytest.raises(audit.AuditError, match=r"audit field `data\.\w+`"):
        audit.record(local_store, "ingest", data)
    assert local_store.list("_audit") == []


def test_query_is_logged_by_hash_with_tables_and_rows(local_store: ObjectStore) -> None:
    con = connect_duckdb()
    con.execute("create table acts as select range as n, 'Jeanne' as secret_value from range(7)")
    sql = "select n from acts where secret_value = 'Jeanne'"
    result = audit.run_query(local_store, con, sql)
    assert result.num_rows == 7
    with pytest.raises(Exception, match="does not exist"):
        audit.run_query(local_store, con, "select * from nowhere")
    ok, failed = audit.entries(local_store)
    assert (ok.action, ok.outcome, ok.data["rows"], ok.data["tables"]) == ("query", "success", 7, ["acts"])
    assert (failed.outcome, failed.data["rows"], failed.data["error"]) == (
        "failure",
        None,
        "CatalogException",
    )
    stored = b"".join(local_store.get(p) for p in local_store.list("_audit"))
    assert b"Jeanne" not in stored and b"secret_value" not in stored
    assert audit.verify(local_store).ok
