"""`lakehouse keys add-footer-keys`: give the files landed before footer key material existed the
reference Spark needs to open them (ingest.lake.footer_key, docs/spark.md).

Each committed Parquet file the manifests name gets, in its footer, the reference to the data key its
manifest names. Only the file's tail changes; the data pages are kept byte for byte. Each file is
replaced whole by one write of the store (a temporary file then a rename on a folder, one PUT on S3): a
run killed half-way leaves every file either as it was or migrated, all readable by DuckDB and pyarrow
as before, and running again migrates the rest. A file already carrying the right reference is left
alone, so a second run changes nothing.

A migrated file has new bytes, so its manifest's digest changes too (ingest.lake.manifest_seal). Between
the file's write and its manifest's, a kill would leave a file that no longer matches its manifest, and
re-sealing whatever bytes are found would bless a swapped file: so each batch first records, sealed, the
digests its migrated files will have (`_footer_keys/<batch_id>.json`), and the next run re-seals the
manifest only for files whose bytes match that record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field, replace

from ingest.exceptions import DecryptionError, LakeIntegrityError
from ingest.governance.purge import recover_rewrites
from ingest.lake import audit
from ingest.lake.crypto import decrypt_parquet
from ingest.lake.footer_key import footer_key_metadata, read_footer_key_metadata, with_footer_key_metadata
from ingest.lake.keys import DataKeyring, KeyStore
from ingest.lake.manifest import Manifest, manifest_path, read_manifest, writer_lock
from ingest.lake.manifest_seal import check_object, file_digest, open_manifest, seal, verified_manifests
from ingest.lake.storage import ObjectStore

__all__ = ["FooterMigration", "add_footer_keys"]


INTENT_PREFIX = "_footer_keys"


def _intent_path(batch_id: str) -> str:
    return f"{INTENT_PREFIX}/{batch_id}.json"


def _intent_mac(
    keystore: KeyStore, key_id: str | None, batch_id: str, digests: dict[str, str]
) -> tuple[str, str]:
    # Sealed like a manifest (same key), with a "kind" no manifest has: an intent is never a manifest.
    body = {"kind": "footer-key-intent", "batch_id": batch_id, "digests": digests}
    key_id, key = keystore.manifest_key(key_id)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return key_id, hmac.new(key, canonical, hashlib.sha256).hexdigest()


def _finish_interrupted(store: ObjectStore, keystore: KeyStore) -> list[str]:
    """Re-seal the manifests of batches a killed run migrated files of; returns their batch ids."""
    done = []
    for path in store.list(INTENT_PREFIX):
        intent = json.loads(store.get(path))
        batch_id, digests = str(intent.get("batch_id")), intent.get("digests")
        if not isinstance(digests, dict):
            raise LakeIntegrityError(f"`{store.uri(path)}`: not a footer key intent (altered)", path=path)
        _, mac = _intent_mac(keystore, str(intent.get("mac_key_id")), batch_id, digests)
        if not hmac.compare_digest(mac.encode(), str(intent.get("mac")).encode("utf-8", "replace")):
            raise LakeIntegrityError(f"`{store.uri(path)}`: does not match its MAC (altered)", path=path)
        if read_manifest(store, batch_id) is not None:
            m_path = manifest_path(batch_id)
            manifest = open_manifest(store, m_path, store.get(m_path), keystore)
            outputs = [
                replace(o, sha256=digests[o.path])
                if o.path in digests
                and store.exists(o.path)
                and file_digest(store.get(o.path)) == digests[o.path]
                else o
                for o in manifest.outputs
            ]
            if outputs != manifest.outputs:
                store.put(m_path, seal(replace(manifest, outputs=outputs), keystore).to_json())
        store.delete(path)
        done.append(batch_id)
    return done


def _migrate(store: ObjectStore, keystore: KeyStore, manifest: Manifest, files: dict[str, bytes]) -> None:
    """Write the migrated files of one batch and re-seal its manifest, crash-safe (module docstring)."""
    digests = {path: file_digest(data) for path, data in files.items()}
    key_id, mac = _intent_mac(keystore, None, manifest.batch_id, digests)
    intent = {"batch_id": manifest.batch_id, "digests": digests, "mac_key_id": key_id, "mac": mac}
    store.put(_intent_path(manifest.batch_id), json.dumps(intent, sort_keys=True).encode())
    for path, data in files.items():
        store.put(path, data)
    outputs = [replace(o, sha256=digests.get(o.path, o.sha256)) for o in manifest.outputs]
    store.put(manifest_path(manifest.batch_id), seal(replace(manifest, outputs=outputs), keystore).to_json())
    store.delete(_intent_path(manifest.batch_id))


@dataclass
class FooterMigration:
    files_updated: int = 0
    files_current: int = 0
    recovered: list[str] = field(default_factory=list)


def add_footer_keys(store: ObjectStore, keystore: KeyStore) -> FooterMigration:
    """Set the footer key reference of every committed Parquet file of the lake (idempotent, logged)."""
    # Under the writer lock: an ingest, purge or retirement rewriting a file at the same time would
    # otherwise race with its replacement here.
    with writer_lock(store):
        result = FooterMigration(recovered=recover_rewrites(store) + _finish_interrupted(store, keystore))
        keyring = DataKeyring(store, keystore)
        for manifest in verified_manifests(store, keystore):
            migrated_files: dict[str, bytes] = {}
            for output in manifest.outputs:
                if not output.path.endswith(".parquet"):
                    continue  # quarantined whole files are AES-GCM blobs, not Parquet
                where = store.uri(output.path)
                data = check_object(store, output)
                wanted = footer_key_metadata(output.key_id)
                try:
                    current = read_footer_key_metadata(data)
                except ValueError as exc:
                    raise DecryptionError(f"`{where}`: {exc}", path=where) from exc
                if current == wanted:
                    result.files_current += 1
                    continue
                migrated = with_footer_key_metadata(data, wanted)
                # The reference must name the key that really opens the file: a Spark reader would
                # otherwise fail on it later, far from the cause.
                try:
                    decrypt_parquet(migrated, keyring.get(output.key_id).key, path=where)
                except DecryptionError as exc:
                    raise DecryptionError(
                        f"`{where}` does not open with data key `{output.key_id}`, the key its manifest "
                        "names: left unchanged",
                        path=where,
                    ) from exc
                migrated_files[output.path] = migrated
                result.files_updated += 1
            if migrated_files:
                _migrate(store, keystore, manifest, migrated_files)
        audit.record(
            store,
            keystore,
            "key_footer_migrate",
            {"files_updated": result.files_updated, "files_current": result.files_current},
        )
    return result
