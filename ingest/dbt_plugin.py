"""dbt-duckdb plugin: opens the encrypted warehouse and exposes the encrypted landing zone to dbt.

Declared in `profiles.yml` (`plugins: [{module: ingest.dbt_plugin, alias: lakehouse}]`). When dbt-duckdb
opens its DuckDB instance, `configure_connection` runs before the profile's `attach:` list, and:

1. loads httpfs from the installed wheel (encrypted database files, fast Parquet decryption, native S3);
2. attaches the warehouse file with the key from the key store, so the profile's own `attach:` entry for
   the same alias is a no-op and no key is ever written in `profiles.yml`;
3. registers every raw-zone data key with `PRAGMA add_parquet_key` (instance-wide: all dbt threads);
4. creates one view per landed dataset in the in-memory catalog (`memory.lake.<dataset>`): a union of
   one `read_parquet` per month (one footer key each), restricted to committed batches.

The views live in the `memory` database: they vanish with the process, are shared by every cursor of the
instance (dbt threads), and hold SQL text with key *names* only. dbt sources select from them, so no key
appears in a SQL file or in compiled SQL, and no decrypted copy of the raw zone is written anywhere.
A dataset with no committed file gets an empty view with the landed schema, so `dbt build`, unit tests and
`sqlfluff` work on an empty lake.
"""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin

from ingest.crypto import configure_duckdb_s3, load_httpfs
from ingest.keys import DataKeyring, open_keystore, register_duckdb_keys
from ingest.landed_schema import LANDED_SCHEMAS
from ingest.storage import S3Settings, open_store

log = logging.getLogger(__name__)

LAKE_CATALOG = "memory"
LAKE_SCHEMA = "lake"
MANIFEST_GLOB = "manifests/*.json"
# raw/<dataset>/association_id=<A>/extract_date=<YYYY-MM-DD>/<batch_id>.parquet
_RAW_FILE = re.compile(
    r"^raw/(?P<dataset>[a-z_]+)/association_id=[^/]+/extract_date=(?P<month>\d{4}-\d{2})-\d{2}/[^/]+\.parquet$"
)
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _project_dir() -> Path:
    return Path(os.environ.get("DBT_PROJECT_DIR", Path(__file__).resolve().parent.parent))


def _duckdb_types(schema: pa.Schema) -> list[tuple[str, str]]:
    """(column, DuckDB type) for an Arrow schema, as DuckDB itself converts it."""
    scratch = duckdb.connect()
    try:
        scratch.register("empty_landed", schema.empty_table())
        rows = scratch.execute("describe select * from empty_landed").fetchall()
    finally:
        scratch.close()
    return [(row[0], row[1]) for row in rows]


def empty_select(schema: pa.Schema) -> str:
    """A typed, row-less select with the landed schema (a dataset nothing was landed for yet)."""
    columns = ", ".join(f"cast(null as {dtype}) as {name}" for name, dtype in _duckdb_types(schema))
    return f"select {columns} where false"


# S608 below: the SQL is assembled from a closed list of dataset names, validated month strings, and
# literals quoted by _sql_string; no value comes from data.
def lake_view_sql(dataset: str, root_uri: str, months: list[str], has_manifests: bool) -> str:
    """The body of `memory.lake.<dataset>`: one read_parquet per month (one footer key each)."""
    schema = LANDED_SCHEMAS[dataset]
    if not months or not has_manifests:
        return empty_select(schema)
    reads = []
    for month in sorted(months):
        pattern = f"{root_uri}/raw/{dataset}/association_id=*/extract_date={month}-*/*.parquet"
        key_name = f"raw__{dataset}__{month.replace('-', '_')}"
        # No union_by_name inside one read: with encrypted files, duckdb 1.5.5 then fails on multi-file
        # reads ("Attempted to dereference shared_ptr that is NULL!" or a wrong AES tag; measured).
        # Columns added by a later contract version are reconciled across months by `union all by name`.
        reads.append(
            f"select * from read_parquet({_sql_string(pattern)}, "  # noqa: S608
            f"encryption_config = {{footer_key: {_sql_string(key_name)}}}, hive_partitioning = false)"
        )
    union = "\n    union all by name\n    ".join(reads)
    # A batch is visible only once its manifest says committed (the manifest is written last).
    committed = (
        f"select batch_id from read_json({_sql_string(root_uri + '/' + MANIFEST_GLOB)}, "  # noqa: S608
        "columns = {batch_id: 'varchar', status: 'varchar', dataset: 'varchar'}, "
        "union_by_name = true) "
        f"where status = 'committed' and dataset = {_sql_string(dataset)}"
    )
    return f"select landed.* from (\n    {union}\n) as landed\nwhere landed._batch_id in ({committed})"  # noqa: S608


class Plugin(BasePlugin):
    """Profile settings, all optional (a setting wins over its environment variable):

    lake             lake root, a folder or s3://bucket/prefix (LAKEHOUSE_LAKE, default .lakehouse/lake)
    keystore         key store path (LAKEHOUSE_KEYSTORE, default: see ingest.keys)
    warehouse_path   encrypted DuckDB file (LAKEHOUSE_WAREHOUSE, default .lakehouse/warehouse.duckdb)
    warehouse_alias  catalog dbt builds into (default warehouse)
    """

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        project = _project_dir()
        lake = plugin_config.get("lake") or os.environ.get("LAKEHOUSE_LAKE") or ".lakehouse/lake"
        if "://" not in lake and not Path(lake).is_absolute():
            lake = str(project / lake)
        self.lake_url: str = lake
        self.keystore_path: str | None = plugin_config.get("keystore") or os.environ.get("LAKEHOUSE_KEYSTORE")
        warehouse = (
            plugin_config.get("warehouse_path")
            or os.environ.get("LAKEHOUSE_WAREHOUSE")
            or ".lakehouse/warehouse.duckdb"
        )
        if not Path(warehouse).is_absolute():
            warehouse = str(project / warehouse)
        self.warehouse_path: str = warehouse
        self.warehouse_alias: str = plugin_config.get("warehouse_alias") or "warehouse"
        if not _IDENTIFIER.match(self.warehouse_alias):
            raise ValueError(f"warehouse_alias `{self.warehouse_alias}` must match {_IDENTIFIER.pattern}")

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        load_httpfs(conn)
        # duckdb 1.5.5 fails with "Computed AES tag differs from read AES tag" whenever a filter is
        # pushed into a scan of a pyarrow-encrypted Parquet file (any column, any filter, also join
        # filters; plain scans work; measured with and without httpfs). Pushdown cannot be blocked per
        # view (dynamic join filters cross LIMIT/OFFSET), so it is off for the whole instance.
        conn.execute("set global disabled_optimizers = 'filter_pushdown'")
        keystore = open_keystore(self.keystore_path)
        self._attach_warehouse(conn, keystore.warehouse_db_key())

        s3 = S3Settings.from_env() if self.lake_url.startswith("s3://") else None
        store = open_store(self.lake_url, s3)
        if s3 is not None:
            configure_duckdb_s3(conn, s3)
        keys = DataKeyring(store, keystore).all(zone="raw")
        register_duckdb_keys(conn, keys)
        key_names = {key.duckdb_name for key in keys}

        months: dict[str, set[str]] = defaultdict(set)
        for path in store.list("raw/"):
            match = _RAW_FILE.match(path)
            if match and match["dataset"] in LANDED_SCHEMAS:
                months[match["dataset"]].add(match["month"])
        has_manifests = any(p.count("/") == 1 and p.endswith(".json") for p in store.list("manifests/"))

        root_uri = store.uri("").rstrip("/")
        conn.execute(f"create schema if not exists {LAKE_CATALOG}.{LAKE_SCHEMA}")
        for dataset in sorted(LANDED_SCHEMAS):
            for month in months[dataset]:
                key_name = f"raw__{dataset}__{month.replace('-', '_')}"
                if key_name not in key_names:
                    raise RuntimeError(
                        f"Landed files of `{dataset}` for {month} have no data key `raw/{dataset}/{month}` "
                        f"in the lake's key folder: the lake at `{self.lake_url}` is incomplete."
                    )
            body = lake_view_sql(dataset, root_uri, sorted(months[dataset]), has_manifests)
            conn.execute(f"create or replace view {LAKE_CATALOG}.{LAKE_SCHEMA}.{dataset} as {body}")
        log.info("lake views ready: %d datasets, %d data keys", len(LANDED_SCHEMAS), len(keys))

    def _attach_warehouse(self, conn: duckdb.DuckDBPyConnection, db_key: str) -> None:
        Path(self.warehouse_path).parent.mkdir(parents=True, exist_ok=True)
        # Attached before dbt-duckdb's own `attach:` list, whose entry for this alias then does nothing:
        # the key stays out of profiles.yml. DuckDB refuses to open an encrypted file with a wrong key.
        conn.execute(
            f"attach if not exists {_sql_string(self.warehouse_path)} as {self.warehouse_alias} "
            f"(encryption_key {_sql_string(db_key)})"
        )
