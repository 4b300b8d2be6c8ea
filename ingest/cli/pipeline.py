"""The pipeline's `lakehouse` commands: keys init, generate, ingest, build, export, run, contract-docs.

Thin: parses options, shows progress and results; the work is in the library."""

from __future__ import annotations

import csv
import sys
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingest import settings
from ingest.build import dbt_output
from ingest.cli.common import F, bound_lake, err, handle_errors, out, parse_date
from ingest.exceptions import ConfigError, LakehouseError

# ---------------------------------------------------------------------------------------------------- keys


@click.group()
def keys() -> None:
    """Manage the key store (master keys per zone, pseudonymisation secret)."""


@keys.command("init")
@click.option(
    "--keystore", type=click.Path(path_type=Path), help="Key store file [default: LAKEHOUSE_KEYSTORE]."
)
@handle_errors
def keys_init(keystore: Path | None) -> None:
    """Create the local key store (mode 600) if it does not exist. Never overwrites one."""
    from ingest.lake.keys import init_keystore

    path, created = init_keystore(keystore)
    out.print(f"{'Created' if created else 'Kept existing'} key store {path}", highlight=False)


def synthetic_data_options(fn: F) -> F:
    """The options saying what synthetic data to make, shared by `generate` and `run`."""
    options = [
        click.option(
            "--start",
            type=parse_date,
            metavar="YYYY-MM-DD",
            default="2024-01-01",
            show_default=True,
            help="First day.",
        ),
        click.option(
            "--end",
            type=parse_date,
            metavar="YYYY-MM-DD",
            default="2024-01-31",
            show_default=True,
            help="Last day.",
        ),
        click.option(
            "--associations",
            "n_associations",
            type=click.IntRange(1, 64),
            default=3,
            show_default=True,
            help="How many associations of the 64-association network (the largest first).",
        ),
        click.option(
            "--scale",
            type=click.FloatRange(0, 10, min_open=True),
            default=1.0,
            show_default=True,
            help="Volume relative to the real network (1.0 = national volume).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


# ------------------------------------------------------------------------------------------------ generate


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Output folder [default: $LAKEHOUSE_HOME/extracts].",
)
@synthetic_data_options
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed (same seed, same files).")
@click.option(
    "--invalid-share",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of deliberately invalid records.",
)
@click.option(
    "--file-period",
    type=click.Choice(["day", "month"]),
    default="day",
    show_default=True,
    help="What one file covers: a day (the daily flow) or a calendar month (a history backfill, "
    "<A>_<first day>_<last day>_<entity>.csv).",
)
@handle_errors
def generate(
    out_dir: Path | None,
    start: date,
    end: date,
    n_associations: int,
    scale: float,
    seed: int,
    invalid_share: float,
    file_period: Literal["day", "month"],
) -> None:
    """Write synthetic extracts as the associations' software exports them (daily, or monthly history)."""
    summary = _generate(
        out_dir or settings.extracts_dir(),
        start,
        end,
        n_associations,
        scale,
        seed,
        invalid_share,
        file_period,
    )
    out.print(
        f"Generated {len(summary.files)} files, {summary.rows():,} rows "
        f"({sum(summary.invalid_counts().values()):,} invalid) in {out_dir or settings.extracts_dir()}",
        highlight=False,
    )


def _generate(
    out_dir: Path,
    start: date,
    end: date,
    n_associations: int,
    scale: float,
    seed: int,
    invalid_share: float,
    file_period: Literal["day", "month"] = "day",
) -> Any:
    from ingest.synth import generate_extracts

    if end < start:
        raise click.BadParameter("--end is before --start")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where the folder should be, or in its path
        raise ConfigError(
            f"Cannot write extracts to `{out_dir}`: it is not a folder ({exc.strerror})"
        ) from None
    with _progress() as bar:
        task = bar.add_task("Generating", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return generate_extracts(
            out_dir,
            start,
            end,
            n_associations=n_associations,
            scale=scale,
            seed=seed,
            invalid_share=invalid_share,
            file_period=file_period,
            progress=tick,
        )


# -------------------------------------------------------------------------------------------------- ingest


@click.command()
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--lake", help="Object store root: folder or s3://bucket/prefix [default: LAKEHOUSE_LAKE].")
@click.option(
    "--keystore", type=click.Path(path_type=Path), help="Key store file [default: LAKEHOUSE_KEYSTORE]."
)
@click.option("--strict", is_flag=True, help="Exit with status 1 when anything was quarantined.")
@click.option("--details", is_flag=True, help="List every file with quarantined rows, however many.")
@handle_errors
def ingest(
    inputs: tuple[Path, ...], lake: str | None, keystore: Path | None, strict: bool, details: bool
) -> None:
    """Validate, pseudonymise, encrypt and land extract files (folders are searched recursively).

    Prints one line per file: rows read, accepted, quarantined and why. Re-running on the same files
    changes nothing; a run that was killed can simply be run again.
    """
    report = _ingest(list(inputs) or [settings.extracts_dir()], lake, keystore, details)
    if strict and report.totals[2]:
        sys.exit(1)


def _ingest(inputs: list[Path], lake: str | None, keystore: Path | None, details: bool = False) -> Any:
    from ingest.lake.keys import open_keystore
    from ingest.lake.storage import S3Settings, open_store
    from ingest.landing.land import Ingestor, find_extract_files

    store = open_store(lake or settings.lake_url(), S3Settings.from_env())
    ingestor = Ingestor(store, open_keystore(keystore))
    paths = find_extract_files(inputs)
    with _progress() as bar:
        task = bar.add_task("Ingesting", total=len(paths))
        report = ingestor.run(paths, progress=lambda _: bar.advance(task))
    _print_report(report, store.url, details)
    return report


MAX_FILES_LISTED = 30


def _print_report(report: Any, lake: str, details: bool) -> None:
    """Files with something quarantined, one line each (all of them with --details); past
    MAX_FILES_LISTED the table has one line per entity over all its files (clean ones included, so the
    lines add up to the total), and the per-file report is written as CSV."""
    shown = [f for f in report.files if f.status != "landed" or f.rows_quarantined or f.rows_opposed]
    clean = len(report.files) - len(shown)
    by_file = details or len(shown) <= MAX_FILES_LISTED
    table = Table(title=f"Ingest into {lake}", title_justify="left")
    for col, just in [
        ("file" if by_file else "entity", "left"),
        ("status", "left"),
        ("read", "right"),
        ("accepted", "right"),
        ("quarantined", "right"),
        ("opposed", "right"),  # rows of objecting patients, kept nowhere: read = the three columns
        ("why", "left"),
    ]:
        table.add_column(col, justify=just, no_wrap=col == "file")  # type: ignore[arg-type]
    if by_file:
        for f in shown:
            why = f.message or ", ".join(f"{k} ×{v}" for k, v in f.reasons.most_common(3))
            table.add_row(
                f.file,
                f.status,
                f"{f.rows_read:,}",
                f"{f.rows_accepted:,}",
                f"{f.rows_quarantined:,}",
                f"{f.rows_opposed:,}",
                why,
            )
    else:
        groups: dict[str, list[Any]] = {}
        for f in report.files:
            groups.setdefault(f.entity or "?", []).append(f)
        for entity, files in sorted(groups.items()):
            reasons: Counter[str] = Counter()
            for f in files:
                reasons.update(f.reasons)
            statuses = Counter(f.status for f in files)
            flagged = sum(1 for f in files if f.status != "landed" or f.rows_quarantined)
            why = ", ".join(f"{k} ×{v}" for k, v in reasons.most_common(4))
            table.add_row(
                f"{entity} ({len(files)} files, {flagged} with quarantined rows)",
                ", ".join(f"{s} ×{n}" if len(statuses) > 1 else s for s, n in sorted(statuses.items())),
                f"{sum(f.rows_read for f in files):,}",
                f"{sum(f.rows_accepted for f in files):,}",
                f"{sum(f.rows_quarantined for f in files):,}",
                f"{sum(f.rows_opposed for f in files):,}",
                why,
            )
    read, accepted, quarantined = report.totals
    table.add_section()
    table.add_row(
        f"{len(report.files)} files" + (f" ({clean} clean, not listed)" if by_file else ", all entities"),
        "",
        f"{read:,}",
        f"{accepted:,}",
        f"{quarantined:,}",
        f"{report.rows_opposed:,}",
        "",
    )
    out.print(table)
    if not by_file:
        path = _write_report_csv(report)
        out.print(f"Per-file report: {path} (or run again with --details)", highlight=False)
    if report.rolled_back:
        out.print(f"Rolled back {len(report.rolled_back)} batch(es) left half-written by an earlier run.")


def _write_report_csv(report: Any) -> Path:
    folder = settings.home() / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ingest-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "file",
                "entity",
                "status",
                "rows_read",
                "rows_accepted",
                "rows_quarantined",
                "rows_opposed",
                "why",
            ]
        )
        for f in report.files:
            why = f.message or "; ".join(f"{k} x{v}" for k, v in f.reasons.most_common())
            counts = [f.rows_read, f.rows_accepted, f.rows_quarantined, f.rows_opposed]
            w.writerow([f.file, f.entity, f.status, *counts, why])
    return path


# --------------------------------------------------------------------------------------------------- build


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option(
    "--target",
    "dbt_target",
    help="dbt target of profiles.yml [default: $LAKEHOUSE_DBT_TARGET, else local]. `spark`: the same "
    "models on an in-process Spark reading the same lake, into Delta tables (docs/spark.md).",
)
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
@handle_errors
def build(dbt_target: str | None, dbt_args: tuple[str, ...]) -> None:
    """Run `dbt build` on the lake (staging, OMOP CDM, marts) into the encrypted warehouse.

    Extra arguments go to dbt, e.g. `lakehouse build --select +person`. The lake, key store and
    warehouse come from the same environment as the other commands. The build fails if a model in
    marts/ lacks its disclosure-control tests.
    """
    bound_lake()
    env = None
    if dbt_target == "spark":
        from ingest.build.spark_target import spark_environment

        env = spark_environment(settings.dbt_environment())
    if dbt_target:
        dbt_args = ("--target", dbt_target, *dbt_args)
    _dbt("build", *dbt_args, env=env)
    _check_disclosure(dbt_args)


@click.command("disclosure-check")
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="dbt's manifest.json, after `dbt parse` or a build [default: the one in dbt's target path].",
)
@handle_errors
def disclosure_check(manifest_path: Path | None) -> None:
    """Check that every marts model carries the disclosure tests its output requires (what `build` checks
    after dbt), without building."""
    _check_disclosure(manifest_path=manifest_path)
    out.print("Every marts model carries its disclosure tests.")


# `export` and `disclosure-audit` run the same attacker over the same weeks.
full_audit_option = click.option(
    "--full",
    is_flag=True,
    help="Audit every ISO week, not only those whose published cells no build certificate matches.",
)


@click.command("disclosure-audit")
@click.option("--k", type=click.IntRange(2), default=11, show_default=True, help="Disclosure threshold.")
@full_audit_option
@handle_errors
def disclosure_audit(k: int, full: bool) -> None:
    """Play the linear attacker on the published marts of the built warehouse (what `export` runs before
    writing: the weeks no build certificate matches, or all with --full), and print what it solved for
    and the information loss; exit 6 if a hidden cell is pinned."""
    import json

    from ingest.disclosure.attack import audit_lines, audit_published_tables, information_loss
    from ingest.disclosure.certificate import read_certificates
    from ingest.publish.export import open_warehouse, published_marts

    bound_lake()
    manifest_path = settings.dbt_target_dir(settings.dbt_project_dir()) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    con = open_warehouse(settings.warehouse_path())
    try:
        marts = published_marts(manifest)
        tables = {
            mart.name: con.sql(f"select * from {mart.relation}").to_arrow_table()  # noqa: S608
            for mart in marts
        }
        result = audit_published_tables(tables, k, None if full else read_certificates(con))
        losses = information_loss(con)
    finally:
        con.close()
    outcome = "failure" if result.findings else "success"
    audited = {"k": k, "full": full, "marts": sorted(tables), "pinned": len(result.findings)}
    _audit("disclosure_audit", audited, outcome)
    for line in audit_lines(result, losses, k):
        out.print(line, highlight=False, markup=False, soft_wrap=True)
    if result.findings:
        raise BuildFailed(f"the linear attacker pins {len(result.findings)} hidden cell(s)")


def _check_disclosure(dbt_args: tuple[str, ...] = (), manifest_path: Path | None = None) -> None:
    import json

    from ingest.publish.disclosure_check import check_manifest

    # The manifest of the build that just ran, wherever dbt was told to write it.
    if manifest_path is None:
        manifest_path = settings.dbt_target_dir(settings.dbt_project_dir(), dbt_args) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    findings = check_manifest(manifest)
    for finding in findings:
        err.print(f"Error: {finding}", highlight=False, markup=False)
    if findings:
        raise BuildFailed(f"{len(findings)} disclosure-control finding(s) in the marts models")


@click.command()
@click.option(
    "--out", "target", help="Publication root: folder or s3://bucket/prefix [default: the lake root]."
)
@click.option("--k", type=click.IntRange(2), default=11, show_default=True, help="Disclosure threshold.")
@full_audit_option
@handle_errors
def export(target: str | None, k: int, full: bool) -> None:
    """Export the published marts (disclosure-controlled aggregates only) as Parquet, CSV and a data
    dictionary to publication/, outside the encrypted zones, after the linear attacker certified every
    suppressed cell."""
    bound_lake()
    _export(target, k, full)


def _export(target: str | None, k: int = 11, full: bool = False) -> None:
    from ingest.publish.export import PUBLICATION_PREFIX, export_publication

    audited = {"k": k, "target": "custom" if target else "lake", "full": full}
    try:
        root, summary = export_publication(target, k=k, full=full)
    except LakehouseError as error:
        _audit("export", audited, "failure")
        raise BuildFailed(f"export failed: {error}") from error
    _audit("export", audited, "success")
    for name, rows in summary["marts"].items():
        out.print(f"{name}: {rows} rows", highlight=False, markup=False, soft_wrap=True)
    for line in summary["disclosure_report"]:
        out.print(line, highlight=False, markup=False, soft_wrap=True)
    out.print(f"Published to {root}/{PUBLICATION_PREFIX}/", highlight=False, markup=False, soft_wrap=True)


def _dbt(command: str, *args: str, env: dict[str, str] | None = None) -> None:
    from ingest.build.warehouse_lock import hold_warehouse

    # dbt's profile reads these; resolve them here so dbt sees what the other commands see. Given to
    # dbt's process only: this process's environment (a test session's, say) is left as it was.
    env = env or settings.dbt_environment()
    # dbt's own file log only repeats the events this process writes to the build's log (dbt's stdout,
    # errors and each node's outcome), and at dbt's default level (debug: every statement's SQL) costs a
    # daily build about a tenth of its time, its threads queueing on the file: off.
    # DBT_LOG_LEVEL_FILE=debug brings it back, with the SQL, when a build needs investigating.
    env.setdefault("DBT_LOG_LEVEL_FILE", settings.DBT_FILE_LOG_LEVEL)
    project = settings.dbt_project_dir()
    root = str(project)
    # A process of its own: dbt-duckdb keeps its DuckDB instance (and the warehouse file) open for the
    # life of the process, and the export that follows must open the file again.
    dbt: Path | list[str] = Path(sys.executable).parent / "dbt"
    if env.get("LAKEHOUSE_DBT_TARGET") == "spark":
        # dbt with Python models run in its Spark session (dbt-spark submits them to Databricks only).
        dbt = [sys.executable, "-m", "ingest.build.spark_python_models"]
    results_file = settings.dbt_target_dir(project, args) / "run_results.json"
    log = dbt_output.log_path(settings.home() / "logs", command)
    # Held for the whole run: a second build is refused in one line instead of a dbt traceback.
    with hold_warehouse(settings.warehouse_path(), "build"):
        result = dbt_output.run(
            dbt,
            command,
            ["--project-dir", root, "--profiles-dir", root, *args],
            log,
            err,
            results_file,
            env=env,
        )
    _print_dbt_result(result, command)
    _audit(
        "build",
        {"dbt_command": command, "nodes": sum(result.nodes.values()), "selected": int(bool(args))},
        "success" if result.returncode == 0 else "failure",
    )
    if result.returncode != 0:
        raise BuildFailed(f"dbt {command} failed (see the messages above and the full log {log})")


def _print_dbt_result(result: Any, command: str) -> None:
    """One summary line, the names of what failed or warned, dbt's own messages for them, the log path."""
    out.print(result.summary(command), highlight=False)
    for title, names in (("Errors", result.failed), ("Warnings", result.warned)):
        if names:
            out.print(f"{title}: {', '.join(names)}", highlight=False, markup=False, soft_wrap=True)
    if result.returncode != 0 or result.warned:
        for message in result.messages[: dbt_output.MAX_MESSAGES]:
            err.print(message, highlight=False, markup=False, soft_wrap=True)
        if len(result.messages) > dbt_output.MAX_MESSAGES:
            err.print(
                f"... {len(result.messages) - dbt_output.MAX_MESSAGES} more in the log", highlight=False
            )
    out.print(f"Full dbt log: {result.log}", highlight=False, soft_wrap=True)


def _audit(action: str, data: dict[str, Any], outcome: str = "success") -> None:
    from ingest.lake import audit
    from ingest.lake.keys import open_keystore
    from ingest.lake.storage import S3Settings, open_store

    store = open_store(settings.lake_url(), S3Settings.from_env())
    audit.record(store, open_keystore(), action, data, outcome=outcome)  # type: ignore[arg-type]


class BuildFailed(LakehouseError):
    exit_code = 6


# ----------------------------------------------------------------------------------------------------- run


@click.command()
@synthetic_data_options
@click.option(
    "--invalid-share",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Share of deliberately invalid records, to show the quarantine at work.",
)
@handle_errors
def run(start: date, end: date, n_associations: int, scale: float, invalid_share: float) -> None:
    """Run the whole chain on embedded defaults: key store, synthetic extracts, ingest, dbt build
    (staging, OMOP CDM, epidemiology marts with their disclosure tests), export to publication/."""
    from ingest.lake.keys import init_keystore, open_keystore
    from ingest.lake.keystore_binding import binding_summary
    from ingest.lake.storage import S3Settings, open_store

    path, created = init_keystore(None)
    # Which key store the lake uses, said before anything runs: two checkouts sharing the default
    # ~/.config key store with different lakes are refused here, not after landing unreadable months.
    keystore = open_keystore(path)
    state = "created" if created else "existing"
    out.print(f"Key store: {path} ({state}, id {keystore.fingerprint().keystore_id})", highlight=False)
    lake = open_store(settings.lake_url(), S3Settings.from_env())
    out.print(binding_summary(lake, keystore), highlight=False)
    extracts = settings.extracts_dir()
    summary = _generate(extracts, start, end, n_associations, scale, 42, invalid_share)
    out.print(f"Extracts: {len(summary.files)} files, {summary.rows():,} rows in {extracts}", highlight=False)
    _ingest([extracts], None, None)
    _dbt("build")
    _check_disclosure()
    _export(None)


@click.command("contract-docs")
@click.option("--check", is_flag=True, help="Only check that docs/extract-contract.md is up to date.")
@handle_errors
def contract_docs(check: bool) -> None:
    """Regenerate docs/extract-contract.md from the contract YAML."""
    from ingest.contract import PROJECT_ROOT, default_contract
    from ingest.contract_docs import render_markdown

    target = PROJECT_ROOT / "docs" / "extract-contract.md"
    text = render_markdown(default_contract())
    if check:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            err.print("Error: docs/extract-contract.md is out of date: run `lakehouse contract-docs`")
            sys.exit(1)
        return
    target.write_text(text, encoding="utf-8")
    out.print(f"Wrote {target}", highlight=False)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
