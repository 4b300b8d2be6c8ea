"""The mutation catalogue (tools/mutation/, docs/mutation-testing.md) cannot rot: every entry's snippet is
found exactly once in the current tree and names tests that exist, and the runner really applies a
mutation in a copy, kills it with its tests and leaves the working tree untouched."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "tools" / "mutation"))
import run as mutation_run  # noqa: E402

MUTATIONS = mutation_run.load_catalogue()


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_every_catalogue_entry_applies_to_the_tree(mutation: mutation_run.Mutation) -> None:
    assert mutation_run.problems(mutation) == []
    assert mutation.tests and mutation.why


def test_the_catalogue_covers_every_critical_area() -> None:
    files = {m.file for m in MUTATIONS}
    for area in [
        "ingest/records/pseudonymise.py",
        "ingest/lake/crypto.py",
        "ingest/lake/keys.py",
        "ingest/records/validate.py",
        "ingest/landing/land.py",
        "ingest/governance/opposition.py",
        "ingest/governance/purge.py",
        "ingest/lake/audit.py",
        "macros/disclosure/disclosure_tests.sql",
        "macros/disclosure/suppression.sql",
        "macros/incremental/lake_changes.sql",
    ]:
        assert area in files, area
    assert len(MUTATIONS) >= 20


@pytest.mark.slow
def test_the_runner_kills_a_mutation_in_a_copy_and_leaves_the_tree_alone(tmp_path: Path) -> None:
    target = PROJECT / "ingest" / "records" / "validate.py"
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    command = [
        sys.executable,
        str(PROJECT / "tools" / "mutation" / "run.py"),
        "--only",
        "phone-dots-not-matched",
    ]
    result = subprocess.run(
        [*command, "--no-baseline", "--logs", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "phone-dots-not-matched" in result.stdout and "killed" in result.stdout
    assert "1 killed, 0 survived, 0 errors of 1 mutations: score 100 %" in result.stdout
    log = (tmp_path / "phone-dots-not-matched.log").read_text()
    assert "test_identifier_patterns.py" in log and " failed" in log
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
