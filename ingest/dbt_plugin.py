"""dbt-duckdb plugin: opens the encrypted warehouse and exposes the encrypted landing zone to dbt.

Declared in `profiles.yml` (`plugins: [{module: ingest.dbt_plugin, alias: lakehouse}]`). When dbt-duckdb
opens its DuckDB instance, `configure_connection` runs before the profile's `attach:` list, and:

1. loads httpfs from the installed wheel (encrypted database files, fast Parquet decryption, native S3);
2. attaches the warehouse file with the key from the key store, so the profile's own `attach:` entry for
   the same alias is a no-op and no key is ever written in `profiles.yml`;
3. registers every raw-zone data key with `PRAGMA add_parquet_key` (instance-wide: all dbt threads);
4. creates one view per landed dataset in the in-memory catalog (`memory.lake.<dataset>`): a union of
   one `read_parquet` per data key (month and key generation) over exactly the files that committed
   manifests name (a half-written or superseded file is never read).

The views live in the `memory` database: they vanish with the process, are shared by every cursor of the
instance (dbt threads), and hold SQL text with key *names* only. Only the `base_lake__*` models read them,
with plain full scans (duckdb 1.5.5 fails on encrypted Parquet when a filter is pushed into the scan), into
tables of the encrypted warehouse: no key in a SQL file or compiled SQL, no plaintext copy on disk.
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

from ingest.crypto import configure_duckdb_s3, duckdb_read_sql, load_httpfs
from ingest.exceptions import ConfigError, KeyStoreError, StorageError
from ingest.keys import DataKey, DataKeyring, open_keystore, register_duckdb_keys
from ingest.landed_schema import LANDED_SCHEMAS
from ingest.manifest import all_manifests
from ingest.storage import ObjectStore, S3Settings, open_store

log = logging.getLogger(__name__)

LAKE_CATALOG = "memory"
LAKE_SCHEMA = "lake"
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


# S608 below: the SQL is assembled from a closed list of dataset names, key names validated by
# ingest.keys, and paths quoted by duckdb_read_sql; no value comes from data.
def lake_view_sql(dataset: str, files_by_key: dict[str, list[str]]) -> str:
    """The body of `memory.lake.<dataset>`: one read_parquet per data key (one footer key each) over
    exactly the files that committed manifests name, so a half-written or superseded file is never read."""
    schema = LANDED_SCHEMAS[dataset]
    if not files_by_key:
        return empty_select(schema)
    reads = [
        f"select * from {duckdb_read_sql(uris, key_name)}"  # noqa: S608
        for key_name, uris in sorted(files_by_key.items())
    ]
    return "\n    union all by name\n    ".join(reads)


def committed_raw_files(store: ObjectStore, keys: dict[str, DataKey]) -> dict[str, dict[str, list[str]]]:
    """{dataset: {DuckDB key name: [file URIs]}}: the raw-zone files committed manifests name, grouped by
    the key that encrypts them (what the lake views read; the benchmark's decrypt-and-scan floor too)."""
    files: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for manifest in all_manifests(store):
        if manifest.status != "committed" or manifest.dataset not in LANDED_SCHEMAS:
            continue
        for output in manifest.outputs:
            if output.zone != "raw":
                continue
            key = keys.get(output.key_id)
            if key is None:
                raise KeyStoreError(
                    f"`{output.path}` is encrypted with data key `{output.key_id}`, which the lake at "
                    f"`{store.url}` does not hold: the lake is incomplete"
                )
            files[manifest.dataset][key.duckdb_name].append(store.uri(output.path))
    return files


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
        keystore = open_keystore(self.keystore_path)
        # The lake is read before the warehouse is attached: when it cannot be reached, the error that
        # reaches the analyst must be that one, not DuckDB's complaint about a warehouse attached twice
        # when dbt retries the connection.
        s3 = S3Settings.from_env() if self.lake_url.startswith("s3://") else None
        try:
            store = open_store(self.lake_url, s3)
            keys = {key.key_id: key for key in DataKeyring(store, keystore).all(zone="raw")}
            files = committed_raw_files(store, keys)
        except StorageError as e:
            endpoint = s3.endpoint_label if s3 is not None else "local folder"
            raise ConfigError(
                f"Cannot reach the lake `{self.lake_url}` ({endpoint}): {e}. Check LAKEHOUSE_LAKE, "
                "LAKEHOUSE_S3_ENDPOINT, the network, and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."
            ) from e
        self._attach_warehouse(conn, keystore.warehouse_db_key())
        if s3 is not None:
            configure_duckdb_s3(conn, s3)
        register_duckdb_keys(conn, keys.values())

        conn.execute(f"create schema if not exists {LAKE_CATALOG}.{LAKE_SCHEMA}")
        for dataset in sorted(LANDED_SCHEMAS):
            body = lake_view_sql(dataset, files[dataset])
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
