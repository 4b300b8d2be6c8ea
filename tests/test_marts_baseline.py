"""The Serfling baseline of models/marts/epidemiology/epidemic_baseline_by_week.py, on series with known
epidemics: flags the epidemic weeks, not the others, and degrades to NULL with too little history."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

MODEL = Path(__file__).resolve().parent.parent / "models/marts/epidemiology/epidemic_baseline_by_week.py"
_spec = importlib.util.spec_from_file_location("epidemic_baseline_by_week", MODEL)
baseline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(baseline)

EPIDEMIC_WEEKS = 6


def _series(start: str, weeks: int, seed: int = 1) -> pd.DataFrame:
    """Seasonal background (Poisson around 100 +/- 30) plus a 6-week epidemic every January."""
    rng = np.random.default_rng(seed)
    mondays = pd.date_range(start, periods=weeks, freq="W-MON")
    t = np.arange(weeks)
    expected = 100 + 30 * np.cos(2 * np.pi * (t - 26) / 52.18)
    epidemic = np.array([d.month == 1 and d.day <= 7 * EPIDEMIC_WEEKS for d in mondays]) & (mondays.day > 0)
    expected = expected + np.where(epidemic, 250, 0)
    return pd.DataFrame(
        {
            "syndrome_group": "grippe",
            "geo_level": "france",
            "geo_code": "FR",
            "iso_week": [d.strftime("%G-W%V") for d in mondays],
            "week_start_date": mondays.date,
            "observed_count": rng.poisson(expected),
            "is_epidemic_truth": epidemic,
        }
    )


def test_flags_epidemic_weeks_once_history_allows() -> None:
    series = _series("2017-07-03", 52 * 7)
    result = baseline.fit_baselines(series.drop(columns="is_epidemic_truth"))
    merged = result.merge(series[["week_start_date", "is_epidemic_truth"]], on="week_start_date")
    with_baseline = merged[merged["epidemic_threshold"].notna()]
    # Seasons 2017-18 and 2018-19 have fewer than 80 past weeks: no baseline there.
    assert set(merged.loc[merged["epidemic_threshold"].isna(), "surveillance_season"]) == {
        "2017-2018",
        "2018-2019",
    }
    truth = with_baseline["is_epidemic_truth"].to_numpy()
    flagged = with_baseline["is_epidemic_week"].to_numpy(dtype=bool)
    assert flagged[truth].mean() > 0.9  # sensitivity
    assert flagged[~truth].mean() < 0.05  # false alarms outside epidemics
    assert (with_baseline["epidemic_threshold"] >= with_baseline["baseline_count"]).all()
    # The baseline follows the background, not the epidemics: close to the seasonal mean in January.
    january = with_baseline[pd.to_datetime(with_baseline["week_start_date"]).dt.month == 1]
    assert january["baseline_count"].between(70, 160).all()


def test_short_history_degrades_to_null() -> None:
    series = _series("2024-01-01", 8).drop(columns="is_epidemic_truth")
    result = baseline.fit_baselines(series)
    assert len(result) == 8
    assert result["baseline_count"].isna().all() and result["epidemic_threshold"].isna().all()
    assert result["is_above_threshold"].isna().all() and result["is_epidemic_week"].isna().all()
    assert (result["training_week_count"] == 0).all()


def test_suppressed_weeks_have_no_flag_and_do_not_break_the_fit() -> None:
    series = (
        _series("2017-07-03", 52 * 5).drop(columns="is_epidemic_truth").astype({"observed_count": "object"})
    )
    series.loc[series.index % 9 == 0, "observed_count"] = None  # suppressed (NULL) weeks
    result = baseline.fit_baselines(series)
    suppressed = result["observed_count"].isna()
    assert result.loc[suppressed, "is_above_threshold"].isna().all()
    assert result.loc[~suppressed & result["epidemic_threshold"].notna(), "is_above_threshold"].notna().all()


def test_empty_input() -> None:
    empty = pd.DataFrame(
        columns=["syndrome_group", "geo_level", "geo_code", "iso_week", "week_start_date", "observed_count"]
    )
    assert baseline.fit_baselines(empty).empty


@pytest.mark.parametrize(
    ("day", "season"), [("2023-07-03", 2023), ("2024-06-24", 2023), ("2024-01-01", 2023)]
)
def test_season_runs_july_to_june(day: str, season: int) -> None:
    assert baseline.season_start_year(pd.Series([pd.Timestamp(day)])).iloc[0] == season
