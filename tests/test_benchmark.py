"""The benchmark command, run for real at a tiny scale, so that it cannot rot: every phase runs, the
figures it prints and writes exist and are consistent with each other."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.benchmark import QUERIES

pytestmark = pytest.mark.slow


def test_benchmark_small_run_writes_sane_figures(tmp_path: Path) -> None:
    results = tmp_path / "results"
    work = tmp_path / "work"
    proc = subprocess.run(
        [
            sys.executable, "-m", "ingest.cli", "benchmark", "--years", "0.01", "--associations", "1",
            "--scale", "0.1", "--repeats", "1", "--plain-sample-files", "5", "--workdir", str(work),
            "--results", str(results),
        ],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = results.glob("*.json")
    assert str(path) in proc.stdout.replace("\n", "")
    assert "build / floor" in proc.stdout
    assert not work.exists()  # scratch deleted without --keep

    result = json.loads(path.read_text())
    assert result["command"].startswith("lakehouse benchmark --years 0.01")
    assert result["parameters"]["history"] == ["2024-12-28", "2024-12-30"]
    p = result["phases"]

    gen = p["generate"]
    # round(0.01 x 365) - 1 = 3 history days, then the daily day; 6 entities a day for one association.
    assert gen["files"] == 3 * 6 and gen["daily_files"] == 6 and gen["bytes"] > 0

    floor = p["floor"]
    rows = floor["rows"]
    assert set(rows) == {"acts", "diagnoses", "prescriptions", "vital_signs", "doctors", "care_sites"}
    assert all(n > 0 for n in rows.values()), rows
    # Every file landed, and the floor read exactly what was landed.
    assert floor["files"]["acts"] == 3 and sum(floor["files"].values()) == gen["files"]
    assert floor["sample_files"] == 3 * 6
    assert 0 < floor["seconds"] < p["build"]["seconds"]
    assert 0.2 < floor["encrypted_vs_plain"] < 20

    ing = p["ingest"]
    assert ing["acts"] == rows["acts"] and ing["rows"] == sum(rows.values())
    assert ing["acts_per_second"] == pytest.approx(ing["acts"] / ing["seconds"])
    assert 50 < ing["peak_rss_mb"] < 4000

    build = p["build"]
    assert build["nodes"] > 100 and build["slowest"]
    assert build["vs_floor"] == pytest.approx(build["seconds"] / floor["seconds"])
    assert 50 < build["peak_rss_mb"] < 8000

    daily = p["daily"]
    assert daily["seconds"] == pytest.approx(daily["ingest_seconds"] + daily["build_seconds"])
    assert daily["nodes"] == build["nodes"]

    assert set(p["queries"]) == set(QUERIES)
    assert all(q["seconds"] > 0 for q in p["queries"].values())
    # The CDM query answers from the loaded history: one (year, sex) group at least.
    assert p["queries"]["cdm_top_conditions_by_year_sex"]["rows"] > 0
