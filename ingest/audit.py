"""Audit trail: an append-only, hash-chained log of who did what to which data, kept in the lake.

One object per entry, `_audit/<sequence, 12 digits>.json`, created with put_if_absent: two writers that
race for the same sequence number cannot both win, so the chain never forks (the loser re-reads the head
and retries). Each entry holds the SHA-256 of the previous one (`prev_hash`) and its own `hash`, computed
over the canonical JSON (sorted keys, no spaces, UTF-8) of every other field. `verify` recomputes the chain
and names the first entry that was altered, removed or moved.

What an entry may hold: actor, time, action, dataset names, partitions, batch ids, row counts, key *ids*,
hashes, error types. Never a record value, an identifier, a pseudonym, a key or SQL text (only its hash):
the trail is readable by the data-protection officer without access to health data.

Limit: deleting the newest entries leaves a valid shorter chain. `verify` reports the head (sequence and
hash); keeping that outside the lake (the DPO's register, a syslog server) and passing it back as
`expected_head` detects a truncated tail.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import duckdb
import pyarrow as pa

from ingest.exceptions import LakehouseError
from ingest.storage import ObjectStore

__all__ = [
    "ACTIONS",
    "AUDIT_PREFIX",
    "AuditEntry",
    "AuditError",
    "Verification",
    "actor",
    "entries",
    "record",
    "record_query",
    "run_query",
    "verify",
]

AUDIT_PREFIX = "_audit"
ACTOR_ENV = "LAKEHOUSE_ACTOR"
GENESIS_HASH = "0" * 64
ACTIONS = frozenset(
    {
        "ingest",
        "build",
        "export",
        "report",
        "purge_opposition",
        "purge_retention",
        "opposition_add",
        "key_rotate",
        "key_retire",
        "master_key_remove",
        "pseudonym_secret_rotate",
        "query",
        "extract",
    }
)
Outcome = Literal["success", "failure", "refused"]

_NAME = re.compile(r"(?P<seq>\d{12})\.json")
_ACTOR = re.compile(r"[A-Za-z0-9._@-]{1,64}")
# Keys of `data` that may carry lists of names or numbers; anything else must be a scalar count or name.
_SAFE_TEXT = re.compile(r"[A-Za-z0-9=._/:@+, -]{0,200}")
_MAX_ATTEMPTS = 50


class AuditError(LakehouseError):
    """The audit trail is broken (altered, removed or reordered entry) or an entry would hold unsafe data."""

    exit_code = 6


def actor() -> str:
    """$LAKEHOUSE_ACTOR (a named operator behind a shared service account), else the OS user."""
    who = os.environ.get(ACTOR_ENV) or getpass.getuser()
    if not _ACTOR.fullmatch(who):
        raise AuditError(f"{ACTOR_ENV} (or the OS user name) must match {_ACTOR.pattern}")
    return who


def _canonical(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _entry_hash(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in body.items() if k != "hash"})).hexdigest()


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

    def body(self) -> dict[str, Any]:
        return {
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


def _last(store: ObjectStore) -> tuple[int, str]:
    """(sequence, hash) of the newest entry, (0, genesis) on an empty trail."""
    names = [p for p in store.list(AUDIT_PREFIX) if _NAME.fullmatch(p.rsplit("/", 1)[-1])]
    if not names:
        return 0, GENESIS_HASH
    newest = names[-1]  # zero-padded names sort numerically
    document = json.loads(store.get(newest))
    return int(document["seq"]), str(document["hash"])


def record(
    store: ObjectStore, action: str, data: Mapping[str, Any] | None = None, *, outcome: Outcome = "success"
) -> AuditEntry:
    """Append one entry; returns it. Raises AuditError if `data` holds anything but names and counts."""
    if action not in ACTIONS:
        raise AuditError(f"unknown audit action `{action}`")
    payload = dict(data or {})
    _check_data(payload, "data")
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
        }
        body["hash"] = _entry_hash(body)
        if store.put_if_absent(entry_path(seq + 1), json.dumps(body, indent=1, sort_keys=True).encode()):
            return AuditEntry(**body)
        # Another writer appended this sequence number first: chain after its entry instead.
        time.sleep(0.005)
    raise AuditError(f"could not append to `{AUDIT_PREFIX}/` after {_MAX_ATTEMPTS} attempts (contention)")


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


def verify(store: ObjectStore, *, expected_head: tuple[int, str] | None = None) -> Verification:
    """Recompute the chain; each problem names the entry (object path) and what is wrong with it."""
    problems: list[str] = []
    prev_hash, expected_seq, count = GENESIS_HASH, 1, 0
    fields = set(AuditEntry.__dataclass_fields__)
    for path in store.list(AUDIT_PREFIX):
        match = _NAME.fullmatch(path.rsplit("/", 1)[-1])
        if match is None:
            problems.append(f"`{path}`: not an audit entry name (foreign object in the trail)")
            continue
        count += 1
        seq = int(match["seq"])
        if seq != expected_seq:
            missing = (
                f"entry {expected_seq}" if seq == expected_seq + 1 else f"entries {expected_seq}-{seq - 1}"
            )
            problems.append(f"`{path}`: {missing} removed before it (sequence gap)")
        try:
            body = json.loads(store.get(path))
        except (UnicodeDecodeError, json.JSONDecodeError):
            problems.append(f"`{path}`: not valid JSON (altered)")
            prev_hash, expected_seq = "?", seq + 1
            continue
        if not isinstance(body, dict) or set(body) != fields:
            problems.append(f"`{path}`: fields added or removed (altered)")
        elif body.get("seq") != seq:
            problems.append(f"`{path}`: holds entry {body.get('seq')} (moved or reordered)")
        elif _entry_hash(body) != body.get("hash"):
            problems.append(f"`{path}`: content does not match its hash (altered)")
        elif body.get("prev_hash") != prev_hash and prev_hash != "?":
            problems.append(
                f"`{path}`: does not chain to the entry before it (altered, removed or reordered)"
            )
        prev_hash = str(body.get("hash")) if isinstance(body, dict) else "?"
        expected_seq = seq + 1
    head = (expected_seq - 1, prev_hash if count else GENESIS_HASH)
    if expected_head is not None:
        want_seq, want_hash = expected_head
        if head[0] < want_seq:
            problems.append(
                f"trail ends at entry {head[0]}, the recorded head is entry {want_seq} (truncated)"
            )
        elif store.exists(entry_path(want_seq)):
            recorded = json.loads(store.get(entry_path(want_seq))).get("hash")
            if recorded != want_hash:
                problems.append(f"`{entry_path(want_seq)}`: differs from the recorded head (rewritten)")
    return Verification(
        ok=not problems, entries=count, head_seq=head[0], head_hash=head[1], problems=problems
    )


def _tables_of(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    try:
        return sorted(con.get_table_names(sql))
    except duckdb.Error:
        return []


def record_query(
    store: ObjectStore,
    sql: str,
    *,
    row_count: int | None,
    tables: list[str] | None = None,
    outcome: Outcome = "success",
    error: str | None = None,
    seconds: float | None = None,
) -> AuditEntry:
    """Log an analyst's query: its SHA-256 (the text may quote values), the tables it read, rows returned."""
    data: dict[str, Any] = {
        "sql_sha256": hashlib.sha256(sql.encode("utf-8")).hexdigest(),
        "tables": [t for t in (tables or []) if _SAFE_TEXT.fullmatch(t)],
        "rows": row_count,
    }
    if error is not None:
        data["error"] = error
    if seconds is not None:
        data["seconds"] = round(seconds, 3)
    return record(store, "query", data, outcome=outcome)


def run_query(store: ObjectStore, con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """Run `sql` on `con` and log it, failed or not: the path `lakehouse query` goes through."""
    tables = _tables_of(con, sql)
    started = time.monotonic()
    try:
        result = con.execute(sql).to_arrow_table()
    except Exception as exc:
        record_query(
            store,
            sql,
            row_count=None,
            tables=tables,
            outcome="failure",
            error=type(exc).__name__,
            seconds=time.monotonic() - started,
        )
        raise
    record_query(store, sql, row_count=result.num_rows, tables=tables, seconds=time.monotonic() - started)
    return result
