"""Audit trail: an append-only, authenticated, hash-chained log of who did what to which data, in the lake.

One object per entry, `_audit/<sequence, 12 digits>.json`, created with put_if_absent: two writers that
race for the same sequence number cannot both win, so the chain never forks (the loser re-reads the head
and retries). Each entry holds the `hash` of the previous one (`prev_hash`) and its own `hash`: the
HMAC-SHA256, under the audit key of the key store named by `key_id`, of the canonical JSON (sorted keys,
no spaces, UTF-8) of every other field. Someone with write access to the lake but not the key store can
neither edit an entry nor recompute the chain after an edit.

Entries written before audit keys existed have no `key_id` and a plain SHA-256 `hash`. They are accepted
only as a prefix of the chain followed by a keyed entry, whose HMAC covers their head hash and so seals
them; a trail of unkeyed entries alone fails `verify` (anyone could have rewritten it).

`verify` also cross-checks the trail against the lake it describes: committed batches, rewritten
batches, data key generations, master key and pseudonymisation secret versions, publication/ and the
warehouse must each have the entries that made them, and `_audit_head.json` (the newest sequence and
hash, authenticated with the same key) must still be in the chain. A deleted, emptied or truncated
trail therefore fails, short of restoring an old copy of the head together with the trail (see
docs/security.md for what remains possible with the key store in hand).

What an entry may hold: actor, time, action, dataset names, partitions, batch ids, row counts, key *ids*,
hashes, error types. Never a record value, an identifier, a pseudonym, a key or SQL text (only its hash):
the trail is readable by the data-protection officer without access to health data.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import re
import socket
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ingest import settings
from ingest.exceptions import KeyStoreError, LakehouseError, MissingKeyError
from ingest.lake.keys import KEYS_PREFIX, KeyStore, key_generation, parse_key_id
from ingest.lake.manifest import MANIFEST_PREFIX, PENDING_PREFIX, Manifest
from ingest.lake.manifest_seal import integrity_problems
from ingest.lake.storage import ObjectStore
from ingest.settings import ACTOR_ENV

__all__ = [
    "ACTIONS",
    "AUDIT_PREFIX",
    "HEAD_PATH",
    "AuditEntry",
    "AuditError",
    "Verification",
    "actor",
    "entries",
    "is_safe_name",
    "record",
    "verify",
]

AUDIT_PREFIX = "_audit"
# Outside `_audit/`: removing the trail's folder leaves the head record behind to say it was there.
HEAD_PATH = "_audit_head.json"
GENESIS_HASH = "0" * 64
ACTIONS = frozenset(
    {
        "ingest",
        "build",
        "export",
        "disclosure_audit",
        "report",
        "purge_opposition",
        "purge_retention",
        "opposition_add",
        "key_rotate",
        "key_retire",
        # Footer key references added to files landed before they existed (docs/spark.md).
        "key_footer_migrate",
        # Manifests of a lake landed before seals existed, sealed (ingest/governance/seal_manifests.py).
        "manifest_seal",
        "master_key_remove",
        "pseudonym_secret_rotate",
        "query",
        "extract",
        # AI teams' prediction tasks (ingest/ai, docs/ai-evaluation.md): apart from study extracts and
        # reports, so that the data-protection officer lists them alone (`audit log --action ...`).
        "ai_extract",
        "ai_key_release",
        "ai_baseline",
        "ai_evaluate",
    }
)
Outcome = Literal["success", "failure", "refused"]

_NAME = re.compile(r"(?P<seq>\d{12})\.json")
_ACTOR = re.compile(r"[A-Za-z0-9._@-]{1,64}")
# Keys of `data` that may carry lists of names or numbers; anything else must be a scalar count or name.
_SAFE_TEXT = re.compile(r"[A-Za-z0-9=._/:@+, -]{0,200}")
_MAX_ATTEMPTS = 50
_READERS = 16
_LEGACY_FIELDS = frozenset({"seq", "at", "actor", "host", "action", "outcome", "data", "prev_hash", "hash"})
_KEYED_FIELDS = _LEGACY_FIELDS | {"key_id"}
_REVISED_FILE = re.compile(r"\.r[0-9]+\.(parquet|bin)$")
# The actions that rewrite committed batches (new `.rN` files, or none left).
_REWRITING = ("purge_opposition", "purge_retention", "key_retire")


class AuditError(LakehouseError):
    """The audit trail is broken (altered, removed or reordered entry) or an entry would hold unsafe data."""

    exit_code = 6


def is_safe_name(text: str) -> bool:
    """Whether `text` may appear in an entry's `data` (a plain name or count)."""
    return bool(_SAFE_TEXT.fullmatch(text))


def actor() -> str:
    """$LAKEHOUSE_ACTOR (a named operator behind a shared service account), else the OS user."""
    who = settings.audit_actor() or getpass.getuser()
    if not _ACTOR.fullmatch(who):
        raise AuditError(f"{ACTOR_ENV} (or the OS user name) must match {_ACTOR.pattern}")
    return who


def _canonical(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _legacy_hash(body: Mapping[str, Any]) -> str:
    """The unkeyed SHA-256 of entries written before audit keys existed."""
    return hashlib.sha256(_canonical({k: v for k, v in body.items() if k != "hash"})).hexdigest()


def _entry_mac(key: bytes, body: Mapping[str, Any]) -> str:
    """HMAC-SHA256 over every field but `hash` itself, `key_id` included (no field is left out)."""
    return hmac.new(
        key, _canonical({k: v for k, v in body.items() if k != "hash"}), hashlib.sha256
    ).hexdigest()


def _head_mac(key: bytes, seq: int, digest: str, key_id: str) -> str:
    # The "kind" keeps a head's MAC from ever being an entry's (an entry always has an `action`).
    return _entry_mac(key, {"kind": "audit-head", "seq": seq, "hash": digest, "key_id": key_id})


def _same(mac: str, claimed: object) -> bool:
    """Constant-time comparison; bytes, since compare_digest refuses non-ASCII text (an edited file)."""
    return hmac.compare_digest(mac.encode(), str(claimed).encode("utf-8", "replace"))


def entry_path(seq: int) -> str:
    return f"{AUDIT_PREFIX}/{seq:012d}.json"


def _check_data(value: Any, where: str) -> None:
    """Only counts, booleans and short plain names: a free-text value could smuggle a record value in."""
    if value is None or isinstance(value, bool | int | float):
        return
    if isinstance(value, str):
        if not _SAFE_TEXT.fullmatch(value):
            raise AuditError(f"audit field `{where}` holds text outside the allowed names and counts")
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_data(item, where)
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str) or not _SAFE_TEXT.fullmatch(k):
                raise AuditError(f"audit field `{where}` has a key outside the allowed names")
            _check_data(v, f"{where}.{k}")
        return
    raise AuditError(f"audit field `{where}` has an unsupported type {type(value).__name__}")


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str  # ISO timestamp, UTC
    actor: str
    host: str
    action: str
    outcome: str
    data: dict[str, Any]
    prev_hash: str
    hash: str
    key_id: str | None = None  # the audit key of the HMAC; None: an unkeyed entry from before audit keys

    def body(self) -> dict[str, Any]:
        body = {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "host": self.host,
            "action": self.action,
            "outcome": self.outcome,
            "data": self.data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }
        if self.key_id is not None:
            body["key_id"] = self.key_id
        return body


def _last(store: ObjectStore) -> tuple[int, str]:
    """(sequence, hash) of the newest entry, (0, genesis) on an empty trail."""
    names = [p for p in store.list(AUDIT_PREFIX) if _NAME.fullmatch(p.rsplit("/", 1)[-1])]
    if not names:
        return 0, GENESIS_HASH
    newest = names[-1]  # zero-padded names sort numerically
    document = json.loads(store.get(newest))
    return int(document["seq"]), str(document["hash"])


def _committed_batches(store: ObjectStore) -> list[str]:
    return [
        p
        for p in store.list(MANIFEST_PREFIX)
        if not p.startswith(PENDING_PREFIX + "/") and p.endswith(".json")
    ]


def record(
    store: ObjectStore,
    keystore: KeyStore,
    action: str,
    data: Mapping[str, Any] | None = None,
    *,
    outcome: Outcome = "success",
) -> AuditEntry:
    """Append one entry, authenticated with the key store's audit key; returns it. Raises AuditError if
    `data` holds anything but names and counts."""
    if action not in ACTIONS:
        raise AuditError(f"unknown audit action `{action}`")
    payload = dict(data or {})
    if action == "ingest":
        # Ingest runs under the writer lock, so this is exact: the number of batches the trail accounts
        # for, which `verify` compares with the lake's (a removed entry cannot hide a batch).
        payload["batches_in_lake"] = len(_committed_batches(store))
    elif action in _REWRITING:
        # Likewise (under the writer lock): a run killed before its entry, then run again with nothing
        # left to do, still leaves an entry accounting for every rewritten batch.
        payload["batches_rewritten_in_lake"] = _rewritten_batches(store, _committed_batches(store))
    _check_data(payload, "data")
    key_id, key = keystore.audit_key()
    who, host = actor(), socket.gethostname()
    for _ in range(_MAX_ATTEMPTS):
        seq, prev_hash = _last(store)
        body: dict[str, Any] = {
            "seq": seq + 1,
            "at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "actor": who,
            "host": host,
            "action": action,
            "outcome": outcome,
            "data": payload,
            "prev_hash": prev_hash,
            "key_id": key_id,
        }
        body["hash"] = _entry_mac(key, body)
        if store.put_if_absent(entry_path(seq + 1), json.dumps(body, indent=1, sort_keys=True).encode()):
            _write_head(store, key_id, key, seq + 1, body["hash"])
            return AuditEntry(**body)
        # Another writer appended this sequence number first: chain after its entry instead.
        time.sleep(0.005)
    raise AuditError(f"could not append to `{AUDIT_PREFIX}/` after {_MAX_ATTEMPTS} attempts (contention)")


def _write_head(store: ObjectStore, key_id: str, key: bytes, seq: int, digest: str) -> None:
    """Best effort and never backwards: a racing writer may leave an older head, which only weakens
    the truncation check to that entry, never makes an intact trail fail."""
    current = _read_head(store)
    if current is not None and isinstance(current.get("seq"), int) and current["seq"] > seq:
        return
    head = {"seq": seq, "hash": digest, "key_id": key_id, "mac": _head_mac(key, seq, digest, key_id)}
    store.put(HEAD_PATH, json.dumps(head, sort_keys=True).encode())


def _read_head(store: ObjectStore) -> dict[str, Any] | None:
    if not store.exists(HEAD_PATH):
        return None
    try:
        head = json.loads(store.get(HEAD_PATH))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return head if isinstance(head, dict) else {}


def entries(store: ObjectStore) -> list[AuditEntry]:
    """Every entry, oldest first (unchecked: use `verify` to trust them)."""
    out = []
    for path in store.list(AUDIT_PREFIX):
        if _NAME.fullmatch(path.rsplit("/", 1)[-1]):
            out.append(AuditEntry(**json.loads(store.get(path))))
    return out


@dataclass
class Verification:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problems: list[str] = field(default_factory=list)
    unkeyed: int = 0  # entries from before audit keys, sealed by the first keyed entry after them


@dataclass
class _Walk:
    """What the walk over the chain learned: the authenticated entries and the problems found."""

    problems: list[str] = field(default_factory=list)
    trusted: list[AuditEntry] = field(default_factory=list)
    hashes: dict[int, str] = field(default_factory=dict)
    count: int = 0
    unkeyed: int = 0
    keyed: int = 0


def _check_entry(keystore: KeyStore, path: str, seq: int, body: Any, prev_hash: str, walk: _Walk) -> None:
    if not isinstance(body, dict) or set(body) not in (_LEGACY_FIELDS, _KEYED_FIELDS):
        walk.problems.append(f"`{path}`: fields added or removed (altered)")
        return
    if body.get("seq") != seq:
        walk.problems.append(f"`{path}`: holds entry {body.get('seq')} (moved or reordered)")
        return
    if "key_id" in body:
        try:
            _, key = keystore.audit_key(str(body["key_id"]))
        except (MissingKeyError, KeyStoreError):
            walk.problems.append(f"`{path}`: signed with audit key `{body['key_id']}`, not in the key store")
            return
        if not _same(_entry_mac(key, body), body.get("hash")):
            walk.problems.append(f"`{path}`: content does not match its hash (altered)")
            return
        walk.keyed += 1
    else:
        if walk.keyed:
            walk.problems.append(f"`{path}`: unkeyed entry after keyed ones (forged)")
            return
        if _legacy_hash(body) != body.get("hash"):
            walk.problems.append(f"`{path}`: content does not match its hash (altered)")
            return
        walk.unkeyed += 1
    if body.get("prev_hash") != prev_hash and prev_hash != "?":
        walk.problems.append(
            f"`{path}`: does not chain to the entry before it (altered, removed or reordered)"
        )
        return
    walk.trusted.append(AuditEntry(**body))


def _walk(store: ObjectStore, keystore: KeyStore) -> tuple[_Walk, int, str]:
    walk = _Walk()
    prev_hash, expected_seq = GENESIS_HASH, 1
    for path in store.list(AUDIT_PREFIX):
        match = _NAME.fullmatch(path.rsplit("/", 1)[-1])
        if match is None:
            walk.problems.append(f"`{path}`: not an audit entry name (foreign object in the trail)")
            continue
        walk.count += 1
        seq = int(match["seq"])
        if seq != expected_seq:
            missing = (
                f"entry {expected_seq}" if seq == expected_seq + 1 else f"entries {expected_seq}-{seq - 1}"
            )
            walk.problems.append(f"`{path}`: {missing} removed before it (sequence gap)")
        try:
            body = json.loads(store.get(path))
        except (UnicodeDecodeError, json.JSONDecodeError):
            walk.problems.append(f"`{path}`: not valid JSON (altered)")
            prev_hash, expected_seq = "?", seq + 1
            continue
        _check_entry(keystore, path, seq, body, prev_hash, walk)
        prev_hash = str(body.get("hash")) if isinstance(body, dict) else "?"
        walk.hashes[seq] = prev_hash
        expected_seq = seq + 1
    if walk.unkeyed and not walk.keyed:
        walk.problems.append(
            f"`{AUDIT_PREFIX}/`: {walk.unkeyed} unkeyed entries and no keyed entry after them: anyone with "
            "write access could have rewritten them (the next audited command seals them)"
        )
    return walk, expected_seq - 1, prev_hash if walk.count else GENESIS_HASH


def _head_problems(store: ObjectStore, keystore: KeyStore, walk: _Walk, last_seq: int) -> list[str]:
    head = _read_head(store)
    if head is None:
        return (
            [f"`{HEAD_PATH}` is missing (removed), though the trail has keyed entries"] if walk.keyed else []
        )
    seq, digest, key_id = head.get("seq"), head.get("hash"), head.get("key_id")
    if not isinstance(seq, int) or not isinstance(digest, str) or not isinstance(key_id, str):
        return [f"`{HEAD_PATH}`: not a head record (altered)"]
    try:
        _, key = keystore.audit_key(key_id)
    except (MissingKeyError, KeyStoreError):
        return [f"`{HEAD_PATH}`: signed with audit key `{key_id}`, not in the key store"]
    if not _same(_head_mac(key, seq, digest, key_id), head.get("mac")):
        return [f"`{HEAD_PATH}`: does not match its MAC (altered)"]
    if seq > last_seq:
        return [f"trail ends at entry {last_seq}, `{HEAD_PATH}` names entry {seq} (truncated or removed)"]
    if walk.hashes.get(seq) != digest:
        return [f"`{entry_path(seq)}`: differs from `{HEAD_PATH}` (rewritten)"]
    return []


def verify(
    store: ObjectStore,
    keystore: KeyStore,
    *,
    expected_head: tuple[int, str] | None = None,
    warehouse: Path | None = None,
) -> Verification:
    """Authenticate the chain and cross-check it against the lake (and the warehouse file, if given);
    each problem names the entry (object path) or the lake object and what is wrong with it."""
    walk, head_seq, head_hash = _walk(store, keystore)
    problems = walk.problems + _head_problems(store, keystore, walk, head_seq)
    problems += _lake_problems(store, keystore, walk.trusted, warehouse)
    if expected_head is not None:
        want_seq, want_hash = expected_head
        if head_seq < want_seq:
            problems.append(
                f"trail ends at entry {head_seq}, the recorded head is entry {want_seq} (truncated)"
            )
        elif walk.hashes.get(want_seq) != want_hash:
            problems.append(f"`{entry_path(want_seq)}`: differs from the recorded head (rewritten)")
    return Verification(
        ok=not problems,
        entries=walk.count,
        head_seq=head_seq,
        head_hash=head_hash,
        problems=problems,
        unkeyed=walk.unkeyed,
    )


# ------------------------------------------------------------------ cross-check against the lake


def _values(trail: list[AuditEntry], action: str, name: str, *, succeeded: bool = False) -> set[Any]:
    return {
        e.data.get(name) for e in trail if e.action == action and (e.outcome == "success" or not succeeded)
    }


def _lake_problems(
    store: ObjectStore, keystore: KeyStore, trail: list[AuditEntry], warehouse: Path | None
) -> list[str]:
    """What the lake holds must have the entries that made it: a removed entry leaves its work behind."""
    problems = _batch_problems(store, trail) + _data_key_problems(store, trail)
    problems += _key_store_problems(keystore, trail) + _ai_problems(store, trail)
    # Every manifest's seal and every data object's digest: a file swapped for another of the same key,
    # or put back as it was before a purge, is named here.
    problems += integrity_problems(store, keystore)
    if store.list("publication") and not any(e.action == "export" and e.outcome == "success" for e in trail):
        problems.append("`publication/` holds an export, and no export entry is in the trail (removed)")
    if warehouse is not None and warehouse.exists():
        if not any(e.action == "build" and e.outcome == "success" for e in trail):
            problems.append(
                f"the warehouse `{warehouse}` exists, and no build entry is in the trail (removed)"
            )
    return problems


# What `lakehouse ai` leaves in the lake (ingest/ai/extract.py, evaluate.py): a project's test reference,
# and one object per evaluation slot spent.
_AI_REFERENCE = re.compile(r"_ai/(?P<project>[^/]+)/(?P<task>[^/]+)/test_reference\.parquet")
_AI_SLOT = re.compile(r"_ai/(?P<project>[^/]+)/(?P<task>[^/]+)/evaluations/(?P<slot>\d+)\.json")


def _ai_problems(store: ObjectStore, trail: list[AuditEntry]) -> list[str]:
    """A test set handed out needs its `ai_extract` entry, and each evaluation slot spent its
    `ai_evaluate` entry (evaluated or refused as a near-duplicate): a removed entry would hide what a
    project was given or how much of its budget it used."""
    extracted = {
        (e.data.get("project_id"), e.data.get("task_id"))
        for e in trail
        if e.action == "ai_extract" and e.outcome == "success"
    }
    slots = {
        (e.data.get("project_id"), e.data.get("task_id"), e.data.get("slot"))
        for e in trail
        if e.action == "ai_evaluate" and e.data.get("slot") is not None
    }
    problems = []
    for path in store.list("_ai"):
        if (match := _AI_REFERENCE.fullmatch(path)) and (match["project"], match["task"]) not in extracted:
            problems.append(f"`{path}`: a test set with no ai_extract entry in the trail (removed)")
        elif (match := _AI_SLOT.fullmatch(path)) and (
            match["project"],
            match["task"],
            int(match["slot"]),
        ) not in slots:
            problems.append(
                f"`{path}`: an evaluation slot with no ai_evaluate entry in the trail (removed, or the "
                "evaluation was interrupted)"
            )
    return problems


def _batch_problems(store: ObjectStore, trail: list[AuditEntry]) -> list[str]:
    paths = _committed_batches(store)
    ingests = [e for e in trail if e.action == "ingest"]
    # Entries from before `batches_in_lake` counted the batches each run committed.
    summed = sum(
        int(e.data.get("files_landed") or 0) + int(e.data.get("files_quarantined") or 0) for e in ingests
    )
    counted = max([summed, *(int(e.data.get("batches_in_lake") or 0) for e in ingests)])
    problems = []
    if len(paths) > counted:
        problems.append(
            f"`{MANIFEST_PREFIX}/` holds {len(paths)} committed batches, the trail's ingest entries account "
            f"for {counted} (entries removed, or an ingest killed before it logged: run the ingest again)"
        )
    # Manifests are never deleted (a retention purge leaves them, emptied): fewer than the last ingest
    # counted means a whole batch, manifest and files, was deleted, which no seal can show.
    landed = max((int(e.data.get("batches_in_lake") or 0) for e in ingests), default=0)
    if len(paths) < landed:
        problems.append(
            f"`{MANIFEST_PREFIX}/` holds {len(paths)} committed batches, the trail's last ingest counted "
            f"{landed}: {landed - len(paths)} batches were deleted, manifest and files"
        )
    rewritten = _rewritten_batches(store, paths)
    rewrites = [e for e in trail if e.action in _REWRITING]
    # Entries from before `batches_rewritten_in_lake` counted the batches each run rewrote.
    summed = sum(int(e.data.get("batches_rewritten") or e.data.get("batches") or 0) for e in rewrites)
    logged = max([summed, *(int(e.data.get("batches_rewritten_in_lake") or 0) for e in rewrites)])
    if rewritten > logged:
        problems.append(
            f"`{MANIFEST_PREFIX}/`: {rewritten} batches were rewritten (purge or key retirement), the trail "
            f"accounts for {logged} (entries removed, or a purge killed before it logged: run it again)"
        )
    # A rewritten batch stays rewritten (a `.rN` file, or emptied; manifests are never deleted): fewer
    # than the last rewrite counted means a manifest was put back as it was before its rewrite (with
    # the old file, both validly sealed then: the seal alone cannot tell an old state from the current).
    counted = max((int(e.data.get("batches_rewritten_in_lake") or 0) for e in rewrites), default=0)
    if rewritten < counted:
        problems.append(
            f"`{MANIFEST_PREFIX}/`: {rewritten} batches are rewritten, the trail's last purge or key "
            f"retirement counted {counted}: a batch was put back as it was before a rewrite (restored)"
        )
    return problems


def _rewritten_batches(store: ObjectStore, paths: list[str]) -> int:
    """Committed batches a purge or a key retirement rewrote: a `.rN` file, or no file left of rows."""

    def rewritten(path: str) -> bool:
        manifest = Manifest.from_json(store.get(path))
        emptied = not manifest.outputs and manifest.rows_accepted + manifest.rows_quarantined > 0
        return emptied or any(_REVISED_FILE.search(o.path) for o in manifest.outputs)

    # One GET per manifest: in parallel, since on S3 each is a round trip (as in ingest.lake.manifest_index).
    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        return sum(pool.map(rewritten, paths))


def _data_key_problems(store: ObjectStore, trail: list[AuditEntry]) -> list[str]:
    """A data key of generation 2 or more exists only through `keys retire`, which logs the new key id."""
    retired_to = _values(trail, "key_retire", "new_key_id")
    problems = []
    for path in store.list(KEYS_PREFIX):
        key_id = path[len(KEYS_PREFIX) + 1 :].removesuffix(".json")
        try:
            parse_key_id(key_id)
        except ValueError:
            continue
        if key_generation(key_id) > 1 and key_id not in retired_to:
            problems.append(
                f"`{path}`: a retired key's successor, and no key_retire entry names it (removed)"
            )
    return problems


def _key_store_problems(keystore: KeyStore, trail: list[AuditEntry]) -> list[str]:
    """Master key and pseudonymisation secret versions past the first exist only through logged commands."""
    problems = []
    master_ids = getattr(keystore, "master_key_ids", None)
    if master_ids is not None:
        rotated, removed = (
            _values(trail, "key_rotate", "master_key_id"),
            _values(trail, "master_key_remove", "master_key_id"),
        )
        for zone in ("raw", "quarantine", "warehouse"):
            held = set(master_ids(zone))
            newest = max((int(k.rsplit("-v", 1)[1]) for k in held), default=1)
            for version in range(2, newest + 1):
                if f"{zone}-v{version}" not in rotated:
                    problems.append(
                        f"master key `{zone}-v{version}` exists, and no key_rotate entry names it (removed)"
                    )
            for version in range(1, newest):
                key_id = f"{zone}-v{version}"
                if key_id not in held and key_id not in removed:
                    problems.append(
                        f"master key `{key_id}` was removed, and no master_key_remove entry names it"
                    )
    secret_id, _ = keystore.pseudonym_secret()
    rotations = _values(trail, "pseudonym_secret_rotate", "pseudonym_secret_version")
    for version in range(2, int(secret_id.rsplit("-v", 1)[1]) + 1):
        if f"pseudonym-v{version}" not in rotations:
            problems.append(
                f"pseudonymisation secret `pseudonym-v{version}` exists, and no pseudonym_secret_rotate "
                "entry names it (removed)"
            )
    return problems
