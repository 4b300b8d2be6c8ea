"""Incremental base models: a second build decrypts only the new files, and the warehouse it leaves is
the one a full refresh gives, after new days, a corrected re-send, and a purge of an objecting patient."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.keys import LocalKeyStore
from ingest.land import Ingestor
from ingest.manifest import all_manifests
from ingest.opposition import Identity, add_identities
from ingest.purge import purge_opposition
from ingest.storage import open_store
from tests.extract_builder import NIR, act_row, diagnosis_row, write_extract
from tests.test_build_killed import _snapshot
from tests.test_dbt_build import dbt, make_extracts, open_warehouse

pytestmark = pytest.mark.slow

SELECT = ["--select", "+path:models/omop"]


def test_incremental_builds_equal_full_refresh(keystore: LocalKeyStore, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    store = open_store(lake)
    ingestor = Ingestor(store, keystore)
    files = make_extracts(tmp_path / "extracts")
    ingestor.run(files[:2])
    incremental, full = tmp_path / "incremental", tmp_path / "full"
    env = {**os.environ, "LAKEHOUSE_KEYSTORE": str(keystore.path), "LAKEHOUSE_LAKE": str(lake)}
    env_inc = {**env, "LAKEHOUSE_WAREHOUSE": str(incremental / "warehouse.duckdb")}
    env_full = {**env, "LAKEHOUSE_WAREHOUSE": str(full / "warehouse.duckdb")}

    def build(env: dict[str, str], root: Path, *extra: str) -> None:
        result = dbt(["build", *SELECT, *extra], env, root)
        assert result.returncode == 0, result.stdout[-3000:]

    build(env_inc, incremental)
    # Later days, a corrected re-send and the same file twice arrive; the next build is incremental.
    ingestor.run(files[2:])
    build(env_inc, incremental)
    con = open_warehouse(incremental / "warehouse.duckdb", keystore)
    loaded = con.execute(
        "select count(distinct _lake_file) from warehouse.staging.base_lake__acts"
    ).fetchone()
    con.close()
    # Every committed acts batch once, the corrected re-send of a day included (a batch of its own).
    assert loaded[0] == len([m for m in all_manifests(store) if m.dataset == "acts"]) == 4
    build(env_full, full, "--full-refresh")
    assert _snapshot(incremental, keystore) == _snapshot(full, keystore)

    # An objecting patient's acts are purged from the lake: the incremental build drops them too.
    extra = write_extract(
        tmp_path / "extracts" / "objector",
        "actes",
        [act_row("90"), act_row("91", patient_nir="")],
        day="20240116",
    )
    diags = write_extract(
        tmp_path / "extracts" / "objector", "diagnostics", [diagnosis_row("90")], day="20240116"
    )
    ingestor.run([extra, diags])
    build(env_inc, incremental)
    add_identities(store, keystore, [Identity(nir=NIR)])
    assert purge_opposition(store, keystore).rows_removed
    build(env_inc, incremental)
    build(env_full, full, "--full-refresh")
    after = _snapshot(incremental, keystore)
    assert after == _snapshot(full, keystore)
    con = open_warehouse(incremental / "warehouse.duckdb", keystore)
    left = con.execute(
        "select count(*) from warehouse.staging.base_lake__acts where act_id = '90'"
    ).fetchone()
    kept = con.execute(
        "select count(*) from warehouse.staging.base_lake__acts where act_id = '91'"
    ).fetchone()
    con.close()
    assert (left[0], kept[0]) == (0, 1)
