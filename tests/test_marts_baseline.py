"""The Serfling baseline of models/marts/epidemiology/epidemic_baseline_by_week.py, on series with known
epidemics: flags the epidemic weeks, not the others, in real time (no look-ahead) and within the
syndrome's surveillance period; fits on full counts without letting a suppressed one be solved for;
grades intensity as the Moving Epidemic Method does; degrades to NULL with too little history."""

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
    # Real time: the alarm is raised on the second week above threshold, so 5 of 6 weeks at best.
    assert flagged[truth].mean() > 0.75  # sensitivity
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


WINTER = {"first_iso_week": 40, "last_iso_week": 15, "season_start_month": 7}
SUMMER = {"first_iso_week": 22, "last_iso_week": 39, "season_start_month": 1}


def test_status_of_a_week_does_not_change_when_later_weeks_are_added() -> None:
    series = _series("2017-07-03", 52 * 7).drop(columns="is_epidemic_truth")
    full = baseline.fit_baselines(series, {"grippe": WINTER}).set_index("iso_week")
    columns = ["is_above_threshold", "is_epidemic_week", "epidemic_phase", "epidemic_threshold"]
    # Every cut inside the last season's epidemic, where a look-ahead rule would differ.
    for cut in range(52 * 6 + 20, 52 * 6 + 34):
        truncated = baseline.fit_baselines(series.iloc[:cut], {"grippe": WINTER}).set_index("iso_week")
        pd.testing.assert_frame_equal(truncated[columns], full.loc[truncated.index, columns])


def test_alarm_on_the_second_week_above_and_end_after_two_below() -> None:
    above = [False, True, True, True, False, True, False, False, True, False]
    status, phase = baseline._epidemic_status(above, np.ones(10, dtype=bool), np.zeros(10))
    assert status == [False, False, True, True, True, True, True, False, False, False]
    assert phase[:3] == ["no_epidemic", "pre_epidemic", "epidemic"]
    assert phase[7:] == ["post_epidemic"] * 3


def test_heat_syndrome_status_only_in_its_summer_period() -> None:
    mondays = pd.date_range("2016-01-04", periods=52 * 8, freq="W-MON")
    rng = np.random.default_rng(3)
    # A winter excess (winter dehydration) every January and a heat wave every August.
    expected = (
        20 + np.where(mondays.month == 1, 60, 0) + np.where((mondays.month == 8) & (mondays.day <= 21), 80, 0)
    )
    series = pd.DataFrame(
        {
            "syndrome_group": "icanicule", "geo_level": "france", "geo_code": "FR",
            "iso_week": [d.strftime("%G-W%V") for d in mondays], "week_start_date": mondays.date,
            "observed_count": rng.poisson(expected),
        }
    )  # fmt: skip
    result = baseline.fit_baselines(series, {"icanicule": SUMMER})
    months = pd.to_datetime(result["week_start_date"]).dt.month
    assert not result.loc[months.isin([1, 2, 3, 11, 12]), "is_epidemic_week"].fillna(False).any()
    assert (result.loc[months.isin([1, 2]), "epidemic_phase"].dropna() == "out_of_season").all()
    assert result.loc[months == 8, "is_epidemic_week"].fillna(False).any()  # the heat waves are seen
    assert set(result["surveillance_season"]) == {str(y) for y in range(2016, 2024)}
    # An epidemic never spans two seasons: none is running in the first week of a season.
    first_weeks = result.groupby("surveillance_season")["is_epidemic_week"].first()
    assert not first_weeks.fillna(False).any()


def _small_series(weeks: int, seed: int) -> pd.DataFrame:
    """A low-count series (background around 8 a week): most weeks are below k and suppressed."""
    rng = np.random.default_rng(seed)
    mondays = pd.date_range("2017-07-03", periods=weeks, freq="W-MON")
    t = np.arange(weeks)
    full = rng.poisson(8 + 5 * np.cos(2 * np.pi * (t - 26) / 52.18))
    published = pd.array(np.where((full >= 1) & (full < 11), -1, full), dtype="Int64")
    published[published == -1] = pd.NA
    return pd.DataFrame(
        {
            "syndrome_group": "bronchiolite", "geo_level": "region", "geo_code": "28",
            "iso_week": [d.strftime("%G-W%V") for d in mondays], "week_start_date": mondays.date,
            "observed_count": published, "full_count": full, "coded_act_count": 400,
        }
    )  # fmt: skip


def test_fit_on_full_counts_gives_a_baseline_where_suppression_left_none() -> None:
    series = _small_series(52 * 4, seed=5)
    on_full = baseline.fit_baselines(series)
    on_published = baseline.fit_baselines(series.drop(columns="full_count"))
    last = on_full["surveillance_season"] == "2020-2021"
    truth = series.loc[last.to_numpy(), "full_count"].mean()
    assert on_full.loc[last, "baseline_count"].notna().all()
    assert abs(on_full.loc[last, "baseline_count"].mean() - truth) < 2
    # Fitted on the published counts only, the suppressed weeks leave too few: no threshold ever.
    assert on_published["epidemic_threshold"].isna().all()


def test_a_fit_that_would_reveal_a_suppressed_week_is_withheld() -> None:
    series = _series("2017-07-03", 52 * 4).drop(columns="is_epidemic_truth")
    series["full_count"] = series["observed_count"]
    series["observed_count"] = series["observed_count"].astype("Int64")
    series.loc[40, ["observed_count", "full_count"]] = [pd.NA, 7]  # one small week, suppressed
    result = baseline.fit_baselines(series)
    # Seasons fitted on that week (2018-19 onwards, within five seasons) publish no baseline: the four
    # coefficients it would reveal give the one unknown week back exactly.
    fitted_on_it = result["surveillance_season"].isin(["2019-2020", "2020-2021"])
    assert result.loc[fitted_on_it, "baseline_count"].isna().all()
    series.loc[40, "observed_count"] = 7  # published: nothing to protect
    assert baseline.fit_baselines(series).loc[fitted_on_it, "baseline_count"].notna().all()


def test_published_baseline_pins_no_suppressed_week_for_a_linear_attacker() -> None:
    from scipy.optimize import linprog

    series = _small_series(52 * 4, seed=7)
    result = baseline.fit_baselines(series)
    last = (result["surveillance_season"] == "2020-2021").to_numpy()
    assert result.loc[last, "baseline_count"].notna().all()  # published despite many suppressed weeks
    # The attacker: the published baseline gives the coefficients; which suppressed training weeks can
    # take which values?
    t = (pd.to_datetime(series["week_start_date"]) - pd.Timestamp("2000-01-03")).dt.days.to_numpy() / 7.0
    x_new = baseline._design(t[last])
    coef = np.linalg.lstsq(x_new, result.loc[last, "baseline_count"].to_numpy(dtype=float), rcond=None)[0]
    training = ~last
    full = series["full_count"].to_numpy(dtype=float)
    used = training & (full <= np.quantile(full[training], 0.85))
    x = baseline._design(t[used])
    inverse = np.linalg.inv(x.T @ x)
    hidden = series["observed_count"].isna().to_numpy()[used]
    a = inverse @ x[hidden].T
    rhs = coef - inverse @ x[~hidden].T @ full[used][~hidden]
    pinned = 0
    for i in range(hidden.sum()):
        cost = np.zeros(hidden.sum())
        cost[i] = 1
        low = linprog(cost, A_eq=a, b_eq=rhs, bounds=(0, None), method="highs")
        high = linprog(-cost, A_eq=a, b_eq=rhs, bounds=(0, None), method="highs")
        top = np.inf if high.status == 3 else -high.fun
        if low.status == 0 and (top - low.fun < 1 or (low.fun >= 0.99 and top <= 10.01)):
            pinned += 1
    assert hidden.sum() > 20 and pinned == 0


def test_ols_threshold_is_the_t_prediction_interval() -> None:
    from scipy import stats

    series = _series("2017-07-03", 52 * 3).drop(columns="is_epidemic_truth")
    result = baseline.fit_baselines(series)
    last = (result["surveillance_season"] == "2019-2020").to_numpy()
    t = (pd.to_datetime(series["week_start_date"]) - pd.Timestamp("2000-01-03")).dt.days.to_numpy() / 7.0
    y = series["observed_count"].to_numpy(dtype=float)
    used = ~last & (y <= np.quantile(y[~last], 0.85))
    x = baseline._design(t[used])
    coef, *_ = np.linalg.lstsq(x, y[used], rcond=None)
    residual = y[used] - x @ coef
    df = len(residual) - 4
    sigma2 = residual @ residual / df
    x_new = baseline._design(t[last])
    se = np.sqrt(sigma2 * (1 + np.einsum("ij,jk,ik->i", x_new, np.linalg.inv(x.T @ x), x_new)))
    expected = x_new @ coef + stats.t.ppf(0.975, df) * se
    assert np.allclose(result.loc[last, "epidemic_threshold"], np.round(expected, 2), atol=0.011)


def test_mem_intensity_thresholds_and_levels() -> None:
    # Past seasons' highest weekly shares (the n = 30 / seasons highest of each season): the thresholds
    # are the 40/90/97.5 % quantiles of a normal distribution fitted to their logarithms.
    peaks = {2015: np.array([10.0, 8, 6]), 2016: np.array([20.0, 12, 9]), 2017: np.array([15.0, 14, 3])}
    assert baseline._mem_thresholds(peaks, 2017, min_seasons=3) is None  # two past seasons only
    peaks[2018] = np.array([5.0])
    thresholds = baseline._mem_thresholds(peaks, 2018, min_seasons=3)
    values = np.log([10.0, 8, 6, 20, 12, 9, 15, 14, 3])  # n = 10: every value of three short seasons
    from scipy import stats

    expected = [np.exp(values.mean() + stats.norm.ppf(q) * values.std(ddof=1)) for q in (0.40, 0.90, 0.975)]
    assert np.allclose(thresholds, expected)
    assert thresholds[0] < thresholds[1] < thresholds[2]


def test_intensity_level_of_epidemic_weeks() -> None:
    series = _series("2014-07-07", 52 * 8, seed=4).drop(columns="is_epidemic_truth")
    series["coded_act_count"] = 2000
    result = baseline.fit_baselines(series)
    graded = result.dropna(subset=["intensity_level"])
    assert not graded.empty and graded["is_epidemic_week"].all()
    assert set(graded["intensity_level"]) <= {"low", "medium", "high", "very_high"}
    # Similar seasons: intensity is graded against them, so not everything is very high.
    assert (graded["intensity_level"] != "very_high").any()
    assert result.loc[~result["is_epidemic_week"].fillna(False), "intensity_level"].isna().all()


def _two_series(weeks: int) -> pd.DataFrame:
    """A winter and a summer series of several seasons, every week's full and published counts known."""
    winter = _series("2016-07-04", weeks, seed=5).drop(columns="is_epidemic_truth")
    summer = (
        _series("2016-07-04", weeks, seed=6)
        .drop(columns="is_epidemic_truth")
        .assign(syndrome_group="icanicule", geo_level="region", geo_code="93")
    )
    both = pd.concat([winter, summer], ignore_index=True)
    return both.assign(full_count=both["observed_count"], coded_act_count=2000)


def _sorted(result: pd.DataFrame) -> pd.DataFrame:
    keys = [*baseline.KEYS, "week_start_date"]
    return baseline._typed(result).sort_values(keys).reset_index(drop=True)


def test_reusing_unchanged_seasons_equals_a_full_refit() -> None:
    periods = {"grippe": WINTER, "icanicule": SUMMER}
    history = _two_series(52 * 7 + 20)  # seven seasons with fits, then the 20th week of the next
    before, seasons = baseline.fit_baselines_reusing(history.iloc[:-1], periods, None, None)
    assert seasons["season_start_year"].nunique() > 6
    assert before["baseline_count"].notna().sum() > 500  # real fits, not only too-short histories
    # A daily load: the summer series' new week, and the winter series' last week corrected.
    today = history.copy()
    today.loc[52 * 7 + 19, ["full_count", "observed_count"]] += 40
    again, new_seasons = baseline.fit_baselines_reusing(today, periods, _sorted(before), seasons)
    pd.testing.assert_frame_equal(_sorted(again), _sorted(baseline.fit_baselines(today, periods)))
    changed = new_seasons.merge(seasons, on=baseline.SEASON_KEYS, how="left")
    # Only each series' current season changed.
    assert (changed["fingerprint_x"] != changed["fingerprint_y"]).sum() == 2


def test_reused_rows_come_from_the_previous_result_and_changes_invalidate_later_seasons() -> None:
    periods = {"grippe": WINTER, "icanicule": SUMMER}
    history = _two_series(52 * 7)
    baseline._INTENSITY_QUANTILES.clear()  # as in a new build's process: filled by the first fit below
    before, seasons = baseline.fit_baselines_reusing(history, periods, None, None)
    marked = _sorted(before).assign(baseline_count=-1.0)  # a mark on every previous row
    same, _ = baseline.fit_baselines_reusing(history, periods, marked, seasons)
    assert (same["baseline_count"] == -1.0).all()  # nothing changed: nothing fitted again
    # An old week corrected: its season and every later one of that series are fitted again.
    corrected = history.copy()
    corrected.loc[100, "full_count"] += 30
    again, _ = baseline.fit_baselines_reusing(corrected, periods, marked, seasons)
    again = _sorted(again)
    season = baseline.season_start_year(pd.to_datetime(again["week_start_date"]))
    refitted = (again["syndrome_group"] == "grippe") & (season >= 2017)  # 2018-06-04: 2017-2018
    assert (again.loc[~refitted, "baseline_count"] == -1.0).all()
    expected = _sorted(baseline.fit_baselines(corrected, periods))
    pd.testing.assert_frame_equal(again[refitted], expected[refitted])
    # Other parameters, or another surveillance period: every season is computed again.
    for changed in ({"training_seasons": 4}, {"k": 5}):
        refit, _ = baseline.fit_baselines_reusing(history, periods, marked, seasons, **changed)
        assert not (refit["baseline_count"] == -1.0).any()
    other_period = {"grippe": {**WINTER, "first_iso_week": 41}, "icanicule": SUMMER}
    refit, _ = baseline.fit_baselines_reusing(history, other_period, marked, seasons)
    assert not (refit.loc[refit["syndrome_group"] == "grippe", "baseline_count"] == -1.0).any()
    # A previous season missing a row (a table changed by other means) is computed again.
    dropped = marked.drop(index=marked.index[5])
    refit, _ = baseline.fit_baselines_reusing(history, periods, dropped, seasons)
    pd.testing.assert_frame_equal(_sorted(refit).iloc[:10], _sorted(before).iloc[:10])
