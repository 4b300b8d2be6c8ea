"""Batch manifests: the commit record of each ingested source file, and crash recovery.

Protocol for one batch (one source file):
  1. `manifests/_pending/<batch_id>.json` lists the objects the batch is about to write (intent);
  2. the data and quarantine objects are written (each atomically);
  3. `manifests/<batch_id>.json` is written: from now on the batch is committed and visible;
  4. the pending record is deleted.
A crash before 3 leaves a pending record; `recover()` (run at the start of every ingest) deletes the objects
it lists, so a re-run starts clean. A crash between 3 and 4 leaves a harmless pending record, dropped too.
Manifests hold no health data: counts, checksums, key ids, never a key or a value. Each is sealed (a MAC
under a key of the key store) and records the SHA-256 of every object it names: ingest.lake.manifest_seal.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Literal

from ingest.exceptions import LakehouseError
from ingest.lake.storage import ObjectStore

MANIFEST_PREFIX = "manifests"
PENDING_PREFIX = "manifests/_pending"
LOCK_PATH = "_locks/writer.json"

Status = Literal["committed", "quarantined"]


@dataclass(frozen=True)
class Output:
    zone: str  # raw | quarantine
    path: str
    rows: int
    key_id: str
    # SHA-256 of the object's bytes as stored (ingest.lake.manifest_seal); None only in manifests written
    # before digests existed, which `lakehouse keys seal-manifests` completes.
    sha256: str | None = None


@dataclass
class Manifest:
    batch_id: str
    status: Status
    source_file: str
    source_sha256: str
    source_size: int
    entity: str | None
    dataset: str | None
    association_id: str | None
    extract_date: str | None  # ISO date
    encoding: str | None
    contract: str
    contract_version: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    quarantine_reasons: dict[str, int]
    outputs: list[Output]
    pseudonym_secret_version: str | None
    ingested_at: str  # ISO timestamp, UTC
    ingest_version: str
    rows_opposed: int = 0  # rows of patients on the opposition list, not landed
    file_reason: str | None = None  # set when the whole file was quarantined
    file_message: str | None = None
    # Identity scheme of the patient pseudonyms (ingest.records.pseudonymise.PSEUDONYM_SCHEME); manifests
    # written before the field existed used scheme 1 (the NIR alone). None when nothing was pseudonymised.
    pseudonym_scheme: int | None = 1
    # HMAC-SHA256 over every other field, under the manifest key of the key store (ingest.lake.manifest_seal)
    # derived from audit key `mac_key_id`; None in manifests written before seals existed.
    mac_key_id: str | None = None
    mac: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw = json.loads(data)
        raw["outputs"] = [Output(**o) for o in raw["outputs"]]
        return cls(**raw)


def manifest_path(batch_id: str) -> str:
    return f"{MANIFEST_PREFIX}/{batch_id}.json"


def pending_path(batch_id: str) -> str:
    return f"{PENDING_PREFIX}/{batch_id}.json"


def read_manifest(store: ObjectStore, batch_id: str) -> Manifest | None:
    path = manifest_path(batch_id)
    if not store.exists(path):
        return None
    return Manifest.from_json(store.get(path))


def begin(store: ObjectStore, batch_id: str, paths: list[str]) -> None:
    store.put(pending_path(batch_id), json.dumps({"batch_id": batch_id, "paths": paths}).encode())


def commit(store: ObjectStore, manifest: Manifest) -> None:
    store.put(manifest_path(manifest.batch_id), manifest.to_json())
    store.delete(pending_path(manifest.batch_id))


@dataclass
class Recovery:
    rolled_back: list[str] = field(default_factory=list)  # batch ids whose partial objects were deleted
    objects_deleted: int = 0


def recover(store: ObjectStore) -> Recovery:
    result = Recovery()
    for path in store.list(PENDING_PREFIX):
        batch_id = path.rsplit("/", 1)[-1].removesuffix(".json")
        if not store.exists(manifest_path(batch_id)):
            for obj in json.loads(store.get(path))["paths"]:
                if store.exists(obj):
                    store.delete(obj)
                    result.objects_deleted += 1
            result.rolled_back.append(batch_id)
        store.delete(path)
    return result


def all_manifests(store: ObjectStore) -> list[Manifest]:
    return [
        Manifest.from_json(store.get(p))
        for p in store.list(MANIFEST_PREFIX)
        if not p.startswith(PENDING_PREFIX + "/") and p.endswith(".json")
    ]


class LakeLockedError(LakehouseError):
    """Another ingest (or purge) is writing to this lake."""

    exit_code = 5


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def writer_lock(store: ObjectStore) -> Iterator[None]:
    """One writer per lake: recovery deletes whatever a pending batch lists, which would destroy the
    in-flight batch of a concurrent run. A lock left by a killed process on this host is taken over;
    one from another host must be removed by hand (the message says how)."""
    me = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    payload = json.dumps(me).encode()
    if not store.put_if_absent(LOCK_PATH, payload):
        holder = json.loads(store.get(LOCK_PATH))
        if holder.get("host") == me["host"] and not _pid_alive(int(holder.get("pid", -1))):
            store.delete(LOCK_PATH)  # its process is gone: a kill or a crash
            if not store.put_if_absent(LOCK_PATH, payload):
                raise LakeLockedError(f"another ingest took the lake lock `{LOCK_PATH}` at the same moment")
        else:
            raise LakeLockedError(
                f"another ingest is writing to this lake (pid {holder.get('pid')} on {holder.get('host')} "
                f"since {holder.get('since')}); if it is not running, delete `{LOCK_PATH}` in the lake"
            )
    try:
        yield
    except BaseException as failure:
        try:
            store.delete(LOCK_PATH)
        except LakehouseError as cleanup:
            # The store that failed the work (an S3 endpoint gone) fails this too: the work's error is
            # the one raised, its own cause kept; the lock left behind is taken over by the next run.
            failure.add_note(f"The lake lock `{LOCK_PATH}` could not be released either: {cleanup}")
        raise
    store.delete(LOCK_PATH)
