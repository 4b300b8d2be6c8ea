"""What a weekly bulletin shows, computed from the published marts only (publication/, via
ingest.publish.epi).

Nothing here opens the key store, the encrypted lake or the warehouse: a bulletin can only show what
disclosure control already let out. Suppressed counts stay <NA> all the way to the page ("s").

Every mart column that is not in every publication (coverage, surveillance period, intensity, phase, the
threshold as a share) is read through `MartColumns` below, and only there: a publication without them
still gives a bulletin, which says "non disponible" where they would be.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import pandas as pd

from ingest.exceptions import ConfigError
from ingest.publish.epi import _Publication, available_marts, read_mart
from ingest.settings import PROJECT_ROOT

# The syndromes a regional bulletin leads with (SpF's SOS Médecins bulletins: influenza, bronchiolitis in
# under-2s, gastroenteritis, COVID-19, then the composite acute respiratory infections and asthma).
DEFAULT_SYNDROMES = ("grippe", "bronchiolite", "gea", "covid19", "ira", "asthme")
AGE_CLASSES = ("00-01", "02-14", "15-74", "75+")
AGE_MIN = {"00-01": 0, "02-14": 2, "00-14": 0, "15-74": 15, "00-74": 0, "75+": 75}
PAST_SEASONS = 5  # as many as the Serfling baseline is trained on
REQUIRED_MARTS = ("syndromic_indicators_by_week", "epidemic_baseline_by_week")
_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
SEEDS = PROJECT_ROOT / "seeds"

# Surveillance periods used only when the publication has no `is_in_surveillance_period` column (older
# marts). seeds/surveillance has no period of its own; SpF's heat-health surveillance (iCanicule) runs
# from 1 June to 15 September, every other group is followed all year. (first (month, day), last).
FALLBACK_SURVEILLANCE_PERIODS = {"icanicule": ((6, 1), (9, 15))}
# A share of a syndrome's rows below which a column is "always suppressed": dropped from the table, and
# the page says so, rather than a column of "s".
MIN_PUBLISHED_SHARE = 0.5


class ReportError(ConfigError):
    """The bulletin cannot be built from this publication (missing mart, unknown région or week)."""


class MartColumns:
    """The optional columns of the published marts, read in one place: present in marts built with the
    multi-season surveillance methods, absent from older publications (then every accessor gives None
    and `missing` lists what the page must call "non disponible")."""

    COVERAGE = "population_coverage_pct"
    COVERED_POPULATION = "covered_population"
    AREA_POPULATION = "area_population"
    IN_PERIOD = "is_in_surveillance_period"
    INTENSITY = "intensity_level"
    PHASE = "epidemic_phase"
    BASELINE_SHARE = "baseline_share_pct"
    THRESHOLD_SHARE = "epidemic_threshold_share_pct"

    def __init__(self, weekly: pd.DataFrame, baseline: pd.DataFrame) -> None:
        self.weekly = set(weekly.columns)
        self.baseline = set(baseline.columns)

    def has(self, column: str) -> bool:
        return column in self.weekly or column in self.baseline

    @staticmethod
    def value(row: pd.Series | None, column: str) -> object | None:
        if row is None or column not in row.index:
            return None
        return _none(row[column])

    def missing(self) -> list[str]:
        wanted = (self.COVERAGE, self.IN_PERIOD, self.INTENSITY, self.PHASE, self.THRESHOLD_SHARE)
        return [c for c in wanted if not self.has(c)]


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


def season_weeks(start_year: int) -> int:
    """52 or 53: the weeks from the season's first Monday to the next season's."""
    return (season_first_monday(start_year + 1) - season_first_monday(start_year)).days // 7


def season_label(start_year: int) -> str:
    return f"{start_year}-{start_year + 1}"


def short_week(monday: date) -> str:
    """French bulletins' week notation: S12."""
    return f"S{monday.isocalendar()[1]:02d}"


def long_week(monday: date) -> str:
    """`semaine 12 de 2024 (S12)`: the one notation of the page (ISO week number and ISO year)."""
    year, week, _ = monday.isocalendar()
    return f"semaine {week} de {year} ({short_week(monday)})"


def fallback_in_period(group: str, monday: date) -> bool:
    """Whether a week (by any of its days) falls in the group's surveillance period, from the mapping."""
    for prefix, ((m1, d1), (m2, d2)) in FALLBACK_SURVEILLANCE_PERIODS.items():
        if group.startswith(prefix):
            days = [monday + timedelta(days=n) for n in range(7)]
            return any((m1, d1) <= (d.month, d.day) <= (m2, d2) for d in days)
    return True


@cache
def syndrome_max_age() -> dict[str, int]:
    """Upper age (years) of each group's definition, from seeds/surveillance (bronchiolitis: under 2)."""
    path = SEEDS / "surveillance" / "syndromic_groups.csv"
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as fh:
        return {
            r["syndrome_group"]: int(r["max_age_years"]) for r in csv.DictReader(fh) if r["max_age_years"]
        }


@cache
def syndromes_without_age_breakdown() -> frozenset[str]:
    """Groups the marts publish weekly for all ages only (seeds/surveillance, `is_published_in_detail`)."""
    path = SEEDS / "surveillance" / "syndromic_groups.csv"
    if not path.exists():
        return frozenset()
    with path.open(encoding="utf-8") as fh:
        return frozenset(
            r["syndrome_group"] for r in csv.DictReader(fh) if r.get("is_published_in_detail", "1") == "0"
        )


@cache
def published_age_classes() -> dict[str, tuple[str, ...]]:
    """Each group's published age classes, youngest first (seeds/surveillance: the group's
    `age_class_scheme` in age_class_schemes.csv, e.g. `00-14` for under-15s merged); `unknown` left out."""
    groups_path = SEEDS / "surveillance" / "syndromic_groups.csv"
    schemes_path = SEEDS / "surveillance" / "age_class_schemes.csv"
    if not groups_path.exists() or not schemes_path.exists():
        return {}
    schemes: dict[str, list[str]] = {}
    with schemes_path.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            classes = schemes.setdefault(r["age_class_scheme"], [])
            if r["published_age_class"] in AGE_MIN and r["published_age_class"] not in classes:
                classes.append(r["published_age_class"])
    with groups_path.open(encoding="utf-8") as fh:
        published = {
            r["syndrome_group"]: schemes.get(r.get("age_class_scheme") or "detailed")
            for r in csv.DictReader(fh)
        }
    return {
        group: tuple(sorted(classes or AGE_CLASSES, key=AGE_MIN.__getitem__))
        for group, classes in published.items()
    }


def age_classes_of(group: str) -> tuple[str, ...]:
    """The age classes a group is published in that its definition can count: a class above its age
    limit is zero by definition and is not drawn; a group published for all ages only has none."""
    if group in syndromes_without_age_breakdown():
        return ()
    limit = syndrome_max_age().get(group)
    classes = published_age_classes().get(group, AGE_CLASSES)
    return tuple(a for a in classes if limit is None or AGE_MIN[a] <= limit)


@cache
def departements_of_region() -> dict[str, list[tuple[str, str]]]:
    """{région code: [(département code, name)]} from seeds/reference (the whole région, whether its
    départements have acts or not: what coverage is stated against)."""
    path = SEEDS / "reference" / "departements.csv"
    regions: dict[str, list[tuple[str, str]]] = {}
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                regions.setdefault(row["reg_code"], []).append((row["dep_code"], row["dep_name"]))
    return regions


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
    past_same_week_share: list[float] = field(default_factory=list)  # and their shares of coded acts
    hospitalisation_share_pct: float | None = None
    in_surveillance_period: bool = True
    intensity_level: str | None = None
    phase: str | None = None  # the mart's `epidemic_phase` when published
    france_is_epidemic_week: bool | None = None
    france_is_above_threshold: bool | None = None
    france_threshold: float | None = None
    france_phase: str | None = None

    @property
    def change_pct(self) -> float | None:
        if self.count is None or not self.previous_count:
            return None
        return 100.0 * (self.count - self.previous_count) / self.previous_count


@dataclass
class Coverage:
    """Which départements of the région contribute this week, and the population they cover."""

    contributing: list[tuple[str, str]]  # (code, name) with acts this week
    silent: list[tuple[str, str]]  # départements of the région without any act
    unknown_residence_acts: int | None  # acts whose département is not known (XX), None if suppressed
    population_coverage_pct: float | None  # None: the column is not published
    covered_population: float | None
    area_population: float | None


@dataclass
class BulletinData:
    region_code: str
    region_name: str
    iso_week: str
    week_start: date
    data_end: date | None
    exported_at: str | None
    syndromes: list[str]  # featured groups in their surveillance period this week
    # Every syndrome's week summary in its surveillance period, featured ones first.
    summary: list[SyndromeWeek]
    act_count: int | None
    previous_act_count: int | None
    coding_rate_pct: float | None
    # Région, all ages, every week up to the bulletin week, every syndrome (curves, past seasons).
    weekly: pd.DataFrame
    baseline: pd.DataFrame
    ages: pd.DataFrame  # the bulletin week, région, by age class
    departements: pd.DataFrame  # the bulletin week, départements of the région
    france_weekly: pd.DataFrame = field(default_factory=pd.DataFrame)  # France, all ages, up to the week
    available_seasons: list[int] = field(default_factory=list)
    coverage: Coverage | None = None
    out_of_period: list[SyndromeWeek] = field(default_factory=list)
    hospitalisation_published: bool = True
    missing_columns: list[str] = field(default_factory=list)

    @property
    def week_end(self) -> date:
        return self.week_start + timedelta(days=6)

    @property
    def season(self) -> int:
        return season_start_year(self.week_start)

    @property
    def is_complete_week(self) -> bool:
        return self.data_end is None or self.data_end >= self.week_end

    @property
    def week_label(self) -> str:
        return long_week(self.week_start)

    @property
    def week_short(self) -> str:
        return short_week(self.week_start)

    @property
    def previous_week_short(self) -> str:
        return short_week(self.week_start - timedelta(days=7))

    def label(self, group: str) -> str:
        return next((s.label for s in [*self.summary, *self.out_of_period] if s.group == group), group)

    def has_threshold_history(self) -> bool:
        return bool(self.baseline["epidemic_threshold"].notna().any()) if len(self.baseline) else False


def _none(value: object) -> object | None:
    return None if value is None or pd.isna(value) else value  # type: ignore[call-overload]


def _int(value: object) -> int | None:
    value = _none(value)
    return None if value is None else int(value)  # type: ignore[call-overload]


def _float(value: object) -> float | None:
    value = _none(value)
    return None if value is None else float(value)  # type: ignore[arg-type]


def _bool(value: object) -> bool | None:
    value = _none(value)
    return None if value is None else bool(value)


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


def _row(frame: pd.DataFrame, key: str) -> pd.Series | None:
    return frame.loc[key] if key in frame.index else None


def _coverage(
    region: str, departements: pd.DataFrame, region_row: pd.Series | None, columns: MartColumns
) -> Coverage:
    acts = {
        str(r.geo_code): r.act_count
        for r in departements.drop_duplicates("geo_code").itertuples()
        # A suppressed act count still means acts: the département contributes.
        if not pd.isna(r.act_count) or bool(r.is_act_count_suppressed)
    }
    listed = departements_of_region().get(region, [])
    return Coverage(
        contributing=[(c, n) for c, n in listed if c in acts],
        silent=[(c, n) for c, n in listed if c not in acts],
        unknown_residence_acts=_int(acts["XX"]) if "XX" in acts else 0,
        population_coverage_pct=_float(columns.value(region_row, MartColumns.COVERAGE)),
        covered_population=_float(columns.value(region_row, MartColumns.COVERED_POPULATION)),
        area_population=_float(columns.value(region_row, MartColumns.AREA_POPULATION)),
    )


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
    france_weekly = weekly_all[
        (weekly_all["geo_level"] == "france")
        & (weekly_all["age_class"] == "all")
        & (weekly_all["week_start_date"] <= until_week)
    ]
    france = france_weekly[france_weekly["week_start_date"] == until_week].set_index("syndrome_group")

    baseline_all = read_mart(
        "epidemic_baseline_by_week", lake=lake, filters={"geo_level": ["region", "france"]}
    )
    baseline_all = baseline_all[baseline_all["week_start_date"] <= until_week].sort_values("week_start_date")
    baseline = baseline_all[(baseline_all["geo_level"] == "region") & (baseline_all["geo_code"] == region)]
    france_baseline = baseline_all[baseline_all["geo_level"] == "france"]
    columns = MartColumns(weekly_all, baseline_all)

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

    summary, out_of_period = [], []
    for group in featured + [g for g in all_groups if g not in featured]:
        row, prev = _row(this_week, group), _row(last_week, group)
        series = baseline[baseline["syndrome_group"] == group]
        base = _row(series.set_index("week_start_date"), until_week) if len(series) else None
        fr_series = france_baseline[france_baseline["syndrome_group"] == group]
        fr_base = _row(fr_series.set_index("week_start_date"), until_week) if len(fr_series) else None
        in_period = _bool(columns.value(row, MartColumns.IN_PERIOD))
        if in_period is None:
            in_period = _bool(columns.value(base, MartColumns.IN_PERIOD))
        if in_period is None:
            in_period = fallback_in_period(group, monday)
        past = [
            r
            for r in all_ages[all_ages["syndrome_group"] == group].itertuples()
            if season - PAST_SEASONS <= season_start_year(r.week_start_date.date()) < season
            and season_slot(r.week_start_date.date()) == slot
        ]
        past_counts = [int(r.syndrome_act_count) for r in past if not pd.isna(r.syndrome_act_count)]
        past_shares = [
            float(r.syndrome_share_of_coded_pct) for r in past if not pd.isna(r.syndrome_share_of_coded_pct)
        ]
        summary_row = SyndromeWeek(
            group=group,
            label=str(row["syndrome_label_fr"]) if row is not None else group,
            count=_int(row["syndrome_act_count"]) if row is not None else None,
            previous_count=_int(prev["syndrome_act_count"]) if prev is not None else None,
            share_pct=_float(row["syndrome_share_of_coded_pct"]) if row is not None else None,
            previous_share_pct=_float(prev["syndrome_share_of_coded_pct"]) if prev is not None else None,
            france_share_pct=(
                _float(france.loc[group, "syndrome_share_of_coded_pct"]) if group in france.index else None
            ),
            baseline=_float(base["baseline_count"]) if base is not None else None,
            threshold=_float(base["epidemic_threshold"]) if base is not None else None,
            is_above_threshold=_bool(base["is_above_threshold"]) if base is not None else None,
            weeks_above_threshold=_run_above_threshold(series),
            is_epidemic_week=_bool(base["is_epidemic_week"]) if base is not None else None,
            past_same_week=past_counts,
            past_same_week_share=past_shares,
            hospitalisation_share_pct=(
                _float(pathway.loc[group, "hospitalisation_share_pct"]) if group in pathway.index else None
            ),
            in_surveillance_period=in_period,
            intensity_level=_str(columns.value(base, MartColumns.INTENSITY)),
            phase=_str(columns.value(base, MartColumns.PHASE)),
            france_is_epidemic_week=_bool(fr_base["is_epidemic_week"]) if fr_base is not None else None,
            france_is_above_threshold=_bool(fr_base["is_above_threshold"]) if fr_base is not None else None,
            france_threshold=_float(fr_base["epidemic_threshold"]) if fr_base is not None else None,
            france_phase=_str(columns.value(fr_base, MartColumns.PHASE)),
        )
        (summary if in_period else out_of_period).append(summary_row)
    shown = {s.group for s in summary}
    featured = [g for g in featured if g in shown]

    any_row = this_week.iloc[0] if len(this_week) else None
    any_prev = last_week.iloc[0] if len(last_week) else None
    ages = in_region[
        (in_region["week_start_date"] == until_week)
        & in_region["age_class"].isin(AGE_MIN)
        & in_region["syndrome_group"].isin(featured)
    ]
    departements = weekly_all[
        (weekly_all["geo_level"] == "departement")
        & (weekly_all["parent_geo_code"] == region)
        & (weekly_all["age_class"] == "all")
        & (weekly_all["week_start_date"] == until_week)
    ]
    hospitalised = [s.hospitalisation_share_pct for s in summary]
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
        france_weekly=france_weekly,
        available_seasons=seasons,
        coverage=_coverage(region, departements, any_row, columns),
        out_of_period=out_of_period,
        hospitalisation_published=(
            bool(hospitalised)
            and sum(v is not None for v in hospitalised) >= MIN_PUBLISHED_SHARE * len(hospitalised)
        ),
        missing_columns=columns.missing(),
    )


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


def _run_above_threshold(series: pd.DataFrame) -> int:
    """Consecutive weeks above threshold ending with the last week of `series` (sorted by week)."""
    run = 0
    for flag in reversed(series["is_above_threshold"].tolist()):
        if flag is True or (not pd.isna(flag) and bool(flag)):
            run += 1
        else:
            break
    return run
