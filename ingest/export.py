"""Export the published epidemiology marts to a plaintext publication area, for epidemiologists.

What is published is decided by dbt, not here: every model whose config has
`meta.disclosure.published: true` (read from dbt's `manifest.json`). Those marts passed disclosure control
in the build (cell size, complementary suppression, doctor threshold); the export checks again, as a last
line of defence, that no `*_count` column holds a value between 1 and k-1, and refuses to write
anything otherwise.

Output, under `publication/` of the lake root (or the folder given with `--out`), deliberately NOT
encrypted (only suppressed aggregates leave the encrypted zones):

    publication/<mart>.parquet    the table, stable column names and types
    publication/<mart>.csv        the same, UTF-8, comma-separated, header, ISO dates, empty = suppressed
    publication/data_dictionary.json / .md    every mart and column with its type and description
    publication/_export.json      when, from which build, which marts and row counts (written last)

    python -m ingest.export [--manifest $DBT_TARGET_PATH/manifest.json] [--out DIR] [--k 11]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ingest import settings
from ingest.crypto import load_httpfs
from ingest.exceptions import LakehouseError
from ingest.keys import open_keystore
from ingest.storage import ObjectStore, S3Settings, open_store

PUBLICATION_PREFIX = "publication"
DEFAULT_K = 11


class ExportError(LakehouseError):
    """The export cannot run or refused to publish: names the mart and column, never a value."""


@dataclass(frozen=True)
class PublishedMart:
    """One mart to publish, as dbt described it."""

    name: str
    database: str
    schema: str
    alias: str
    description: str
    columns: dict[str, str] = field(default_factory=dict)  # name -> description

    @property
    def relation(self) -> str:
        return f'"{self.database}"."{self.schema}"."{self.alias}"'


def published_marts(manifest: dict) -> list[PublishedMart]:
    """The models flagged `meta.disclosure.published: true`, sorted by name."""
    marts = []
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "model":
            continue
        disclosure = ((node.get("config") or {}).get("meta") or {}).get("disclosure") or {}
        if disclosure.get("published") is not True:
            continue
        marts.append(
            PublishedMart(
                name=node["name"],
                database=node["database"],
                schema=node["schema"],
                alias=node.get("alias") or node["name"],
                description=" ".join((node.get("description") or "").split()),
                columns={
                    name: " ".join((column.get("description") or "").split())
                    for name, column in (node.get("columns") or {}).items()
                },
            )
        )
    return sorted(marts, key=lambda mart: mart.name)


def check_cell_sizes(table: pa.Table, mart: str, k: int) -> None:
    """Refuse a table where a `*_count` column holds a value between 1 and k-1 (names only in the error)."""
    for name in table.column_names:
        if not name.endswith("_count") or not pa.types.is_integer(table.schema.field(name).type):
            continue
        column = table.column(name).to_pandas()
        small = int(((column >= 1) & (column < k)).sum())
        if small:
            raise ExportError(
                f"Mart `{mart}`: column `{name}` has {small} value(s) between 1 and {k - 1}; nothing was "
                "published. Rebuild the marts (dbt build) and check their disclosure tests."
            )


def _dictionary_markdown(entries: list[dict]) -> str:
    lines = [
        "# Data dictionary of the published epidemiology marts",
        "",
        "Empty (NULL) counts are suppressed by disclosure control; see docs/epidemiology.md.",
        "",
    ]
    for entry in entries:
        lines += [f"## {entry['name']}", "", entry["description"], "", "| column | type | description |"]
        lines.append("|---|---|---|")
        for column in entry["columns"]:
            description = column["description"].replace("|", "\\|")
            lines.append(f"| {column['name']} | {column['type']} | {description} |")
        lines.append("")
    return "\n".join(lines)


def export(
    manifest: dict, con: duckdb.DuckDBPyConnection, store: ObjectStore, prefix: str = PUBLICATION_PREFIX,
    k: int = DEFAULT_K,
) -> dict:  # fmt: skip
    """Read and check every published mart, then write Parquet, CSV and the dictionary; returns a summary."""
    marts = published_marts(manifest)
    if not marts:
        raise ExportError("The manifest flags no model as published (`meta.disclosure.published: true`).")
    tables: dict[str, pa.Table] = {}
    for mart in marts:
        try:
            table = con.sql(f"select * from {mart.relation} order by all").to_arrow_table()  # noqa: S608
        except duckdb.Error as error:
            raise ExportError(
                f"Mart `{mart.name}` cannot be read ({type(error).__name__}); run dbt build."
            ) from None
        check_cell_sizes(table, mart.name, k)
        tables[mart.name] = table
    # Everything was checked before the first write: a refusal leaves the previous publication intact.
    dictionary = []
    for mart in marts:
        table = tables[mart.name]
        parquet = io.BytesIO()
        pq.write_table(table, parquet, compression="zstd")
        store.put(f"{prefix}/{mart.name}.parquet", parquet.getvalue())
        csv = io.BytesIO()
        pa_csv.write_csv(table, csv)
        store.put(f"{prefix}/{mart.name}.csv", csv.getvalue())
        dictionary.append(
            {
                "name": mart.name,
                "description": mart.description,
                "rows": table.num_rows,
                "columns": [
                    {"name": f.name, "type": str(f.type), "description": mart.columns.get(f.name, "")}
                    for f in table.schema
                ],
            }
        )
    store.put(f"{prefix}/data_dictionary.json", json.dumps(dictionary, indent=2, ensure_ascii=False).encode())
    store.put(f"{prefix}/data_dictionary.md", _dictionary_markdown(dictionary).encode())
    summary = {
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dbt_invocation_id": (manifest.get("metadata") or {}).get("invocation_id"),
        "disclosure_k": k,
        "marts": {entry["name"]: entry["rows"] for entry in dictionary},
    }
    store.put(f"{prefix}/_export.json", json.dumps(summary, indent=2).encode())
    return summary


def open_warehouse(path: Path, keystore_path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """The encrypted warehouse, read-only, attached as `warehouse` (its key from the key store)."""
    if not path.is_file():
        raise ExportError(f"No warehouse at `{path}`: run the dbt build first.")
    con = duckdb.connect()
    load_httpfs(con)
    keystore = open_keystore(keystore_path)
    try:
        con.execute(
            f"attach '{path}' as warehouse (encryption_key '{keystore.warehouse_db_key()}', read_only)"
        )
    except duckdb.Error as error:
        con.close()
        if "wrong encryption key" not in str(error).lower():
            raise
        from ingest.warehouse_lock import wrong_key_reason

        raise ExportError(wrong_key_reason(path, keystore)) from None
    return con


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--manifest", type=Path, default=None, help="default: manifest.json of dbt's target path"
    )
    parser.add_argument("--warehouse", type=Path, default=None, help="default: LAKEHOUSE_WAREHOUSE")
    parser.add_argument("--out", default=None, help="folder or s3:// root; default: the lake root")
    parser.add_argument("--k", type=int, default=DEFAULT_K, help="disclosure threshold (var disclosure_k)")
    args = parser.parse_args(argv)
    warehouse = args.warehouse or Path(
        os.environ.get("LAKEHOUSE_WAREHOUSE") or settings.home() / "warehouse.duckdb"
    )
    if args.manifest is None:
        from ingest.contract import PROJECT_ROOT

        args.manifest = settings.dbt_target_dir(PROJECT_ROOT) / "manifest.json"
    try:
        if not args.manifest.is_file():
            raise ExportError(f"No dbt manifest at `{args.manifest}`: run dbt build first.")
        manifest = json.loads(args.manifest.read_text(encoding="utf-8"))
        root = args.out or settings.lake_url()
        store = open_store(root, S3Settings.from_env() if str(root).startswith("s3://") else None)
        con = open_warehouse(warehouse)
        try:
            summary = export(manifest, con, store, k=args.k)
        finally:
            con.close()
    except LakehouseError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    for name, rows in summary["marts"].items():
        print(f"{name}: {rows} rows")
    print(f"Published to {root}/{PUBLICATION_PREFIX}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
