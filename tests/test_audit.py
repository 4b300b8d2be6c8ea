"""The audit trail on both stores: chaining, tamper detection (altered, removed, reordered, truncated),
concurrent writers that cannot fork the chain, and the query helper."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from ingest import audit
from ingest.keys import LocalKeyStore
from ingest.storage import ObjectStore


def _fill(store: ObjectStore, keystore: LocalKeyStore, n: int) -> None:
    for i in range(n):
        audit.record(store, keystore, "ingest", {"files": i, "datasets": ["acts"], "rows": {"acts": 10 * i}})


def test_entries_chain_and_name_who_what_when(
    store: ObjectStore, keystore: LocalKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_ACTOR", "dpo.martin")
    _fill(store, keystore, 3)
    entries = audit.entries(store)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == audit.GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert {e.actor for e in entries} == {"dpo.martin"}
    assert entries[2].data == {"files": 2, "datasets": ["acts"], "rows": {"acts": 20}, "batches_in_lake": 0}
    assert entries[0].at.endswith("+00:00")
    assert store.list("_audit") == [f"_audit/{i:012d}.json" for i in (1, 2, 3)]
    result = audit.verify(store, keystore)
    assert result.ok and result.entries == 3 and result.head_seq == 3 and result.head_hash == entries[2].hash


def test_altered_entry_is_named(store: ObjectStore, keystore: LocalKeyStore) -> None:
    _fill(store, keystore, 4)
    path = "_audit/000000000002.json"
    body = json.loads(store.get(path))
    body["data"]["rows"]["acts"] = 999
    store.put(path, json.dumps(body).encode())
    result = audit.verify(store, keystore)
    assert not result.ok
    assert result.problems == [f"`{path}`: content does not match its hash (altered)"]


def test_altered_entry_with_recomputed_hash_breaks_the_next_link(
    store: ObjectStore, keystore: LocalKeyStore
) -> None:
    _fill(store, keystore, 4)
    path = "_audit/000000000002.json"
    body = json.loads(store.get(path))
    body["actor"] = "someone-else"
    body["hash"] = audit._entry_mac(keystore.audit_key()[1], body)  # an insider who holds the key store
    store.put(path, json.dumps(body).encode())
    (problem,) = audit.verify(store, keystore).problems
    assert problem.startswith("`_audit/000000000003.json`: does not chain")


def test_removed_entry_is_named(store: ObjectStore, keystore: LocalKeyStore) -> None:
    _fill(store, keystore, 5)
    store.delete("_audit/000000000003.json")
    problems = audit.verify(store, keystore).problems
    assert problems[0] == "`_audit/000000000004.json`: entry 3 removed before it (sequence gap)"


def test_reordered_entries_are_named(store: ObjectStore, keystore: LocalKeyStore) -> None:
    _fill(store, keystore, 4)
    a, b = store.get("_audit/000000000002.json"), store.get("_audit/000000000003.json")
    store.put("_audit/000000000002.json", b)
    store.put("_audit/000000000003.json", a)
    problems = audit.verify(store, keystore).problems
    assert "`_audit/000000000002.json`: holds entry 3 (moved or reordered)" in problems
    assert "`_audit/000000000003.json`: holds entry 2 (moved or reordered)" in problems


def test_truncated_tail_fails(store: ObjectStore, keystore: LocalKeyStore) -> None:
    _fill(store, keystore, 4)
    head = audit.verify(store, keystore)
    store.delete("_audit/000000000004.json")
    # A shorter chain is a valid chain, but the lake's authenticated head record still names entry 4...
    assert audit.verify(store, keystore).problems == [
        "trail ends at entry 3, `_audit_head.json` names entry 4 (truncated or removed)"
    ]
    # ... and a head noted outside the lake detects it too, even if the head record was removed.
    store.delete(audit.HEAD_PATH)
    result = audit.verify(store, keystore, expected_head=(head.head_seq, head.head_hash))
    assert "trail ends at entry 3, the recorded head is entry 4 (truncated)" in result.problems
    assert "`_audit_head.json` is missing (removed), though the trail has keyed entries" in result.problems


def test_concurrent_writers_never_fork_the_chain(store: ObjectStore, keystore: LocalKeyStore) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda i: audit.record(store, keystore, "query", {"rows": i}), range(24)))
    result = audit.verify(store, keystore)
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
def test_entries_refuse_free_text(
    local_store: ObjectStore, keystore: LocalKeyStore, data: dict[str, object]
) -> None:
    with pytest.raises(audit.AuditError, match=r"audit field `data\.\w+`"):
        audit.record(local_store, keystore, "ingest", data)
    assert local_store.list("_audit") == []
