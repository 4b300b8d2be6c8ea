"""What a weekly bulletin shows, computed from the published marts only (publication/, via ingest.epi).

Nothing here opens the key store, the encrypted lake or the warehouse: a bulletin can only show what
disclosure control already let out. Suppressed counts stay <NA> all the way to the page ("s").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from ingest.epi import _Publication, available_marts, read_mart
from ingest.exceptions import ConfigError

# The syndromes a regional bulletin leads with (SpF's SOS Médecins bulletins: influenza, bronchiolitis in
# under-2s, gastroenteritis, COVID-19, then the composite acute respiratory infections and asthma).
DEFAULT_SYNDROMES = ("grippe", "bronchiolite", "gea", "covid19", "ira", "asthme")
AGE_CLASSES = ("00-01", "02-14", "15-74", "75+")
PAST_SEASONS = 5  # as many as the Serfling baseline is trained on
REQUIRED_MARTS = ("syndromic_indicators_by_week", "epidemic_baseline_by_week")
_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class ReportError(ConfigError):
    """The bulletin cannot be built from this publication (missing mart, unknown région or week)."""


def week_monday(iso_week: str) -> date:
    match = _ISO_WEEK.match(iso_week)
    if not match:
        raise ReportError(f"Week `{iso_week}` must look like 2024-W03 (ISO year, W, two-digit week)")
    try:
        return date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise ReportError(f"Week `{iso_week}` does not exist in the ISO calendar") from None


def season_start_year(monday: date) -> int:
    """Surveillance season (July to June) of a week, by the month of its Monday, as the baseline model."""
    return monday.year if monday.month >= 7 else monday.year - 1


def season_first_monday(start_year: int) -> date:
    first = date(start_year, 7, 1)
    return first + timedelta(days=(7 - first.weekday()) % 7)


def season_slot(monday: date) -> int:
    """Position of a week in its season (0 = first week of July): aligns seasons on one x axis."""
    return (monday - season_first_monday(season_start_year(monday))).days // 7


def season_label(start_year: int) -> str:
    return f"{start_year}-{start_year + 1}"


@dataclass
class SyndromeWeek:
    """One syndrome's figures for the bulletin week in the région (None = suppressed or not computable)."""

    group: str
    label: str
    count: int | None
    previous_count: int | None
    share_pct: float | None
    previous_share_pct: float | None
    france_share_pct: float | None
    baseline: float | None
    threshold: float | None
    is_above_threshold: bool | None
    weeks_above_threshold: int  # consecutive weeks above threshold ending this week
    is_epidemic_week: bool | None
    past_same_week: list[int]  # published counts of the same week of past seasons
    hospitalisation_share_pct: float | None = None

    @property
    def change_pct(self) -> float | None:
        if self.count is None or not self.previous_count:
            return None
        return 100.0 * (self.count - self.previous_count) / self.previous_count


@dataclass
class BulletinData:
    region_code: str
    region_name: str
    iso_week: str
    week_start: date
    data_end: date | None
    exported_at: str | None
    syndromes: list[str]
    # Every syndrome's week summary, featured ones first.
    summary: list[SyndromeWeek]
    act_count: int | None
    previous_act_count: int | None
    coding_rate_pct: float | None
    # Région, all ages, every week up to the bulletin week, every syndrome (curves, past seasons).
    weekly: pd.DataFrame
    baseline: pd.DataFrame
    ages: pd.DataFrame  # the bulletin week, région, by age class
    departements: pd.DataFrame  # the bulletin week, départements of the région
    available_seasons: list[int] = field(default_factory=list)

    @property
    def week_end(self) -> date:
        return self.week_start + timedelta(days=6)

    @property
    def season(self) -> int:
        return season_start_year(self.week_start)

    @property
    def is_complete_week(self) -> bool:
        return self.data_end is None or self.data_end >= self.week_end


def _none(value: object) -> object | None:
    return None if value is None or pd.isna(value) else value


def _int(value: object) -> int | None:
    value = _none(value)
    return None if value is None else int(value)  # type: ignore[call-overload]


def _float(value: object) -> float | None:
    value = _none(value)
    return None if value is None else float(value)  # type: ignore[arg-type]


def _data_end(lake: str | Path | None) -> date | None:
    """Last day with acts in the publication (the daily mart), to tell a complete week from a partial one."""
    if "syndromic_indicators_by_day" not in available_marts(lake=lake):
        return None
    days = read_mart(
        "syndromic_indicators_by_day",
        lake=lake,
        columns=["act_date"],
        filters={"geo_level": "france", "age_class": "all"},
    )
    return None if days.empty else days["act_date"].max().date()


def _exported_at(lake: str | Path | None) -> str | None:
    try:
        return str(json.loads(_Publication(lake).read_bytes("_export.json")).get("exported_at"))
    except (OSError, LookupError, ValueError, ConfigError):
        return None


def default_week(weeks: pd.Series, data_end: date | None) -> str:
    """The latest ISO week whose Sunday is covered by the data (the latest complete week)."""
    mondays = sorted({d.date() for d in weeks})
    complete = [m for m in mondays if data_end is None or m + timedelta(days=6) <= data_end]
    if not complete:
        raise ReportError(
            "No complete ISO week in the publication yet (the data end on "
            f"{data_end}); pass --week to build a bulletin for a partial week"
        )
    year, week, _ = complete[-1].isocalendar()
    return f"{year}-W{week:02d}"


def load(
    region: str, week: str | None = None, *, lake: str | Path | None = None, syndromes: tuple[str, ...] = ()
) -> BulletinData:
    """Everything the bulletin of `region` for ISO `week` (default: latest complete week) shows."""
    published = available_marts(lake=lake)
    missing = [m for m in REQUIRED_MARTS if m not in published]
    if missing:
        where = _Publication(lake).where()
        raise ReportError(
            f"The publication at `{where}` lacks {', '.join(f'`{m}`' for m in missing)}: run "
            "`lakehouse run` (or `lakehouse build` then `lakehouse export`), or point LAKEHOUSE_LAKE / "
            "--lake at the lake root that holds publication/"
        )
    weekly_all = read_mart(
        "syndromic_indicators_by_week", lake=lake, filters={"geo_level": ["region", "france", "departement"]}
    )
    regions = (
        weekly_all[weekly_all["geo_level"] == "region"][["geo_code", "geo_name"]]
        .drop_duplicates()
        .sort_values("geo_code")
    )
    if region not in set(regions["geo_code"]):
        listed = ", ".join(f"{r.geo_code} ({r.geo_name})" for r in regions.itertuples())
        raise ReportError(
            f"Région `{region}` is not in the publication; régions published: {listed or 'none'}"
        )
    region_name = str(regions.loc[regions["geo_code"] == region, "geo_name"].iloc[0])

    in_region = weekly_all[(weekly_all["geo_level"] == "region") & (weekly_all["geo_code"] == region)]
    data_end = _data_end(lake)
    week = week or default_week(in_region["week_start_date"], data_end)
    monday = week_monday(week)
    if not (in_region["iso_week"] == week).any():
        first, last = in_region["iso_week"].min(), in_region["iso_week"].max()
        raise ReportError(
            f"Week `{week}` is not in the publication for région `{region}` ({first} to {last})"
        )
    previous_monday = monday - timedelta(days=7)

    all_groups = sorted(in_region["syndrome_group"].unique())
    unknown = [s for s in syndromes if s not in all_groups]
    if unknown:
        raise ReportError(
            f"Unknown syndrome group(s) {', '.join(unknown)}; published: {', '.join(all_groups)}"
        )
    featured = [s for s in (syndromes or DEFAULT_SYNDROMES) if s in all_groups]

    until_week = pd.Timestamp(monday)
    all_ages = in_region[(in_region["age_class"] == "all") & (in_region["week_start_date"] <= until_week)]
    france = weekly_all[
        (weekly_all["geo_level"] == "france")
        & (weekly_all["age_class"] == "all")
        & (weekly_all["week_start_date"] == until_week)
    ].set_index("syndrome_group")

    baseline = read_mart(
        "epidemic_baseline_by_week", lake=lake, filters={"geo_level": "region", "geo_code": region}
    )
    baseline = baseline[baseline["week_start_date"] <= until_week].sort_values("week_start_date")

    pathway = pd.DataFrame()
    if "care_pathway_by_syndrome_week" in published:
        pathway = read_mart(
            "care_pathway_by_syndrome_week",
            lake=lake,
            filters={"geo_level": "region", "geo_code": region, "iso_week": week},
        ).set_index("syndrome_group")

    this_week = all_ages[all_ages["week_start_date"] == until_week].set_index("syndrome_group")
    last_week = all_ages[all_ages["week_start_date"] == pd.Timestamp(previous_monday)].set_index(
        "syndrome_group"
    )
    slot = season_slot(monday)
    season = season_start_year(monday)
    seasons = sorted({season_start_year(d.date()) for d in all_ages["week_start_date"]})

    summary = []
    for group in featured + [g for g in all_groups if g not in featured]:
        row = this_week.loc[group] if group in this_week.index else None
        prev = last_week.loc[group] if group in last_week.index else None
        series = baseline[baseline["syndrome_group"] == group]
        current = series[series["week_start_date"] == until_week]
        base = current.iloc[0] if len(current) else None
        past = all_ages[all_ages["syndrome_group"] == group]
        past_counts = [
            int(r.syndrome_act_count)
            for r in past.itertuples()
            if season - PAST_SEASONS <= season_start_year(r.week_start_date.date()) < season
            and season_slot(r.week_start_date.date()) == slot
            and not pd.isna(r.syndrome_act_count)
        ]
        summary.append(
            SyndromeWeek(
                group=group,
                label=str(row["syndrome_label_fr"]) if row is not None else group,
                count=_int(row["syndrome_act_count"]) if row is not None else None,
                previous_count=_int(prev["syndrome_act_count"]) if prev is not None else None,
                share_pct=_float(row["syndrome_share_of_coded_pct"]) if row is not None else None,
                previous_share_pct=_float(prev["syndrome_share_of_coded_pct"]) if prev is not None else None,
                france_share_pct=(
                    _float(france.loc[group, "syndrome_share_of_coded_pct"])
                    if group in france.index
                    else None
                ),
                baseline=_float(base["baseline_count"]) if base is not None else None,
                threshold=_float(base["epidemic_threshold"]) if base is not None else None,
                is_above_threshold=_none(base["is_above_threshold"]) if base is not None else None,  # type: ignore[arg-type]
                weeks_above_threshold=_run_above_threshold(series),
                is_epidemic_week=_none(base["is_epidemic_week"]) if base is not None else None,  # type: ignore[arg-type]
                past_same_week=past_counts,
                hospitalisation_share_pct=(
                    _float(pathway.loc[group, "hospitalisation_share_pct"])
                    if group in pathway.index
                    else None
                ),
            )
        )

    any_row = this_week.iloc[0] if len(this_week) else None
    any_prev = last_week.iloc[0] if len(last_week) else None
    ages = in_region[
        (in_region["week_start_date"] == until_week)
        & in_region["age_class"].isin(AGE_CLASSES)
        & in_region["syndrome_group"].isin(featured)
    ]
    departements = weekly_all[
        (weekly_all["geo_level"] == "departement")
        & (weekly_all["parent_geo_code"] == region)
        & (weekly_all["age_class"] == "all")
        & (weekly_all["week_start_date"] == until_week)
    ]
    return BulletinData(
        region_code=region,
        region_name=region_name,
        iso_week=week,
        week_start=monday,
        data_end=data_end,
        exported_at=_exported_at(lake),
        syndromes=featured,
        summary=summary,
        act_count=_int(any_row["act_count"]) if any_row is not None else None,
        previous_act_count=_int(any_prev["act_count"]) if any_prev is not None else None,
        coding_rate_pct=_float(any_row["coding_rate_pct"]) if any_row is not None else None,
        weekly=all_ages,
        baseline=baseline,
        ages=ages,
        departements=departements,
        available_seasons=seasons,
    )


def _run_above_threshold(series: pd.DataFrame) -> int:
    """Consecutive weeks above threshold ending with the last week of `series` (sorted by week)."""
    run = 0
    for flag in reversed(series["is_above_threshold"].tolist()):
        if flag is True or (not pd.isna(flag) and bool(flag)):
            run += 1
        else:
            break
    return run
