"""The vocabulary models read an Athena download (tab-separated, unquoted, YYYYMMDD dates) as well as the
curated seeds; the generated OMOP YAML is up to date; the curated seeds hold every concept the models use."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ingest.lake.crypto import load_httpfs
from ingest.lake.keys import init_keystore, open_keystore

PROJECT = Path(__file__).resolve().parent.parent
FIXTURE = PROJECT / "tests" / "dbt_fixtures" / "athena"
SHARED_SUBSET = Path("/work/shared/reference/omop_vocab")
VOCABULARY_MODELS = (
    "concept concept_relationship concept_ancestor vocabulary domain concept_class relationship"
)


def athena_rows(folder: Path, table: str) -> int:
    with (folder / f"{table.upper()}.csv").open(encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def build_vocabulary(tmp_path: Path, athena: Path, *extra: str) -> duckdb.DuckDBPyConnection:
    keystore_path = tmp_path / "keystore.json"
    init_keystore(keystore_path)
    (tmp_path / "lake").mkdir()
    env = {
        **os.environ,
        "LAKEHOUSE_KEYSTORE": str(keystore_path),
        "LAKEHOUSE_LAKE": str(tmp_path / "lake"),
        "LAKEHOUSE_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
    }
    selector = " ".join(f"+{model}" for model in VOCABULARY_MODELS.split())
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "build",
            *extra,
            # Only tests whose every parent is selected: FK tests from clinical tables are not built here.
            "--indirect-selection",
            "cautious",
            "--select",
            *selector.split(),
            "--vars",
            json.dumps({"athena_vocabulary_path": str(athena)}),
            "--project-dir",
            str(PROJECT),
            "--profiles-dir",
            str(PROJECT),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    con = duckdb.connect()
    load_httpfs(con)
    key = open_keystore(keystore_path).warehouse_db_key()
    con.execute(f"attach '{tmp_path / 'warehouse.duckdb'}' as w (encryption_key '{key}', read_only)")
    return con


def custom_concepts() -> int:
    with (PROJECT / "seeds" / "omop" / "omop_custom_concepts.csv").open(encoding="utf-8") as handle:
        return sum(1 for _ in handle) - 1


@pytest.mark.slow
def test_athena_fixture_builds_and_passes_tests(tmp_path: Path) -> None:
    con = build_vocabulary(tmp_path, FIXTURE)
    assert con.execute("select count(*) from w.cdm.concept").fetchone()[0] == (
        athena_rows(FIXTURE, "concept") + custom_concepts()
    )
    quoted = con.execute("select concept_name, valid_end_date from w.cdm.concept where concept_id = 4000001")
    assert quoted.fetchone() == ('A "quoted" name, as Athena leaves it', date(2020, 1, 1))
    assert (
        con.execute(
            "select count(*) from w.cdm.concept_relationship where relationship_id = 'Maps to'"
        ).fetchone()[0]
        == 1
    )


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_SUBSET.is_dir(), reason="shared OMOP vocabulary subset not present")
def test_shared_athena_subset_loads_whole(tmp_path: Path) -> None:
    # No data tests: the public subset is partial (FK targets missing); the loading is what is tested.
    con = build_vocabulary(tmp_path, SHARED_SUBSET, "--exclude", "test_type:data")
    for table in VOCABULARY_MODELS.split():
        expected = athena_rows(SHARED_SUBSET, table) + (custom_concepts() if table == "concept" else 0)
        expected += 1 if table == "vocabulary" else 0  # the project's own UCN vocabulary
        assert con.execute(f"select count(*) from w.cdm.{table}").fetchone()[0] == expected, table


def test_generated_omop_yaml_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.omop.generate_yaml", "--check"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_curated_seed_holds_every_concept_the_models_use() -> None:
    with (PROJECT / "seeds" / "vocabulary" / "vocabulary_concept.csv").open(
        encoding="utf-8", newline=""
    ) as f:
        seeded = {int(r["concept_id"]) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)}
    used: set[int] = set()
    for seed in (PROJECT / "seeds" / "omop").glob("omop_*_concepts.csv"):
        if seed.name == "omop_custom_concepts.csv":
            continue
        with seed.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                used |= {
                    int(v)
                    for k, v in row.items()
                    if k.endswith("concept_id") and v and int(v) < 2_000_000_000
                }
    assert used - seeded == set()


@pytest.mark.slow
def test_a_wrong_athena_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AssertionError) as failed:
        build_vocabulary(tmp_path, tmp_path / "not-an-athena-download")
    message = str(failed.value)
    assert re.search(
        r"athena_vocabulary_path `[^`]*not-an-athena-download` has no [A-Z_]+\.csv: unzip", message
    )
    assert "No files found" not in message
