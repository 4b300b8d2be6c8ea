"""Serfling-type epidemic baseline and threshold per syndromic group and area (région, France), by ISO week.

Method (after Serfling 1963 and Costagliola et al. 1991, the periodic regression Santé publique France
has used for influenza-like illness): for the weeks of a surveillance season S (ISO weeks starting from
July to June), a regression `count ~ 1 + t + cos(2 pi t / 52.18) + sin(2 pi t / 52.18)` (t in weeks) is
fitted on the weekly counts of the `training_seasons` seasons before S, leaving out the weeks above
the 85th percentile of those counts (epidemic weeks would pull the baseline up, as SpF excludes them).
The baseline is the fitted value for each week of S; the epidemic threshold is the upper limit of the
95 % prediction interval (fitted + 1.96 * prediction standard error, a normal approximation that is
close to Student's t at the 80+ residual degrees of freedom required). A week is above threshold when
its published count exceeds it; an epidemic week is one of at least two consecutive weeks above
(the SpF alarm rule).

Only published, disclosure-controlled counts are read (syndromic_indicators_by_week, all ages): the
baseline adds nothing an epidemiologist could not compute from the export. With too little history
(fewer than `min_training_weeks` usable weeks in the training seasons) the baseline, threshold and
flags are NULL: the model degrades instead of failing, which is the normal state of a young lakehouse.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PERIOD_WEEKS = 365.2425 / 7
EXCLUDED_QUANTILE = 0.85
Z_95 = 1.96
KEYS = ["syndrome_group", "geo_level", "geo_code"]


def season_start_year(week_start: pd.Series) -> pd.Series:
    """The surveillance season a week belongs to, by its starting year: July to June."""
    dates = pd.to_datetime(week_start)
    return dates.dt.year.where(dates.dt.month >= 7, dates.dt.year - 1)


def _design(t: np.ndarray) -> np.ndarray:
    angle = 2 * np.pi * t / PERIOD_WEEKS
    return np.column_stack([np.ones_like(t), t, np.cos(angle), np.sin(angle)])


def fit_series(weeks: pd.DataFrame, training_seasons: int = 5, min_training_weeks: int = 80) -> pd.DataFrame:
    """Baseline and threshold of one series: `weeks` has week_start_date and observed_count (NULL allowed)."""
    weeks = weeks.sort_values("week_start_date").reset_index(drop=True)
    t = (pd.to_datetime(weeks["week_start_date"]) - pd.Timestamp("2000-01-03")).dt.days.to_numpy() / 7.0
    season = season_start_year(weeks["week_start_date"]).to_numpy()
    observed = pd.to_numeric(weeks["observed_count"], errors="coerce").to_numpy(dtype=float)
    baseline = np.full(len(weeks), np.nan)
    threshold = np.full(len(weeks), np.nan)
    training_size = np.zeros(len(weeks), dtype=int)
    for current in np.unique(season):
        in_training = (season >= current - training_seasons) & (season < current) & ~np.isnan(observed)
        if in_training.sum() < min_training_weeks:
            continue
        cutoff = np.quantile(observed[in_training], EXCLUDED_QUANTILE)
        used = in_training & (observed <= cutoff)
        x = _design(t[used])
        y = observed[used]
        if used.sum() < min_training_weeks * EXCLUDED_QUANTILE or np.linalg.matrix_rank(x) < x.shape[1]:
            continue
        xtx_inv = np.linalg.pinv(x.T @ x)
        coef = xtx_inv @ x.T @ y
        residual_var = float(np.sum((y - x @ coef) ** 2) / (len(y) - x.shape[1]))
        target = season == current
        x_new = _design(t[target])
        fitted = x_new @ coef
        se = np.sqrt(residual_var * (1 + np.einsum("ij,jk,ik->i", x_new, xtx_inv, x_new)))
        baseline[target] = np.clip(fitted, 0, None)
        threshold[target] = np.clip(fitted + Z_95 * se, 0, None)
        training_size[target] = int(used.sum())
    out = weeks.copy()
    out["surveillance_season"] = [f"{s}-{s + 1}" for s in season]
    out["baseline_count"] = np.round(baseline, 2)
    out["epidemic_threshold"] = np.round(threshold, 2)
    out["training_week_count"] = training_size
    has_flag = ~np.isnan(threshold) & ~np.isnan(observed)
    above = pd.array(np.where(has_flag, observed > threshold, False), dtype="boolean")
    above[~has_flag] = pd.NA
    out["is_above_threshold"] = above
    out["is_epidemic_week"] = _epidemic_weeks(above)
    return out


def _epidemic_weeks(above: pd.api.extensions.ExtensionArray) -> pd.api.extensions.ExtensionArray:
    """True for weeks in a run of at least two consecutive weeks above threshold; NULL where unknown."""
    values = above.fillna(False).to_numpy(dtype=bool)
    result = np.zeros(len(values), dtype=bool)
    for i in range(len(values)):
        if values[i] and ((i > 0 and values[i - 1]) or (i + 1 < len(values) and values[i + 1])):
            result[i] = True
    flags = pd.array(result, dtype="boolean")
    flags[above.isna()] = pd.NA
    return flags


def fit_baselines(
    weekly: pd.DataFrame, training_seasons: int = 5, min_training_weeks: int = 80
) -> pd.DataFrame:
    """Every series of `weekly` (KEYS + week_start_date, iso_week, observed_count) fitted independently."""
    columns = [
        *KEYS, "iso_week", "week_start_date", "surveillance_season", "observed_count", "baseline_count",
        "epidemic_threshold", "training_week_count", "is_above_threshold", "is_epidemic_week",
    ]  # fmt: skip
    if weekly.empty:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in columns})
    parts = [
        fit_series(group, training_seasons, min_training_weeks)
        for _, group in weekly.groupby(KEYS, sort=True, dropna=False)
    ]
    return pd.concat(parts, ignore_index=True)[columns]


def model(dbt, session):  # dbt's Python model entry point (dbt passes both)
    dbt.config(materialized="table")
    weekly = (
        dbt.ref("syndromic_indicators_by_week")
        .filter("age_class = 'all' and geo_level in ('region', 'france')")
        .project(
            "syndrome_group, geo_level, geo_code, iso_week, week_start_date, "
            "syndrome_act_count as observed_count"
        )
        .df()
    )
    result = fit_baselines(
        weekly,
        training_seasons=int(dbt.config.get("training_seasons") or 5),
        min_training_weeks=int(dbt.config.get("min_training_weeks") or 80),
    )
    result["observed_count"] = result["observed_count"].astype("Int64")
    result["week_start_date"] = pd.to_datetime(result["week_start_date"]).dt.date
    return result
