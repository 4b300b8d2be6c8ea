"""End to end for the epidemiology marts: synthetic extracts -> ingest -> dbt build (every disclosure test
must pass on generated data) -> consistency of the published numbers -> export to publication/ ->
the worked analyses run on the export with DuckDB, and pandas reads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from ingest.disclosure.attack import audit_published_tables
from ingest.disclosure.certificate import read_certificates
from ingest.lake.keys import init_keystore, open_keystore
from ingest.lake.storage import open_store
from ingest.landing.land import Ingestor, find_extract_files
from ingest.publish.disclosure_check import check_manifest
from ingest.publish.export import ExportError, check_cell_sizes, export, open_warehouse, published_marts
from ingest.synth import generate_extracts

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
K = 11
MARTS = [
    "activity_by_association_day", "care_pathway_by_syndrome_week", "death_certificates_by_week",
    "epidemic_baseline_by_week", "epidemic_seasons_by_region", "syndromic_indicators_by_day",
    "syndromic_indicators_by_week",
]  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("marts")
    init_keystore(root / "keys" / "keystore.json")
    keystore = open_keystore(root / "keys" / "keystore.json")
    generate_extracts(root / "extracts", date(2024, 1, 8), date(2024, 1, 28), n_associations=2, scale=0.3)
    Ingestor(open_store(root / "lake"), keystore).run(find_extract_files([root / "extracts"]))
    env = {
        **os.environ,
        "LAKEHOUSE_KEYSTORE": str(root / "keys" / "keystore.json"),
        "LAKEHOUSE_LAKE": str(root / "lake"),
        "LAKEHOUSE_WAREHOUSE": str(root / "warehouse.duckdb"),
    }
    command = [str(Path(sys.executable).parent / "dbt"), "build", "--project-dir", str(PROJECT)]
    command += [
        "--profiles-dir",
        str(PROJECT),
        "--target-path",
        str(root / "target"),
        "--log-path",
        str(root),
    ]
    result = subprocess.run(command, env=env, cwd=PROJECT, capture_output=True, text=True, check=False)
    con = open_warehouse(root / "warehouse.duckdb", root / "keys" / "keystore.json")
    return {"root": root, "result": result, "con": con}


def test_build_and_every_disclosure_test_pass(built: dict) -> None:
    result = built["result"]
    assert result.returncode == 0, result.stdout[-4000:]
    results = json.loads((built["root"] / "target" / "run_results.json").read_text())["results"]
    disclosure = [r for r in results if "disclosure" in r["unique_id"] and r["unique_id"].startswith("test.")]
    assert len(disclosure) >= 25
    assert {r["status"] for r in disclosure} == {"pass"}


def test_manifest_passes_the_ci_check(built: dict) -> None:
    manifest = json.loads((built["root"] / "target" / "manifest.json").read_text())
    assert check_manifest(manifest) == []


def test_no_small_count_anywhere(built: dict) -> None:
    con = built["con"]
    manifest = json.loads((built["root"] / "target" / "manifest.json").read_text())
    roles = {mart.name: mart.roles for mart in published_marts(manifest)}
    for mart in MARTS:
        table = con.sql(f"select * from warehouse.epidemiology.{mart}").to_arrow_table()
        check_cell_sizes(table, mart, K, roles[mart])  # raises on a count between 1 and k-1


def test_every_hidden_cell_of_the_published_marts_is_certified(built: dict) -> None:
    """A reader solving every published relation of every published mart pins no hidden cell: the
    build's audit and repair (ingest/disclosure/repair.py) did its work, with no export in between."""
    con = built["con"]
    manifest = json.loads((built["root"] / "target" / "manifest.json").read_text())
    tables = {
        mart.name: con.sql(f"select * from {mart.relation}").to_arrow_table()
        for mart in published_marts(manifest)
    }
    result = audit_published_tables(tables, K)
    assert result.hidden_cells > 100
    assert result.findings == [], [str(finding) for finding in result.findings[:5]]
    # The repair's own cells are in the build's statistics as complementary cells.
    repaired = con.sql(
        "select count(*) from warehouse.epidemiology.disclosure_controlled_cells"
        " where suppression_reason = 'complementary'"
    ).fetchone()[0]
    assert repaired > 0


def test_export_audits_again_only_the_weeks_changed_after_the_build(built: dict) -> None:
    """The build stores a certificate per ISO week it audited; the marts' digests match them, so export
    solves nothing again, except a week whose published cells changed after the build."""
    con = built["con"]
    stored = con.sql(
        "select audit_unit, cells_sha256, disclosure_k"
        " from warehouse.build_state.disclosure_controlled_cells__disclosure_certificates"
    ).fetchall()
    assert len(stored) == 3 and all(digest is not None and k == K for _, digest, k in stored)
    manifest = json.loads((built["root"] / "target" / "manifest.json").read_text())
    tables = {
        mart.name: con.sql(f"select * from {mart.relation}").to_arrow_table()
        for mart in published_marts(manifest)
    }
    certificates = read_certificates(con)
    result = audit_published_tables(tables, K, certificates)
    assert (result.weeks, result.certified_weeks, result.hidden_cells) == (3, 3, 0)
    # One published count of one week changed (by hand in the warehouse, say): that week only is solved.
    weekly = tables["syndromic_indicators_by_week"].to_pandas()
    row = weekly[weekly["syndrome_act_count"].notna()].index[0]
    weekly.loc[row, "syndrome_act_count"] += 1
    tables["syndromic_indicators_by_week"] = pa.Table.from_pandas(
        weekly, schema=tables["syndromic_indicators_by_week"].schema, preserve_index=False
    )
    result = audit_published_tables(tables, K, certificates)
    assert (result.weeks, result.certified_weeks) == (3, 2) and result.hidden_cells > 0
    assert audit_published_tables(tables, K).hidden_cells > 2 * result.hidden_cells  # --full: all three


def test_published_numbers_add_up(built: dict) -> None:
    con = built["con"]
    acts = con.sql("select count(*) from warehouse.cdm.visit_occurrence").fetchone()[0]
    france_daily = con.sql(
        "select sum(act_count), count(*) filter (where act_count is null) "
        "from warehouse.epidemiology.syndromic_indicators_by_day "
        "where syndrome_group = 'grippe' and geo_level = 'france' and age_class = 'all'"
    ).fetchone()
    assert france_daily == (acts, 0)
    # The weeks are the sums of their days wherever all are published; associations add up to France.
    mismatches = con.sql(
        """
        with days as (
            select syndrome_group, age_class, geo_level, geo_code, iso_week,
                   sum(syndrome_act_count) as total, bool_or(syndrome_act_count is null) as any_null
            from warehouse.epidemiology.syndromic_indicators_by_day group by all
        )
        select count(*) from days
        left join warehouse.epidemiology.syndromic_indicators_by_week as weeks using
            (syndrome_group, age_class, geo_level, geo_code, iso_week)
        where not days.any_null and weeks.syndrome_act_count is not null
            and days.total != weeks.syndrome_act_count
        """
    ).fetchone()[0]
    assert mismatches == 0
    network = con.sql(
        "select sum(act_count) from warehouse.epidemiology.activity_by_association_day "
        "where hour_band = 'all'"
    ).fetchone()[0]
    assert network == acts
    influenza = con.sql(
        "select sum(syndrome_act_count) from warehouse.epidemiology.syndromic_indicators_by_week "
        "where syndrome_group = 'grippe' and geo_level = 'france' and age_class = 'all'"
    ).fetchone()[0]
    assert influenza > 100  # January: the generator's influenza season is under way


def test_marts_publish_only_what_the_syndromic_groups_declare(built: dict) -> None:
    """A group declared weekly and all ages only (`is_published_in_detail` = 0) has no age class and no
    daily row, and a group published only in its surveillance period (`is_published_all_year` = 0: the
    iCanicule components, summer) has no row in January: those relations are not published, so their
    small cells cannot force France-level cells to be hidden (docs/epidemiology.md, information loss)."""
    con = built["con"]
    groups = pd.read_csv(PROJECT / "seeds" / "surveillance" / "syndromic_groups.csv")
    coarse = set(groups.loc[groups["is_published_in_detail"] == 0, "syndrome_group"])
    seasonal = set(groups.loc[groups["is_published_all_year"] == 0, "syndrome_group"])
    assert coarse and seasonal

    def groups_with(sql: str) -> set[str]:
        return {row[0] for row in con.sql(f"select distinct syndrome_group from {sql}").fetchall()}

    by_age = groups_with("warehouse.epidemiology.syndromic_indicators_by_week where age_class != 'all'")
    daily = groups_with("warehouse.epidemiology.syndromic_indicators_by_day")
    weekly = groups_with("warehouse.epidemiology.syndromic_indicators_by_week")
    pathway = groups_with("warehouse.epidemiology.care_pathway_by_syndrome_week")
    assert by_age & coarse == set() and daily & coarse == set()
    assert {"grippe", "bronchiolite"} <= by_age and {"grippe", "bronchiolite"} <= daily
    assert coarse - seasonal <= weekly  # still published weekly, all ages
    assert (weekly | daily | pathway) & seasonal == set()  # January: out of the summer surveillance period
    assert "icanicule" in weekly


def test_marts_publish_the_age_classes_each_series_declares(built: dict) -> None:
    """Each group published in detail has exactly its declared scheme's age classes (seeds/surveillance:
    `syndromic_groups.age_class_scheme`, `age_class_schemes.csv`), daily and weekly, at every level, and
    death certificates under 75 and 75+: a merged class (`00-14`) replaces the classes it merges, so a
    small class under 2 never stands beside the all-ages total and forces a second France cell to be
    hidden. A merged class's acts, coded acts and population are the sums of its detailed classes'."""
    con = built["con"]
    groups = pd.read_csv(PROJECT / "seeds" / "surveillance" / "syndromic_groups.csv")
    schemes = pd.read_csv(PROJECT / "seeds" / "surveillance" / "age_class_schemes.csv")
    classes_of = schemes.groupby("age_class_scheme")["published_age_class"].agg(lambda c: set(c) | {"all"})
    detailed = groups[groups["is_published_in_detail"] == 1].set_index("syndrome_group")["age_class_scheme"]
    assert {"grippe", "asthme", "malaise"} <= set(detailed[detailed == "under_15_merged"].index)
    for mart in ("syndromic_indicators_by_week", "syndromic_indicators_by_day"):
        published = con.sql(
            f"select syndrome_group, geo_level, list(distinct age_class) from warehouse.epidemiology.{mart} "
            "group by all"
        ).fetchall()
        found = {(group, level): set(classes) for group, level, classes in published}
        for (group, level), classes in found.items():
            expected = classes_of[detailed[group]] if group in detailed.index else {"all"}
            if mart.endswith("_day") and level == "region":
                expected = {"all"}  # daily series by région: all ages only
            assert classes == expected, (mart, group, level)
    deaths = con.sql(
        "select distinct age_class from warehouse.epidemiology.death_certificates_by_week"
    ).fetchall()
    assert {row[0] for row in deaths} == {"00-74", "75+", "unknown", "all"}
    # 00-14 beside influenza = 00-01 + 02-14 beside gastroenteritis (same area and week), or NULL.
    mismatched = con.sql(
        """
        with weekly as (select * from warehouse.epidemiology.syndromic_indicators_by_week),
        parts as (
            select geo_level, geo_code, iso_week,
                   case when bool_or(coded_act_count is null) then null else sum(coded_act_count) end
                       as coded_act_count,
                   case when bool_or(act_count is null) then null else sum(act_count) end as act_count,
                   sum(area_population) as area_population
            from weekly where syndrome_group = 'gea' and age_class in ('00-01', '02-14') group by all
        )
        select count(*) from weekly join parts using (geo_level, geo_code, iso_week)
        where weekly.syndrome_group = 'grippe' and weekly.age_class = '00-14' and (
            weekly.coded_act_count is distinct from parts.coded_act_count
            or weekly.act_count is distinct from parts.act_count
            or weekly.area_population is distinct from parts.area_population
        )
        """
    ).fetchone()[0]
    assert mismatched == 0
    assert (
        con.sql(
            "select count(*) from warehouse.epidemiology.syndromic_indicators_by_week "
            "where syndrome_group = 'grippe' and age_class = '00-14'"
            " and syndrome_share_of_coded_pct is not null"
        ).fetchone()[0]
        > 0
    )


def test_baseline_degrades_without_history(built: dict) -> None:
    row = (
        built["con"]
        .sql(
            "select count(*), count(baseline_count), count(is_epidemic_week) "
            "from warehouse.epidemiology.epidemic_baseline_by_week"
        )
        .fetchone()
    )
    assert row[0] > 0 and row[1:] == (0, 0)


def test_export_then_query_with_duckdb_and_pandas(built: dict, tmp_path: Path) -> None:
    manifest = json.loads((built["root"] / "target" / "manifest.json").read_text())
    summary = export(manifest, built["con"], open_store(tmp_path), k=K)
    assert set(summary["marts"]) == set(MARTS)
    # The price of the protection, per table and level, from the build's statistics (no cell value).
    report = summary["disclosure_report"]
    assert report[0].startswith("Linear attacker: ") and "none pinned" in report[0]
    assert report[1].startswith("Information loss")
    assert any(line.split()[:3] == ["syndromic_indicators", "week", "france"] for line in report[2:])
    publication = tmp_path / "publication"
    dictionary = json.loads((publication / "data_dictionary.json").read_text())
    for entry in dictionary:
        assert entry["description"], entry["name"]
        assert all(column["description"] for column in entry["columns"]), entry["name"]
    weekly = pd.read_parquet(publication / "syndromic_indicators_by_week.parquet")
    from_csv = pd.read_csv(publication / "syndromic_indicators_by_week.csv", dtype={"geo_code": str})
    assert len(weekly) == len(from_csv) and list(weekly.columns) == list(from_csv.columns)
    assert "disclosure_controlled_cells" not in summary["marts"]  # the internal cells table stays in
    # The worked example of the README, from the folder holding publication/.
    region = weekly.loc[weekly["geo_level"] == "region", "geo_code"].iloc[0]
    sql = (PROJECT / "analyses" / "influenza_epidemic_curve_by_region.sql").read_text()
    sql = sql.replace("indicators.geo_code = '11'", f"indicators.geo_code = '{region}'")
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        curve = duckdb.sql(sql).df()
        comparison = duckdb.sql((PROJECT / "analyses" / "this_week_vs_past_seasons.sql").read_text()).df()
    finally:
        os.chdir(cwd)
    # Three weeks, each a published count or one withheld by the suppression (never a silent gap).
    assert len(curve) == 3 and curve["syndrome_act_count"].notna().any()
    flags = weekly.set_index(["syndrome_group", "age_class", "geo_level", "geo_code", "iso_week"])
    for row in curve.itertuples():
        cell = ("grippe", "all", "region", region, row.iso_week)
        assert bool(flags.loc[cell, "is_syndrome_act_count_suppressed"]) == pd.isna(row.syndrome_act_count)
    france = weekly[(weekly["geo_level"] == "france") & (weekly["age_class"] == "all")]
    latest = france[france["week_start_date"] == france["week_start_date"].max()]
    # 16 groups less iCanicule's three components, published in their surveillance period (summer) only.
    assert len(comparison) == latest["syndrome_group"].nunique() == 13
    # The bulletin renders from the real pipeline's publication, not only from the test fixture.
    from ingest.publish.report import build_bulletin

    page = build_bulletin(region, lake=tmp_path, out=tmp_path / "bulletin")
    assert page.is_file() and list((tmp_path / "bulletin").glob("*.png"))


def test_export_refuses_a_leaky_table() -> None:
    import pyarrow as pa

    count = {"role": "count_of_acts"}
    with pytest.raises(ExportError, match="`act_count` has 1 value"):
        check_cell_sizes(pa.table({"act_count": [0, 4, 25]}), "leaky", K, {"act_count": count})
    # A duration in weeks is not a head count: published whatever its value.
    durations = pa.table({"epidemic_week_count": [1, 4, 25]})
    check_cell_sizes(durations, "seasons", K, {"epidemic_week_count": {"role": "duration"}})
    with pytest.raises(ExportError, match="`epidemic_week_count` has no known disclosure role"):
        check_cell_sizes(durations, "seasons", K, {})
    # A rate beside a suppressed count would give it back from its denominator.
    rates = pa.table({"act_count": [None, 30], "coded_act_count": [40, 40], "share_pct": [10.0, 75.0]})
    roles = {
        "act_count": count, "coded_act_count": count,
        "share_pct": {"role": "rate", "numerator": "act_count", "denominator": "coded_act_count"},
    }  # fmt: skip
    with pytest.raises(ExportError, match=r"`share_pct` has 1 value.* beside a suppressed `act_count`"):
        check_cell_sizes(rates, "leaky", K, roles)
    flags = pa.table({"act_count": [None, 30], "is_act_count_suppressed": [False, False]})
    with pytest.raises(ExportError, match="disagrees with the NULLs of `act_count`"):
        check_cell_sizes(
            flags,
            "leaky",
            K,
            {"act_count": count, "is_act_count_suppressed": {"role": "flag", "count": "act_count"}},
        )
