"""A small publication/ folder, built with pyarrow, with the exported marts' exact schemas: what the report
and ingest.publish.epi tests read instead of running the whole pipeline (minutes). The tests in this module
keep the fixture honest: its columns must be the marts' columns as dbt documents them, in the same order.

The fixture: région 11 (Île-de-France) with départements 75, 92 and unknown (XX), a second région (84),
France; three surveillance seasons of weekly data (2021-07 to 2024-03) for five syndromic groups, with
winter epidemics and a summer heat group; counts of 1 to 10 suppressed (NULL + flag); a Serfling
baseline and threshold for the last season only; daily data that stops on Wednesday 2024-03-27, so the
latest *complete* week is 2024-W12 although the weekly mart already holds 2024-W13.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

PROJECT = Path(__file__).resolve().parent.parent
MARTS_YAML = PROJECT / "models" / "marts" / "epidemiology" / "_epidemiology__models.yml"

FIRST_MONDAY = date(2021, 7, 5)
LAST_MONDAY = date(2024, 3, 25)  # 2024-W13
DATA_END = date(2024, 3, 27)
EXPORTED_AT = "2024-03-28T06:00:00+00:00"
K = 11

GROUPS = {
    "grippe": ("Grippe / syndrome grippal", 50),  # (label, winter peak share of coded acts, %)
    "bronchiolite": ("Bronchiolite (moins de 2 ans)", 6),
    "gea": ("Gastro-entérite aiguë", 14),
    "ira": ("Infections respiratoires aiguës", 60),
    # Summer surveillance only: a winter bulletin must not show it.
    "icanicule": ("Pathologies liées à la chaleur (iCanicule)", 4),
}
AGE_WEIGHTS = {"00-01": 0.06, "02-14": 0.22, "15-74": 0.55, "75+": 0.15, "unknown": 0.02}
# As the marts publish them: influenza's under-15s as one class (seeds/surveillance/age_class_schemes.csv).
MERGED_AGE_WEIGHTS = {"00-14": 0.28, "15-74": 0.55, "75+": 0.15, "unknown": 0.02}
with (Path(__file__).resolve().parent.parent / "seeds/surveillance/syndromic_groups.csv").open(
    encoding="utf-8"
) as f:
    MERGED_GROUPS = {
        r["syndrome_group"] for r in csv.DictReader(f) if r["age_class_scheme"] == "under_15_merged"
    }
# (geo_level, geo_code, geo_name, parent_geo_code, weekly acts of all kinds)
AREAS = [
    ("departement", "75", "Paris", "11", 1400),
    ("departement", "92", "Hauts-de-Seine", "11", 900),
    ("departement", "XX", "Inconnu", "11", 15),
    ("region", "11", "Île-de-France", "FR", None),
    ("departement", "69", "Rhône", "84", 700),
    ("region", "84", "Auvergne-Rhône-Alpes", "FR", None),
    ("france", "FR", "France", None, None),
]
POPULATION = {"75": 2.1e6, "92": 1.6e6, "69": 1.9e6, "11": 12.3e6, "84": 8.1e6, "FR": 68e6}

S, INT, F, B, D = pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.date32()
SYNDROMIC_WEEK = pa.schema(
    [("syndrome_group", S), ("syndrome_label_fr", S), ("age_class", S), ("geo_level", S), ("geo_code", S),
     ("geo_name", S), ("parent_geo_code", S), ("iso_week", S), ("week_start_date", D),
     ("is_in_surveillance_period", B), ("act_count", INT),
     ("coded_act_count", INT), ("syndrome_act_count", INT), ("coding_rate_pct", F),
     ("syndrome_share_of_coded_pct", F), ("covered_population", F), ("area_population", F),
     ("population_coverage_pct", F), ("incidence_per_100k", F),
     ("is_act_count_suppressed", B), ("is_coded_act_count_suppressed", B),
     ("is_syndrome_act_count_suppressed", B)]
)  # fmt: skip
# The daily mart has act_date before iso_week; the weekly one iso_week before week_start_date.
SYNDROMIC_DAY = pa.schema(
    [*list(SYNDROMIC_WEEK)[:7], pa.field("act_date", D), pa.field("iso_week", S), *list(SYNDROMIC_WEEK)[10:]]
)
BASELINE = pa.schema(
    [("syndrome_group", S), ("geo_level", S), ("geo_code", S), ("iso_week", S), ("week_start_date", D),
     ("surveillance_season", S), ("is_in_surveillance_period", B), ("observed_count", INT),
     ("coded_act_count", INT), ("observed_share_pct", F), ("baseline_count", F), ("epidemic_threshold", F),
     ("baseline_share_pct", F), ("epidemic_threshold_share_pct", F), ("training_week_count", INT),
     ("is_above_threshold", B), ("is_epidemic_week", B), ("epidemic_phase", S),
     ("intensity_medium_share_pct", F), ("intensity_high_share_pct", F), ("intensity_very_high_share_pct", F),
     ("intensity_level", S)]
)  # fmt: skip
CARE_PATHWAY = pa.schema(
    [("syndrome_group", S), ("syndrome_label_fr", S), ("geo_level", S), ("geo_code", S), ("geo_name", S),
     ("parent_geo_code", S), ("iso_week", S), ("week_start_date", D), ("syndrome_act_count", INT),
     ("emergency_referral_count", INT), ("hospitalisation_count", INT), ("emergency_referral_share_pct", F),
     ("hospitalisation_share_pct", F), ("median_arrival_delay_minutes", F),
     ("is_syndrome_act_count_suppressed", B), ("is_emergency_referral_count_suppressed", B),
     ("is_hospitalisation_count_suppressed", B)]
)  # fmt: skip
SEASONS = pa.schema(
    [("syndrome_group", S), ("geo_level", S), ("geo_code", S), ("geo_name", S), ("surveillance_season", S),
     ("weeks_with_baseline", INT), ("has_epidemic", B), ("epidemic_start_iso_week", S),
     ("epidemic_start_date", D), ("peak_iso_week", S), ("peak_act_count", INT), ("epidemic_end_iso_week", S),
     ("epidemic_end_date", pa.timestamp("us")), ("epidemic_week_count", INT), ("excess_act_count", F),
     ("peak_to_threshold_ratio", F), ("intensity_level", S)]
)  # fmt: skip
SCHEMAS = {
    "syndromic_indicators_by_week": SYNDROMIC_WEEK,
    "syndromic_indicators_by_day": SYNDROMIC_DAY,
    "epidemic_baseline_by_week": BASELINE,
    "care_pathway_by_syndrome_week": CARE_PATHWAY,
    "epidemic_seasons_by_region": SEASONS,
}


def iso_week(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _season_intensity(monday: date, group: str) -> float:
    """0..1: a winter wave peaking late January (influenza), December (bronchiolitis), early January;
    heat-related illness in late July."""
    peak_day = {"grippe": 28, "bronchiolite": -20, "gea": 5, "ira": 10, "icanicule": -160}[group]
    season_start = date(monday.year if monday.month >= 7 else monday.year - 1, 7, 1)
    days_from_new_year = (monday - date(season_start.year + 1, 1, 1)).days
    return math.exp(-(((days_from_new_year - peak_day) / 28.0) ** 2))


def _suppress(value: int) -> int | None:
    return None if 1 <= value < K else value


def _weekly_rows(monday: date) -> list[dict]:
    rows = []
    seasonal_activity = 1.0 + 0.3 * _season_intensity(monday, "ira")
    base_acts: dict[str, float] = {code: acts * seasonal_activity for _, code, _, _, acts in AREAS if acts}
    for group, (label, peak_share) in GROUPS.items():
        weights = MERGED_AGE_WEIGHTS if group in MERGED_GROUPS else AGE_WEIGHTS
        for age, weight in [*weights.items(), ("all", 1.0)]:
            for level, code, name, parent, _ in AREAS:
                leaves = [
                    c for lv, c, _, p, a in AREAS if a and (c == code or p == code or level == "france")
                ]
                acts = round(sum(base_acts[c] for c in leaves) * weight)
                coded = round(acts * 0.95)
                share = (1.5 + peak_share * _season_intensity(monday, group)) / 100.0
                if group == "bronchiolite" and age not in ("00-01", "all"):
                    share = 0.0
                syndrome = round(coded * share * (1.0 if group != "bronchiolite" or age != "all" else 0.06))
                counts = {"act_count": _suppress(acts), "coded_act_count": _suppress(coded)}
                counts["syndrome_act_count"] = _suppress(syndrome)
                population = POPULATION.get(code) if age != "unknown" and code != "XX" else None
                population = population * (weight if age != "all" else 1.0) if population else None
                ok = all(v is not None for v in counts.values())
                rows.append(
                    {
                        "syndrome_group": group, "syndrome_label_fr": label, "age_class": age,
                        "geo_level": level, "geo_code": code, "geo_name": name, "parent_geo_code": parent,
                        "iso_week": iso_week(monday), "week_start_date": monday, **counts,
                        "coding_rate_pct": round(100 * coded / acts, 2) if ok and acts else None,
                        "syndrome_share_of_coded_pct": (
                            round(100 * syndrome / coded, 2) if ok and coded else None
                        ),
                        "covered_population": population, "area_population": population,
                        "population_coverage_pct": 100.0 if population else None,
                        "incidence_per_100k": (
                            round(1e5 * syndrome / population, 1) if ok and population else None
                        ),
                        "is_act_count_suppressed": counts["act_count"] is None,
                        "is_coded_act_count_suppressed": counts["coded_act_count"] is None,
                        "is_syndrome_act_count_suppressed": counts["syndrome_act_count"] is None,
                    }
                )  # fmt: skip
    return rows


def build_publication(lake: Path) -> Path:
    """Write the fixture publication/ under `lake` (the lake root); returns the publication folder."""
    publication = lake / "publication"
    publication.mkdir(parents=True, exist_ok=True)
    mondays = [FIRST_MONDAY + timedelta(weeks=n) for n in range((LAST_MONDAY - FIRST_MONDAY).days // 7 + 1)]
    weekly = [row for monday in mondays for row in _weekly_rows(monday)]

    baseline = []
    for row in weekly:
        if row["age_class"] != "all" or row["geo_level"] == "departement":
            continue
        monday = row["week_start_date"]
        last_season = monday >= date(2023, 7, 3)
        observed = row["syndrome_act_count"]
        expected = threshold = None
        if last_season:
            expected = (row["coded_act_count"] or 0) * 0.03
            threshold = expected * 1.6 + 5
        above = None if observed is None or threshold is None else observed > threshold
        baseline.append(
            {
                "syndrome_group": row["syndrome_group"], "geo_level": row["geo_level"],
                "geo_code": row["geo_code"], "iso_week": row["iso_week"], "week_start_date": monday,
                "surveillance_season": f"{monday.year if monday.month >= 7 else monday.year - 1}-"
                f"{(monday.year if monday.month >= 7 else monday.year - 1) + 1}",
                "observed_count": observed, "baseline_count": expected, "epidemic_threshold": threshold,
                "training_week_count": 104 if last_season else 0, "is_above_threshold": above,
                "is_epidemic_week": above,  # runs of one week do not occur in these smooth waves
            }
        )  # fmt: skip

    daily = []
    day = date(2024, 3, 18)
    while day <= DATA_END:
        monday = day - timedelta(days=day.weekday())
        daily.append(
            {
                **{k: v for k, v in _weekly_rows(monday)[0].items() if k != "week_start_date"},
                "geo_level": "france", "geo_code": "FR", "geo_name": "France", "parent_geo_code": None,
                "age_class": "all", "act_date": day,
            }
        )  # fmt: skip
        day += timedelta(days=1)

    pathway = [
        {
            "syndrome_group": r["syndrome_group"], "syndrome_label_fr": r["syndrome_label_fr"],
            "geo_level": r["geo_level"], "geo_code": r["geo_code"], "geo_name": r["geo_name"],
            "parent_geo_code": r["parent_geo_code"], "iso_week": r["iso_week"],
            "week_start_date": r["week_start_date"], "syndrome_act_count": r["syndrome_act_count"],
            "emergency_referral_count": None, "hospitalisation_count": 0 if r["syndrome_act_count"] else None,
            "emergency_referral_share_pct": None,
            "hospitalisation_share_pct": 0.0 if r["syndrome_act_count"] else None,
            "median_arrival_delay_minutes": None,
            "is_syndrome_act_count_suppressed": r["syndrome_act_count"] is None,
            "is_emergency_referral_count_suppressed": True,
            "is_hospitalisation_count_suppressed": not r["syndrome_act_count"],
        }
        for r in weekly
        if r["age_class"] == "all"
        and r["geo_level"] != "departement"
        and r["week_start_date"] >= date(2024, 1, 1)
    ]  # fmt: skip

    tables = {
        "syndromic_indicators_by_week": weekly,
        "syndromic_indicators_by_day": daily,
        "epidemic_baseline_by_week": baseline,
        "care_pathway_by_syndrome_week": pathway,
        "epidemic_seasons_by_region": [],
    }
    dictionary = []
    for name, rows in tables.items():
        schema = SCHEMAS[name]
        table = pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
        pq.write_table(table, publication / f"{name}.parquet", compression="zstd")
        dictionary.append(
            {
                "name": name,
                "description": f"fixture of {name}",
                "rows": table.num_rows,
                "columns": [{"name": f.name, "type": str(f.type), "description": f.name} for f in schema],
            }
        )
    (publication / "data_dictionary.json").write_text(json.dumps(dictionary), encoding="utf-8")
    summary = {
        "exported_at": EXPORTED_AT,
        "disclosure_k": K,
        "marts": {d["name"]: d["rows"] for d in dictionary},
    }
    (publication / "_export.json").write_text(json.dumps(summary), encoding="utf-8")
    return publication


# -------------------------------------------------------------------------------- the fixture stays honest


def _documented_columns() -> dict[str, list[str]]:
    models = yaml.safe_load(MARTS_YAML.read_text(encoding="utf-8"))["models"]
    return {m["name"]: [c["name"] for c in m.get("columns", [])] for m in models}


def test_fixture_columns_are_the_marts_columns_in_order() -> None:
    """A renamed, added or reordered mart column fails here, not as a report reading a stale shape."""
    documented = _documented_columns()
    for name, schema in SCHEMAS.items():
        assert schema.names == documented[name], name


def test_fixture_counts_respect_the_disclosure_threshold(tmp_path: Path) -> None:
    publication = build_publication(tmp_path)
    for name in SCHEMAS:
        table = pq.read_table(publication / f"{name}.parquet")
        for column in (c for c in table.column_names if c.endswith("_count")):
            values = [v for v in table.column(column).to_pylist() if v is not None]
            assert not [v for v in values if 1 <= v < K], (name, column)
            flag = f"is_{column}_suppressed"
            if flag in table.column_names:
                nulls = [v is None for v in table.column(column).to_pylist()]
                assert nulls == table.column(flag).to_pylist(), (name, column)
