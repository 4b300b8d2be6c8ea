"""`lakehouse keys add-footer-keys`: give the files landed before footer key material existed the
reference Spark needs to open them (ingest.lake.footer_key, docs/spark.md).

Each committed Parquet file the manifests name gets, in its footer, the reference to the data key its
manifest names. Only the file's tail changes; the data pages are kept byte for byte. Each file is
replaced whole by one write of the store (a temporary file then a rename on a folder, one PUT on S3): a
run killed half-way leaves every file either as it was or migrated, all readable by DuckDB and pyarrow
as before, and running again migrates the rest. A file already carrying the right reference is left
alone, so a second run changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.exceptions import DecryptionError
from ingest.governance.purge import recover_rewrites
from ingest.lake import audit
from ingest.lake.crypto import decrypt_parquet
from ingest.lake.footer_key import footer_key_metadata, read_footer_key_metadata, with_footer_key_metadata
from ingest.lake.keys import DataKeyring, KeyStore
from ingest.lake.manifest import all_manifests, writer_lock
from ingest.lake.storage import ObjectStore

__all__ = ["FooterMigration", "add_footer_keys"]


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
        result = FooterMigration(recovered=recover_rewrites(store))
        keyring = DataKeyring(store, keystore)
        for manifest in all_manifests(store):
            for output in manifest.outputs:
                if not output.path.endswith(".parquet"):
                    continue  # quarantined whole files are AES-GCM blobs, not Parquet
                where = store.uri(output.path)
                data = store.get(output.path)
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
                store.put(output.path, migrated)
                result.files_updated += 1
        audit.record(
            store,
            keystore,
            "key_footer_migrate",
            {"files_updated": result.files_updated, "files_current": result.files_current},
        )
    return result
