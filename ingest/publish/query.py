"""`lakehouse query`, the analyst's door to the warehouse: one read-only query, streamed, capped, audited.

The door must hold against the analyst's SQL itself, so it does not rely on the SQL being polite:
- the connection is locked once the warehouse is attached: no file system access (no COPY TO, no
  read_text of the key store, no read_csv, no ATTACH of another database), no extension install or
  load, and the configuration cannot be changed back (`lock_configuration`);
- exactly one statement, parsed by DuckDB's own parser, and it must be a query (SELECT, WITH, FROM,
  VALUES, DESCRIBE, SHOW...): a string of several statements never reaches `execute`;
- the result is read in record batches and stops at a row cap, so memory holds one batch, not the result;
- the audit entry (ingest.lake.audit) records the SHA-256 of the text, the tables the plan scans (through
  views, from DuckDB's own plan) and the rows actually handed to the analyst.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ingest import settings
from ingest.build.warehouse_lock import wrong_key_reason
from ingest.exceptions import LakehouseError
from ingest.lake import audit
from ingest.lake.crypto import load_httpfs
from ingest.lake.keys import KeyStore
from ingest.lake.storage import ObjectStore

__all__ = [
    "BATCH_ROWS",
    "DEFAULT_MAX_ROWS",
    "FileSink",
    "PreviewSink",
    "QueryFailed",
    "QueryRefused",
    "QueryResult",
    "lock",
    "open_locked_warehouse",
    "run_query",
    "single_query",
    "tables_read",
]

DEFAULT_MAX_ROWS = 1_000_000
# Rows per record batch: memory holds about one batch whatever the size of the result.
BATCH_ROWS = 65_536
# Refused at connect time (startup-only options); the rest is set, then locked, after the ATTACH.
_CONNECT_CONFIG = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
}


class QueryRefused(LakehouseError):
    """The SQL is not exactly one read-only query."""

    exit_code = 1


class QueryFailed(LakehouseError):
    exit_code = 1


def lock(con: duckdb.DuckDBPyConnection) -> None:
    """From here on the connection reads what is already attached and nothing else, for good."""
    # EXPLAIN then shows the bound (unoptimised) plan too: the optimiser may answer `count(*)` from
    # metadata, and the physical plan alone would not name the table the query read.
    con.execute("SET explain_output = 'all'")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def open_locked_warehouse(path: Path, keystore: KeyStore) -> duckdb.DuckDBPyConnection:
    """The encrypted warehouse, attached read-only with its key as `warehouse` (the default catalog),
    then locked: the key was needed once, by the ATTACH, before the analyst's SQL runs."""
    if not path.is_file():
        raise QueryFailed(f"No warehouse at `{path}`: run `lakehouse build` first.")
    con = duckdb.connect(config=_CONNECT_CONFIG)
    try:
        # DuckDB 1.5.5 decrypts the database file with httpfs's OpenSSL (docs/security.md).
        load_httpfs(con)
        # Bounded: DuckDB keeps the warehouse blocks it read cached up to memory_limit (80 % of RAM by
        # default); past the limit it spills, encrypted, beside the warehouse (in-memory connections
        # otherwise spill in clear to `.tmp/` of the working directory).
        con.execute(f"SET memory_limit = '{_sql_literal(memory_limit())}'")
        con.execute(f"SET temp_directory = '{_sql_literal(f'{path}.query-{os.getpid()}.tmp')}'")
        con.execute("SET temp_file_encryption = true")
        # DuckDB's own progress bar would write into the command's output (and a --out file's pipe).
        con.execute("SET enable_progress_bar = false")
        key = keystore.warehouse_db_key()
        attach = f"ATTACH '{_sql_literal(str(path))}' AS warehouse (ENCRYPTION_KEY '{key}', READ_ONLY)"
        try:
            con.execute(attach)
        except duckdb.Error as error:
            if "wrong encryption key" not in str(error).lower():
                raise
            raise QueryFailed(wrong_key_reason(path, keystore)) from None
        con.execute("USE warehouse")
        lock(con)
    except BaseException:
        con.close()
        raise
    return con


def memory_limit() -> str:
    return settings.query_memory_limit()


def _sql_literal(text: str) -> str:
    return text.replace("'", "''")


def single_query(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    """The one statement of `sql` if it is a query; QueryRefused saying why otherwise."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"not valid SQL: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1:
        raise QueryRefused(f"exactly one statement is accepted, got {len(statements)}")
    (statement,) = statements
    if statement.type != duckdb.StatementType.SELECT or statement.expected_result_type != [
        duckdb.ExpectedResultType.QUERY_RESULT
    ]:
        raise QueryRefused(f"only a query (SELECT ...) is accepted, not {statement.type.name}")
    return statement


def tables_read(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> list[str]:
    """catalog.schema.table of every table the query's plans scan, views expanded (on a connection
    set up by `lock`, the bound plan's too)."""
    rows = con.execute(f"EXPLAIN (FORMAT json) {statement.query}").fetchall()
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            info = node.get("extra_info")
            if isinstance(info, dict) and isinstance(info.get("Table"), str):
                found.add(info["Table"])
            walk(node.get("children", []))

    for _, plan in rows:
        walk(json.loads(plan))
    return sorted(found)


class Sink(Protocol):
    def write(self, batch: pa.RecordBatch) -> None: ...

    def close(self) -> None: ...


class FileSink:
    """Streams batches to a .parquet file, else CSV; the file has the columns even with no rows."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self._writer: pq.ParquetWriter | pacsv.CSVWriter = (
            pq.ParquetWriter(path, schema) if path.suffix == ".parquet" else pacsv.CSVWriter(path, schema)
        )

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)

    def close(self) -> None:
        self._writer.close()


@dataclass
class PreviewSink:
    """Keeps the first `limit` rows to show; the others are counted by the caller, not kept."""

    schema: pa.Schema
    limit: int = 50
    batches: list[pa.RecordBatch] = field(default_factory=list)
    kept: int = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if self.kept < self.limit:
            part = batch.slice(0, self.limit - self.kept)
            self.batches.append(part)
            self.kept += part.num_rows

    def close(self) -> None:
        pass

    def table(self) -> pa.Table:
        return pa.Table.from_batches(self.batches, schema=self.schema)


@dataclass(frozen=True)
class QueryResult:
    rows: int  # rows handed to the sink
    truncated: bool  # the result had more rows than max_rows
    tables: list[str]


def run_query(
    store: ObjectStore,
    keystore: KeyStore,
    con: duckdb.DuckDBPyConnection,
    sql: str,
    sink_for: Callable[[pa.Schema], Sink],
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> QueryResult:
    """Run one query on a locked connection, stream at most `max_rows` rows to `sink_for(schema)`, and
    log it (refused, failed, interrupted or not) with the rows actually delivered."""
    started = time.monotonic()
    digest = hashlib.sha256(sql.encode("utf-8")).hexdigest()
    log: dict[str, Any] = {"sql_sha256": digest, "tables": [], "rows": None, "max_rows": max_rows}

    def record(outcome: audit.Outcome, **extra: Any) -> None:
        data = {**log, **extra, "seconds": round(time.monotonic() - started, 3)}
        audit.record(store, keystore, "query", data, outcome=outcome)

    try:
        statement = single_query(con, sql)
    except QueryRefused:
        record("refused", error="QueryRefused")
        raise
    delivered, truncated = 0, False
    try:
        # Names only (the audit refuses free text); dbt's relation names always pass.
        try:
            log["tables"] = [t for t in tables_read(con, statement) if audit.is_safe_name(t)]
        except duckdb.Error as explain_error:
            # The query itself fails the same way; its own message names the analyst's SQL, not an
            # EXPLAIN they never wrote. Should it run after all, nothing unaudited is returned.
            con.execute(statement)
            raise explain_error

        reader = con.execute(statement).to_arrow_reader(BATCH_ROWS)
        sink = sink_for(reader.schema)
        try:
            for batch in reader:
                room = max_rows - delivered
                if batch.num_rows > room:
                    if room:
                        sink.write(batch.slice(0, room))
                    delivered, truncated = max_rows, True
                    break
                sink.write(batch)
                delivered += batch.num_rows
        finally:
            sink.close()
            reader.close()
    except BaseException as exc:
        # Interrupted or failed mid-stream: what already reached the analyst is still logged.
        record("failure", rows=delivered, error=type(exc).__name__)
        if isinstance(exc, duckdb.Error):
            raise QueryFailed(f"the query failed (logged): {exc}") from exc
        raise
    record("success", rows=delivered, truncated=truncated)
    return QueryResult(delivered, truncated, log["tables"])
