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
