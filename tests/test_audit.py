"""The audit trail on both stores: chaining, tamper detection (altered, removed, reordered, truncated),
concurrent writers that cannot fork the chain, and the query helper."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ingest.governance.opposition import Identity, add_identities
from ingest.governance.purge import purge_opposition
from ingest.governance.rotation import (
    remove_master_key,
    retire_data_key,
    rotate_master_key,
    rotate_pseudonym_secret,
)
from ingest.lake import audit
from ingest.lake.keys import LocalKeyStore, init_keystore
from ingest.lake.storage import ObjectStore
from ingest.landing.land import Ingestor
from tests.extract_builder import NIR
from tests.test_purge import build_lake


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


# ---------------------------------------------------------------- keyed entries (issue 16 §5, issue 21)

FIELD_EDITS: dict[str, object] = {
    "seq": 7,
    "at": "2024-01-01T00:00:00.000000+00:00",
    "actor": "someone-else",
    "host": "elsewhere",
    "action": "query",
    "outcome": "failure",
    "data": {"files": 0},
    "prev_hash": "f" * 64,
    "key_id": "audit-v2",
    "hash": "é" * 64,  # not even ASCII: still a finding, never a traceback
}


def test_every_field_is_edited_in_turn_by_the_test_below() -> None:
    assert set(FIELD_EDITS) == set(audit.AuditEntry.__dataclass_fields__)


@pytest.mark.parametrize("name", sorted(FIELD_EDITS))
def test_every_field_of_an_entry_is_authenticated(
    local_store: ObjectStore, keystore: LocalKeyStore, name: str
) -> None:
    """An edit of any one field, the timestamp included, is named on the entry itself."""
    _fill(local_store, keystore, 3)
    if name == "key_id":
        # The same key bytes under a second id: only a MAC covering `key_id` sees the edit.
        document = json.loads(keystore.path.read_text())
        document["audit_keys"]["audit-v2"] = document["audit_keys"]["audit-v1"]
        keystore.path.write_text(json.dumps(document))
        keystore = LocalKeyStore(keystore.path)
    path = "_audit/000000000002.json"
    body = json.loads(local_store.get(path))
    assert body[name] != FIELD_EDITS[name]
    body[name] = FIELD_EDITS[name]
    local_store.put(path, json.dumps(body).encode())
    problems = audit.verify(local_store, keystore).problems
    expected = {
        "seq": f"`{path}`: holds entry 7 (moved or reordered)",
    }.get(name, f"`{path}`: content does not match its hash (altered)")
    assert problems[0] == expected


def _rechain(
    store: ObjectStore,
    sign: Callable[[dict[str, Any]], dict[str, Any]],
    start: int = 1,
    end: int | None = None,
) -> None:
    """What an attacker with write access does after editing entries: recompute every hash onwards."""
    prev = json.loads(store.get(audit.entry_path(start - 1)))["hash"] if start > 1 else audit.GENESIS_HASH
    for path in store.list("_audit")[start - 1 : end]:
        body = json.loads(store.get(path))
        body["prev_hash"] = prev
        body = sign(body)
        store.put(path, json.dumps(body).encode())
        prev = body["hash"]


def _as_unkeyed(body: dict[str, Any]) -> dict[str, Any]:
    body.pop("key_id", None)
    body["hash"] = audit._legacy_hash(body)
    return body


def _with_a_guessed_key(body: dict[str, Any]) -> dict[str, Any]:
    body["hash"] = audit._entry_mac(b"\0" * 32, body)
    return body


@pytest.mark.parametrize("sign", [_as_unkeyed, _with_a_guessed_key], ids=["unkeyed-sha256", "other-key"])
@pytest.mark.parametrize("start", [1, 2], ids=["whole-chain", "from-the-edit"])
def test_recomputing_every_hash_after_an_edit_fails(
    store: ObjectStore, keystore: LocalKeyStore, sign: Callable[[dict[str, Any]], dict[str, Any]], start: int
) -> None:
    """The reproduction: two entries edited, every hash recomputed; the old unkeyed chain said intact."""
    _fill(store, keystore, 4)
    for path in ("_audit/000000000002.json", "_audit/000000000003.json"):
        body = json.loads(store.get(path))
        body["data"]["rows"]["acts"] = 0
        store.put(path, json.dumps(body).encode())
    _rechain(store, sign, start)
    store.delete(audit.HEAD_PATH)  # the attacker cannot forge it either: better gone than contradicting
    result = audit.verify(store, keystore)
    assert not result.ok
    if sign is _with_a_guessed_key:
        assert result.problems[0].endswith("content does not match its hash (altered)")
    elif start == 1:
        assert "4 unkeyed entries and no keyed entry after them" in result.problems[0]
    else:
        assert result.problems[0] == "`_audit/000000000002.json`: unkeyed entry after keyed ones (forged)"


def test_unkeyed_entries_of_an_older_trail_are_sealed_by_the_first_keyed_one(
    store: ObjectStore, keystore: LocalKeyStore
) -> None:
    """A trail written before audit keys: accepted once a keyed entry chains after it (its HMAC covers
    their head hash), so that from then on editing them fails like editing any entry."""
    _fill(store, keystore, 3)
    store.delete(audit.HEAD_PATH)
    _rechain(store, _as_unkeyed)  # exactly what the previous version wrote
    result = audit.verify(store, keystore)
    assert not result.ok and "3 unkeyed entries and no keyed entry after them" in result.problems[0]

    audit.record(store, keystore, "query", {"rows": 1})  # any audited command seals them
    result = audit.verify(store, keystore)
    assert result.ok and (result.entries, result.unkeyed) == (4, 3), result.problems

    body = json.loads(store.get("_audit/000000000002.json"))
    body["actor"] = "someone-else"
    store.put("_audit/000000000002.json", json.dumps(_as_unkeyed(body)).encode())
    _rechain(store, _as_unkeyed, 2, 3)  # entries 2 and 3 recomputed; the keyed entry 4 cannot be
    assert audit.verify(store, keystore).problems == [
        "`_audit/000000000004.json`: does not chain to the entry before it (altered, removed or reordered)"
    ]


def test_a_key_store_made_before_audit_keys_gets_one_once(tmp_path: Path) -> None:
    path, _ = init_keystore(tmp_path / "keystore.json")
    document = json.loads(path.read_text())
    for name in ("audit_keys", "current_audit_key"):
        del document[name]
    path.write_text(json.dumps(document))
    old = LocalKeyStore(path)  # still opens: nothing else changed
    key_id, key = old.audit_key()
    again = LocalKeyStore(path)
    assert again.audit_key() == (key_id, key) == again.audit_key("audit-v1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    upgraded = json.loads(path.read_text())
    assert {k: upgraded[k] for k in document} == document  # every other key unchanged
    # `keys init` on an existing key store adds it too, and never replaces it.
    del upgraded["audit_keys"], upgraded["current_audit_key"]
    path.write_text(json.dumps(upgraded))
    assert init_keystore(path) == (path, False)
    assert "audit_keys" in json.loads(path.read_text())
    assert (
        init_keystore(path) == (path, False)
        and LocalKeyStore(path).audit_key() == LocalKeyStore(path).audit_key()
    )


# ------------------------------------------------------------ the trail against the lake it describes


def _landed(store: ObjectStore, keystore: LocalKeyStore, folder: Path) -> list[Path]:
    paths = build_lake(folder)
    Ingestor(store, keystore).run(paths)
    assert len(store.list("manifests")) == len(paths)
    return paths


def _cut_tail(store: ObjectStore, after: int, head: bytes) -> None:
    """Remove every entry after `after` and put back the head record saved then: the attacker who kept
    a copy of an older head, the strongest truncation short of holding the key store."""
    for path in store.list("_audit")[after:]:
        store.delete(path)
    store.put(audit.HEAD_PATH, head)


def test_removing_the_audit_folder_of_a_lake_with_batches_fails(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    """The reproduction: "intact: 0 entries" on a lake with committed batches."""
    _landed(store, keystore, tmp_path / "in")
    assert audit.verify(store, keystore).ok
    for path in store.list("_audit"):
        store.delete(path)
    result = audit.verify(store, keystore)
    assert (
        result.entries == 0
        and "`_audit_head.json` names entry 1 (truncated or removed)" in result.problems[0]
    )
    store.delete(audit.HEAD_PATH)  # both gone: the manifests still tell
    assert audit.verify(store, keystore).problems == [
        "`manifests/` holds 8 committed batches, the trail's ingest entries account for 0 (entries removed, "
        "or an ingest killed before it logged: run the ingest again)"
    ]


def test_truncated_tail_with_an_old_head_fails_and_a_rerun_ingest_repairs_a_killed_one(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    store = local_store
    audit.record(store, keystore, "query", {"rows": 1})
    old_head = store.get(audit.HEAD_PATH)
    paths = _landed(store, keystore, tmp_path / "in")
    _cut_tail(store, 1, old_head)
    (problem,) = audit.verify(store, keystore).problems
    assert problem.startswith(
        "`manifests/` holds 8 committed batches, the trail's ingest entries account for 0"
    )
    # The same state as an ingest killed after its commits, before its entry: running it again logs
    # a run that accounts for every batch (all duplicates now).
    again = Ingestor(store, keystore).run(paths)
    assert {f.status for f in again.files} == {"duplicate"}
    assert audit.verify(store, keystore).ok


def test_every_key_operation_and_purge_must_keep_its_entry(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    """Each operation leaves its work in the lake or the key store; cutting its entry (with a head saved
    before it) is named."""
    store = local_store
    _landed(store, keystore, tmp_path / "in")
    steps: list[tuple[Callable[[], object], str]] = [
        (
            lambda: add_identities(
                store, keystore, [Identity(nir=NIR, birth_date=date(1950, 3, 2), sex="F")]
            ),
            "",
        ),
        (lambda: purge_opposition(store, keystore), "batches were rewritten (purge or key retirement)"),
        (lambda: rotate_master_key(store, keystore, "raw"), "master key `raw-v2` exists, and no key_rotate"),
        (lambda: remove_master_key(store, keystore, "raw-v1"), "master key `raw-v1` was removed"),
        (lambda: retire_data_key(store, keystore, "raw/acts/2024-01"), "`_keys/raw/acts/2024-01.v2.json`"),
        (lambda: rotate_pseudonym_secret(store, keystore), "secret `pseudonym-v2` exists"),
    ]
    for step, named in steps:
        entries_before, head_before = len(store.list("_audit")), store.get(audit.HEAD_PATH)
        step()
        assert audit.verify(store, keystore).ok
        if not named:
            continue
        saved = {p: store.get(p) for p in store.list("_audit")[entries_before:]}
        head_after = store.get(audit.HEAD_PATH)
        _cut_tail(store, entries_before, head_before)
        problems = audit.verify(store, keystore).problems
        assert any(named in problem for problem in problems), (named, problems)
        for path, body in saved.items():  # put the trail back for the next step
            store.put(path, body)
        store.put(audit.HEAD_PATH, head_after)


def test_publication_and_warehouse_need_their_export_and_build_entries(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    store = local_store
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(b"built")
    store.put("publication/weekly.csv", b"week,n\n")
    assert audit.verify(store, keystore, warehouse=warehouse).problems == [
        "`publication/` holds an export, and no export entry is in the trail (removed)",
        f"the warehouse `{warehouse}` exists, and no build entry is in the trail (removed)",
    ]
    audit.record(store, keystore, "build", {"nodes": 3}, outcome="failure")  # a failed build made nothing
    assert len(audit.verify(store, keystore, warehouse=warehouse).problems) == 2
    audit.record(store, keystore, "build", {"nodes": 3})
    audit.record(store, keystore, "export", {"k": 11})
    assert audit.verify(store, keystore, warehouse=warehouse).ok


def test_a_purge_killed_before_its_entry_is_accounted_for_by_running_it_again(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    store = local_store
    _landed(store, keystore, tmp_path / "in")
    add_identities(store, keystore, [Identity(nir=NIR, birth_date=date(1950, 3, 2), sex="F")])
    entries_before, head_before = len(store.list("_audit")), store.get(audit.HEAD_PATH)
    assert purge_opposition(store, keystore).batches_rewritten == 4
    _cut_tail(store, entries_before, head_before)  # as if killed after its rewrites, before its entry
    (problem,) = audit.verify(store, keystore).problems
    assert "4 batches were rewritten (purge or key retirement), the trail accounts for 0" in problem
    assert purge_opposition(store, keystore).batches_rewritten == 0  # nothing left to do...
    assert audit.verify(store, keystore).ok  # ... and its entry accounts for the 4 all the same
