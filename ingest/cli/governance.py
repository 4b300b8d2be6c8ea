"""`lakehouse` commands of the data-protection officer and of analysts' audited access: audit trail,
queries, key operations, objections, purges and study extracts. Registered in ingest/cli/__init__.py."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from ingest import settings
from ingest.cli.common import bound_lake, err, handle_errors, out, parse_date
from ingest.exceptions import LakehouseError

if TYPE_CHECKING:
    import pyarrow as pa

    from ingest.lake.storage import ObjectStore


def _store() -> ObjectStore:
    from ingest.lake.storage import S3Settings, open_store

    return open_store(settings.lake_url(), S3Settings.from_env())


class AuditBroken(LakehouseError):
    exit_code = 8


# ---------------------------------------------------------------------------------------------------- audit


@click.group()
def audit() -> None:
    """Read and verify the hash-chained audit trail."""


def _check_head(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """SEQ:HASH as `audit verify` prints it; anything else is a usage error, not a traceback."""
    if value is not None and not re.fullmatch(r"\d{1,12}:[0-9a-f]{64}", value):
        raise click.BadParameter("must be SEQ:HASH as `audit verify` prints it, e.g. 12:<64 hex digits>")
    return value


@audit.command("verify")
@click.option(
    "--expected-head",
    callback=_check_head,
    help="SEQ:HASH of the last entry noted earlier (detects a cut tail).",
)
@handle_errors
def audit_verify(expected_head: str | None) -> None:
    """Check that no entry of the audit trail was altered, removed or reordered."""
    from ingest.lake.audit import verify
    from ingest.lake.keys import open_keystore

    head = None
    if expected_head:
        seq, _, digest = expected_head.partition(":")
        head = (int(seq), digest)
    result = verify(_store(), open_keystore(), expected_head=head, warehouse=settings.warehouse_path())
    for problem in result.problems:
        err.print(f"Error: {problem}", highlight=False, markup=False)
    if not result.ok:
        raise AuditBroken(f"the audit trail is broken ({len(result.problems)} problem(s))")
    sealed = f" ({result.unkeyed} unkeyed from before audit keys, sealed)" if result.unkeyed else ""
    out.print(
        f"Audit trail intact: {result.entries} entries{sealed}, head {result.head_seq}:{result.head_hash}"
    )


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested entries (an evaluation's metrics) as dotted names, one value each, for the listing."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@audit.command("log")
@click.option("--last", type=click.IntRange(1), default=20, show_default=True, help="How many entries.")
@click.option(
    "--action",
    "actions",
    multiple=True,
    help="Only entries of this action (repeatable), e.g. --action ai_evaluate --action ai_extract.",
)
@handle_errors
def audit_log(last: int, actions: tuple[str, ...]) -> None:
    """Show the latest entries of the audit trail: who did what, when, on which data, with what outcome."""
    from ingest.lake.audit import ACTIONS, entries

    unknown = sorted(set(actions) - ACTIONS)
    if unknown:
        raise click.BadParameter(
            f"unknown action {', '.join(unknown)} (known: {', '.join(sorted(ACTIONS))})",
            param_hint="--action",
        )
    table = Table()
    for col in ("seq", "at", "actor", "action", "outcome", "data"):
        table.add_column(col)
    for e in [e for e in entries(_store()) if not actions or e.action in actions][-last:]:
        data = ", ".join(f"{k}={v}" for k, v in sorted(_flat(e.data).items()))
        table.add_row(str(e.seq), e.at, e.actor, e.action, e.outcome, data)
    out.print(table)


# ---------------------------------------------------------------------------------------------------- query


@click.command()
@click.argument("sql")
@click.option(
    "--out", "out_file", type=click.Path(path_type=Path), help="Write the result (.csv or .parquet)."
)
@click.option(
    "--max-rows",
    type=click.IntRange(1),
    default=1_000_000,
    show_default=True,
    help="Stop after this many rows (the audit records the rows actually returned).",
)
@handle_errors
def query(sql: str, out_file: Path | None, max_rows: int) -> None:
    """Run ONE read-only query (SELECT/WITH ...) on the warehouse (schemas cdm, epidemiology, ...), on a
    connection that cannot reach files, other databases or extensions; streamed, capped at --max-rows,
    recorded in the audit trail. Example: lakehouse query "select count(*) from cdm.person"."""
    from ingest.publish.query import FileSink, PreviewSink, open_locked_warehouse, run_query

    store, keystore = bound_lake()
    con = open_locked_warehouse(settings.warehouse_path(), keystore)
    preview: list[PreviewSink] = []

    def sink_for(schema: pa.Schema) -> FileSink | PreviewSink:
        if out_file is not None:
            return FileSink(out_file, schema)
        preview.append(PreviewSink(schema))
        return preview[0]

    try:
        result = run_query(store, keystore, con, sql, sink_for, max_rows=max_rows)
    finally:
        con.close()
    if result.truncated:
        err.print(
            f"Stopped at --max-rows {max_rows:,}: the result has more rows (raise --max-rows, or "
            "aggregate in SQL).",
            highlight=False,
            markup=False,
        )
    if out_file is not None:
        out.print(f"{result.rows:,} rows written to {out_file}", highlight=False)
        return
    shown = preview[0].table()
    table = Table()
    for name in shown.column_names:
        table.add_column(name)
    for row in shown.to_pylist():
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    out.print(table)
    if result.rows > shown.num_rows:
        out.print(f"... {result.rows:,} rows in all (use --out to get them)", highlight=False)


# ----------------------------------------------------------------------------------------------------- keys


@click.command("rotate")
@click.option("--zone", type=click.Choice(["raw", "quarantine", "warehouse"]), required=True)
@click.option("--resume", is_flag=True, help="Finish a rotation that was interrupted.")
@handle_errors
def keys_rotate(zone: str, resume: bool) -> None:
    """New master key for a zone: every data key is re-wrapped, no data file is rewritten. Zone warehouse
    also re-encrypts the warehouse database file under a new key (the old key then no longer opens it)."""
    from ingest.governance.rotation import rotate_master_key

    warehouse = settings.warehouse_path() if zone == "warehouse" else None
    result = rotate_master_key(*bound_lake(), zone, resume=resume, warehouse=warehouse)  # type: ignore[arg-type]
    out.print(
        f"Zone {zone}: master key {result.new_master_key_id}, {result.rewrapped} data keys re-wrapped "
        f"({result.already_current} already current)",
        highlight=False,
    )
    if warehouse is not None and result.warehouse_reencrypted:
        out.print(
            f"Warehouse {warehouse} re-encrypted under a new key; the old key is retired", highlight=False
        )
    elif warehouse is not None:
        out.print(
            f"No warehouse at {warehouse} yet: the next build creates it under the new key", highlight=False
        )


@click.command("retire")
@click.argument("key_id")
@handle_errors
def keys_retire(key_id: str) -> None:
    """Retire a data key (e.g. raw/acts/2024-01): re-encrypt every file using it with a new one."""
    from ingest.governance.rotation import retire_data_key

    r = retire_data_key(*bound_lake(), key_id)  # type: ignore[arg-type]
    out.print(
        f"{key_id} retired for {r.new_key_id}: {r.files_reencrypted} files re-encrypted", highlight=False
    )


@click.command("add-footer-keys")
@handle_errors
def keys_add_footer_keys() -> None:
    """Name each landed file's data key in its footer, so that Spark opens it (docs/spark.md): once, for
    files landed before ingest did so itself. Running it again changes nothing."""
    from ingest.governance.footer_keys import add_footer_keys

    result = add_footer_keys(*bound_lake())
    out.print(
        f"{result.files_updated} files given their footer key reference "
        f"({result.files_current} already had it)",
        highlight=False,
    )


@click.command("seal-manifests")
@handle_errors
def keys_seal_manifests() -> None:
    """Seal the manifests of a lake landed before seals existed (docs/security.md, "Sealed manifests"):
    the digest of each file they name and a MAC. Reads each file once; running it again changes nothing.
    Seal a lake as it was landed: the files are taken as they are."""
    from ingest.governance.seal_manifests import seal_manifests

    result = seal_manifests(*bound_lake())
    out.print(
        f"{result.manifests_sealed} manifests sealed ({result.files_hashed} files hashed), "
        f"{result.manifests_current} already sealed",
        highlight=False,
    )


@click.command("remove-master")
@click.argument("master_key_id")
@handle_errors
def keys_remove_master(master_key_id: str) -> None:
    """Delete an old master key (refused while a data key is still wrapped by it)."""
    from ingest.governance.rotation import remove_master_key

    remove_master_key(*bound_lake(), master_key_id)  # type: ignore[arg-type]
    out.print(f"Removed master key {master_key_id}", highlight=False)


@click.command("rotate-pseudonym-secret")
@click.option("--yes", is_flag=True, help="Confirm: every pseudonym computed from now on changes.")
@handle_errors
def keys_rotate_pseudonym_secret(yes: bool) -> None:
    """New pseudonymisation secret. Read docs/security.md first: new pseudonyms no longer link to the
    landed ones, and objections must be entered again before the next ingest."""
    from ingest.governance.rotation import rotate_pseudonym_secret

    if not yes:
        raise click.UsageError("this changes every pseudonym from now on: add --yes to confirm")
    out.print(f"Pseudonymisation secret is now {rotate_pseudonym_secret(*bound_lake())}")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------- opposition


@click.group()
def opposition() -> None:
    """Patients' right to object: record objections (pseudonymised on entry)."""


# Older than anyone has lived (122 years): a typing error, whose pseudonym would match no one.
_MAX_AGE_YEARS = 130


def _check_birth_date(_ctx: click.Context, _param: click.Parameter, value: date | None) -> date | None:
    """A birth date in the future or beyond any human age would record an objection that never
    matches the patient: refused, so the DPO corrects it from the form."""
    if value is None:
        return None
    today = date.today()
    if value > today:
        raise click.BadParameter(f"{value.isoformat()} is in the future")
    if today.year - value.year > _MAX_AGE_YEARS:
        raise click.BadParameter(f"{value.isoformat()} is more than {_MAX_AGE_YEARS} years ago")
    return value


@opposition.command("add")
@click.option("--nir", help="NIR (15 characters with key), with --birth-date and --sex.")
@click.option("--last-name", help="Last name (when there is no NIR; give both when known).")
@click.option("--first-name", help="First name.")
@click.option(
    "--birth-date", type=parse_date, metavar="YYYY-MM-DD", callback=_check_birth_date, help="Birth date."
)
@click.option("--sex", type=click.Choice(["M", "F", "I"]), help="Sex.")
@handle_errors
def opposition_add(
    nir: str | None, last_name: str | None, first_name: str | None, birth_date: date | None, sex: str | None
) -> None:
    """Record one patient's objection. Only its pseudonym is stored; run `lakehouse purge --opposition`
    then `lakehouse build` to remove the records already landed."""
    from ingest.governance.opposition import Identity, add_identities

    identity = Identity(nir=nir, last_name=last_name, first_name=first_name, birth_date=birth_date, sex=sex)
    if not identity.has_nir_identity and not identity.has_traits:
        raise click.UsageError(
            "give --nir, --birth-date and --sex, or --last-name, --first-name, --birth-date and --sex"
        )
    add_identities(*bound_lake(), [identity])
    out.print("Objection recorded (pseudonymised).")


@opposition.command("drop-stale")
@handle_errors
def opposition_drop_stale() -> None:
    """After a pseudonymisation-secret rotation and re-entry of the objections: drop the old entries."""
    from ingest.governance.opposition import drop_stale_entries

    out.print(f"Dropped {drop_stale_entries(*bound_lake())} stale entries.")


# ---------------------------------------------------------------------------------------------------- purge


@click.command()
@click.option("--opposition", "by_opposition", is_flag=True, help="Remove the records of objecting patients.")
@click.option("--retention", is_flag=True, help="Remove records older than the retention period.")
@click.option("--years", type=click.IntRange(1), default=20, show_default=True, help="Retention period.")
@handle_errors
def purge(by_opposition: bool, retention: bool, years: int) -> None:
    """Remove records from the landing and quarantine zones (atomically per file, re-runnable); the
    next `lakehouse build` removes them from the warehouse and the marts."""
    from ingest.governance.purge import purge_opposition, purge_retention

    if by_opposition == retention:
        raise click.UsageError("choose one of --opposition or --retention")
    store, keystore = bound_lake()
    report = (
        purge_opposition(store, keystore) if by_opposition else purge_retention(store, keystore, years=years)
    )
    removed = ", ".join(f"{k}: {v}" for k, v in sorted(report.rows_removed.items())) or "nothing"
    out.print(
        f"Rows removed: {removed}; {report.batches_rewritten} batches rewritten, "
        f"{report.files_deleted} files deleted. Now run `lakehouse build`.",
        highlight=False,
    )


# -------------------------------------------------------------------------------------------------- extract


@click.command()
@click.option(
    "--protocol",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="YAML protocol: project id, columns, quasi-identifiers, k.",
)
@click.option("--sql", required=True, help="Cohort query on the warehouse (e.g. over cdm.*).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Output folder.")
@handle_errors
def extract(protocol: Path, sql: str, out_dir: Path) -> None:
    """Write a record-level study extract: project-specific pseudonyms, only the protocol's columns,
    k-anonymity checked on its quasi-identifiers first; logged in the audit trail."""
    import duckdb

    from ingest.governance.study_extract import extract_from_query, load_protocol
    from ingest.lake.audit import record
    from ingest.publish.query import QueryFailed, QueryRefused, open_locked_warehouse, single_query

    (store, keystore), chosen = bound_lake(), load_protocol(protocol)
    # The same door as `query`: a locked connection, one query, or `--sql` could COPY the cohort out.
    con = open_locked_warehouse(settings.warehouse_path(), keystore)
    try:
        try:
            single_query(con, sql)
        except QueryRefused:
            record(
                store,
                keystore,
                "extract",
                {"project_id": chosen.project_id, "reason": "not_a_query"},
                outcome="refused",
            )
            raise
        try:
            result = extract_from_query(con, sql, chosen, keystore, store, out_dir)
        except duckdb.Error as exc:
            data = {"project_id": chosen.project_id, "error": type(exc).__name__}
            record(store, keystore, "extract", data, outcome="failure")
            raise QueryFailed(f"the cohort query failed (logged): {exc}") from exc
    finally:
        con.close()
    out.print(
        f"{result.rows:,} rows for project {result.project_id} written to {result.path}", highlight=False
    )
