"""Key rotation on a real encrypted lake: master keys re-wrapped without touching data files, data keys
retired by re-encryption (also after a SIGKILL mid-way), and the pseudonymisation secret procedure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from ingest.exceptions import KeyStoreError, MissingKeyError
from ingest.governance.opposition import (
    Identity,
    OppositionStaleError,
    add_identities,
    drop_stale_entries,
    load_opposition,
)
from ingest.governance.purge import committed_files
from ingest.governance.rotation import (
    master_key_usage,
    remove_master_key,
    retire_data_key,
    rotate_master_key,
    rotate_pseudonym_secret,
)
from ingest.governance.study_extract import open_raw_zone
from ingest.lake import audit
from ingest.lake.keys import DataKeyring, LocalKeyStore, open_keystore
from ingest.lake.manifest import all_manifests
from ingest.lake.storage import ObjectStore, open_store
from ingest.landing.land import Ingestor
from tests.extract_builder import act_row, with_nir_key, write_extract
from tests.test_purge import build_lake, zone_rows


def _data_files(store: ObjectStore) -> dict[str, bytes]:
    return {p: store.get(p) for p in store.list("raw") + store.list("quarantine")}


def test_master_key_rotation_rewraps_keys_and_leaves_data_files_alone(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    Ingestor(store, keystore).run(build_lake(tmp_path / "in"))
    rows, files = zone_rows(store, keystore), _data_files(store)
    keys_before = {k.key_id: k.key for k in DataKeyring(store, keystore).all("raw")}

    result = rotate_master_key(store, keystore, "raw")
    assert (result.new_master_key_id, result.rewrapped) == ("raw-v2", 4)
    assert keystore.current_master_key_id("raw") == "raw-v2"
    assert master_key_usage(store, keystore, "raw") == {"raw-v1": 0, "raw-v2": 4}
    assert master_key_usage(store, keystore, "quarantine") == {"quarantine-v1": 1}
    assert _data_files(store) == files  # not one byte of data rewritten

    remove_master_key(store, keystore, "raw-v1")
    reopened = open_keystore(keystore.path)
    assert {k.key_id: k.key for k in DataKeyring(store, reopened).all("raw")} == keys_before
    assert zone_rows(store, reopened) == rows
    with pytest.raises(MissingKeyError):
        reopened.unwrap("raw", {"master_key_id": "raw-v1", "nonce": "", "ciphertext": ""}, b"")
    actions = [e.action for e in audit.entries(store)]  # the ingest that built the lake comes first
    assert actions == ["ingest", "key_rotate", "master_key_remove"] and audit.verify(store, keystore).ok


def test_old_master_key_is_kept_until_nothing_uses_it(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    Ingestor(local_store, keystore).run(build_lake(tmp_path / "in"))
    # What a rotation killed right after switching the key store leaves: no key file re-wrapped yet.
    keystore.rotate_master_key("raw")
    with pytest.raises(KeyStoreError, match=r"`raw-v1` still wraps 4 data key files"):
        remove_master_key(local_store, keystore, "raw-v1")
    with pytest.raises(KeyStoreError, match="is current"):
        keystore.remove_master_key("raw-v2")
    assert zone_rows(local_store, keystore)  # readable throughout: both master keys are there
    resumed = rotate_master_key(local_store, keystore, "raw", resume=True)
    assert (resumed.new_master_key_id, resumed.rewrapped) == ("raw-v2", 4)
    remove_master_key(local_store, keystore, "raw-v1")
    assert keystore.master_key_ids("raw") == ["raw-v2"]
    assert os.stat(keystore.path).st_mode & 0o077 == 0


def test_retiring_a_data_key_reencrypts_its_files_under_a_new_generation(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    Ingestor(store, keystore).run(build_lake(tmp_path / "in"))
    rows = zone_rows(store, keystore)
    old = DataKeyring(store, keystore).get("raw/acts/2024-01")

    result = retire_data_key(store, keystore, "raw/acts/2024-01")
    assert (result.new_key_id, result.files_reencrypted) == ("raw/acts/2024-01.v2", 2)
    keyring = DataKeyring(store, keystore)
    with pytest.raises(MissingKeyError):
        keyring.get("raw/acts/2024-01")
    new = keyring.get("raw/acts/2024-01.v2")
    assert new.key != old.key and new.duckdb_name == "raw__acts__2024_01__v2"
    assert zone_rows(store, keystore) == rows
    assert list(committed_files(store, "raw", "acts")) == ["raw/acts/2024-01.v2"]
    assert all(".r2.parquet" in p for p in store.list("raw/acts"))
    assert all(o.key_id != "raw/acts/2024-01" for m in all_manifests(store) for o in m.outputs)

    # New files of that month use the new generation.
    dd = "16/01/2024"
    late = write_extract(
        tmp_path / "late", "actes", [act_row("99", date_appel=dd, date_debut=dd, date_fin=dd)], day="20240116"
    )
    Ingestor(store, keystore).run([late])
    assert list(committed_files(store, "raw", "acts")) == ["raw/acts/2024-01.v2"]
    if store.is_local:
        con = open_raw_zone(store, keystore)
        assert con.execute("select count(*) from raw_acts").fetchone() == (17,)


def test_retiring_the_key_of_quarantined_files(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    path = write_extract(tmp_path / "in", "actes", [act_row("1")])
    path.write_bytes(path.read_text().encode("utf-16"))
    Ingestor(local_store, keystore).run([path])
    result = retire_data_key(local_store, keystore, "quarantine/files/2024-01")
    assert result.files_reencrypted == 1
    (m,) = all_manifests(local_store)
    (out,) = m.outputs
    assert out.path == f"quarantine/files/{m.batch_id}.r2.bin" and out.key_id == "quarantine/files/2024-01.v2"
    from ingest.governance.purge import read_output

    assert read_output(local_store, DataKeyring(local_store, keystore), m, out) == path.read_bytes()


def test_retirement_killed_mid_way_stays_readable_and_finishes(
    tmp_path: Path, keystore: LocalKeyStore
) -> None:
    lake = tmp_path / "lake"
    store = open_store(lake)
    Ingestor(store, keystore).run(build_lake(tmp_path / "in"))
    rows = zone_rows(store, keystore)
    script = textwrap.dedent(
        f"""
        import os, signal
        from ingest.lake.keys import open_keystore
        from ingest.governance.rotation import retire_data_key
        from ingest.lake.storage import LocalObjectStore, open_store

        original = LocalObjectStore._put
        manifests = []
        def put(self, path, data, *, overwrite):
            done = original(self, path, data, overwrite=overwrite)
            if path.startswith("manifests/"):
                manifests.append(path)
                if len(manifests) == 2:  # one batch fully switched, the second one committed
                    os.kill(os.getpid(), signal.SIGKILL)
            return done
        LocalObjectStore._put = put
        store, keys = open_store({str(lake)!r}), open_keystore({str(keystore.path)!r})
        retire_data_key(store, keys, "raw/diagnoses/2024-01")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env=os.environ, capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # Mid-way: the two generations coexist, and every file opens with the key its manifest names.
    assert set(committed_files(store, "raw", "diagnoses")) == {"raw/diagnoses/2024-01.v2"}
    assert zone_rows(store, keystore) == rows

    result = retire_data_key(store, keystore, "raw/diagnoses/2024-01")
    assert result.new_key_id == "raw/diagnoses/2024-01.v2"  # the same new generation, not a third
    assert result.recovered  # the interrupted batch's leftovers were cleaned
    assert zone_rows(store, keystore) == rows
    named = {o.path for m in all_manifests(store) for o in m.outputs}
    assert set(store.list("raw")) | set(store.list("quarantine")) == named
    assert DataKeyring(store, keystore).generations("raw", "diagnoses", "2024-01") == [2]
    with pytest.raises(KeyStoreError, match="already retired"):
        retire_data_key(store, keystore, "raw/diagnoses/2024-01")


def test_pseudonym_secret_rotation_procedure(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    """Rotation changes every pseudonym from then on: the landed history keeps the old ones (the break
    is visible in each manifest's secret version), and objections must be entered again before the
    next ingest, which refuses to run on a stale opposition list."""
    store = local_store
    objector = Identity(nir=with_nir_key("1850613055123"), birth_date=date(1985, 6, 11), sex="M")
    Ingestor(store, keystore).run([write_extract(tmp_path / "a", "actes", [act_row("1")])])
    add_identities(store, keystore, [objector])
    (before,) = zone_rows(store, keystore)[("raw", "acts")]

    assert rotate_pseudonym_secret(store, keystore) == "pseudonym-v2"
    dd = "16/01/2024"
    second = write_extract(
        tmp_path / "b", "actes", [act_row("2", date_appel=dd, date_debut=dd, date_fin=dd)], day="20240116"
    )
    rotated = open_keystore(keystore.path)
    # The opposition list was computed with the old secret: ingest refuses to run rather than miss.
    with pytest.raises(OppositionStaleError, match="1 opposition entries"):
        Ingestor(store, rotated).run([second])
    assert [m.source_file for m in all_manifests(store)] == ["A75001_20240115_actes.csv"]

    add_identities(store, rotated, [objector])  # the DPO re-enters the objection from its register
    assert drop_stale_entries(store, rotated) == 1
    Ingestor(store, rotated).run([second])
    acts = {a["act_id"]: a for a in zone_rows(store, rotated)[("raw", "acts")]}
    assert acts["1"]["patient_pseudonym"] == before["patient_pseudonym"]
    assert acts["2"]["patient_pseudonym"] != acts["1"]["patient_pseudonym"]  # same NIR, new pseudonym
    versions = {m.source_file: m.pseudonym_secret_version for m in all_manifests(store)}
    assert versions == {
        "A75001_20240115_actes.csv": "pseudonym-v1",
        "A75001_20240116_actes.csv": "pseudonym-v2",
    }
    current = load_opposition(store, rotated)
    assert len(current.pseudonyms) == 1 and acts["2"]["patient_pseudonym"] not in current.pseudonyms
    assert audit.verify(store, keystore).ok


def _make_warehouse(path: Path, key: str) -> list[tuple]:
    from ingest.lake.crypto import connect_duckdb

    con = connect_duckdb()
    con.execute(f"attach '{path}' as w (encryption_key '{key}')")
    con.execute("create schema w.cdm")
    con.execute(
        "create table w.cdm.person as select range as person_id, 'p' || range as source_value, "
        "date '1950-01-01' + range::int as birth_date from range(500)"
    )
    con.execute("create view w.cdm.person_count as select count(*) as n from w.cdm.person")
    con.close()
    return _warehouse_rows(path, key)


def _warehouse_rows(path: Path, key: str) -> list[tuple]:
    from ingest.lake.crypto import connect_duckdb

    con = connect_duckdb()
    try:
        con.execute(f"attach '{path}' as w (encryption_key '{key}', read_only)")
        return con.execute(
            "select *, (select n from w.cdm.person_count) from w.cdm.person order by all"
        ).fetchall()
    finally:
        con.close()


def test_warehouse_rotation_reencrypts_the_file_and_the_old_key_no_longer_opens_it(
    tmp_path: Path, keystore: LocalKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb
    from click.testing import CliRunner

    from ingest.cli import main

    warehouse = tmp_path / "home" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAKEHOUSE_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", str(warehouse))
    old_key = keystore.warehouse_db_key()
    rows = _make_warehouse(warehouse, old_key)

    result = CliRunner().invoke(main, ["keys", "rotate", "--zone", "warehouse"])

    assert result.exit_code == 0, result.output
    assert "re-encrypted under a new key" in result.output
    new_key = open_keystore(keystore.path).warehouse_db_key()
    assert new_key != old_key and old_key not in keystore.path.read_text()  # retired: not kept
    with pytest.raises(duckdb.Error, match="Wrong encryption key"):
        _warehouse_rows(warehouse, old_key)
    assert _warehouse_rows(warehouse, new_key) == rows
    assert sorted(p.name for p in warehouse.parent.iterdir()) == ["warehouse.duckdb", "warehouse.duckdb.lock"]
    (entry,) = [e for e in audit.entries(open_store(tmp_path / "lake")) if e.action == "key_rotate"]
    assert entry.data["warehouse_reencrypted"] is True


@pytest.mark.parametrize("kill_at", ["before_rename", "after_rename"])
def test_warehouse_rotation_killed_keeps_the_warehouse_readable_and_finishes(
    tmp_path: Path, keystore: LocalKeyStore, kill_at: str
) -> None:
    from ingest.governance.rotation import rotate_warehouse_db_key

    warehouse = tmp_path / "warehouse.duckdb"
    old_key = keystore.warehouse_db_key()
    rows = _make_warehouse(warehouse, old_key)
    kill = "os.kill(os.getpid(), signal.SIGKILL)"
    patch = (
        f"rotation._fsync = lambda path: {kill}"  # the copy is written, not yet renamed
        if kill_at == "before_rename"
        else f"LocalKeyStore.finish_warehouse_db_key_rotation = lambda self: {kill}"
    )
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from ingest.governance import rotation
        from ingest.lake.keys import LocalKeyStore, open_keystore
        {patch}
        rotation.rotate_warehouse_db_key(open_keystore({str(keystore.path)!r}), Path({str(warehouse)!r}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env=os.environ, capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    interrupted = open_keystore(keystore.path)
    pending = interrupted.pending_warehouse_db_key()
    assert pending is not None and interrupted.warehouse_db_key() == old_key
    # Whichever side of the rename the kill fell, the file opens with a key the key store holds.
    in_force = old_key if kill_at == "before_rename" else pending
    assert _warehouse_rows(warehouse, in_force) == rows

    assert rotate_warehouse_db_key(interrupted, warehouse) is (kill_at == "before_rename")
    done = open_keystore(keystore.path)
    assert done.pending_warehouse_db_key() is None and done.warehouse_db_key() == pending
    assert _warehouse_rows(warehouse, pending) == rows
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("warehouse")) == [
        "warehouse.duckdb",
        "warehouse.duckdb.lock",
    ]
