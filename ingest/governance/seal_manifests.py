"""`lakehouse keys seal-manifests`: seal the manifests of a lake landed before seals existed.

Each manifest without a seal gets the SHA-256 of every object it names and its MAC
(ingest.lake.manifest_seal): each object is read once, each manifest replaced by one write of the store
(atomic: a temporary file then a rename on a folder, one PUT on S3). A run killed half-way leaves every
manifest either as it was or sealed; running again seals the rest. A manifest already sealed is checked
(its MAC) and left alone: a second run reads no data file and changes nothing.

This is the one moment the lake's bytes are taken as they are (trust on first use): seal a lake only as
it was landed, not after a doubt. A manifest already sealed whose MAC fails is never re-sealed (that
would bless an alteration): the run stops and names it. The batch ids sealed are in the audit entry when
there are few of them: a run that seals some manifests long after the migration (all writers seal) is
a manifest stripped of its seal, or written by an older version of the code.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from ingest.exceptions import LakeIntegrityError, ObjectNotFoundError
from ingest.governance.purge import recover_rewrites
from ingest.lake import audit
from ingest.lake.keys import KeyStore
from ingest.lake.manifest import Manifest, writer_lock
from ingest.lake.manifest_seal import UnsealedManifestError, file_digest, manifest_paths, open_manifest, seal
from ingest.lake.storage import ObjectStore

__all__ = ["SealMigration", "seal_manifests"]

_READERS = 16
# Above this many, the audit entry counts the manifests sealed without naming them (the first migration
# of a lake seals every manifest; later runs should seal none).
_NAMED_IN_ENTRY = 100


@dataclass
class SealMigration:
    manifests_sealed: int = 0
    manifests_current: int = 0
    files_hashed: int = 0
    sealed_batches: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)


def _seal_one(store: ObjectStore, keystore: KeyStore, path: str) -> tuple[str | None, int]:
    """(batch id sealed now or None if it already was, files hashed)."""
    data = store.get(path)
    try:
        open_manifest(store, path, data, keystore)
        return None, 0
    except UnsealedManifestError:
        pass  # sealed below; any other failure (altered after it was sealed) is never re-sealed
    manifest = Manifest.from_json(data)
    if path.rsplit("/", 1)[-1] != f"{manifest.batch_id}.json":
        where = store.uri(path)
        raise LakeIntegrityError(f"manifest `{where}`: holds batch `{manifest.batch_id}`", path=where)
    outputs = []
    hashed = 0
    for output in manifest.outputs:
        if output.sha256 is None:
            try:
                output = replace(output, sha256=file_digest(store.get(output.path)))
            except ObjectNotFoundError:
                where = store.uri(output.path)
                raise LakeIntegrityError(
                    f"`{where}`: named by manifest `{store.uri(path)}` and missing: not sealed", path=where
                ) from None
            hashed += 1
        outputs.append(output)
    store.put(path, seal(replace(manifest, outputs=outputs), keystore).to_json())
    return manifest.batch_id, hashed


def seal_manifests(store: ObjectStore, keystore: KeyStore) -> SealMigration:
    """Seal every manifest not sealed yet (idempotent, logged, under the writer lock)."""
    # Under the writer lock: an ingest or a purge writing a manifest at the same time must not race with
    # its sealing here; and rewrites a kill interrupted are finished first, so the files sealed are the
    # ones the manifests keep.
    with writer_lock(store):
        result = SealMigration(recovered=recover_rewrites(store))
        with ThreadPoolExecutor(max_workers=_READERS) as pool:
            for batch_id, hashed in pool.map(
                lambda path: _seal_one(store, keystore, path), manifest_paths(store)
            ):
                result.files_hashed += hashed
                if batch_id is None:
                    result.manifests_current += 1
                else:
                    result.manifests_sealed += 1
                    result.sealed_batches.append(batch_id)
        data: dict[str, object] = {
            "manifests_sealed": result.manifests_sealed,
            "manifests_current": result.manifests_current,
            "files_hashed": result.files_hashed,
        }
        if 0 < len(result.sealed_batches) <= _NAMED_IN_ENTRY and all(
            audit.is_safe_name(b) for b in result.sealed_batches
        ):
            data["batches"] = sorted(result.sealed_batches)
        audit.record(store, keystore, "manifest_seal", data)
    return result
