"""`lakehouse benchmark`: the national-scale benchmark (ingest/benchmark.py). Registered on the main group
by cli.py. A command, not a test: a full run takes from minutes (1 year) to hours (10 years)."""

from __future__ import annotations

import shlex
import sys
import tempfile
from datetime import date
from pathlib import Path

import click
from rich.table import Table

from ingest.cli import _date, handle_errors, main, out


@main.command()
@click.option(
    "--years",
    type=click.FloatRange(0, 50, min_open=True),
    default=1.0,
    show_default=True,
    help="Years of history (365 days each) before the daily load.",
)
@click.option(
    "--end",
    type=_date,
    metavar="YYYY-MM-DD",
    default="2024-12-31",
    show_default=True,
    help="The day of the daily load; history ends the day before.",
)
@click.option("--associations", type=click.IntRange(1, 64), default=64, show_default=True)
@click.option(
    "--scale",
    type=click.FloatRange(0, 10, min_open=True),
    default=1.0,
    show_default=True,
    help="Volume relative to the real network (1.0 = about 4 million acts a year).",
)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option(
    "--repeats",
    type=click.IntRange(1),
    default=3,
    show_default=True,
    help="Runs of the floor and of each query (the median is reported).",
)
@click.option(
    "--plain-sample-files",
    type=click.IntRange(1),
    default=2000,
    show_default=True,
    help="Landed files per dataset copied in plain Parquet for the encrypted/plain ratio.",
)
@click.option("--threads", "dbt_threads", type=click.IntRange(1), help="dbt threads [default: profiles.yml].")
@click.option(
    "--workdir",
    type=click.Path(path_type=Path),
    help="Scratch folder (extracts, lake, warehouse) [default: a new folder in $TMPDIR].",
)
@click.option("--keep", is_flag=True, help="Keep the scratch folder (deleted by default).")
@click.option("--no-daily", is_flag=True, help="Skip the daily load.")
@click.option(
    "--results",
    "results_dir",
    type=click.Path(path_type=Path),
    default=Path("benchmarks/results"),
    show_default=True,
    help="Folder of the machine-readable results (<UTC timestamp>.json).",
)
@handle_errors
def benchmark(
    years: float, end: date, associations: int, scale: float, seed: int, repeats: int,
    plain_sample_files: int, dbt_threads: int | None, workdir: Path | None, keep: bool, no_daily: bool,
    results_dir: Path,
) -> None:  # fmt: skip
    """Generate synthetic extracts, then time ingest, the decrypt-and-scan floor, the full dbt build,
    a daily load and typical epidemiologist queries; print a table and write a JSON file.

    Uses its own key store, lake and warehouse in the scratch folder: nothing of yours is touched.
    Needs disk for the extracts and the lake (about 3 GB per year at national scale).
    """
    from ingest.benchmark import BenchmarkConfig, run_benchmark, summary_rows, write_result

    folder = workdir or Path(tempfile.mkdtemp(prefix="lakehouse-benchmark-"))
    cfg = BenchmarkConfig(
        workdir=folder, years=years, end=end, associations=associations, scale=scale, seed=seed,
        repeats=repeats, plain_sample_files=plain_sample_files, dbt_threads=dbt_threads, keep=keep,
        daily=not no_daily, log=lambda phase: out.print(f"[dim]… {phase}[/dim]"),
    )  # fmt: skip
    result = run_benchmark(cfg)
    result["command"] = "lakehouse " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    path = write_result(result, results_dir)
    p = result["parameters"]
    table = Table(
        title=f"Benchmark: {p['years']} year(s), {p['associations']} associations, scale {p['scale']}",
        title_justify="left",
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("note")
    for row in summary_rows(result):
        table.add_row(*row)
    out.print(table)
    out.print(f"Results: {path}" + (f"; work folder kept: {folder}" if keep else ""), highlight=False)
