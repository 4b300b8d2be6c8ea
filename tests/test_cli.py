"""The command line: help everywhere, the report table, and one-line errors with distinct exit codes."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ingest.cli import main
from tests.extract_builder import act_row, write_extract


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, cmd in group.commands.items():
        found.append((*prefix, name))
        if isinstance(cmd, click.Group):
            found.extend(_commands(cmd, (*prefix, name)))
    return found


@pytest.mark.parametrize("args", _commands(main), ids=" ".join)
def test_every_command_has_help(args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    # The first help line is a real sentence, not an empty docstring.
    assert len(result.output.split("\n\n")[1].strip()) > 20


def test_ingest_reports_counts_and_reasons(tmp_path: Path, keystore) -> None:
    write_extract(tmp_path / "in", "actes", [act_row("1"), act_row("2", type_acte="XYZ")])
    runner = CliRunner()
    args = ["ingest", str(tmp_path / "in"), "--lake", str(tmp_path / "lake")]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "A75001_20240115_actes.csv" in result.output
    assert "type_acte:unknown_code ×1" in result.output
    assert "1 files" in result.output
    # --strict turns quarantined rows into a non-zero exit, for schedulers; a re-run is a duplicate.
    again = runner.invoke(main, [*args, "--strict"])
    assert again.exit_code == 0 and "duplicate" in again.output


def test_missing_key_store_is_one_clear_line_with_the_fix(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_KEYSTORE", str(tmp_path / "nowhere" / "keystore.json"))
    write_extract(tmp_path / "in", "actes", [act_row("1")])
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "in"), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 2
    assert result.output.startswith("Error:")
    assert "keys init" in result.output and "Traceback" not in result.output


def test_grouped_ingest_summary_counts_every_file(tmp_path: Path, keystore, monkeypatch) -> None:
    """Past 30 files with rejects, one line per entity: over all its files (clean ones too), so the
    entity lines add up to the total line and to the per-file CSV."""
    import csv
    import re

    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "home"))

    def dated(act_id: str, month: int, day: int, **overrides: str) -> dict[str, str]:
        when = f"{day:02d}/{month:02d}/2024"
        return act_row(act_id, date_appel=when, date_debut=when, date_fin=when, **overrides)

    for day in range(1, 32):
        rows = [dated("1", 1, day), dated("2", 1, day, type_acte="XYZ")]
        write_extract(tmp_path / "in", "actes", rows, day=f"202401{day:02d}")
    for day in range(1, 6):
        rows = [dated(str(n), 2, day) for n in (1, 2, 3)]
        write_extract(tmp_path / "in", "actes", rows, day=f"202402{day:02d}")
    result = CliRunner().invoke(main, ["ingest", str(tmp_path / "in"), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "actes (" in line)
    assert "actes (36 files, 31 with quarantined rows)" in line
    numbers = [int(n.replace(",", "")) for n in re.findall(r"│\s*([\d,]+)\s*(?=│)", line)]
    assert numbers == [77, 46, 31, 0]  # read, accepted, quarantined, opposed over the 36 files
    total = next(line for line in result.output.splitlines() if "36 files, all entities" in line)
    assert [int(n) for n in re.findall(r"│\s*(\d+)\s*(?=│)", total)] == [77, 46, 31, 0]
    report = next((tmp_path / "home" / "reports").glob("ingest-*.csv"))
    with report.open(encoding="utf-8") as fh:
        assert sum(int(r["rows_read"]) for r in csv.DictReader(fh)) == 77


@pytest.mark.slow
def test_build_output_is_a_progress_summary_and_a_log_file(tmp_path: Path, keystore) -> None:
    """`lakehouse build` into a file (no terminal): no colour codes, a few progress lines and one summary
    naming what ran; dbt's every line is in the log whose path is printed. A failing build names the
    error and the log."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "LAKEHOUSE_HOME": str(tmp_path / "home"),
        "LAKEHOUSE_LAKE": str(tmp_path / "lake"),
        "LAKEHOUSE_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
    }
    command = [sys.executable, "-m", "ingest.cli", "build", "--select", "omop_gender_concepts"]
    with (tmp_path / "out.txt").open("w") as fh:
        done = subprocess.run(command, env=env, stdout=fh, stderr=subprocess.STDOUT, check=False, timeout=600)
    output = (tmp_path / "out.txt").read_text(encoding="utf-8")
    assert done.returncode == 0, output
    assert "\x1b[" not in output
    assert "dbt build: 1 seed, 1 test: 2 passed, 0 warnings, 0 errors in " in output
    assert len(output.splitlines()) < 12, output
    log = Path(output.split("Full dbt log: ")[1].split()[0])
    assert log.parent == tmp_path / "home" / "logs"
    text = log.read_text(encoding="utf-8")
    assert "\x1b[" not in text and "PASS unique_not_null_omop_gender_concepts_sex_code" in text
    # dbt's own line counts the on-run-start and on-run-end hooks too.
    assert "Done. PASS=4 WARN=0 ERROR=0" in text

    # A warehouse file that is not a database: dbt itself fails, after the build lock was taken.
    broken = {**env, "LAKEHOUSE_WAREHOUSE": str(tmp_path / "not-a-database.duckdb")}
    (tmp_path / "not-a-database.duckdb").write_text("not a DuckDB file " * 512)
    failed = subprocess.run(command, env=broken, capture_output=True, text=True, check=False, timeout=600)
    assert failed.returncode == 6
    assert "dbt build failed" in failed.stderr and "Full dbt log: " in failed.stdout
    assert "\x1b[" not in failed.stdout + failed.stderr


@pytest.mark.slow
def test_run_goes_end_to_end_to_a_publication(tmp_path: Path) -> None:
    """The README's main command, as a newcomer runs it: key store, extracts, ingest, build, export."""
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    env = {
        **os.environ,
        "LAKEHOUSE_HOME": str(home),
        "LAKEHOUSE_KEYSTORE": str(tmp_path / "keystore.json"),
        "LAKEHOUSE_LAKE": str(home / "lake"),
        "LAKEHOUSE_WAREHOUSE": str(home / "warehouse.duckdb"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "run"], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert (home / "lake" / "publication" / "_export.json").is_file()
    # The attacker's audit on the warehouse `run` built: nothing pinned, and the read is in the audit trail.
    audited = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "disclosure-audit"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert audited.returncode == 0, audited.stdout[-3000:] + audited.stderr[-3000:]
    assert ", 0 pinned" in audited.stdout
    trail = subprocess.run(
        [sys.executable, "-m", "ingest.cli", "audit", "log", "--action", "disclosure_audit"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert trail.returncode == 0, trail.stderr[-3000:]
    assert "disclosure_audit" in trail.stdout
