"""Record-level cohort extracts for a research project, under a protocol.

A protocol (a small YAML file) names the project, the columns the project may receive, the declared
quasi-identifiers and k:

    project_id: grippe-2024
    columns: [patient_pseudonym, patient_sex, patient_age_years, patient_department_code, icd10_code]
    quasi_identifiers: [patient_sex, patient_age_years, patient_department_code]
    k: 5

- Every `*_pseudonym` column leaves as a *project* pseudonym, HMAC-SHA256(project key, lake pseudonym):
  the project key comes from the key store and is proper to the project, so two projects' extracts
  cannot be linked to each other nor to the lake without the key store.
- Only the listed columns leave; lineage columns and act numbers (which point back to the source
  software) are refused outright.
- k-anonymity is checked on the quasi-identifiers before anything is written: every combination of
  their values must cover at least k distinct patients (k records when no patient column is listed).
  A failure names the number of violating classes, never their values.
- Every extract, written or refused, is logged in the audit trail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from ingest.exceptions import LakehouseError
from ingest.lake import audit
from ingest.lake.crypto import configure_duckdb_s3, connect_duckdb, duckdb_read_sql
from ingest.lake.keys import DataKeyring, KeyStore, register_duckdb_keys
from ingest.lake.landed_schema import LANDED_SCHEMAS
from ingest.lake.manifest_seal import verified_committed_files
from ingest.lake.storage import ObjectStore, S3ObjectStore
from ingest.records.pseudonymise import hmac_pseudonyms

__all__ = [
    "FORBIDDEN_COLUMNS",
    "ExtractRefused",
    "Protocol",
    "StudyExtract",
    "extract_from_query",
    "k_anonymity_violations",
    "load_protocol",
    "open_raw_zone",
    "write_extract",
]

# Columns that point back to a source record or file: never part of a research extract.
FORBIDDEN_COLUMNS = frozenset({"act_id", "_batch_id", "_source_file", "_source_line", "_ingested_at"})
_PROJECT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_COLUMN = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_PATIENT_COLUMN = "patient_pseudonym"


class ExtractRefused(LakehouseError):
    """The protocol or the data does not allow the extract (k-anonymity, forbidden column, ...)."""

    exit_code = 7


@dataclass(frozen=True)
class Protocol:
    project_id: str
    columns: tuple[str, ...]
    quasi_identifiers: tuple[str, ...]
    k: int
    source: str = "<protocol>"


def _protocol_error(source: str, field: str, why: str) -> ExtractRefused:
    return ExtractRefused(f"protocol `{source}`: field `{field}` {why}")


def parse_protocol(document: Any, source: str = "<protocol>") -> Protocol:
    if not isinstance(document, dict):
        raise ExtractRefused(f"protocol `{source}` is not a mapping")
    project = document.get("project_id")
    if not isinstance(project, str) or not _PROJECT_ID.fullmatch(project):
        raise _protocol_error(source, "project_id", f"must match {_PROJECT_ID.pattern}")
    lists: dict[str, tuple[str, ...]] = {}
    for name in ("columns", "quasi_identifiers"):
        value = document.get(name)
        if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
            raise _protocol_error(source, name, "must be a non-empty list of column names")
        bad = [c for c in value if not _COLUMN.fullmatch(c)]
        if bad:
            raise _protocol_error(source, name, f"has names that are not column names: {', '.join(bad)}")
        if len(set(value)) != len(value):
            raise _protocol_error(source, name, "lists a column twice")
        lists[name] = tuple(value)
    k = document.get("k")
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise _protocol_error(source, "k", "must be an integer of at least 2")
    forbidden = sorted(FORBIDDEN_COLUMNS & set(lists["columns"]))
    if forbidden:
        raise _protocol_error(source, "columns", f"lists columns never extracted: {', '.join(forbidden)}")
    outside = [c for c in lists["quasi_identifiers"] if c not in lists["columns"]]
    if outside:
        raise _protocol_error(
            source, "quasi_identifiers", f"names columns not extracted: {', '.join(outside)}"
        )
    pseudo = [c for c in lists["quasi_identifiers"] if c.endswith("_pseudonym")]
    if pseudo:
        raise _protocol_error(source, "quasi_identifiers", "cannot hold pseudonym columns")
    unknown = set(document) - {"project_id", "columns", "quasi_identifiers", "k", "description", "title"}
    if unknown:
        raise ExtractRefused(f"protocol `{source}`: unknown fields {', '.join(sorted(unknown))}")
    return Protocol(project, lists["columns"], lists["quasi_identifiers"], k, source)


def load_protocol(path: str | Path) -> Protocol:
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ExtractRefused(f"protocol `{path}` cannot be read as YAML ({type(exc).__name__})") from exc
    return parse_protocol(document, str(path))


def project_pseudonyms(project_key: bytes, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """HMAC-SHA256(project key, lake pseudonym), 128 bits in hex, like lake pseudonyms; nulls stay null."""
    return hmac_pseudonyms(project_key, values.to_pylist())


def k_anonymity_violations(table: pa.Table, quasi_identifiers: tuple[str, ...], k: int) -> tuple[int, int]:
    """(classes smaller than k, total classes); a class counts distinct patients when the table has a
    patient column, records otherwise. Nulls form their own value."""
    if table.num_rows == 0:
        return 0, 0
    keyed = table.select(list(quasi_identifiers))
    if _PATIENT_COLUMN in table.column_names:
        keyed = keyed.append_column("__patient", table[_PATIENT_COLUMN])
        sizes = keyed.group_by(list(quasi_identifiers), use_threads=False).aggregate(
            [("__patient", "count_distinct")]
        )["__patient_count_distinct"]
    else:
        keyed = keyed.append_column("__one", pa.array([1] * table.num_rows, pa.int8()))
        sizes = keyed.group_by(list(quasi_identifiers), use_threads=False).aggregate([("__one", "count")])[
            "__one_count"
        ]
    small = pc.sum(pc.cast(pc.less(sizes, k), pa.int64())).as_py() or 0
    return int(small), len(sizes)


@dataclass(frozen=True)
class StudyExtract:
    project_id: str
    path: Path
    rows: int
    patients: int | None
    classes: int


def write_extract(
    table: pa.Table, protocol: Protocol, keystore: KeyStore, store: ObjectStore, out_dir: str | Path
) -> StudyExtract:
    """Check, pseudonymise per project, and write `<out_dir>/<project_id>.parquet`; logged either way."""
    log: dict[str, Any] = {
        "project_id": protocol.project_id,
        "columns": list(protocol.columns),
        "k": protocol.k,
    }
    missing = [c for c in protocol.columns if c not in table.column_names]
    if missing:
        audit.record(store, keystore, "extract", {**log, "reason": "missing_columns"}, outcome="refused")
        raise ExtractRefused(
            f"protocol `{protocol.source}`: columns not in the query result: {', '.join(missing)}"
        )
    selected = table.select(list(protocol.columns))
    project_key = keystore.project_key(protocol.project_id)
    for i, name in enumerate(selected.column_names):
        if name.endswith("_pseudonym"):
            selected = selected.set_column(i, name, project_pseudonyms(project_key, selected[name]))
    small, classes = k_anonymity_violations(selected, protocol.quasi_identifiers, protocol.k)
    if small:
        audit.record(
            store,
            keystore,
            "extract",
            {**log, "rows": selected.num_rows, "classes": classes, "classes_below_k": small},
            outcome="refused",
        )
        raise ExtractRefused(
            f"extract for project `{protocol.project_id}` refused: {small} of {classes} equivalence classes "
            f"on quasi-identifiers {', '.join(protocol.quasi_identifiers)} cover fewer than k={protocol.k} "
            "patients; generalise them (age bands, region) or drop one"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{protocol.project_id}.parquet"
    tmp = out / f".{protocol.project_id}.parquet.tmp"
    pq.write_table(selected, tmp, compression="zstd")
    tmp.replace(target)  # a half-written extract is never left under the final name
    patients = (
        len(pc.unique(selected[_PATIENT_COLUMN].combine_chunks()))
        if _PATIENT_COLUMN in selected.column_names
        else None
    )
    audit.record(
        store,
        keystore,
        "extract",
        {**log, "rows": selected.num_rows, "patients": patients, "classes": classes},
    )
    return StudyExtract(protocol.project_id, target, selected.num_rows, patients, classes)


def open_raw_zone(store: ObjectStore, keystore: KeyStore) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per landed dataset (`raw_<dataset>`) over exactly the files
    committed manifests name, each read with the key its manifest names."""
    con = connect_duckdb()
    # duckdb 1.5.5 fails with "Computed AES tag differs from read AES tag" when a filter reaches a scan of
    # these encrypted files: a `where` through filter_pushdown, a join through join_filter_pushdown
    # (measured: disabling either one alone leaves the other case failing).
    con.execute("SET disabled_optimizers = 'filter_pushdown,join_filter_pushdown'")
    if isinstance(store, S3ObjectStore):
        configure_duckdb_s3(con, store.settings)
    keyring = DataKeyring(store, keystore)
    for dataset, schema in sorted(LANDED_SCHEMAS.items()):
        files = verified_committed_files(store, keystore, "raw", dataset)
        keys = [keyring.get(key_id) for key_id in files]
        register_duckdb_keys(con, keys)
        if files:
            body = "\nunion all by name\n".join(
                f"select * from {duckdb_read_sql([store.uri(p) for p in paths], key.duckdb_name)}"  # noqa: S608
                for key, paths in zip(keys, files.values(), strict=True)
            )
        else:
            con.register(f"empty_{dataset}", schema.empty_table())
            body = f"select * from empty_{dataset}"  # noqa: S608
        con.execute(f"create or replace view raw_{dataset} as {body}")
    return con


def extract_from_query(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    protocol: Protocol,
    keystore: KeyStore,
    store: ObjectStore,
    out_dir: str | Path,
) -> StudyExtract:
    """Run the cohort query (e.g. over `open_raw_zone` views) and write the extract it returns."""
    return write_extract(con.execute(sql).to_arrow_table(), protocol, keystore, store, out_dir)
