"""Key rotation: master keys (re-wrap, no data rewritten), data keys (re-encrypt), pseudonymisation secret.

- `rotate_master_key(zone)`: a new master key (`raw-v2`, ...) becomes current in the key store, then every
  data key of the zone stored in `_keys/` is unwrapped with its old master key and wrapped with the new
  one, one atomic PUT per key file. Data files are not touched: the data keys do not change. A kill
  mid-way leaves some key files under the old master key, some under the new: both are in the key store,
  everything stays readable, and running the rotation again finishes it (it skips files already done).
- `rotate_master_key("warehouse", warehouse=<file>)` also re-encrypts the DuckDB warehouse file under a
  new database key (rotate_warehouse_db_key: copy, check, fsync, atomic rename) and deletes the old key
  from the key store: re-wrapping alone would leave the file under the key an attacker may hold.
- `remove_master_key(key_id)`: once no key file of the lake is wrapped with it (checked here).
- `retire_data_key(key_id)`: a compromised or expiring data key. A new generation of the same
  zone x dataset x month becomes current (new files use it), every file encrypted with the old key is
  re-encrypted under a new name and its manifest updated (ingest.governance.purge.rewrite_batch: crash-safe
  per batch), opposition entries are re-encrypted in place, then the old key file is deleted. Re-running after
  a kill continues with the same new generation.
- The pseudonymisation secret: `rotate_pseudonym_secret` only switches the key store to a new secret; the
  consequences (every pseudonym changes) are a procedure, documented in docs/security.md.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingest.build.warehouse_lock import hold_warehouse
from ingest.exceptions import KeyStoreError
from ingest.governance.opposition import entries_using, reencrypt_entries
from ingest.governance.purge import Replacement, read_output, recover_rewrites, rewrite_batch
from ingest.lake import audit
from ingest.lake.crypto import connect_duckdb, sql_string
from ingest.lake.keys import (
    ZONES,
    DataKeyring,
    ManagedKeyStore,
    Zone,
    is_master_key_id,
    key_generation,
    parse_key_id,
)
from ingest.lake.manifest import all_manifests, writer_lock
from ingest.lake.manifest_seal import verified_manifests
from ingest.lake.storage import ObjectStore

__all__ = [
    "MasterRotation",
    "Retirement",
    "master_key_usage",
    "remove_master_key",
    "retire_data_key",
    "rotate_master_key",
    "rotate_pseudonym_secret",
    "rotate_warehouse_db_key",
]


@dataclass
class MasterRotation:
    zone: str
    new_master_key_id: str
    rewrapped: int = 0
    already_current: int = 0
    warehouse_reencrypted: bool = False


def _check_zone(zone: str) -> Zone:
    if zone not in ZONES:
        raise KeyStoreError(f"zone `{zone}` is not one of {', '.join(ZONES)}")
    return zone  # type: ignore[return-value]


def _check_data_key_id(key_id: str) -> tuple[Zone, str, str]:
    """The parts of a data key id given by an operator; a one-line error for anything else (`../..`)."""
    try:
        return parse_key_id(key_id)
    except ValueError as exc:
        raise KeyStoreError(str(exc)) from None


def rotate_master_key(
    store: ObjectStore,
    keystore: ManagedKeyStore,
    zone: str,
    *,
    resume: bool = False,
    warehouse: Path | None = None,
) -> MasterRotation:
    """New master key for `zone` (or, with resume=True, finish re-wrapping under the current one).

    Zone `warehouse` with the warehouse file's path also re-encrypts that DuckDB file under a new key
    (rotate_warehouse_db_key), which a re-wrap alone would leave unchanged."""
    zone = _check_zone(zone)
    reencrypt = zone == "warehouse" and warehouse is not None
    # The warehouse is held before the key store changes: a running build refuses the whole rotation.
    held = hold_warehouse(warehouse, "key rotation") if reencrypt and warehouse else nullcontext()
    with writer_lock(store), held:
        if resume:
            new_id = keystore.current_master_key_id(zone)
        else:
            new_id = keystore.rotate_master_key(zone)
        result = MasterRotation(zone, new_id)
        keyring = DataKeyring(store, keystore)
        for key in keyring.all(zone=zone):
            if keyring.rewrap(key.key_id, new_id):
                result.rewrapped += 1
            else:
                result.already_current += 1
        if reencrypt and warehouse is not None:
            result.warehouse_reencrypted = _reencrypt_warehouse(keystore, warehouse)
        audit.record(
            store,
            keystore,
            "key_rotate",
            {
                "zone": zone,
                "master_key_id": new_id,
                "data_keys_rewrapped": result.rewrapped,
                "data_keys_already_current": result.already_current,
                "warehouse_reencrypted": result.warehouse_reencrypted,
            },
        )
    return result


def _attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str, key: str) -> bool:
    """Attach `path` read-write under `key`; False if the key is not the file's."""
    try:
        con.execute(f"attach {sql_string(str(path))} as {alias} (encryption_key {sql_string(key)})")
    except duckdb.Error as exc:
        if "wrong encryption key" in str(exc).lower():
            return False
        raise
    return True


def _table_counts(con: duckdb.DuckDBPyConnection, alias: str) -> dict[str, int]:
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ?", [alias]
    ).fetchall()
    return {
        f"{schema}.{table}": con.execute(f'select count(*) from {alias}."{schema}"."{table}"').fetchone()[0]  # type: ignore[index]  # noqa: S608
        for schema, table in tables
    }


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rotate_warehouse_db_key(keystore: ManagedKeyStore, warehouse: Path) -> bool:
    """Re-encrypt the warehouse file under a new key and retire the old one; True if a file was copied.

    Crash-safe at every step: (1) the new key is saved in the key store (pending) before any file uses
    it; (2) a full copy is written under it next to the warehouse, checked table by table, fsynced; (3)
    it is renamed over the warehouse (atomic) and the folder fsynced; (4) the key store makes the new
    key current and deletes the old one. A kill before (3) leaves the old file and key in force; after
    (3), the file opens with the pending key, and running the rotation again (--resume) finishes (4).
    The warehouse is held meanwhile: no build can write to the file being copied."""
    with hold_warehouse(warehouse, "key rotation"):
        return _reencrypt_warehouse(keystore, warehouse)


def _reencrypt_warehouse(keystore: ManagedKeyStore, warehouse: Path) -> bool:
    """rotate_warehouse_db_key, the warehouse already held by the caller."""
    new_key = keystore.begin_warehouse_db_key_rotation()
    copied = False
    copy = warehouse.with_name(f"{warehouse.name}.rekey")
    for leftover in (copy, copy.with_name(copy.name + ".wal")):
        leftover.unlink(missing_ok=True)  # from a rotation killed before its rename
    if warehouse.exists():
        con = connect_duckdb()
        try:
            if _attach(con, warehouse, "old_warehouse", keystore.warehouse_db_key()):
                # No WAL left to replay: the copy holds everything, and detaching writes nothing.
                con.execute("checkpoint old_warehouse")
                if not _attach(con, copy, "new_warehouse", new_key):
                    raise KeyStoreError(f"Could not create `{copy}` under the new warehouse key")
                con.execute("copy from database old_warehouse to new_warehouse")
                before, after = _table_counts(con, "old_warehouse"), _table_counts(con, "new_warehouse")
                con.execute("detach new_warehouse")
                if before != after:
                    copy.unlink(missing_ok=True)
                    raise KeyStoreError(f"The re-encrypted copy of `{warehouse}` differs: nothing changed")
                _fsync(copy)
                os.replace(copy, warehouse)
                _fsync(warehouse.parent)
                copied = True
                con.execute("detach old_warehouse")
            elif not _attach(con, warehouse, "new_warehouse", new_key):
                raise KeyStoreError(
                    f"The warehouse `{warehouse}` opens with neither the current nor the pending "
                    f"warehouse key of key store `{getattr(keystore, 'path', keystore)}`"
                )
            # else: a rotation killed after its rename; only the key store remains to switch.
        finally:
            con.close()
    keystore.finish_warehouse_db_key_rotation()
    return copied


def master_key_usage(store: ObjectStore, keystore: ManagedKeyStore, zone: str) -> dict[str, int]:
    """{master key id: number of data key files wrapped with it} for every master key of `zone`."""
    zone = _check_zone(zone)
    keyring = DataKeyring(store, keystore)
    usage = dict.fromkeys(keystore.master_key_ids(zone), 0)
    prefix = f"_keys/{zone}/"
    for path in store.list(prefix.rstrip("/")):
        if path.endswith(".json"):
            key_id = path[len("_keys/") : -len(".json")]
            wrapped_by = keyring.wrapped_by(key_id)
            usage[wrapped_by] = usage.get(wrapped_by, 0) + 1
    return usage


def remove_master_key(store: ObjectStore, keystore: ManagedKeyStore, master_key_id: str) -> None:
    """Delete an old master key from the key store, refused while any data key file still uses it."""
    if not is_master_key_id(master_key_id):
        raise KeyStoreError(f"master key id `{master_key_id}` must look like <zone>-v<n>, e.g. raw-v1")
    zone = _check_zone(master_key_id.rsplit("-v", 1)[0])
    usage = master_key_usage(store, keystore, zone)
    if usage.get(master_key_id, 0):
        raise KeyStoreError(
            f"Master key `{master_key_id}` still wraps {usage[master_key_id]} data key files in the lake: "
            f"run the rotation of zone `{zone}` to completion first"
        )
    keystore.remove_master_key(master_key_id)
    audit.record(store, keystore, "master_key_remove", {"zone": zone, "master_key_id": master_key_id})


@dataclass
class Retirement:
    key_id: str
    new_key_id: str
    batches_rewritten: int = 0
    files_reencrypted: int = 0
    opposition_entries: int = 0
    recovered: list[str] = field(default_factory=list)


def retire_data_key(store: ObjectStore, keystore: ManagedKeyStore, key_id: str) -> Retirement:
    """Re-encrypt every file using data key `key_id` with a new generation, then delete `key_id`."""
    zone, dataset, period = _check_data_key_id(key_id)
    with writer_lock(store):
        recovered = recover_rewrites(store)
        keyring = DataKeyring(store, keystore)
        generations = keyring.generations(zone, dataset, period)
        if key_generation(key_id) not in generations:
            raise KeyStoreError(f"Data key `{key_id}` does not exist in the lake (already retired?)")
        if generations[-1] == key_generation(key_id):
            new_key = keyring.create_next_generation(zone, dataset, period)
        else:
            # A previous run was killed after creating the new generation: carry on with it.
            new_key = keyring.get_or_create(zone, dataset, period)
        result = Retirement(key_id, new_key.key_id, recovered=recovered)
        for m in verified_manifests(store, keystore):
            using = [o for o in m.outputs if o.key_id == key_id]
            if not using:
                continue
            replacements = {o.path: Replacement(read_output(store, keyring, m, o), new_key) for o in using}
            rewrite_batch(store, m, replacements, keystore=keystore)
            result.batches_rewritten += 1
            result.files_reencrypted += len(using)
        if dataset == "opposition":
            result.opposition_entries = reencrypt_entries(store, keyring, key_id, new_key)
        still = [o for m in all_manifests(store) for o in m.outputs if o.key_id == key_id]
        if still or (dataset == "opposition" and entries_using(store, keyring, key_id)):
            raise KeyStoreError(f"Data key `{key_id}` is still named by the lake after re-encryption")
        keyring.delete(key_id)
        audit.record(
            store,
            keystore,
            "key_retire",
            {
                "key_id": key_id,
                "new_key_id": new_key.key_id,
                "batches_rewritten": result.batches_rewritten,
                "files_reencrypted": result.files_reencrypted,
                "opposition_entries": result.opposition_entries,
            },
        )
    return result


def rotate_pseudonym_secret(store: ObjectStore, keystore: ManagedKeyStore) -> str:
    """Switch the key store to a new pseudonymisation secret (logged). Read docs/security.md first:
    every pseudonym computed from now on differs from the ones already landed."""
    with writer_lock(store):
        new_id = keystore.rotate_pseudonym_secret()
        audit.record(store, keystore, "pseudonym_secret_rotate", {"pseudonym_secret_version": new_id})
    return new_id
