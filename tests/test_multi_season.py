"""The steady state of a surveillance warehouse: three seasons year round, landed in two steps, built,
exported and turned into a bulletin. Thresholds exist for the last season, the export publishes them
(an epidemic's duration in weeks is not a head count), and the epidemic status of a week is what was
published that week: landing later weeks does not change it (no look-ahead).

One association (one région) at a small scale keeps the two builds to a few minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from ingest.lake.keys import init_keystore, open_keystore
from ingest.lake.storage import open_store
from ingest.landing.land import Ingestor, find_extract_files
from ingest.publish.disclosure_check import check_manifest
from ingest.publish.export import export, open_warehouse
from ingest.synth import generate_extracts

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
K = 11
FIRST_DAY, SPLIT_DAY, LAST_DAY = date(2021, 7, 5), date(2024, 1, 29), date(2024, 6, 30)
LAST_WEEK_OF_FIRST_LANDING = "2024-W04"
STATUS = ["is_above_threshold", "is_epidemic_week", "epidemic_phase", "baseline_count", "epidemic_threshold"]


def _dbt_build(root: Path, env: dict) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "dbt"), "build", "--project-dir", str(PROJECT)]
    command += [
        "--profiles-dir",
        str(PROJECT),
        "--target-path",
        str(root / "target"),
        "--log-path",
        str(root),
    ]
    return subprocess.run(command, env=env, cwd=PROJECT, capture_output=True, text=True, check=False)


def _baseline(root: Path) -> pd.DataFrame:
    con = open_warehouse(root / "warehouse.duckdb", root / "keys" / "keystore.json")
    try:
        return con.sql("select * from warehouse.epidemiology.epidemic_baseline_by_week order by all").df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("seasons")
    init_keystore(root / "keys" / "keystore.json")
    keystore = open_keystore(root / "keys" / "keystore.json")
    env = {
        **os.environ,
        "LAKEHOUSE_KEYSTORE": str(root / "keys" / "keystore.json"),
        "LAKEHOUSE_LAKE": str(root / "lake"),
        "LAKEHOUSE_WAREHOUSE": str(root / "warehouse.duckdb"),
    }
    ingestor = Ingestor(open_store(root / "lake"), keystore)
    # A range gives the files of its sub-ranges: the history up to 2024-W04, then the weeks after it.
    for name, start, end in [
        ("history", FIRST_DAY, SPLIT_DAY.replace(day=28)),
        ("later", SPLIT_DAY, LAST_DAY),
    ]:
        generate_extracts(root / name, start, end, n_associations=1, scale=0.15, file_period="month")
    ingestor.run(find_extract_files([root / "history"]))
    first = _dbt_build(root, env)
    before = _baseline(root) if first.returncode == 0 else None
    ingestor.run(find_extract_files([root / "later"]))
    second = _dbt_build(root, env)
    return {"root": root, "first": first, "second": second, "before": before}


def test_both_builds_pass_every_test(landed: dict) -> None:
    for build in ("first", "second"):
        assert landed[build].returncode == 0, landed[build].stdout[-4000:]
    manifest = json.loads((landed["root"] / "target" / "manifest.json").read_text())
    assert check_manifest(manifest) == []


def test_thresholds_exist_for_the_last_season(landed: dict) -> None:
    after = _baseline(landed["root"])
    last = after[
        (after["surveillance_season"] == "2023-2024")
        & (after["syndrome_group"] == "grippe")
        & (after["geo_level"] == "region")
    ]
    assert last["epidemic_threshold"].notna().all() and len(last) == 52
    assert (last["epidemic_threshold"] >= last["baseline_count"]).all()
    assert last["is_epidemic_week"].fillna(False).any()  # the 2023-24 influenza season is detected
    # The share view of the bulletin: baseline and threshold over the week's coded acts.
    shown = last[last["coded_act_count"] > 0]
    expected = (100 * shown["epidemic_threshold"] / shown["coded_act_count"]).round(2)
    assert (shown["epidemic_threshold_share_pct"] - expected).abs().max() < 0.011


def test_a_week_status_does_not_change_when_later_weeks_land(landed: dict) -> None:
    before = landed["before"]
    assert before is not None
    after = _baseline(landed["root"])
    keys = ["syndrome_group", "geo_level", "geo_code", "iso_week"]
    old = before[before["iso_week"] <= LAST_WEEK_OF_FIRST_LANDING].set_index(keys)[STATUS]
    new = after.set_index(keys).loc[old.index, STATUS]
    assert old["epidemic_threshold"].notna().sum() > 100  # the comparison covers weeks with a status
    pd.testing.assert_frame_equal(old, new, check_dtype=False)


def test_heat_syndromes_only_in_summer_and_no_period_spans_two_seasons(landed: dict) -> None:
    after = _baseline(landed["root"])
    heat = after[after["syndrome_group"].str.startswith("icanicule")]
    months = pd.to_datetime(heat["week_start_date"]).dt.month
    outside = heat[~months.between(5, 10)]
    assert not outside["is_epidemic_week"].fillna(False).any()
    assert not outside["is_in_surveillance_period"].any()
    assert set(heat["surveillance_season"]) <= {"2021", "2022", "2023", "2024"}
    winter = after[after["syndrome_group"] == "grippe"]
    weeks = winter["iso_week"].str[-2:].astype(int)
    assert not winter.loc[weeks.between(16, 39), "is_epidemic_week"].fillna(False).any()


def test_export_and_bulletin_succeed_on_the_steady_state(landed: dict, tmp_path: Path) -> None:
    root = landed["root"]
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    con = open_warehouse(root / "warehouse.duckdb", root / "keys" / "keystore.json")
    try:
        summary = export(manifest, con, open_store(tmp_path), k=K)
    finally:
        con.close()
    assert summary["marts"]["epidemic_seasons_by_region"] > 0
    # Every week was certified by the build that last recomputed it (the full build, then the incremental
    # one): the export solves none again (ingest/disclosure/certificate.py).
    assert summary["weeks_audited_again"] == 0, summary["disclosure_report"][0]
    seasons = pd.read_parquet(tmp_path / "publication" / "epidemic_seasons_by_region.parquet")
    # The durations the generic `*_count` rule used to refuse (exit 6 with thresholds in place).
    assert seasons["epidemic_week_count"].between(1, K - 1).any()
    weekly = pd.read_parquet(tmp_path / "publication" / "syndromic_indicators_by_week.parquet")
    region = weekly.loc[weekly["geo_level"] == "region", "geo_code"].iloc[0]
    from ingest.publish.report import build_bulletin

    page = build_bulletin(region, lake=tmp_path, out=tmp_path / "bulletin")
    assert page.is_file() and list((tmp_path / "bulletin").glob("*.png"))
