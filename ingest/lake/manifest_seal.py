"""Sealed manifests: what the lake's readers trust, and how they check it.

Every data object a manifest names carries the SHA-256 of its bytes as stored (`Output.sha256`), and the
manifest carries an HMAC-SHA256 (`mac`) over the canonical JSON of every other field, under the manifest
key of the key store (derived from the audit key `mac_key_id`: ingest.lake.keys). Someone with write access
to the object store but not the key store cannot

- put another file in a landed file's place, though it is encrypted with the same data key (another
  association's file of the same month, or the copy of a file as it was before a purge rewrote it): its
  bytes differ from the digest;
- edit a manifest to record the digest (or the rows, the key, the files) of their choice: the MAC fails;
- strip the seal: a manifest without one is refused, not read as an old one.

Readers check before they read: the build's plugin (the files it is about to decrypt), Spark's listing
(ingest.lake.spark_read), the study extracts, the purge, the key retirement and the footer key migration
(the files they rewrite, so a swapped file is never re-sealed as genuine), and `lakehouse audit verify`
(everything). A check fails closed: one line naming the object and what failed, nothing read from it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ingest.exceptions import KeyStoreError, LakeIntegrityError, MissingKeyError, ObjectNotFoundError
from ingest.lake.keys import KeyStore
from ingest.lake.manifest import MANIFEST_PREFIX, PENDING_PREFIX, Manifest, Output
from ingest.lake.storage import ObjectStore

__all__ = [
    "SEAL_COMMAND",
    "IntegrityReport",
    "UnsealedManifestError",
    "check_object",
    "check_objects",
    "file_digest",
    "integrity_problems",
    "manifest_paths",
    "open_manifest",
    "seal",
    "verified_committed_files",
    "verified_manifests",
]

SEAL_COMMAND = "lakehouse keys seal-manifests"
# Parallel GETs (S3 round trips; sha256 releases the GIL, so threads hash in parallel too).
_READERS = 16


class UnsealedManifestError(LakeIntegrityError):
    """A manifest written before seals existed (or stripped of its seal)."""


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _mac(key: bytes, body: Mapping[str, Any]) -> str:
    """Over every field but `mac`, `mac_key_id` included. Computed on the JSON as stored when checking, so a
    field added later with a default does not change what an older seal covers."""
    return hmac.new(
        key, _canonical({k: v for k, v in body.items() if k != "mac"}), hashlib.sha256
    ).hexdigest()


def _same(mac: str, claimed: object) -> bool:
    return hmac.compare_digest(mac.encode(), str(claimed).encode("utf-8", "replace"))


def seal(manifest: Manifest, keystore: KeyStore) -> Manifest:
    """The manifest with its MAC; every output must record its digest."""
    missing = [o.path for o in manifest.outputs if o.sha256 is None]
    if missing:
        raise ValueError(f"batch `{manifest.batch_id}`: no digest for `{missing[0]}`")
    key_id, key = keystore.manifest_key()
    body = asdict(replace(manifest, mac_key_id=key_id, mac=None))
    return replace(manifest, mac_key_id=key_id, mac=_mac(key, body))


def open_manifest(store: ObjectStore, path: str, data: bytes, keystore: KeyStore) -> Manifest:
    """Parse and authenticate the manifest stored at `path`; LakeIntegrityError naming it otherwise."""
    where = store.uri(path)

    def fail(why: str, error: type[LakeIntegrityError] = LakeIntegrityError) -> LakeIntegrityError:
        return error(f"manifest `{where}`: {why}; nothing is read from it", path=where)

    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise fail("not valid JSON (altered)") from None
    if not isinstance(raw, dict):
        raise fail("not a manifest (altered)")
    if raw.get("mac") is None:
        raise fail(
            f"not sealed (no MAC): run `{SEAL_COMMAND}` if the lake predates seals", UnsealedManifestError
        )
    key_id = raw.get("mac_key_id")
    try:
        _, key = keystore.manifest_key(key_id if isinstance(key_id, str) else "")
    except (MissingKeyError, KeyStoreError):
        raise fail(f"sealed with key `{key_id}`, which the key store does not hold") from None
    if not _same(_mac(key, raw), raw.get("mac")):
        raise fail("content does not match its MAC (altered)")
    manifest = Manifest.from_json(data)
    if path != f"{MANIFEST_PREFIX}/{manifest.batch_id}.json":
        raise fail(f"holds batch `{manifest.batch_id}` (copied from another manifest)")
    return manifest


def check_object(store: ObjectStore, output: Output) -> bytes:
    """The bytes of one object its (authenticated) manifest names, if they match its digest."""
    where = store.uri(output.path)
    try:
        data = store.get(output.path)
    except ObjectNotFoundError:
        raise LakeIntegrityError(f"`{where}`: named by its manifest and missing", path=where) from None
    if output.sha256 is None or not hmac.compare_digest(file_digest(data), output.sha256):
        raise LakeIntegrityError(
            f"`{where}`: bytes differ from the SHA-256 its manifest records (replaced or altered); "
            "nothing is read from it",
            path=where,
        )
    return data


def _object_problem(store: ObjectStore, output: Output) -> str | None:
    try:
        check_object(store, output)
    except LakeIntegrityError as e:
        return str(e)
    return None


def _first_of(problems: list[str], what: str) -> str:
    more = f" (and {len(problems) - 1} other {what})" if len(problems) > 1 else ""
    return problems[0] + more


def check_objects(store: ObjectStore, outputs: Iterable[Output]) -> None:
    """Check every object's digest (in parallel); one error naming the first that fails and the count."""
    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        problems = [p for p in pool.map(lambda o: _object_problem(store, o), outputs) if p]
    if problems:
        where = problems[0].split("`")[1]
        raise LakeIntegrityError(_first_of(problems, "files fail too"), path=where)


def manifest_paths(store: ObjectStore) -> list[str]:
    return [
        p
        for p in store.list(MANIFEST_PREFIX)
        if not p.startswith(PENDING_PREFIX + "/") and p.endswith(".json")
    ]


@dataclass
class IntegrityReport:
    manifests: list[tuple[str, Manifest]] = field(default_factory=list)  # authenticated ones
    unsealed: list[str] = field(default_factory=list)  # manifest URIs
    problems: list[str] = field(default_factory=list)  # one line each: altered manifests, objects

    def error(self) -> LakeIntegrityError | None:
        """One error for all that failed: the first altered manifest, else the first unsealed one."""
        if self.problems:
            where = self.problems[0].split("`")[1]
            return LakeIntegrityError(_first_of(self.problems, "problems"), path=where)
        if self.unsealed:
            return UnsealedManifestError(
                f"{len(self.unsealed)} manifests are not sealed (first: `{self.unsealed[0]}`): the lake "
                f"was landed before manifests were sealed; run `{SEAL_COMMAND}` once",
                path=self.unsealed[0],
            )
        return None


def read_manifests(store: ObjectStore, keystore: KeyStore, paths: list[str]) -> IntegrityReport:
    """Read and authenticate `paths` in parallel, collecting every failure."""

    def one(path: str) -> tuple[str, Manifest | LakeIntegrityError]:
        try:
            return path, open_manifest(store, path, store.get(path), keystore)
        except LakeIntegrityError as e:
            return path, e

    report = IntegrityReport()
    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        for path, result in pool.map(one, paths):
            if isinstance(result, UnsealedManifestError):
                report.unsealed.append(store.uri(path))
            elif isinstance(result, LakeIntegrityError):
                report.problems.append(str(result))
            else:
                report.manifests.append((path, result))
    return report


def verified_manifests(store: ObjectStore, keystore: KeyStore) -> list[Manifest]:
    """Every manifest of the lake, authenticated; fails closed on the first altered or unsealed one."""
    report = read_manifests(store, keystore, manifest_paths(store))
    error = report.error()
    if error is not None:
        raise error
    return [m for _, m in report.manifests]


def verified_committed_files(
    store: ObjectStore, keystore: KeyStore, zone: str, dataset: str
) -> dict[str, list[str]]:
    """{key id: [paths]} of the Parquet files committed manifests name for zone x dataset (as
    ingest.governance.purge.committed_files), from authenticated manifests, each file's digest checked."""
    outputs = [
        o
        for m in verified_manifests(store, keystore)
        if m.dataset == dataset
        for o in m.outputs
        if o.zone == zone and o.path.endswith(".parquet")
    ]
    check_objects(store, outputs)
    by_key: dict[str, list[str]] = {}
    for o in outputs:
        by_key.setdefault(o.key_id, []).append(o.path)
    return {k: sorted(v) for k, v in sorted(by_key.items())}


def integrity_problems(store: ObjectStore, keystore: KeyStore) -> list[str]:
    """Every manifest's seal and every object's digest (`lakehouse audit verify`): all failures, one line
    each (unsealed manifests in one line, with the command that seals them)."""
    report = read_manifests(store, keystore, manifest_paths(store))
    outputs = [o for _, m in report.manifests for o in m.outputs]
    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        report.problems += [p for p in pool.map(lambda o: _object_problem(store, o), outputs) if p]
    if report.unsealed:
        report.problems.append(
            f"{len(report.unsealed)} manifests are not sealed (first: `{report.unsealed[0]}`): run "
            f"`{SEAL_COMMAND}` once on a lake landed before seals existed"
        )
    return report.problems
