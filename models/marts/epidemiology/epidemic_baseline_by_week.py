"""Serfling-type epidemic baseline, threshold, real-time epidemic status and MEM intensity per syndromic
group and area (région, France), by ISO week. Methods and references: docs/epidemiology.md.

Baseline (Serfling 1963; Costagliola et al. 1991, the periodic regression Santé publique France has used
for influenza-like illness): for the weeks of a fit season S, an OLS regression
`count ~ 1 + t + cos(2 pi t / 52.18) + sin(2 pi t / 52.18)` (t in weeks, statsmodels) is fitted on the
weekly counts of the `training_seasons` seasons before S, leaving out the weeks above the 85th percentile
of those counts (epidemic weeks would pull the baseline up; SpF excludes them). Baseline = fitted value;
threshold = upper limit of the two-sided 95 % prediction interval (Student's t on the residual degrees
of freedom). A fit season runs July to June, or January to December for summer-surveillance syndromes,
so that one surveillance period (winter W40-W15, summer W22-W39) always lies in one fit season.

The regression reads the FULL weekly counts (int_surveillance_syndrome_counts_by_week, never published):
dropping the suppressed weeks would drop the smallest ones and bias the baseline upwards. What is
published is controlled: the fitted values are linear in the training counts (four weighted sums), so a
series-season's baseline and threshold are published only when no training week that the weekly mart
suppresses can be solved for from them (`_withheld_for_disclosure`); otherwise they are NULL.

Status (no look-ahead): is_above_threshold compares the PUBLISHED count of the week with its threshold
(a suppressed week counts as not above). Within the syndrome's surveillance period, an epidemic starts on
the second consecutive week above threshold (the week SpF's alarm would be raised, not back-dated to the
first), continues until two consecutive weeks are below, and always ends with the period. The status of
week W depends only on weeks up to W, so a bulletin for a past week says what was published that week.

Intensity (Moving Epidemic Method, Vega et al. 2013, 2015): for each season, the `n` highest weekly
shares of coded acts (n = max(1, round(30 / seasons))) of each of the previous (up to 10) seasons, within
the surveillance period; a normal distribution is fitted to their logarithms and the medium, high and
very high thresholds are its 40 %, 90 % and 97.5 % quantiles (what MEM calls the upper limits of one-sided
intervals of the geometric mean; Bracher and Littek 2024). At least `min_intensity_seasons` past seasons.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PERIOD_WEEKS = 365.2425 / 7
EXCLUDED_QUANTILE = 0.85
PREDICTION_LEVEL = 0.95
KEYS = ["syndrome_group", "geo_level", "geo_code"]
INTENSITY_LEVELS = (("medium", 0.40), ("high", 0.90), ("very_high", 0.975))
MEM_VALUES_PER_SEASON = 30
MEM_MAX_SEASONS = 10
DEFAULT_K = 11
# A syndrome's surveillance period when the seed gives none: all year, July-June seasons.
ALL_YEAR = {"first_iso_week": 1, "last_iso_week": 53, "season_start_month": 7}

COLUMNS = [
    *KEYS, "iso_week", "week_start_date", "surveillance_season", "is_in_surveillance_period",
    "observed_count", "coded_act_count", "observed_share_pct", "baseline_count", "epidemic_threshold",
    "baseline_share_pct", "epidemic_threshold_share_pct", "training_week_count", "is_above_threshold",
    "is_epidemic_week", "epidemic_phase", "intensity_medium_share_pct", "intensity_high_share_pct",
    "intensity_very_high_share_pct", "intensity_level",
]  # fmt: skip


def season_start_year(week_start: pd.Series, start_month: int = 7) -> pd.Series:
    """The fit season a week belongs to, by its starting year: July to June (or January to December)."""
    dates = pd.to_datetime(week_start)
    return dates.dt.year.where(dates.dt.month >= start_month, dates.dt.year - 1)


def season_label(start_year: int, start_month: int) -> str:
    return str(start_year) if start_month == 1 else f"{start_year}-{start_year + 1}"


def in_surveillance_period(iso_week: pd.Series, first: int, last: int) -> np.ndarray:
    """ISO week number within [first, last], the period wrapping over the new year when first > last."""
    number = iso_week.str[-2:].astype(int).to_numpy()
    if first <= last:
        return (number >= first) & (number <= last)
    return (number >= first) | (number <= last)


def _design(t: np.ndarray) -> np.ndarray:
    angle = 2 * np.pi * t / PERIOD_WEEKS
    return np.column_stack([np.ones_like(t), t, np.cos(angle), np.sin(angle)])


def _withheld_for_disclosure(x: np.ndarray, suppressed: np.ndarray, full: np.ndarray, k: int) -> bool:
    """Whether the fit would let a reader solve for a training week the publication suppresses.

    A reader of every published fitted value knows the coefficients b = (X'X)^-1 X'y, hence
    A_s y_s = b - A_p y_p: four linear equations in the suppressed counts y_s (y_s >= 0). The fit is
    withheld when they determine a suppressed count (fewer unknowns than independent equations, with
    one to spare for the residual variance the threshold reveals) or confine one to 1..k-1 (linear
    programming, HiGHS, for the weeks the exact fast path below cannot clear). Conservative: b is taken
    as known exactly.
    """
    if not suppressed.any():
        return False
    a = np.linalg.pinv(x.T @ x) @ x[suppressed].T
    unknowns = int(suppressed.sum())
    if unknowns - np.linalg.matrix_rank(a) < 2:
        return True
    y = full[suppressed]
    # Fast path, exact: moving week i along the null space of `a` keeps every published value. The
    # move that takes it to 0 (or, for a hidden zero, to 1) keeps every other week >= 0 for most weeks:
    # then 0 and the true value are both possible, so the week is neither recovered nor within 1..k-1.
    free = np.eye(unknowns) - np.linalg.pinv(a) @ a  # projector on the null space of `a`
    pivot = np.diag(free)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(y > 0, -y, 1.0) / pivot
        moved = y[:, None] + free * step[None, :]  # column i: every week after moving week i
    possible = (pivot > 1e-9) & (moved >= -1e-6).all(axis=0)
    if possible.all():
        return False
    from scipy.optimize import linprog  # statsmodels depends on scipy

    target = a @ y
    for i in np.flatnonzero(~possible):
        bounds = []
        for sign in (1.0, -1.0):
            cost = np.zeros(unknowns)
            cost[i] = sign
            result = linprog(cost, A_eq=a, b_eq=target, bounds=(0, None), method="highs")
            if result.status == 3:  # unbounded above: not confined
                bounds.append(np.inf)
                continue
            if result.status != 0:
                return True
            bounds.append(sign * result.fun)
        low, high = bounds[0], bounds[1]
        if high - low < 1 or (low >= 1 - 1e-6 and high <= k - 1 + 1e-6):
            return True
    return False


def _fit_season(
    t: np.ndarray, full: np.ndarray, published: np.ndarray, training: np.ndarray, target: np.ndarray, k: int,
    min_training_weeks: int,
) -> tuple[np.ndarray, np.ndarray, int] | None:  # fmt: skip
    """(baseline, threshold, weeks used) for the `target` weeks, or None (too little history, withheld)."""
    from scipy import stats
    from statsmodels.regression.linear_model import OLS  # not statsmodels.api: 3x faster to import

    if training.sum() < min_training_weeks:
        return None
    cutoff = np.quantile(full[training], EXCLUDED_QUANTILE)
    used = training & (full <= cutoff)
    x = _design(t[used])
    if used.sum() < min_training_weeks * EXCLUDED_QUANTILE or np.linalg.matrix_rank(x) < x.shape[1]:
        return None
    if _withheld_for_disclosure(x, np.isnan(published[used]), full[used], k):
        return None
    fit = OLS(full[used], x).fit()
    prediction = fit.get_prediction(_design(t[target]))
    quantile = stats.t.ppf(1 - (1 - PREDICTION_LEVEL) / 2, fit.df_resid)
    baseline = np.clip(prediction.predicted_mean, 0, None)
    threshold = np.clip(prediction.predicted_mean + quantile * prediction.se_obs, 0, None)
    return baseline, threshold, int(used.sum())


def _epidemic_status(above: np.ndarray, in_period: np.ndarray, season: np.ndarray) -> tuple[list, list]:
    """Causal status and phase of each week (arrays in week order); NULL status where no threshold."""
    status: list = [None] * len(above)
    phase: list = [None] * len(above)
    epidemic, had_epidemic, previous_above, previous_below = False, False, False, False
    current = None
    for i in range(len(above)):
        if season[i] != current:  # a new season: nothing carries over
            current, epidemic, had_epidemic, previous_above, previous_below = (
                season[i],
                False,
                False,
                False,
                False,
            )
        if not in_period[i]:
            epidemic, previous_above, previous_below = False, False, False
            phase[i] = "out_of_season"
            status[i] = False if above[i] is not None else None
            continue
        if above[i] is None:  # no threshold this season
            continue
        is_above = bool(above[i])
        if not epidemic and is_above and previous_above:
            epidemic, had_epidemic = True, True
        elif epidemic and not is_above and previous_below:
            epidemic = False
        status[i] = epidemic
        if epidemic:
            phase[i] = "epidemic"
        elif had_epidemic:
            phase[i] = "post_epidemic"
        else:
            phase[i] = "pre_epidemic" if is_above else "no_epidemic"
        previous_above, previous_below = is_above, not is_above
    return status, phase


# Computed once. Not functools.cache: on Spark the model's functions go to the Python workers by value
# (cloudpickle), which a cache wrapper cannot.
_INTENSITY_QUANTILES: list[tuple[float, ...]] = []


def _intensity_quantiles() -> tuple[float, ...]:
    if not _INTENSITY_QUANTILES:
        from scipy import stats

        _INTENSITY_QUANTILES.append(tuple(float(stats.norm.ppf(level)) for _, level in INTENSITY_LEVELS))
    return _INTENSITY_QUANTILES[0]


def _mem_thresholds(peaks_by_season: dict[int, np.ndarray], current: int, min_seasons: int) -> list | None:
    """MEM intensity thresholds (share of coded acts) for `current` from the seasons before it."""
    past = [s for s in sorted(peaks_by_season) if s < current][-MEM_MAX_SEASONS:]
    if len(past) < min_seasons:
        return None
    n = max(1, round(MEM_VALUES_PER_SEASON / len(past)))
    values = np.concatenate([np.sort(peaks_by_season[s])[::-1][:n] for s in past])
    values = values[values > 0]
    if len(values) < 2:
        return None
    logs = np.log(values)
    mean, sd = logs.mean(), logs.std(ddof=1)
    return [float(np.exp(mean + z * sd)) for z in _intensity_quantiles()]


def fit_series(
    weeks: pd.DataFrame, period: dict | None = None, training_seasons: int = 5, min_training_weeks: int = 80,
    min_intensity_seasons: int = 3, k: int = DEFAULT_K,
) -> pd.DataFrame:  # fmt: skip
    """One series: `weeks` has iso_week, week_start_date, observed_count (published, NULL when
    suppressed), full_count (the unsuppressed count; observed_count when absent) and coded_act_count."""
    period = period or ALL_YEAR
    weeks = weeks.sort_values("week_start_date").reset_index(drop=True)
    t = (pd.to_datetime(weeks["week_start_date"]) - pd.Timestamp("2000-01-03")).dt.days.to_numpy() / 7.0
    start_month = int(period["season_start_month"])
    season = season_start_year(weeks["week_start_date"], start_month).to_numpy()
    published = pd.to_numeric(weeks["observed_count"], errors="coerce").to_numpy(dtype=float)
    full_source = weeks["full_count"] if "full_count" in weeks else weeks["observed_count"]
    full = pd.to_numeric(full_source, errors="coerce").to_numpy(dtype=float)
    coded_source = weeks["coded_act_count"] if "coded_act_count" in weeks else pd.Series([None] * len(weeks))
    coded = pd.to_numeric(coded_source, errors="coerce").to_numpy(dtype=float)
    in_period = in_surveillance_period(
        weeks["iso_week"], int(period["first_iso_week"]), int(period["last_iso_week"])
    )
    baseline = np.full(len(weeks), np.nan)
    threshold = np.full(len(weeks), np.nan)
    training_size = np.zeros(len(weeks), dtype=int)
    for current in np.unique(season):
        training = (season >= current - training_seasons) & (season < current) & ~np.isnan(full)
        target = season == current
        fitted = _fit_season(t, full, published, training, target, k, min_training_weeks)
        if fitted is not None:
            baseline[target], threshold[target], training_size[target] = fitted
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(coded > 0, 100 * published / coded, np.nan)
    above = [
        None if np.isnan(threshold[i]) else bool(not np.isnan(published[i]) and published[i] > threshold[i])
        for i in range(len(weeks))
    ]
    status, phase = _epidemic_status(above, in_period, season)
    out = weeks.copy()
    out["surveillance_season"] = [season_label(s, start_month) for s in season]
    out["is_in_surveillance_period"] = in_period
    out["observed_share_pct"] = np.round(share, 2)
    out["baseline_count"] = np.round(baseline, 2)
    out["epidemic_threshold"] = np.round(threshold, 2)
    out["baseline_share_pct"] = np.round(np.where(coded > 0, 100 * baseline / coded, np.nan), 2)
    out["epidemic_threshold_share_pct"] = np.round(np.where(coded > 0, 100 * threshold / coded, np.nan), 2)
    out["training_week_count"] = training_size
    observed_known = ~np.isnan(published)
    out["is_above_threshold"] = pd.array(_where_known(above, observed_known), dtype="boolean")
    out["is_epidemic_week"] = pd.array(_where_known(status, observed_known), dtype="boolean")
    out["epidemic_phase"] = _where_known(phase, observed_known)
    _add_intensity(out, season, share, in_period, min_intensity_seasons, status, observed_known)
    return out


def _where_known(values: list, known: np.ndarray) -> list:
    """NULL where the week's count is suppressed: a flag on a suppressed count would bound it."""
    return [value if is_known else None for value, is_known in zip(values, known, strict=True)]


def _add_intensity(
    out: pd.DataFrame, season: np.ndarray, share: np.ndarray, in_period: np.ndarray, min_seasons: int,
    status: list, observed_known: np.ndarray,
) -> None:  # fmt: skip
    """MEM thresholds of each season from the seasons before it, and the level of each epidemic week."""
    peaks: dict[int, np.ndarray] = {}
    for s in np.unique(season):
        values = share[(season == s) & in_period & ~np.isnan(share)]
        if len(values):
            peaks[int(s)] = values
    levels = np.full((len(out), len(INTENSITY_LEVELS)), np.nan)
    for s in np.unique(season):
        thresholds = _mem_thresholds(peaks, int(s), min_seasons)
        if thresholds is not None:
            levels[season == s] = thresholds
    for j, (name, _) in enumerate(INTENSITY_LEVELS):
        out[f"intensity_{name}_share_pct"] = np.round(levels[:, j], 2)
    graded = []
    for i, epidemic in enumerate(status):
        if not (epidemic and observed_known[i]) or np.isnan(levels[i, 0]) or np.isnan(share[i]):
            graded.append(None)
            continue
        level = "low"
        for j, (name, _) in enumerate(INTENSITY_LEVELS):
            if share[i] >= levels[i, j]:
                level = name
        graded.append(level)
    out["intensity_level"] = graded


def fit_baselines(
    weekly: pd.DataFrame, periods: dict[str, dict] | None = None, training_seasons: int = 5,
    min_training_weeks: int = 80, min_intensity_seasons: int = 3, k: int = DEFAULT_K,
) -> pd.DataFrame:  # fmt: skip
    """Every series of `weekly` (KEYS + iso_week, week_start_date, observed_count[, full_count,
    coded_act_count]) fitted independently; `periods` maps a syndrome group to its surveillance period."""
    if weekly.empty:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in COLUMNS})
    periods = periods or {}
    parts = [
        fit_series(
            group, periods.get(keys[0]), training_seasons, min_training_weeks, min_intensity_seasons, k
        )
        for keys, group in weekly.groupby(KEYS, sort=True, dropna=False)
    ]
    result = pd.concat(parts, ignore_index=True)
    for name in COLUMNS:
        if name not in result:
            result[name] = None
    return result[COLUMNS]


# The model's columns on Spark, as the DuckDB build types them (_typed).
SPARK_SCHEMA = (
    "syndrome_group string, geo_level string, geo_code string, iso_week string, week_start_date date, "
    "surveillance_season string, is_in_surveillance_period boolean, observed_count bigint, "
    "coded_act_count bigint, observed_share_pct double, baseline_count double, epidemic_threshold double, "
    "baseline_share_pct double, epidemic_threshold_share_pct double, training_week_count bigint, "
    "is_above_threshold boolean, is_epidemic_week boolean, epidemic_phase string, "
    "intensity_medium_share_pct double, intensity_high_share_pct double, "
    "intensity_very_high_share_pct double, intensity_level string"
)


def spark_baselines(weekly, periods: dict[str, dict], **parameters):
    """`fit_baselines` on a Spark DataFrame: each series one group of `groupBy(KEYS).applyInPandas`,
    fitted by the same `fit_series` (`parameters`: its training_seasons, min_training_weeks,
    min_intensity_seasons, k), typed as on DuckDB."""

    def fit_group(group: pd.DataFrame) -> pd.DataFrame:
        fitted = fit_series(group, periods.get(group["syndrome_group"].iloc[0]), **parameters)
        return _typed(fitted[COLUMNS].copy())

    return weekly.groupBy(*KEYS).applyInPandas(fit_group, schema=SPARK_SCHEMA)


def _typed(result: pd.DataFrame) -> pd.DataFrame:
    for name in ("observed_count", "coded_act_count"):
        result[name] = pd.to_numeric(result[name]).astype("Int64")
    result["is_in_surveillance_period"] = result["is_in_surveillance_period"].astype("boolean")
    for name in ("epidemic_phase", "intensity_level", "surveillance_season"):
        result[name] = result[name].astype("string")  # typed even when every value is NULL
    for name in [c for c in COLUMNS if c.endswith("_pct") or c in ("baseline_count", "epidemic_threshold")]:
        result[name] = pd.to_numeric(result[name]).astype("float64")
    result["week_start_date"] = pd.to_datetime(result["week_start_date"]).dt.date
    return result


def _periods(groups: pd.DataFrame, periods_seed: pd.DataFrame) -> dict[str, dict]:
    """{syndrome group: its surveillance period} from the seeds."""
    periods_seed = periods_seed.set_index("surveillance_period")
    return {
        row.syndrome_group: periods_seed.loc[row.surveillance_period].to_dict()
        for row in groups.itertuples()
        if row.surveillance_period in periods_seed.index
    }


def _parameters(dbt) -> dict[str, int]:
    return {
        "training_seasons": int(dbt.config.get("training_seasons") or 5),
        "min_training_weeks": int(dbt.config.get("min_training_weeks") or 80),
        "min_intensity_seasons": int(dbt.config.get("min_intensity_seasons") or 3),
        "k": int(dbt.config.get("disclosure_k") or DEFAULT_K),
    }


_WEEKLY_FILTER = "age_class = 'all' and geo_level in ('region', 'france')"
_WEEKLY_COLUMNS = [
    *KEYS, "iso_week", "week_start_date", "syndrome_act_count as observed_count", "coded_act_count",
]  # fmt: skip


def _spark_model(dbt, spark):
    """The same model on Spark (dbt-spark, `lakehouse build --target spark`): the same inputs, the same
    fit per series (spark_baselines), a Spark DataFrame that dbt-spark saves as the table."""
    weekly = dbt.ref("syndromic_indicators_by_week").filter(_WEEKLY_FILTER).selectExpr(*_WEEKLY_COLUMNS)
    weekly, full = weekly.alias("w"), dbt.ref("int_surveillance_syndrome_counts_by_week").alias("f")
    # Null-safe, as pandas' merge on the DuckDB path matches a NULL key with a NULL key.
    matched = [weekly[c].eqNullSafe(full[c]) for c in [*KEYS, "week_start_date"]]
    weekly = weekly.join(full, matched, "left").select("w.*", "f.full_count").fillna(0, subset=["full_count"])
    periods = _periods(dbt.ref("syndromic_groups").toPandas(), dbt.ref("surveillance_periods").toPandas())
    return spark_baselines(weekly, periods, **_parameters(dbt))


def model(dbt, session):  # dbt's Python model entry point (dbt passes both)
    dbt.config(materialized="table")
    if type(session).__module__.startswith("pyspark"):
        return _spark_model(dbt, session)
    weekly = dbt.ref("syndromic_indicators_by_week").filter(_WEEKLY_FILTER)
    weekly = weekly.project(", ".join(_WEEKLY_COLUMNS)).df()
    full = dbt.ref("int_surveillance_syndrome_counts_by_week").df()
    weekly = weekly.merge(full, on=[*KEYS, "week_start_date"], how="left")
    weekly["full_count"] = weekly["full_count"].fillna(0)  # the weekly mart's grid: no act is a zero
    periods = _periods(dbt.ref("syndromic_groups").df(), dbt.ref("surveillance_periods").df())
    return _typed(fit_baselines(weekly, periods, **_parameters(dbt)))
