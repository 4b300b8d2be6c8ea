"""`./lakehouse benchmark` (or `python -m tools.benchmark` in the checkout): the national-scale benchmark
(tools/benchmark/national.py), outside the installed package. A command, not a test: a full run takes from
minutes (1 year) to hours (10 years)."""

from __future__ import annotations

import shlex
import sys
import tempfile
from datetime import date
from pathlib import Path

import click
from rich.table import Table

from ingest.cli.common import handle_errors, out, parse_date


def _years(value: str | tuple[float, ...]) -> tuple[float, ...]:
    if isinstance(value, tuple):
        return value
    try:
        years = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"`{value}` is not a comma-separated list of numbers of years") from None
    if any(not 0 < y <= 50 for y in years) or list(years) != sorted(set(years)):
        raise click.BadParameter(f"`{value}`: checkpoints must be increasing, each in (0, 50]")
    return years


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--years",
    default="1",
    show_default=True,
    metavar="Y[,Y...]",
    help="Years of history (365 days each); several, increasing, for the scaling curve (e.g. 1,3,10): "
    "history grows from one to the next and every checkpoint is measured.",
)
@click.option(
    "--start",
    type=parse_date,
    metavar="YYYY-MM-DD",
    default="2015-01-01",
    show_default=True,
    help="First day of history.",
)
@click.option(
    "--history-files",
    type=click.Choice(["month", "day"]),
    default="month",
    show_default=True,
    help="History as bulk extracts (one file per association, entity and month) or as daily files. "
    "The daily loads are always daily files.",
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
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the scratch folder (deleted after a finished run; a stopped run keeps it).",
)
@click.option("--no-daily", is_flag=True, help="Skip the daily loads.")
@click.option(
    "--results",
    "results_dir",
    type=click.Path(path_type=Path),
    default=Path("benchmarks/results"),
    show_default=True,
    help="Folder of the machine-readable results (<UTC timestamp>.json, rewritten after each checkpoint).",
)
@handle_errors
def benchmark(
    years: str, start: date, history_files: str, associations: int, scale: float, seed: int, repeats: int,
    plain_sample_files: int, dbt_threads: int | None, workdir: Path | None, keep: bool, no_daily: bool,
    results_dir: Path,
) -> None:  # fmt: skip
    """Generate synthetic extracts, then time ingest, the decrypt-and-scan floor, a full dbt build,
    a daily load and typical epidemiologist queries at each size of history; print tables and write a
    JSON file.

    Uses its own key store, lake and warehouse in the scratch folder: nothing of yours is touched.
    Needs disk for the extracts and the lake (about 3 GB per year at national scale).
    """
    from tools.benchmark.national import (
        SCALING_COLUMNS,
        BenchmarkConfig,
        result_path,
        run_benchmark,
        scaling_rows,
        summary_rows,
        write_result,
    )

    checkpoints = _years(years)
    folder = workdir or Path(tempfile.mkdtemp(prefix="lakehouse-benchmark-"))
    cfg = BenchmarkConfig(
        workdir=folder, years=checkpoints, start=start, history_files=history_files,  # type: ignore[arg-type]
        associations=associations, scale=scale, seed=seed, repeats=repeats,
        plain_sample_files=plain_sample_files, dbt_threads=dbt_threads, keep=keep, daily=not no_daily,
        log=lambda phase: out.print(f"[dim]… {phase}[/dim]"),
    )  # fmt: skip
    path = result_path(results_dir)
    command = "lakehouse benchmark " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    def checkpoint_done(result: dict[str, object]) -> None:
        result["command"] = command
        write_result(result, path)
        cp = result["checkpoints"][-1]  # type: ignore[index]
        if "error" in cp:
            out.print(
                f"[red]Stopped at {cp.get('years', '?')} year(s)[/red]: {cp['error']}; results so far in "  # type: ignore[index]
                f"{path}; work folder kept: {cfg.workdir} (benchmarks/continue_checkpoint.py continues it)",
                highlight=False,
            )
            return
        p = result["parameters"]
        table = Table(
            title=f"Benchmark: {cp['years']:g} year(s) of history, {p['associations']} associations, "  # type: ignore[index]
            f"scale {p['scale']}, {p['history_files']} history files",  # type: ignore[index]
            title_justify="left",
        )
        table.add_column("measure")
        table.add_column("value", justify="right")
        table.add_column("note")
        for row in summary_rows(cp):  # type: ignore[arg-type]
            table.add_row(*row)
        out.print(table)

    result = run_benchmark(cfg, on_checkpoint=checkpoint_done)
    result["command"] = command
    write_result(result, path)
    if len(result["checkpoints"]) > 1:
        table = Table(title="Scaling curve", title_justify="left")
        for col in SCALING_COLUMNS:
            table.add_column(col, justify="right")
        for row in scaling_rows(result):
            table.add_row(*row)
        out.print(table)
    out.print(f"Results: {path}" + (f"; work folder kept: {folder}" if keep else ""), highlight=False)


if __name__ == "__main__":
    benchmark(prog_name="lakehouse benchmark")
