"""The benchmark command, run for real at a tiny scale, so that it cannot rot: every phase runs, the
figures it prints and writes exist and are consistent with each other."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools.benchmark.national import QUERIES

pytestmark = pytest.mark.slow


def test_benchmark_small_scaling_run_writes_sane_figures(tmp_path: Path) -> None:
    results = tmp_path / "results"
    work = tmp_path / "work"
    proc = subprocess.run(
        [
            sys.executable, "-m", "tools.benchmark", "--years", "0.01,0.02", "--associations", "1",
            "--scale", "0.1", "--repeats", "1", "--plain-sample-files", "5", "--history-files", "day",
            "--workdir", str(work), "--results", str(results),
        ],
        capture_output=True, text=True, check=False, timeout=600, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = results.glob("*.json")
    assert str(path) in proc.stdout.replace("\n", "")
    assert "build / floor" in proc.stdout and "Scaling curve" in proc.stdout
    assert "ingest floor" in proc.stdout and "copy the lake once" in proc.stdout
    assert not work.exists()  # scratch deleted without --keep

    result = json.loads(path.read_text())
    assert result["command"].startswith("lakehouse benchmark --years 0.01,0.02")
    first, second = result["checkpoints"]
    # round(0.01 x 365) = 4: 4 days of history, then the daily day 2015-01-05; the second checkpoint adds
    # the days after it up to round(0.02 x 365) = 7 days, then its own daily day.
    assert (
        first["history"] == ["2015-01-01", "2015-01-04"] and first["phases"]["daily"]["day"] == "2015-01-05"
    )
    assert (
        second["segment"] == ["2015-01-06", "2015-01-07"] and second["phases"]["daily"]["day"] == "2015-01-08"
    )

    for cp, history_days, lake_days in ((first, 4, 4), (second, 2, 7)):
        p = cp["phases"]
        gen = p["generate"]
        # 6 entities a day for one association.
        assert gen["files"] == history_days * 6 and gen["daily_files"] == 6 and gen["bytes"] > 0

        floor = p["floor"]
        rows = floor["rows"]
        assert set(rows) == {"acts", "diagnoses", "prescriptions", "vital_signs", "doctors", "care_sites"}
        assert all(n > 0 for n in rows.values()), rows
        # The floor reads the whole lake: every history day so far and the earlier daily days.
        assert floor["files"]["acts"] == lake_days and sum(floor["files"].values()) == lake_days * 6
        assert 0 < floor["seconds"] < p["build"]["seconds"]
        assert 0.2 < floor["encrypted_vs_plain"] < 20
        assert 0 < floor["copy_seconds"] < p["build"]["seconds"]

        ing = p["ingest"]
        # Rows counted from the manifests the ingest committed: this segment's only.
        assert 0 < ing["acts"] < rows["acts"] if cp is second else ing["acts"] == rows["acts"]
        assert ing["acts_per_second"] == pytest.approx(ing["acts"] / ing["seconds"])
        assert 50 < ing["peak_rss_mb"] < 4000
        # The ingest floor parses and encrypts the same files, without the checks.
        ing_floor = p["ingest_floor"]
        assert ing_floor["files"] == gen["files"] and ing_floor["acts"] == ing["acts"]
        assert ing_floor["rows"] >= ing_floor["acts"] > 0
        assert ing["vs_floor"] == pytest.approx(ing["seconds"] / ing_floor["seconds"])

        build = p["build"]
        assert build["nodes"] > 100 and build["slowest"]
        assert build["vs_floor"] == pytest.approx(build["seconds"] / floor["seconds"])
        assert 50 < build["peak_rss_mb"] < 8000

        daily = p["daily"]
        assert daily["seconds"] == pytest.approx(daily["ingest_seconds"] + daily["build_seconds"])
        assert daily["nodes"] == build["nodes"] and daily["acts"] > 0

        assert set(p["queries"]) == set(QUERIES)
        assert all(q["seconds"] > 0 for q in p["queries"].values())
        # The CDM query answers from the loaded history: one (year, sex) group at least.
        assert p["queries"]["cdm_top_conditions_by_year_sex"]["rows"] > 0
    # The second full build saw the first checkpoint's daily day too.
    assert second["phases"]["floor"]["rows"]["acts"] == (
        first["phases"]["floor"]["rows"]["acts"]
        + first["phases"]["daily"]["acts"]
        + second["phases"]["ingest"]["acts"]
    )


def test_a_stopped_run_keeps_its_work_folder_and_names_it(tmp_path: Path) -> None:
    """A phase that fails (here the full build, on a warehouse file that is not a database) stops the
    run, and its work folder stays: the log the error names, and the landed history to go on from."""
    results, work = tmp_path / "results", tmp_path / "work"
    work.mkdir()
    (work / "warehouse.duckdb").write_bytes(b"not a database")
    proc = subprocess.run(
        [
            sys.executable, "-m", "tools.benchmark", "--years", "0.01", "--associations", "1",
            "--scale", "0.1", "--repeats", "1", "--plain-sample-files", "5", "--history-files", "day",
            "--no-daily", "--workdir", str(work), "--results", str(results),
        ],
        capture_output=True, text=True, check=False, timeout=600, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert proc.returncode != 0
    out = " ".join(proc.stdout.split())
    assert "Stopped at 0.01 year(s)" in out and "work folder kept:" in out, proc.stdout
    assert str(work) in proc.stdout.replace("\n", ""), proc.stdout  # the console may wrap a long path
    (checkpoint,) = json.loads(next(results.glob("*.json")).read_text())["checkpoints"]
    assert "exited with" in checkpoint["error"] and str(work / "benchmark.log") in checkpoint["error"]
    assert "build" not in checkpoint["phases"] and checkpoint["phases"]["ingest"]["acts"] > 0
    assert (work / "benchmark.log").stat().st_size > 0
    assert any((work / "lake" / "raw" / "acts").rglob("*.parquet"))
