"""Incremental builds on Spark (Delta tables): a first Spark build, one more day landed, an incremental
Spark build; its tables equal, row for row, DuckDB's incremental build of the same two steps and a Spark
full refresh of the same lake. The selection is test_spark_build.py's (staging and the CDM).

The Spark tables are read from the files their Delta log names (an incremental build leaves the files of
the rows it deleted in the folder, out of the table), the DuckDB tables from the encrypted warehouse.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

pytest.importorskip(
    "dbt.adapters.spark", reason="the spark extra is not installed: pip install -e '.[spark]'"
)

from ingest.build.spark_tables import read_spark_files
from ingest.lake.keys import init_keystore, open_keystore
from ingest.lake.storage import open_store
from ingest.landing.land import Ingestor, find_extract_files
from ingest.publish.export import open_warehouse
from ingest.synth import generate_extracts
from tests.test_spark_build import BUILD_TIME_COLUMNS, CDM, SELECT, _built_models, _row_hashes, _run

pytestmark = pytest.mark.slow

FIRST_DAY, LAST_DAY = date(2024, 1, 8), date(2024, 1, 15)
NO_TESTS = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]


def _land(root: Path, until: date) -> None:
    """Ingest the extract files of the days up to `until` (a file's day is in its name)."""
    files = [
        f for f in find_extract_files([root / "extracts"]) if f.name.split("_")[1] <= until.strftime("%Y%m%d")
    ]
    Ingestor(open_store(root / "lake"), open_keystore(root / "keystore.json")).run(files)


def _delta_files(folder: Path) -> list[Path]:
    """The data files of a Delta table's current version, from its JSON log."""
    log = folder / "_delta_log"
    # A checkpoint (every 10 commits) would summarise the earlier commits: these tables have a few.
    assert not list(log.glob("*.checkpoint*")), f"{folder}: a checkpoint; read it too"
    live: dict[str, None] = {}
    for commit in sorted(log.glob("*.json")):
        for line in commit.read_text(encoding="utf-8").splitlines():
            action = json.loads(line)
            if "add" in action:
                live[action["add"]["path"]] = None
            elif "remove" in action:
                live.pop(action["remove"]["path"], None)
    return [folder / unquote(path) for path in live]


def _operations(folder: Path) -> list[tuple[str, int]]:
    """(operation, rows written) of every commit of a Delta table, oldest first."""
    operations = []
    for commit in sorted((folder / "_delta_log").glob("*.json")):
        for line in commit.read_text(encoding="utf-8").splitlines():
            if "commitInfo" in (action := json.loads(line)):
                info = action["commitInfo"]
                written = info.get("operationMetrics", {}).get("numOutputRows", "0")
                operations.append((info["operation"], int(written)))
    return operations


def _spark_tables(con: Any, warehouse: Path, built: dict[str, str]) -> dict[str, tuple[list[str], list]]:
    """{table: (columns, rows)} of every table (not view) the Spark build made."""
    tables = {}
    keystore = warehouse.parents[1] / "keystore.json"  # <home>/spark/warehouse
    for name, schema in sorted(built.items()):
        folder = warehouse / f"{schema}.db" / name
        if not (folder / "_delta_log").is_dir():
            continue  # a view (staging): its rows are those of the tables built from it
        files = _delta_files(folder)
        if not files:
            tables[name] = ([], [])
            continue
        # Encrypted by Spark (docs/spark.md, "At rest"): read with the key store's key.
        con.register("spark_table", read_spark_files(files, keystore))
        result = con.execute("select * from spark_table")
        tables[name] = ([d[0] for d in result.description], result.fetchall())
    return tables


def _hashes(name: str, columns: list[str], rows: list, order: list[str]) -> Counter[str]:
    compared = [c for c in order if c not in BUILD_TIME_COLUMNS.get(name, set())]
    return _row_hashes(rows, columns, compared)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One association: a week landed and built on both engines, then one more day landed and built
    again (incremental builds); then a Spark full refresh."""
    root = tmp_path_factory.mktemp("spark_delta")
    init_keystore(root / "keystore.json")
    generate_extracts(root / "extracts", FIRST_DAY, LAST_DAY, n_associations=1, scale=0.3)
    env = {
        **os.environ,
        "LAKEHOUSE_HOME": str(root),
        "LAKEHOUSE_KEYSTORE": str(root / "keystore.json"),
        "LAKEHOUSE_LAKE": str(root / "lake"),
        "LAKEHOUSE_WAREHOUSE": str(root / "warehouse.duckdb"),
        "LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    steps: dict[str, Any] = {"root": root}

    def build(step: str, *args: str) -> None:
        done = _run(["build", *args, *SELECT, *NO_TESTS, "--target-path", str(root / f"target-{step}")], env)
        assert done.returncode == 0, step + "\n" + done.stdout[-3000:] + done.stderr[-3000:]

    _land(root, date(2024, 1, 14))
    build("duckdb-first")
    build("spark-first", "--target", "spark")
    _land(root, LAST_DAY)
    build("duckdb-next")
    build("spark-next", "--target", "spark")
    warehouse = root / "spark" / "warehouse"
    con = open_warehouse(root / "warehouse.duckdb", root / "keystore.json")
    try:
        steps["duckdb"] = {
            name: (lambda r: ([d[0] for d in r.description], r.fetchall()))(
                con.execute(f"select * from warehouse.{schema}.{name}")
            )
            for name, schema in _built_models(root / "target-duckdb-next").items()
        }
        spark_built = _built_models(root / "target-spark-next")
        steps["spark_built"] = spark_built
        steps["spark_incremental"] = _spark_tables(con, warehouse, spark_built)
        steps["operations"] = {
            name: _operations(warehouse / f"{schema}.db" / name)
            for name, schema in spark_built.items()
            if (warehouse / f"{schema}.db" / name / "_delta_log").is_dir()
        }
        build("spark-full", "--target", "spark", "--full-refresh")
        steps["spark_full"] = _spark_tables(con, warehouse, _built_models(root / "target-spark-full"))
    finally:
        con.close()
    return steps


def test_the_next_spark_build_is_incremental(builds: dict[str, Any]) -> None:
    operations = builds["operations"]
    # The base tables appended the new day's rows only, into the table the first build made.
    acts_columns, acts = builds["spark_incremental"]["base_lake__acts"]
    lake_file = acts_columns.index("_lake_file")
    last_file = max(row[lake_file] for row in acts)
    assert len({row[lake_file] for row in acts}) == (LAST_DAY - FIRST_DAY).days + 1
    first, *_, last = operations["base_lake__acts"]
    assert first[0] == "CREATE TABLE AS SELECT", operations["base_lake__acts"]
    assert last == ("WRITE", sum(row[lake_file] == last_file for row in acts)), operations["base_lake__acts"]
    # The scoped models deleted their scope (one MERGE) and inserted it again.
    for scoped in ("stg_lake__acts", "visit_occurrence", "person", "condition_occurrence"):
        assert [op for op, _ in operations[scoped]] == ["CREATE TABLE AS SELECT", "MERGE", "WRITE"], scoped


def test_incremental_spark_build_equals_duckdb_incremental_build(builds: dict[str, Any]) -> None:
    spark, duck = builds["spark_incremental"], builds["duckdb"]
    assert set(CDM) <= set(spark), sorted(set(CDM) - set(spark))
    for name, (columns, rows) in spark.items():
        duck_columns, duck_rows = duck[name]
        assert len(rows) == len(duck_rows), name
        if rows:
            assert sorted(columns) == sorted(duck_columns), name
            assert _hashes(name, columns, rows, duck_columns) == _hashes(
                name, duck_columns, duck_rows, duck_columns
            ), name


def test_incremental_spark_build_equals_a_spark_full_refresh(builds: dict[str, Any]) -> None:
    incremental, full = builds["spark_incremental"], builds["spark_full"]
    assert set(incremental) == set(full)
    for name, (columns, rows) in full.items():
        incremental_columns, incremental_rows = incremental[name]
        assert len(incremental_rows) == len(rows), name
        if rows:
            assert _hashes(name, incremental_columns, incremental_rows, columns) == _hashes(
                name, columns, rows, columns
            ), name
