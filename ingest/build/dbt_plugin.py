"""dbt-duckdb plugin: opens the encrypted warehouse and exposes the encrypted landing zone to dbt.

Declared in `profiles.yml` (`plugins: [{module: ingest.build.dbt_plugin, alias: lakehouse}]`). When dbt-duckdb
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
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.flags import get_flags

from ingest import settings
from ingest.exceptions import ConfigError, KeyStoreError, StorageError
from ingest.lake import manifest_index
from ingest.lake.crypto import configure_duckdb_s3, duckdb_read_sql, load_httpfs, sql_string
from ingest.lake.keys import DataKey, DataKeyring, KeyStore, open_keystore, register_duckdb_keys
from ingest.lake.keystore_binding import check_keystore
from ingest.lake.landed_schema import LANDED_SCHEMAS
from ingest.lake.manifest import Output
from ingest.lake.manifest_seal import check_objects
from ingest.lake.storage import ObjectStore, S3Settings, open_store

log = logging.getLogger(__name__)

LAKE_CATALOG = "memory"
LAKE_SCHEMA = "lake"
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


def _duckdb_types(schema: pa.Schema) -> list[tuple[str, str]]:
    """(column, DuckDB type) of an Arrow schema as DuckDB reads it from a landed Parquet file: an empty
    view must have exactly the types of the files (second timestamps come back as TIMESTAMP, not
    TIMESTAMP_S), or an incremental table created from it would change types once files arrive."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "empty.parquet"
        pq.write_table(schema.empty_table(), path)
        scratch = duckdb.connect()
        try:
            rows = scratch.execute("describe select * from read_parquet(?)", [str(path)]).fetchall()
        finally:
            scratch.close()
    return [(row[0], row[1]) for row in rows]


def empty_select(schema: pa.Schema) -> str:
    """A typed, row-less select with the landed schema (a dataset nothing was landed for yet)."""
    columns = ", ".join(f"cast(null as {dtype}) as {name}" for name, dtype in _duckdb_types(schema))
    return f"select {columns}, cast(null as varchar) as _lake_file where false"


# S608 below: the SQL is assembled from a closed list of dataset names, key names validated by
# ingest.lake.keys, and paths quoted by duckdb_read_sql; no value comes from data.
LAKE_FILE_COLUMN = "_lake_file"


def lake_view_sql(dataset: str, files_by_key: dict[str, list[str]]) -> str:
    """The body of `memory.lake.<dataset>`: one read_parquet per data key (one footer key each) over
    exactly the files that committed manifests name, so a half-written or superseded file is never read.
    Each row carries the file it came from (`_lake_file`): incremental loads and purges are per file."""
    schema = LANDED_SCHEMAS[dataset]
    if not files_by_key:
        return empty_select(schema)
    reads = [
        f"select * exclude (filename), filename as {LAKE_FILE_COLUMN} "  # noqa: S608
        f"from {duckdb_read_sql(uris, key_name, filename=True)}"
        for key_name, uris in sorted(files_by_key.items())
    ]
    return "\n    union all by name\n    ".join(reads)


def committed_raw_files(
    store: ObjectStore,
    keys: dict[str, DataKey],
    cache: Path | None = None,
    *,
    keystore: KeyStore,
    sealed: dict[str, Output] | None = None,
) -> dict[str, dict[str, list[str]]]:
    """{dataset: {DuckDB key name: [file URIs]}}: the raw-zone files committed manifests name, grouped by
    the key that encrypts them (what the lake views read; the benchmark's decrypt-and-scan floor too).
    With `cache`, only the manifests new or rewritten since the last call are read
    (ingest/lake/manifest_index.py); each is authenticated. `sealed` receives {URI: output with its
    digest}, for the check before a file is loaded."""
    files: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    index = manifest_index.committed_raw_files(store, cache, keystore=keystore)
    for raw in index.files:
        if raw.dataset not in LANDED_SCHEMAS:
            continue
        key = keys.get(raw.key_id)
        if key is None:
            raise KeyStoreError(
                f"`{raw.path}` is encrypted with data key `{raw.key_id}`, which the lake at "
                f"`{store.url}` does not hold: the lake is incomplete"
            )
        files[raw.dataset][key.duckdb_name].append(store.uri(raw.path))
        if sealed is not None:
            sealed[store.uri(raw.path)] = Output("raw", raw.path, 0, raw.key_id, raw.sha256)
    log.info("Lake: %d manifests, %d read (the others from the cache)", index.manifests, index.read)
    return files


class Plugin(BasePlugin):
    """Profile settings, all optional (a setting wins over its environment variable):

    lake             lake root, a folder or s3://bucket/prefix (LAKEHOUSE_LAKE, default: see ingest.settings)
    keystore         key store path (LAKEHOUSE_KEYSTORE, default: see ingest.settings)
    warehouse_path   encrypted DuckDB file (LAKEHOUSE_WAREHOUSE, default: see ingest.settings)
    warehouse_alias  catalog dbt builds into (default warehouse)
    """

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        project = settings.dbt_project_dir()
        lake = plugin_config.get("lake") or settings.lake_url()
        if "://" not in lake and not Path(lake).is_absolute():
            lake = str(project / lake)
        self.lake_url: str = lake
        self.keystore_path = str(settings.keystore_path(plugin_config.get("keystore")))
        warehouse = plugin_config.get("warehouse_path") or str(settings.warehouse_path())
        if not Path(warehouse).is_absolute():
            warehouse = str(project / warehouse)
        self.warehouse_path: str = warehouse
        self.warehouse_alias: str = plugin_config.get("warehouse_alias") or "warehouse"
        if not _IDENTIFIER.match(self.warehouse_alias):
            raise ValueError(f"warehouse_alias `{self.warehouse_alias}` must match {_IDENTIFIER.pattern}")

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        # Spill files next to the warehouse (not in the working directory), and ENCRYPTED: DuckDB 1.5.5
        # writes them in plaintext by default even when the database is encrypted (checked: rows of a
        # sort that spilled were readable in the .tmp files; with this setting they were not). Set here,
        # once, before anything can spill: see profiles.yml.
        conn.execute(f"set temp_directory = {sql_string(self.warehouse_path + '.tmp')}")
        conn.execute("set temp_file_encryption = true")
        load_httpfs(conn)
        keystore = open_keystore(self.keystore_path)
        # The lake is read before the warehouse is attached: when it cannot be reached, the error that
        # reaches the analyst must be that one, not DuckDB's complaint about a warehouse attached twice
        # when dbt retries the connection.
        s3 = S3Settings.from_env() if self.lake_url.startswith("s3://") else None
        try:
            store = open_store(self.lake_url, s3)
            # A `dbt build` run by hand with another key store stops here, before the warehouse is opened.
            check_keystore(store, keystore)
            keys = {key.key_id: key for key in DataKeyring(store, keystore).all(zone="raw")}
            cache = Path(self.warehouse_path + ".manifests.parquet")
            sealed: dict[str, Output] = {}
            files = committed_raw_files(store, keys, cache, keystore=keystore, sealed=sealed)
        except StorageError as e:
            endpoint = s3.endpoint_label if s3 is not None else "local folder"
            raise ConfigError(
                f"Cannot reach the lake `{self.lake_url}` ({endpoint}): {e}. Check LAKEHOUSE_LAKE, "
                "LAKEHOUSE_S3_ENDPOINT, the network, and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."
            ) from e
        self._attach_warehouse(conn, keystore.warehouse_db_key())
        try:
            to_load = self._create_lake_views(conn, s3, keys, files)
            # Before dbt decrypts a byte of them: the files this build loads must be those their sealed
            # manifests name (docs/security.md, "Sealed manifests"; the files loaded earlier are not
            # read again by a daily build, a full refresh reads and checks them all).
            began = time.perf_counter()
            check_objects(store, [sealed[uri] for uri in to_load])
            log.info(
                "Lake: %d files checked against their sealed digests in %.3f s",
                len(to_load),
                time.perf_counter() - began,
            )
        except Exception:
            # dbt retries a failed connection: left attached, the warehouse would turn this error into
            # "Unique file handle conflict ... being detached" on the retry, hiding the real cause.
            conn.execute(f"detach {self.warehouse_alias}")
            raise

    def _create_lake_views(
        self,
        conn: duckdb.DuckDBPyConnection,
        s3: S3Settings | None,
        keys: dict[str, DataKey],
        files: dict[str, dict[str, list[str]]],
    ) -> list[str]:
        """Creates the views; returns the URIs of the files the build will decrypt."""
        if s3 is not None:
            configure_duckdb_s3(conn, s3)
        register_duckdb_keys(conn, keys.values())

        conn.execute(f"create schema if not exists {LAKE_CATALOG}.{LAKE_SCHEMA}")
        to_load: list[str] = []
        for dataset in sorted(LANDED_SCHEMAS):
            lake = f"{LAKE_CATALOG}.{LAKE_SCHEMA}.{dataset}"
            conn.execute(f"create or replace view {lake} as {lake_view_sql(dataset, files[dataset])}")
            # For the incremental base models: the files already decrypted into the warehouse are not
            # read again (a daily load reads one day), and rows of files no longer committed (purged, or
            # superseded by a rewrite) are deleted by the model's pre-hook.
            loaded = self._loaded_files(conn, dataset)
            unloaded = {k: [u for u in uris if u not in loaded] for k, uris in files[dataset].items()}
            body = lake_view_sql(dataset, {k: v for k, v in unloaded.items() if v})
            conn.execute(f"create or replace view {lake}__unloaded as {body}")
            uris = [u for per_key in files[dataset].values() for u in per_key]
            new_uris = [u for per_key in unloaded.values() for u in per_key]
            to_load += uris if getattr(get_flags(), "FULL_REFRESH", False) else new_uris
            # The loaded files no longer committed: the base model's pre-hook deletes their rows, and does
            # not scan the table for them when there are none (the usual day).
            removed = sorted(loaded.difference(uris))
            # The committed files, and those this build decrypts (base_lake__file_loads records them).
            for suffix, listed in (
                ("committed_files", uris),
                ("unloaded_files", new_uris),
                ("removed_files", removed),
            ):
                conn.register("files_arrow", pa.table({LAKE_FILE_COLUMN: pa.array(listed, pa.string())}))
                conn.execute(f"create or replace table {lake}__{suffix} as select * from files_arrow")  # noqa: S608
                conn.unregister("files_arrow")
        log.info("lake views ready: %d datasets, %d data keys", len(LANDED_SCHEMAS), len(keys))
        return to_load

    def _loaded_files(self, conn: duckdb.DuckDBPyConnection, dataset: str) -> set[str]:
        table = f"base_lake__{dataset}"
        columns = {
            row[0]
            for row in conn.execute(
                "select column_name from duckdb_columns() "
                "where database_name = ? and schema_name = 'staging' and table_name = ?",
                [self.warehouse_alias, table],
            ).fetchall()
        }
        if not columns:
            return set()
        if LAKE_FILE_COLUMN not in columns:
            if getattr(get_flags(), "FULL_REFRESH", False):
                return set()  # rebuilt from scratch: what was loaded does not matter
            raise ConfigError(
                f"The warehouse `{self.warehouse_path}` was built by an earlier version (its `{table}` has "
                "no file lineage): rebuild it once with `lakehouse build --full-refresh`."
            )
        # The act-keyed base tables' files are in build_state.base_lake__file_loads (recorded when loaded,
        # deleted when removed): a lookup in a table of one row per file, where the base table would be
        # scanned whole, every row's file, on every build (a cost that grows with history).
        recorded = self._recorded_file_loads(conn, dataset)
        if recorded:
            return recorded
        rows = conn.execute(
            f"select distinct {LAKE_FILE_COLUMN} from {self.warehouse_alias}.staging.{table}"  # noqa: S608
        ).fetchall()
        return {r[0] for r in rows}

    def _recorded_file_loads(self, conn: duckdb.DuckDBPyConnection, dataset: str) -> set[str]:
        """The files base_lake__file_loads records for `dataset`; empty for a dataset it does not record
        (the small base tables of doctors and care sites) or a warehouse without it."""
        exists = conn.execute(
            "select count(*) from duckdb_tables() where database_name = ? and schema_name = 'build_state' "
            "and table_name = 'base_lake__file_loads'",
            [self.warehouse_alias],
        ).fetchone()
        if not exists or not exists[0]:
            return set()
        loads = f"{self.warehouse_alias}.build_state.base_lake__file_loads"
        rows = conn.execute(
            f"select distinct {LAKE_FILE_COLUMN} from {loads} where dataset = ?",  # noqa: S608
            [dataset],
        ).fetchall()
        return {r[0] for r in rows}

    def _attach_warehouse(self, conn: duckdb.DuckDBPyConnection, db_key: str) -> None:
        Path(self.warehouse_path).parent.mkdir(parents=True, exist_ok=True)
        # Attached before dbt-duckdb's own `attach:` list, whose entry for this alias then does nothing:
        # the key stays out of profiles.yml. DuckDB refuses to open an encrypted file with a wrong key.
        conn.execute(
            f"attach if not exists {sql_string(self.warehouse_path)} as {self.warehouse_alias} "
            f"(encryption_key {sql_string(db_key)})"
        )
