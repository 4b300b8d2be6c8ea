"""Reading the Spark build's tables (Delta tables) from their files, without Spark.

A Delta table's folder also holds the files of rows a later version deleted or overwrote (an
incremental build's MERGE, the disclosure post-hook's rewrites): the table is the files its log names,
read here from its JSON commits and its last checkpoint (Delta writes one every 10 commits).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ingest.build.spark_tables import read_spark_files

__all__ = [
    "delta_files", "delta_operations", "delta_properties", "is_delta_table", "local_session",
    "read_delta_table", "session_jars",
]  # fmt: skip


def is_delta_table(folder: Path) -> bool:
    return (folder / "_delta_log").is_dir()


def _checkpoint(log: Path, keystore: Path) -> tuple[int, dict[str, None]]:
    """(version, live files) of the last checkpoint; (-1, none) without one."""
    last = log / "_last_checkpoint"
    if not last.is_file():
        return -1, {}
    pointer = json.loads(last.read_text(encoding="utf-8"))
    version = int(pointer["version"])
    parts = sorted(log.glob(f"{version:020d}.checkpoint*.parquet"))
    # A v2 checkpoint (a UUID-named top file with sidecars) is not read here: these tables have none.
    assert parts, f"{log}: no file for checkpoint {pointer}"
    live: dict[str, None] = {}
    for part in parts:
        # Encrypted as every Parquet file Spark writes (docs/spark.md, "At rest").
        for add in read_spark_files([part], keystore).column("add").to_pylist():
            if add is not None:
                live[add["path"]] = None
    return version, live


def _columns(log: Path, keystore: Path) -> list[str]:
    """The column names of the table's last schema (its last metaData action)."""
    schema = None
    for commit in sorted(log.glob("*.json")):
        for line in commit.read_text(encoding="utf-8").splitlines():
            if "metaData" in (action := json.loads(line)):
                schema = action["metaData"]["schemaString"]
    if schema is None:
        for part in sorted(log.glob("*.checkpoint*.parquet"))[-1:]:
            for meta in read_spark_files([part], keystore).column("metaData").to_pylist():
                if meta is not None:
                    schema = meta["schemaString"]
    assert schema is not None, f"{log}: no schema"
    return [field["name"] for field in json.loads(schema)["fields"]]


def delta_files(folder: Path, keystore: Path) -> list[Path]:
    """The data files of a Delta table's current version: its last checkpoint, then the commits after it."""
    log = folder / "_delta_log"
    version, live = _checkpoint(log, keystore)
    for commit in sorted(log.glob("*.json")):
        if int(commit.name.split(".")[0]) <= version:
            continue
        for line in commit.read_text(encoding="utf-8").splitlines():
            action = json.loads(line)
            if "add" in action:
                live[action["add"]["path"]] = None
            elif "remove" in action:
                live.pop(action["remove"]["path"], None)
    return [folder / unquote(path) for path in live]


def delta_operations(folder: Path) -> list[tuple[str, int]]:
    """(operation, rows written) of every commit of a Delta table, oldest first (its JSON commits are
    all kept: Delta removes them after 30 days)."""
    operations = []
    for commit in sorted((folder / "_delta_log").glob("*.json")):
        for line in commit.read_text(encoding="utf-8").splitlines():
            if "commitInfo" in (action := json.loads(line)):
                info = action["commitInfo"]
                written = info.get("operationMetrics", {}).get("numOutputRows", "0")
                operations.append((info["operation"], int(written)))
    return operations


def delta_properties(folder: Path) -> dict[str, str]:
    """A Delta table's properties (TBLPROPERTIES) as its log last set them."""
    properties: dict[str, str] = {}
    for commit in sorted((folder / "_delta_log").glob("*.json")):
        for line in commit.read_text(encoding="utf-8").splitlines():
            if "metaData" in (action := json.loads(line)):
                properties = action["metaData"].get("configuration", {})
    return properties


def read_delta_table(con: Any, folder: Path, keystore: Path) -> tuple[list[str], list[tuple]]:
    """(columns, rows) of a Delta table by a DuckDB connection, its files decrypted with the key store's
    `warehouse` key (docs/spark.md, "At rest")."""
    files = delta_files(folder, keystore)
    if not files:
        return _columns(folder / "_delta_log", keystore), []
    con.register("spark_table", read_spark_files(files, keystore))
    try:
        result = con.execute("select * from spark_table")
        return [d[0] for d in result.description], result.fetchall()
    finally:
        con.unregister("spark_table")


def session_jars() -> str:
    """Every jar an in-process Spark session of the tests may need: the project's KMS client, Delta
    Lake's and the S3A connector's. The first session of a pytest process starts the JVM with its class
    path, which the later sessions of the process share (their own `spark.jars` do not reach the class
    loader Hadoop finds its file systems with): each module's session asks for all of them."""
    from ingest.lake.spark_read import delta_jars, kms_client_jar, s3a_jars

    return ",".join(str(jar) for jar in [kms_client_jar(), *delta_jars(), *s3a_jars()])


@contextmanager
def local_session(app: str, conf: Mapping[str, str]) -> Iterator[Any]:
    """An in-process Spark session of one core with `conf` on the tests' common settings (no UI, one
    shuffle partition, UTC, timestamps without time zone as in the build), stopped on exit."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[1]").appName(app)
    for name, value in {
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "1",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.timestampType": "TIMESTAMP_NTZ",
        **conf,
    }.items():
        builder = builder.config(name, value)
    session = builder.getOrCreate()
    try:
        yield session
    finally:
        session.stop()
