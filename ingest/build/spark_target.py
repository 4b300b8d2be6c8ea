"""The dbt `spark` target (profiles.yml): the environment its profile reads, and the lake's views on Spark.

dbt-spark has no plugin hook like dbt-duckdb's (ingest/build/dbt_plugin.py), so the lake views are made in
two steps: before dbt starts, this module reads the committed manifests and writes, one JSON line each, the
statements that make one view per committed file (`{"sql": ...}`) and, per dataset, its files
(`{"dataset": ..., "files": [[view, file], ...], ...}`), to a file of the build's Spark home; dbt's
`on-run-start` (macro `spark_lake_views`, macros/cross_engine/spark_lake.sql) runs the statements, then
makes each dataset's views from its files and the files its base table already holds (an incremental
build reads the new files only): Spark's global temporary views (`global_temp.<dataset>`, `__unloaded`,
`__committed_files`, ...), which the `lake` source names on Spark.
Each view reads exactly the files committed manifests name, through the project's KMS client (docs/spark.md):
a file the client cannot open fails the build, nothing is read in clear. The file holds paths only, no key.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import pyarrow as pa

from ingest import settings
from ingest.exceptions import ConfigError
from ingest.lake import manifest_index
from ingest.lake.keys import open_keystore
from ingest.lake.keystore_binding import check_keystore
from ingest.lake.landed_schema import LANDED_SCHEMAS
from ingest.lake.manifest import Output
from ingest.lake.manifest_seal import check_objects
from ingest.lake.spark_read import (
    S3A_PROFILE_VARIABLES,
    delta_jars,
    hadoop_lake_url,
    kms_client_jar,
    s3a_jars,
    spark_s3a_conf,
)
from ingest.lake.storage import S3Settings, open_store

__all__ = ["LAKE_VIEWS_ENV", "spark_environment", "spark_lake_views", "spark_type"]

LAKE_VIEWS_ENV = "LAKEHOUSE_SPARK_LAKE_VIEWS"
LAKE_FILE_COLUMN = "_lake_file"
_LINE_FIELDS = ("sql", "dataset", "columns", "empty", "view", "file")


def spark_type(dtype: pa.DataType) -> str:
    """The Spark SQL type Spark reads a landed column as (TIMESTAMP_NTZ session: a timestamp without
    zone stays without zone, `_ingested_at`, stored as UTC instants, is a `timestamp`)."""
    if pa.types.is_timestamp(dtype):
        return "timestamp" if dtype.tz is not None else "timestamp_ntz"
    for check, name in (
        (pa.types.is_string, "string"),
        (pa.types.is_large_string, "string"),
        (pa.types.is_date32, "date"),
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_int8, "tinyint"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int32, "int"),
        (pa.types.is_int64, "bigint"),
        (pa.types.is_float32, "float"),
        (pa.types.is_float64, "double"),
    ):
        if check(dtype):
            return name
    if pa.types.is_decimal(dtype):
        return f"decimal({dtype.precision},{dtype.scale})"
    raise TypeError(f"landed type {dtype} has no Spark mapping (ingest/build/spark_target.py)")


def _quote(text: str) -> str:
    if "`" in text or "'" in text or "\\" in text:
        raise ValueError(f"lake path `{text}` holds a quote or backslash: not put into Spark SQL")
    return text


def _dataset_lines(dataset: str, files: list[tuple[str, str]]) -> list[dict[str, object]]:
    """The lines of one dataset: a view per committed file, typed with the landed schema (Spark then reads
    no footer to infer one: it ran a job per file), then the dataset's files and columns, from which
    `spark_lake_views` makes the unions, each row with the file it came from as DuckDB names it
    (`_lake_file`)."""
    schema = LANDED_SCHEMAS[dataset]
    typed = ", ".join(f"{field.name} {spark_type(field.type)}" for field in schema)
    nulls = ", ".join(f"cast(null as {spark_type(f.type)}) as {f.name}" for f in schema)
    lines: list[dict[str, object]] = [
        {
            "dataset": dataset,
            "columns": ", ".join(schema.names),
            "empty": f"select {nulls}, cast(null as string) as {LAKE_FILE_COLUMN} where false",
        }
    ]
    for i, (url, name) in enumerate(sorted(files)):
        view = f"{dataset}__file_{i}"
        lines.append(
            {
                "sql": f"create or replace global temporary view {view} ({typed}) "
                f"using parquet options (path '{_quote(url)}')"
            }
        )
        lines.append({"dataset": dataset, "view": view, "file": _quote(name)})
    return lines


def spark_lake_views(lake_url: str, keystore_path: Path) -> list[dict[str, object]]:
    """The lines from which `on-run-start` makes the lake's views on Spark (`global_temp.*`: they live as
    long as the build's Spark session, as DuckDB's in-memory views): every committed file's view, and
    each dataset's files."""
    s3 = S3Settings.from_env() if lake_url.startswith("s3://") else None
    store = open_store(lake_url, s3)
    keystore = open_keystore(keystore_path)
    check_keystore(store, keystore)
    root = hadoop_lake_url(lake_url)
    files: dict[str, list[tuple[str, str]]] = defaultdict(list)
    raws = [
        raw
        for raw in manifest_index.committed_raw_files(store, keystore=keystore).files
        if raw.dataset in LANDED_SCHEMAS
    ]
    # As the DuckDB plugin does: every file's bytes against its sealed manifest's digest before any view
    # names it (the check-then-read race is in docs/security.md, "Sealed manifests").
    check_objects(store, [Output("raw", raw.path, 0, raw.key_id, raw.sha256) for raw in raws])
    for raw in raws:
        files[raw.dataset].append((f"{root}/{raw.path}", store.uri(raw.path)))
    lines: list[dict[str, object]] = []
    for dataset in sorted(LANDED_SCHEMAS):
        lines += _dataset_lines(dataset, files[dataset])
    return lines


def refuse_tables_in_clear(warehouse: Path) -> None:
    """Fails, naming a file, when the Spark home holds a Parquet file in clear: a home built before the
    build encrypted its tables (docs/spark.md, "At rest"), which the crypto factory would refuse in
    the middle of a build with parquet-java's "Applying decryptor on plaintext file"."""
    for path in sorted(warehouse.rglob("*.parquet")) if warehouse.is_dir() else []:
        with path.open("rb") as handle:
            if handle.read(4) == b"PAR1":
                raise ConfigError(
                    f"{path}: a table of the Spark build in clear (built before its tables were "
                    f"encrypted). Delete {warehouse} and {warehouse.parent / 'metastore_db'}, then build "
                    "again: the next build is a full one, encrypted."
                )


def spark_environment(env: dict[str, str]) -> dict[str, str]:
    """dbt's environment for `--target spark`: the Spark home (metastore, tables), the jars (the KMS
    client's, built when out of date, Delta Lake's, and for an s3:// lake Hadoop's S3 connector with its
    endpoint settings), the lake as Hadoop names it, and the file of lake views, written here."""
    home = Path(env.get("LAKEHOUSE_SPARK_HOME") or settings.home() / "spark").absolute()
    home.mkdir(parents=True, exist_ok=True)
    # Spark's temporary files go there (profiles.yml: java.io.tmpdir, spark.local.dir), owner only.
    for folder in ("tmp", "local"):
        (home / folder).mkdir(mode=0o700, exist_ok=True)
    refuse_tables_in_clear(home / "warehouse")
    lake = env["LAKEHOUSE_LAKE"]
    keystore = settings.keystore_path(env.get("LAKEHOUSE_KEYSTORE"))
    views = home / "lake_views.jsonl"
    views.write_text(
        # Numbered (Spark reads them back in that order), every field on every line (Spark infers the
        # columns from the lines).
        "".join(
            json.dumps({"n": n, **dict.fromkeys(_LINE_FIELDS), **line}) + "\n"
            for n, line in enumerate(spark_lake_views(lake, keystore))
        ),
        encoding="utf-8",
    )
    jars = [kms_client_jar(), *delta_jars()]
    s3a: dict[str, str] = {}
    if lake.startswith("s3://"):
        jars += s3a_jars()
        conf = spark_s3a_conf(S3Settings.from_env(env))
        s3a = {var: conf.get(name, "") for name, var in S3A_PROFILE_VARIABLES.items()}
    return {
        **env,
        **s3a,
        "LAKEHOUSE_DBT_TARGET": "spark",
        "LAKEHOUSE_SPARK_HOME": str(home),
        "LAKEHOUSE_SPARK_JARS": ",".join(str(jar) for jar in jars),
        "LAKEHOUSE_SPARK_LAKE": hadoop_lake_url(lake),
        "LAKEHOUSE_KEYSTORE": str(Path(keystore).absolute()),
        LAKE_VIEWS_ENV: str(views),
        # The Python that runs the linear attacker's script transform (ingest/disclosure/spark_repair.py).
        "LAKEHOUSE_SPARK_PYTHON": sys.executable,
    }
