"""Whole ingest runs on both object stores (local folder, moto S3 over HTTP), read back by DuckDB with
the keys, and a run killed half-way (a real process, SIGKILL) then run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.lake.crypto import configure_duckdb_s3, connect_duckdb, decrypt_parquet, duckdb_read_sql
from ingest.lake.keys import DataKeyring, LocalKeyStore, register_duckdb_keys
from ingest.lake.manifest import all_manifests
from ingest.lake.storage import ObjectStore
from ingest.landing.land import Ingestor
from tests.extract_builder import act_row, diagnosis_row, write_extract


def _extracts(folder: Path, days: int, acts_per_file: int) -> list[Path]:
    paths = []
    for assoc in ("A75001", "A13001"):
        for d in range(1, days + 1):
            day = f"202401{d:02d}"
            dd = f"{d:02d}/01/2024"
            # Act numbers are the association's own: two associations' files never hold the same rows.
            acts = [
                act_row(
                    f"{assoc}-{d}-{i}",
                    date_appel=dd,
                    date_debut=dd,
                    date_fin=dd,
                    patient_nir="" if i % 3 else None,
                )
                for i in range(acts_per_file)
            ]
            for a in acts:
                if a["patient_nir"] is None:
                    del a["patient_nir"]
            paths.append(write_extract(folder, "actes", acts, association=assoc, day=day))
            diags = [diagnosis_row(f"{assoc}-{d}-{i}") for i in range(acts_per_file)]
            paths.append(write_extract(folder, "diagnostics", diags, association=assoc, day=day))
    return paths


def test_ingest_then_duckdb_reads_every_landed_column(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    paths = _extracts(tmp_path / "in", days=3, acts_per_file=50)
    report = Ingestor(store, keystore).run(paths)
    assert [f.status for f in report.files] == ["landed"] * len(paths)
    assert report.totals == (600, 600, 0)

    con = connect_duckdb()
    if not store.is_local:
        configure_duckdb_s3(con, request.getfixturevalue("s3_settings"))
    keyring = DataKeyring(store, keystore)
    register_duckdb_keys(con, keyring.all(zone="raw"))
    for dataset in ("acts", "diagnoses"):
        (key,) = [k for k in keyring.all(zone="raw") if k.dataset == dataset]
        files = [store.uri(p) for p in store.list(f"raw/{dataset}")]
        sql = duckdb_read_sql(files, key.duckdb_name)
        via_duckdb = con.execute(
            f"select * from {sql} order by association_id, _source_file, _source_line"
        ).to_arrow_table()
        via_pyarrow = pa.concat_tables(
            decrypt_parquet(store.get(p), key.key, path=p) for p in store.list(f"raw/{dataset}")
        ).sort_by(
            [("association_id", "ascending"), ("_source_file", "ascending"), ("_source_line", "ascending")]
        )
        assert via_duckdb.num_rows == 300
        # Every column, every value: decrypting in DuckDB gives exactly what pyarrow reads.
        for name in via_pyarrow.column_names:
            assert via_duckdb.column(name).to_pylist() == via_pyarrow.column(name).to_pylist(), name


def test_ingest_killed_half_way_then_rerun_lands_everything_once(
    tmp_path: Path, keystore: LocalKeyStore
) -> None:
    paths = _extracts(tmp_path / "in", days=15, acts_per_file=400)
    lake = tmp_path / "lake"
    env = {**os.environ, "LAKEHOUSE_KEYSTORE": str(keystore.path)}
    cmd = [sys.executable, "-m", "ingest.cli", "ingest", str(tmp_path / "in"), "--lake", str(lake)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    manifests = lake / "manifests"
    while time.monotonic() < deadline and len(list(manifests.glob("*.json"))) < 5:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    landed_before = len(list(manifests.glob("*.json")))
    assert 5 <= landed_before < len(paths), "the kill should land in the middle of the run"

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr

    from ingest.lake.storage import open_store

    store = open_store(str(lake))
    ms = all_manifests(store)
    assert sorted(m.source_file for m in ms) == sorted(p.name for p in paths)  # each file once
    assert store.list("manifests/_pending") == []
    referenced = {o.path for m in ms for o in m.outputs}
    stored = set(store.list("raw")) | set(store.list("quarantine"))
    assert stored == referenced  # nothing half-written left behind, nothing missing
    assert sum(m.rows_accepted for m in ms) == 2 * 15 * 2 * 400
    assert sum(m.rows_quarantined for m in ms) == 0
