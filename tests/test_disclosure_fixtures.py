"""Tests for the disclosure tests: each generic test FAILS on a deliberately leaky fixture and passes on
its clean twin, and the complementary-suppression engine leaves no recoverable cell on random tables.

Runs the small dbt project in tests/disclosure_fixtures/ (plain DuckDB, a few seconds).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from tests.disclosure_fixtures.gen_raw_cells import write_raw_cells

PROJECT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "disclosure_fixtures"
K = 11


@pytest.fixture(scope="module")
def fixture_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    work = tmp_path_factory.mktemp("disclosure_fixtures")
    project = work / "project"
    shutil.copytree(
        FIXTURES, project, ignore=shutil.ignore_patterns("*.duckdb", "target", "logs", "__pycache__")
    )
    raw = write_raw_cells(project / "seeds" / "raw_cells.csv", seed=20261128, tables=40)
    env = {
        **os.environ,
        "DISCLOSURE_MACROS_DIR": str(PROJECT / "macros" / "disclosure"),
        "DISCLOSURE_FIXTURES_DB": str(work / "fixtures.duckdb"),
    }
    command = [str(Path(sys.executable).parent / "dbt"), "build", "--project-dir", str(project)]
    command += [
        "--profiles-dir",
        str(project),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    statuses = {r["unique_id"]: r["status"] for r in results}
    return {"result": result, "statuses": statuses, "db": work / "fixtures.duckdb", "raw": raw}


def _test_statuses(statuses: dict[str, str], fixture: str) -> list[str]:
    return [
        status for uid, status in statuses.items() if uid.startswith("test.") and f"_{fixture}_" in uid + "_"
    ]


@pytest.mark.parametrize(
    "fixture",
    ["leaky_cell_size", "leaky_flag", "leaky_rate", "leaky_age_margin", "leaky_geo_margin", "leaky_days",
     "leaky_records", "leaky_doctors"],
)  # fmt: skip
def test_disclosure_test_fails_on_leaky_fixture(fixture_build: dict, fixture: str) -> None:
    statuses = _test_statuses(fixture_build["statuses"], fixture)
    assert statuses, f"no disclosure test ran on {fixture}"
    assert statuses == ["fail"] * len(statuses), statuses


@pytest.mark.parametrize(
    "fixture",
    [
        "clean_cell_size",
        "clean_age_margin",
        "clean_geo_margin",
        "clean_days",
        "clean_records",
        "clean_doctors",
    ],
)
def test_disclosure_test_passes_on_clean_fixture(fixture_build: dict, fixture: str) -> None:
    statuses = _test_statuses(fixture_build["statuses"], fixture)
    assert statuses and set(statuses) == {"pass"}, statuses


def test_engine_output_passes_its_disclosure_tests(fixture_build: dict) -> None:
    statuses = fixture_build["statuses"]
    assert statuses["model.disclosure_fixtures.suppressed_cells"] == "success", fixture_build["result"].stdout
    engine_tests = {
        uid: s for uid, s in statuses.items() if "suppressed_cells" in uid and uid.startswith("test.")
    }
    engine_tests |= {uid: s for uid, s in statuses.items() if ".engine_" in uid}
    assert len(engine_tests) == 3 and set(engine_tests.values()) == {"pass"}, engine_tests


def _groups(rows: list[tuple]) -> dict[tuple, list[tuple]]:
    """Margin groups of the fixture cells (age and geography), as an independent re-implementation."""
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for row in rows:
        family, age, level, code, parent_level, parent_code, _count, _suppressed = row
        groups[("age", family, level, code)].append(row)  # every age class, all included
        groups[("geo", family, age, level, code)].append(row)  # as a parent
        if parent_level:
            groups[("geo", family, age, parent_level, parent_code)].append(row)  # as a child
    return groups


def test_engine_leaves_no_group_with_a_single_suppressed_cell(fixture_build: dict) -> None:
    con = duckdb.connect(str(fixture_build["db"]), read_only=True)
    rows = con.execute(
        "select family, age_class, geo_level, geo_code, parent_geo_level, parent_geo_code, cell_count, "
        "is_suppressed from main.suppressed_cells"
    ).fetchall()
    assert len(rows) == len(fixture_build["raw"])
    exposed = [
        k for k, members in _groups(rows).items() if len(members) > 1 and sum(m[7] for m in members) == 1
    ]
    assert exposed == []
    # Suppressed means NULL; every primary cell (1..k-1) is suppressed; published values are untouched.
    raw = {
        (r["family"], r["age_class"], r["geo_level"], r["geo_code"]): r["cell_count"]
        for r in fixture_build["raw"]
    }
    for family, age, level, code, _, _, count, suppressed in rows:
        original = raw[(family, age, level, code)]
        assert (count is None) == suppressed
        if 1 <= original < K:
            assert suppressed
        if not suppressed:
            assert count == original


def test_primary_suppression_alone_would_leak(fixture_build: dict) -> None:
    """Without the complementary step the same random tables have recoverable cells: the engine is needed."""
    keys = [
        "family",
        "age_class",
        "geo_level",
        "geo_code",
        "parent_geo_level",
        "parent_geo_code",
        "cell_count",
    ]
    rows = [(*(r[key] for key in keys), 1 <= r["cell_count"] < K) for r in fixture_build["raw"]]
    exposed = [
        k for k, members in _groups(rows).items() if len(members) > 1 and sum(m[7] for m in members) == 1
    ]
    assert len(exposed) > 10


# Each threshold test one below and at its threshold (tests/disclosure_fixtures/seeds/_boundary__seeds.yml),
# at the default (k = 11, 3 doctors) and at another value passed as an argument (k = 5, 5 doctors).
BOUNDARY_OUTCOMES = {
    "boundary_cell_size_k11_at_1": "fail",
    "boundary_cell_size_k11_at_10": "fail",
    "boundary_cell_size_k11_at_11": "pass",
    "boundary_cell_size_k11_negative": "fail",
    "boundary_cell_size_k5_at_4": "fail",
    "boundary_cell_size_k5_at_5": "pass",
    "boundary_records_k11_at_10": "fail",
    "boundary_records_k11_at_11": "pass",
    "boundary_records_k5_at_4": "fail",
    "boundary_records_k5_at_5": "pass",
    "boundary_doctors_min3_at_2": "fail",
    "boundary_doctors_min3_at_3": "pass",
    "boundary_doctors_min3_zero_count": "pass",
    "boundary_doctors_min5_at_4": "fail",
    "boundary_doctors_min5_at_5": "pass",
}


@pytest.mark.parametrize(("seed", "expected"), BOUNDARY_OUTCOMES.items())
def test_threshold_tests_hold_exactly_at_their_boundary(
    fixture_build: dict, seed: str, expected: str
) -> None:
    statuses = fixture_build["statuses"]
    assert statuses[f"seed.disclosure_fixtures.{seed}"] == "success", fixture_build["result"].stdout
    outcome = [s for uid, s in statuses.items() if uid.startswith(f"test.disclosure_fixtures.check_{seed}.")]
    assert outcome == [expected], (seed, outcome)


def test_every_boundary_fixture_is_checked() -> None:
    seeds = {p.stem for p in (FIXTURES / "seeds").glob("boundary_*.csv")}
    assert seeds == set(BOUNDARY_OUTCOMES)
