"""A `dbt build` killed half-way (a real process, SIGKILL) leaves a warehouse that the next build completes:
same tables and contents as a build that was never interrupted, nothing lost or duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.lake.keys import LocalKeyStore
from ingest.lake.storage import open_store
from ingest.landing.land import Ingestor
from tests.test_dbt_build import PROJECT, make_extracts, open_warehouse

pytestmark = pytest.mark.slow

SELECT = ["--select", "+path:models/omop"]


def _command(root: Path) -> list[str]:
    return [
        str(Path(sys.executable).parent / "dbt"),
        "build",
        *SELECT,
        "--project-dir",
        str(PROJECT),
        "--profiles-dir",
        str(PROJECT),
        "--target-path",
        str(root / "target"),
        "--log-path",
        str(root / "logs"),
    ]


def _snapshot(root: Path, keystore: LocalKeyStore) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent checksum of every row, per table of the staging and CDM layers."""
    con = open_warehouse(root / "warehouse.duckdb", keystore)
    tables = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() where database_name = 'warehouse' "
        "and schema_name in ('cdm', 'staging') order by 1"
    ).fetchall()
    sums = {
        t: con.execute(f"select count(*), sum(hash(r)) from warehouse.{t} as r").fetchone() for (t,) in tables
    }
    con.close()
    assert len(sums) > 10
    return sums


def test_killed_build_then_rebuild_equals_an_uninterrupted_build(
    keystore: LocalKeyStore, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    Ingestor(open_store(lake), keystore).run(make_extracts(tmp_path / "extracts"))
    env = {**os.environ, "LAKEHOUSE_KEYSTORE": str(keystore.path), "LAKEHOUSE_LAKE": str(lake)}

    reference = tmp_path / "reference"
    env_ref = {**env, "LAKEHOUSE_WAREHOUSE": str(reference / "warehouse.duckdb")}
    done = subprocess.run(_command(reference), env=env_ref, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:]

    killed = tmp_path / "killed"
    env_kill = {**env, "LAKEHOUSE_WAREHOUSE": str(killed / "warehouse.duckdb")}
    proc = subprocess.Popen(
        _command(killed), env=env_kill, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    # Kill once some models are built, well before the end: the log says which node finished.
    assert proc.stdout is not None
    finished = 0
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if " OK created " in line:
            finished += 1
        if finished >= 12 or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert finished >= 12, "the build should have been killed half-way"

    again = subprocess.run(_command(killed), env=env_kill, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stdout[-3000:]
    assert _snapshot(killed, keystore) == _snapshot(reference, keystore)
