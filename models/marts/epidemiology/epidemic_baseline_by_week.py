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

import hashlib
import types

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
    if training.sum() < min_training_weeks:
        return None  # before the imports: a warehouse of less than two seasons never needs them
    from scipy import stats
    from statsmodels.regression.linear_model import OLS  # not statsmodels.api: 3x faster to import

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
    min_intensity_seasons: int = 3, k: int = DEFAULT_K, seasons: set[int] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """One series: `weeks` has iso_week, week_start_date, observed_count (published, NULL when
    suppressed), full_count (the unsuppressed count; observed_count when absent) and coded_act_count.
    `seasons` (their starting years): only the weeks of those seasons, fitted on every earlier week."""
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
        if seasons is not None and current not in seasons:
            continue
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
    # Built as one frame: a column inserted at a time cost more than the fits on a daily build.
    labels = {s: season_label(s, start_month) for s in np.unique(season)}
    observed_known = ~np.isnan(published)
    out = {
        "surveillance_season": [labels[s] for s in season],
        "is_in_surveillance_period": in_period,
        "observed_share_pct": np.round(share, 2),
        "baseline_count": np.round(baseline, 2),
        "epidemic_threshold": np.round(threshold, 2),
        "baseline_share_pct": np.round(np.where(coded > 0, 100 * baseline / coded, np.nan), 2),
        "epidemic_threshold_share_pct": np.round(np.where(coded > 0, 100 * threshold / coded, np.nan), 2),
        "training_week_count": training_size,
        "is_above_threshold": pd.array(_where_known(above, observed_known), dtype="boolean"),
        "is_epidemic_week": pd.array(_where_known(status, observed_known), dtype="boolean"),
        "epidemic_phase": _where_known(phase, observed_known),
    }
    _add_intensity(out, season, share, in_period, min_intensity_seasons, status, observed_known)
    added = pd.DataFrame(out)
    out = pd.concat([weeks.drop(columns=list(out), errors="ignore"), added.set_axis(weeks.index)], axis=1)
    if seasons is not None:
        out = out[np.isin(season, list(seasons))]
    return out


def _where_known(values: list, known: np.ndarray) -> list:
    """NULL where the week's count is suppressed: a flag on a suppressed count would bound it."""
    return [value if is_known else None for value, is_known in zip(values, known, strict=True)]


def _add_intensity(
    out: dict, season: np.ndarray, share: np.ndarray, in_period: np.ndarray, min_seasons: int,
    status: list, observed_known: np.ndarray,
) -> None:  # fmt: skip
    """MEM thresholds of each season from the seasons before it, and the level of each epidemic week."""
    peaks: dict[int, np.ndarray] = {}
    for s in np.unique(season):
        values = share[(season == s) & in_period & ~np.isnan(share)]
        if len(values):
            peaks[int(s)] = values
    levels = np.full((len(season), len(INTENSITY_LEVELS)), np.nan)
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
    return _with_columns(pd.concat(parts, ignore_index=True))


# What a season's rows are computed from, besides the fitting code: the series' input columns.
INPUT_COLUMNS = ["iso_week", "week_start_date", "observed_count", "full_count", "coded_act_count"]
SEASON_KEYS = [*KEYS, "season_start_year"]


def _code_digest(code: types.CodeType) -> bytes:
    """The code object's instructions, names and constants, not its file name (dbt runs the model from a
    temporary file) nor its line numbers."""
    parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    for constant in code.co_consts:
        parts.append(_code_digest(constant) if hasattr(constant, "co_code") else repr(constant).encode())
    return hashlib.sha256(b"\0".join(parts)).digest()


def _model_digest(periods: dict[str, dict], parameters: dict) -> dict[str, int]:
    """{syndrome group: a number} that changes with the model's code, its public upper-case constants
    (not the caches, filled as it runs), the fitting libraries' versions, the parameters and the group's
    surveillance period."""
    from importlib.metadata import version

    code = hashlib.sha256()
    for name, value in sorted(globals().items()):
        if isinstance(value, types.FunctionType):
            code.update(name.encode() + _code_digest(value.__code__))
        elif (
            name.isupper()
            and not name.startswith("_")
            and isinstance(value, (int, float, str, tuple, list, dict))
        ):
            code.update(f"{name}={value!r}".encode())
    libraries = [version(name) for name in ("numpy", "pandas", "scipy", "statsmodels")]
    common = f"{code.hexdigest()} {libraries} {sorted(parameters.items())}"
    digest = {}
    for group, period in periods.items():
        text = f"{common} {sorted((str(k), str(v)) for k, v in period.items())}".encode()
        digest[group] = int.from_bytes(hashlib.sha256(text).digest()[:7], "big")
    digest[None] = int.from_bytes(hashlib.sha256(common.encode()).digest()[:7], "big")  # no period
    return digest


def season_fingerprints(weekly: pd.DataFrame, periods: dict[str, dict], parameters: dict) -> pd.DataFrame:
    """One row per series and fit season (SEASON_KEYS): its input weeks (week_count) and a fingerprint of
    everything the season's rows are computed from: the series' weeks of that season and every earlier
    one (its fit trains on earlier seasons, its intensity thresholds read them too) and the model."""
    groups = weekly["syndrome_group"]
    start_month = groups.map(lambda g: int((periods.get(g) or ALL_YEAR)["season_start_month"]))
    dates = pd.to_datetime(weekly["week_start_date"])
    seasons = dates.dt.year.where(dates.dt.month >= start_month, dates.dt.year - 1)
    # 48 bits of each week's hash: the sums over a series' weeks stay within int64.
    inputs = KEYS + [name for name in INPUT_COLUMNS if name in weekly]
    rows = pd.util.hash_pandas_object(weekly[inputs], index=False).to_numpy() >> np.uint64(16)
    frame = weekly[KEYS].assign(season_start_year=seasons.to_numpy(), _hash=rows.astype("int64"), _weeks=1)
    by_season = frame.groupby(SEASON_KEYS, sort=True, dropna=False)[["_hash", "_weeks"]].sum().reset_index()
    by_season["week_count"] = by_season["_weeks"]
    cumulative = by_season.groupby(KEYS, sort=False, dropna=False)[["_hash", "_weeks"]].cumsum()
    model = _model_digest(periods, parameters)
    by_season["_model"] = [model.get(g, model[None]) for g in by_season["syndrome_group"]]
    mixed = pd.DataFrame({"h": cumulative["_hash"], "n": cumulative["_weeks"], "m": by_season["_model"]})
    by_season["fingerprint"] = pd.util.hash_pandas_object(mixed, index=False).to_numpy().view("int64")
    return by_season[[*SEASON_KEYS, "week_count", "fingerprint"]]


def fit_baselines_reusing(
    weekly: pd.DataFrame, periods: dict[str, dict], previous: pd.DataFrame | None,
    previous_seasons: pd.DataFrame | None, **parameters: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """`fit_baselines(weekly, periods, **parameters)` and the seasons' fingerprints, taking from
    `previous` (that call's result on earlier data, whose fingerprints are `previous_seasons`) the rows of
    every series-season whose fingerprint is unchanged: a daily load changes the current season of most
    series, and no earlier season, whose fits are what cost."""
    seasons = season_fingerprints(weekly, periods, parameters)
    if previous is None or previous_seasons is None or weekly.empty:
        return fit_baselines(weekly, periods, **parameters), seasons
    reused = seasons.merge(previous_seasons[[*SEASON_KEYS, "fingerprint"]], on=[*SEASON_KEYS, "fingerprint"])
    if reused.empty:
        return fit_baselines(weekly, periods, **parameters), seasons
    start_month = reused["syndrome_group"].map(
        lambda g: int((periods.get(g) or ALL_YEAR)["season_start_month"])
    )
    reused["surveillance_season"] = [
        season_label(int(y), int(m)) for y, m in zip(reused["season_start_year"], start_month, strict=True)
    ]
    season_keys = [*KEYS, "surveillance_season"]
    kept = previous.merge(reused[[*season_keys, "week_count"]], on=season_keys)
    # A season whose previous rows are not all there (a table changed by hand) is computed again.
    counts = kept.groupby(season_keys, dropna=False)["week_count"].agg(["size", "first"])
    complete = counts[counts["size"] == counts["first"]].reset_index()[season_keys]
    kept = kept.merge(complete, on=season_keys).drop(columns="week_count")
    reused = reused.merge(complete, on=season_keys)
    todo = seasons.merge(reused[SEASON_KEYS], on=SEASON_KEYS, how="left", indicator=True)
    todo = todo[todo["_merge"] == "left_only"]
    wanted = {
        series: set(group["season_start_year"].astype(int))
        for series, group in todo.groupby(_series_id(todo), sort=False)
    }
    parts = [kept[COLUMNS]]
    for series, group in weekly.groupby(_series_id(weekly), sort=True):
        if series in wanted:
            period = periods.get(group["syndrome_group"].iloc[0])
            parts.append(_with_columns(fit_series(group, period, seasons=wanted[series], **parameters)))
    result = pd.concat(parts, ignore_index=True)
    return result, seasons


def _series_id(frame: pd.DataFrame) -> pd.Series:
    """The series' keys as one string (a NULL key too: tuples with NaN do not compare equal)."""
    parts = [frame[key].astype("string").fillna("\0") for key in KEYS]
    return parts[0].str.cat(parts[1:], sep="\x1f")


def _with_columns(result: pd.DataFrame) -> pd.DataFrame:
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
    for name in ("is_in_surveillance_period", "is_above_threshold", "is_epidemic_week"):
        result[name] = result[name].astype("boolean")  # object when read back from the warehouse
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
    fingerprints = f'"{dbt.this.database}"."build_state"."{dbt.this.identifier}__seasons"'
    previous, previous_seasons = _previous_result(session, dbt.this, fingerprints)
    result, seasons = fit_baselines_reusing(weekly, periods, previous, previous_seasons, **_parameters(dbt))
    result = _typed(result)
    seasons["table_checksum"] = _checksum(session, result)
    session.execute(f'create schema if not exists "{dbt.this.database}"."build_state"')
    session.register("epidemic_baseline_seasons", seasons)
    session.execute(f"create or replace table {fingerprints} as select * from epidemic_baseline_seasons")  # noqa: S608 - dbt's relation name
    session.unregister("epidemic_baseline_seasons")
    return result


def _checksum(session, table: pd.DataFrame) -> str:  # session: a DuckDB connection
    """DuckDB's hash of every row, as dbt will store `table` (it creates the table from the frame)."""
    session.register("epidemic_baseline_result", table)
    checksum = session.execute("select count(*), sum(hash(r)) from epidemic_baseline_result as r").fetchone()
    session.unregister("epidemic_baseline_result")
    return str(checksum)


def _previous_result(session, this, fingerprints: str) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The table of the last build and its seasons' fingerprints, when the table is still exactly what
    that build wrote (the checksum it recorded): not after a build by other code, or a first build."""
    found = session.execute(
        "select count(*) from duckdb_tables() where database_name = ? and ("
        "(schema_name = ? and table_name = ?) or (schema_name = 'build_state' and table_name = ?))",
        [this.database, this.schema, this.identifier, f"{this.identifier}__seasons"],
    ).fetchone()[0]
    if found < 2:
        return None, None
    # Relation names from dbt, no value: nothing else is spliced into these queries.
    seasons = session.sql(f"select * from {fingerprints}").df()  # noqa: S608
    current = session.execute(f"select count(*), sum(hash(r)) from {this!r} as r").fetchone()  # noqa: S608
    if seasons.empty or seasons["table_checksum"].iloc[0] != str(current):
        return None, None
    return session.sql(f"select * from {this!r}").df(), seasons  # noqa: S608
