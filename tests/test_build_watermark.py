"""The watermark (build_state.base_lake__builds_completed) moves only when every scoped incremental
model has rebuilt the changes of this build: a model left out of the selection, or one that fails,
keeps it where it was, so the next build rebuilds that model's scope again instead of leaving its
rows stale until a full refresh. `int_act_sites_and_doctors_by_week` is the model that once escaped
the hand-kept list of the watermark's dependencies."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingest.lake.crypto import load_httpfs
from ingest.lake.keys import LocalKeyStore
from ingest.lake.storage import open_store
from ingest.landing.land import Ingestor, find_extract_files
from ingest.synth import generate_extracts
from tests.test_dbt_build import dbt
from tests.test_incremental_build import _query

pytestmark = pytest.mark.slow

MODEL = "int_act_sites_and_doctors_by_week"
WATERMARKS = "select count(*) from warehouse.build_state.base_lake__builds_completed"
ROWS = f"select count(*), sum(hash(r)) from warehouse.intermediate.{MODEL} as r"


def test_watermark_stays_behind_an_unselected_or_failed_scoped_model(
    keystore: LocalKeyStore, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    ingestor = Ingestor(open_store(lake), keystore)
    generate_extracts(
        tmp_path / "generated", date(2024, 1, 1), date(2024, 1, 10), n_associations=1, scale=0.1
    )
    files = find_extract_files([tmp_path / "generated"])
    ingestor.run([p for p in files if p.name.split("_")[1] <= "20240108"])
    warehouse = tmp_path / "warehouse.duckdb"
    env = {
        **os.environ,
        "LAKEHOUSE_KEYSTORE": str(keystore.path),
        "LAKEHOUSE_LAKE": str(lake),
        "LAKEHOUSE_WAREHOUSE": str(warehouse),
    }

    def run(*args: str) -> int:
        # Models and seeds: the tests would only slow this down.
        result = dbt(["build", "--resource-type", "seed", "--resource-type", "model", *args], env, tmp_path)
        return result.returncode

    assert run() == 0
    assert _query(warehouse, keystore, WATERMARKS) == [(1,)]

    # A new day (in a week already built); the build leaves the model out: the watermark stays, and
    # the next build rebuilds the model's weeks of that day.
    ingestor.run([p for p in files if p.name.split("_")[1] == "20240109"])
    assert run("--exclude", MODEL) == 0
    assert _query(warehouse, keystore, WATERMARKS) == [(1,)]
    assert run() == 0
    assert _query(warehouse, keystore, WATERMARKS) == [(2,)]
    incremental = _query(warehouse, keystore, ROWS)
    assert run("--full-refresh", "--select", MODEL) == 0
    assert _query(warehouse, keystore, ROWS) == incremental

    # The model fails (its table was replaced by one it cannot write into): the watermark stays.
    ingestor.run([p for p in files if p.name.split("_")[1] == "20240110"])
    con = duckdb.connect()
    load_httpfs(con)
    con.execute(f"attach '{warehouse}' as warehouse (encryption_key '{keystore.warehouse_db_key()}')")
    con.execute(f"create or replace table warehouse.intermediate.{MODEL} (week_start_date integer[])")
    con.close()
    assert run() != 0
    assert _query(warehouse, keystore, WATERMARKS) == [(2,)]
    assert run("--full-refresh", "--select", MODEL) == 0
    assert run() == 0
    assert _query(warehouse, keystore, WATERMARKS) == [(3,)]


def test_a_selection_of_the_cdm_and_marts_moves_the_watermark(
    keystore: LocalKeyStore, tmp_path: Path
) -> None:
    """The watermark's table is built by any selection of what reads it (base_lake__changed_acts): a
    build of the CDM and the marts with all they are built from (`+path:...`, no other model) completes,
    so the next build's changed acts are the new files' only. Before, that selection left the table out:
    no build ever completed, and every act counted as changed at every build."""
    lake = tmp_path / "lake"
    generate_extracts(tmp_path / "generated", date(2024, 1, 1), date(2024, 1, 3), n_associations=1, scale=0.1)
    Ingestor(open_store(lake), keystore).run(find_extract_files([tmp_path / "generated"]))
    warehouse = tmp_path / "warehouse.duckdb"
    env = {
        **os.environ,
        "LAKEHOUSE_KEYSTORE": str(keystore.path),
        "LAKEHOUSE_LAKE": str(lake),
        "LAKEHOUSE_WAREHOUSE": str(warehouse),
    }
    selection = ["--select", "+path:models/omop", "+path:models/marts"]
    result = dbt(
        ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test", *selection],
        env,
        tmp_path,
    )
    assert result.returncode == 0
    assert _query(warehouse, keystore, WATERMARKS) == [(1,)]
