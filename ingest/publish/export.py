"""Export the published epidemiology marts to a plaintext publication area, for epidemiologists.

What is published is decided by dbt, not here: every model whose config has
`meta.disclosure.published: true` (read from dbt's `manifest.json`). Those marts passed disclosure control
in the build (cell size, complementary suppression, doctor threshold); the export checks again, as a last
line of defence, every column by the disclosure role its mart's YAML declares (`config.meta.disclosure.role`,
read from the manifest, the same declaration the dbt tests are derived from): no count of acts, persons
or doctors between 1 and k-1, no rate or statistic beside a suppressed count it is built on, flags that
agree with the NULLs, and no column without a role. Then it plays the linear attacker: a reader solving
every published relation must pin no suppressed count (ingest/disclosure/attack.py; the build's audit
and repair, ingest/disclosure/repair.py, is what makes that hold). It refuses to write anything
otherwise, and prints the information loss (cells and counts suppressed).

Output, under `publication/` of the lake root (or the folder given with `--out`), deliberately NOT
encrypted (only suppressed aggregates leave the encrypted zones):

    publication/<mart>.parquet    the table, stable column names and types
    publication/<mart>.csv        the same, UTF-8, comma-separated, header, ISO dates, empty = suppressed
    publication/data_dictionary.json / .md    every mart and column with its type and description
    publication/_export.json      when, from which build, which marts and row counts (written last)

    lakehouse export [--out DIR] [--k 11]
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ingest import settings
from ingest.disclosure.attack import check_publication, information_loss, publication_report
from ingest.disclosure.certificate import read_certificates
from ingest.exceptions import LakehouseError
from ingest.lake.crypto import load_httpfs
from ingest.lake.keys import open_keystore
from ingest.lake.storage import ObjectStore, S3Settings, open_store

PUBLICATION_PREFIX = "publication"
DEFAULT_K = 11
COUNT_ROLES = frozenset({"count_of_acts", "count_of_persons", "count_of_doctors"})
# The only schema published (dbt_project.yml, models/marts): the manifest that flags the marts is a plain
# file of the target folder, and a node of cdm or staging flagged there would otherwise go out row by row.
PUBLISHED_SCHEMA = "epidemiology"
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ROLES = COUNT_ROLES | {"rate", "statistic", "flag", "duration", "model_output", "public", "dimension"}


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
    roles: dict[str, dict] = field(default_factory=dict)  # name -> its `meta.disclosure` declaration

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
        for part in ("database", "schema", "alias"):
            # Interpolated into SQL on a connection holding the warehouse key: manifest.json is a plain
            # file, and a quote in a name ran any statement (a COPY of cdm.person to a file in clear).
            value = node.get(part) or node["name"] if part == "alias" else node.get(part)
            if not isinstance(value, str) or not _PLAIN_NAME.fullmatch(value):
                raise ExportError(
                    f"Model `{node.get('name')}` of the manifest: its {part} is not a plain name "
                    "(letters, digits, _); nothing was published. Rebuild (dbt build) to regenerate it."
                )
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
                roles={name: column_role(column) for name, column in (node.get("columns") or {}).items()},
            )
        )
    return sorted(marts, key=lambda mart: mart.name)


def column_role(column: dict) -> dict:
    """A manifest column's `meta.disclosure` declaration (under `config.meta`, or `meta` as dbt copies it)."""
    meta = (column.get("config") or {}).get("meta") or column.get("meta") or {}
    return dict(meta.get("disclosure") or {})


def _refuse(mart: str, name: str, problem: str) -> ExportError:
    return ExportError(
        f"Mart `{mart}`: column `{name}` {problem}; nothing was published. Rebuild the marts (dbt build) "
        "and check their disclosure tests and the columns' declared disclosure roles."
    )


def check_cell_sizes(table: pa.Table, mart: str, k: int, roles: dict[str, dict]) -> None:
    """Refuse a table that breaks a column's declared disclosure role (names only in the error, never a
    value): a count of acts, persons or doctors between 1 and k-1 or negative, a rate or statistic
    published beside a suppressed count it is built on, a flag that disagrees with its count's NULL, a
    column without a role."""
    frame = table.to_pandas()
    for name in table.column_names:
        declared = roles.get(name) or {}
        role = declared.get("role")
        if role not in ROLES:
            raise _refuse(mart, name, "has no known disclosure role (`config.meta.disclosure.role`)")
        column = frame[name]
        if role in COUNT_ROLES:
            values = column.dropna()
            small = int(((values >= 1) & (values < k)).sum())
            if small:
                raise _refuse(mart, name, f"has {small} value(s) between 1 and {k - 1}")
            if int((values < 0).sum()):
                raise _refuse(mart, name, "has negative value(s)")
            continue
        sources = []
        if role == "rate":
            sources = [declared.get("numerator"), declared.get("denominator")]
        elif role == "statistic":
            sources = list(declared.get("of") or [])
        elif role == "flag":
            count = declared.get("count")
            if count in frame and int((frame[count].isna() != column.fillna(False).astype(bool)).sum()):
                raise _refuse(mart, name, f"disagrees with the NULLs of `{count}`")
        for source in sources:
            if (roles.get(source) or {}).get("role") in COUNT_ROLES and source in frame:
                leaked = int((column.notna() & frame[source].isna()).sum())
                if leaked:
                    raise _refuse(mart, name, f"has {leaked} value(s) beside a suppressed `{source}`")


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
    k: int = DEFAULT_K, full: bool = False,
) -> dict:  # fmt: skip
    """Read and check every published mart, then write Parquet, CSV and the dictionary; returns a summary."""
    marts = published_marts(manifest)
    if not marts:
        raise ExportError("The manifest flags no model as published (`meta.disclosure.published: true`).")
    tables: dict[str, pa.Table] = {}
    for mart in marts:
        if mart.schema != PUBLISHED_SCHEMA or mart.database != "warehouse":
            raise ExportError(
                f"Mart `{mart.name}` is flagged published in the manifest but lives in schema "
                f"`{mart.schema}` of `{mart.database}`, not `{PUBLISHED_SCHEMA}`: nothing was published. "
                "Rebuild (dbt build) to regenerate the manifest."
            )
        try:
            table = con.sql(f"select * from {mart.relation} order by all").to_arrow_table()  # noqa: S608
        except duckdb.Error as error:
            raise ExportError(
                f"Mart `{mart.name}` cannot be read ({type(error).__name__}); run dbt build."
            ) from None
        check_cell_sizes(table, mart.name, k, mart.roles)
        tables[mart.name] = table
    # The linear attacker on what is about to be published (ingest/disclosure/attack.py): the build
    # certified each week it recomputed, so only the weeks whose published cells no certificate matches
    # are solved again (a mart built by an older engine or attacker, edited by hand, another k: refused
    # here), all of them with `full` (ingest/disclosure/certificate.py).
    attack = check_publication(tables, k, certificates=None if full else read_certificates(con))
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
        "weeks_audited_again": attack.weeks - attack.certified_weeks,
        "marts": {entry["name"]: entry["rows"] for entry in dictionary},
    }
    store.put(f"{prefix}/_export.json", json.dumps(summary, indent=2).encode())
    summary["disclosure_report"] = publication_report(attack, information_loss(con))
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
        from ingest.build.warehouse_lock import wrong_key_reason

        raise ExportError(wrong_key_reason(path, keystore)) from None
    return con


def export_publication(
    target: str | None = None,
    *,
    k: int = DEFAULT_K,
    manifest_path: Path | None = None,
    warehouse: Path | None = None,
    full: bool = False,
) -> tuple[str, dict]:
    """`export` on the marts dbt built: manifest, warehouse and lake root from settings unless given.
    Returns the publication root and the export's summary."""
    warehouse = warehouse or settings.warehouse_path()
    manifest_path = manifest_path or settings.dbt_target_dir(settings.dbt_project_dir()) / "manifest.json"
    if not manifest_path.is_file():
        raise ExportError(f"No dbt manifest at `{manifest_path}`: run dbt build first.")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    root = target or settings.lake_url()
    store = open_store(root, S3Settings.from_env() if str(root).startswith("s3://") else None)
    con = open_warehouse(warehouse)
    try:
        return root, export(manifest, con, store, k=k, full=full)
    finally:
        con.close()
