"""Calendar of an out-of-hours service: French public holidays, day-of-week and hour-of-day patterns."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import numpy as np

# Departements of Alsace-Moselle keep two extra holidays (Good Friday, 26 December).
ALSACE_MOSELLE = frozenset({"57", "67", "68"})


def easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


@cache
def public_holidays(year: int, dep: str = "") -> frozenset[date]:
    """French public holidays of a year (with the Alsace-Moselle ones when `dep` is 57, 67 or 68)."""
    e = easter(year)
    days = {
        date(year, 1, 1),
        e + timedelta(days=1),  # Easter Monday
        date(year, 5, 1),
        date(year, 5, 8),
        e + timedelta(days=39),  # Ascension
        e + timedelta(days=50),  # Whit Monday
        date(year, 7, 14),
        date(year, 8, 15),
        date(year, 11, 1),
        date(year, 11, 11),
        date(year, 12, 25),
    }
    if dep in ALSACE_MOSELLE:
        days |= {e - timedelta(days=2), date(year, 12, 26)}
    return frozenset(days)


# Day types: 0 weekday, 1 Saturday, 2 Sunday or public holiday.
WEEKDAY, SATURDAY, SUNDAY_OR_HOLIDAY = 0, 1, 2

# Volume by day of week (Monday first): the service covers the hours when surgeries are closed, so
# Saturday and above all Sunday are the busy days; Monday catches up the weekend.
_DOW_FACTOR = np.array([0.92, 0.78, 0.8, 0.78, 0.86, 1.45, 1.8])
HOLIDAY_FACTOR = 1.8
BRIDGE_FACTOR = 1.25  # a weekday squeezed between a holiday and the weekend ("pont")

# Call-time distribution by hour (relative weights) for each day type. Weekdays: some daytime home
# visits for the housebound, then the evening peak when surgeries close. Saturday: from midday.
# Sundays and holidays: all day, late-morning and late-afternoon peaks.
HOUR_WEIGHTS = np.array(
    [
        [3, 2, 1.5, 1, 0.8, 0.8, 1.2, 2.5, 3, 3, 3, 3, 3, 2.5, 2.5, 2.5, 3, 4, 6.5, 8, 8, 7, 5.5, 4],
        [3.5, 2.5, 1.8, 1.3, 1, 1, 1.5, 3, 5, 7, 8, 8.5, 9, 10, 11, 11, 11, 10, 9.5, 9, 8, 6.5, 5, 4.5],
        [4.5, 3.5, 2.5, 1.5, 1.2, 1.2, 2, 4, 8, 11, 12, 12, 10, 10, 11, 11, 11, 10, 9.5, 9, 7.5, 6, 5, 4.5],
    ]
)
HOUR_CUM = np.cumsum(HOUR_WEIGHTS, axis=1) / HOUR_WEIGHTS.sum(axis=1, keepdims=True)


def day_types_and_factors(days: np.ndarray, dep: str) -> tuple[np.ndarray, np.ndarray]:
    """Day type and volume factor for each day (days as numpy datetime64[D])."""
    dow = (days.astype("datetime64[D]").astype(np.int64) - 4) % 7  # 1970-01-01 was a Thursday
    holidays = _holidays_around(days, dep)
    hol = np.isin(days, holidays)
    prev_hol = np.isin(days - np.timedelta64(1, "D"), holidays)
    factor = _DOW_FACTOR[dow].copy()
    bridge = (dow == 4) & prev_hol & ~hol  # Friday after Ascension Thursday and the like
    factor[bridge] = BRIDGE_FACTOR
    factor[hol] = np.maximum(factor[hol], HOLIDAY_FACTOR)
    dtype = np.where(hol | (dow == 6), SUNDAY_OR_HOLIDAY, np.where(dow == 5, SATURDAY, WEEKDAY))
    return dtype.astype(np.int64), factor / _DOW_FACTOR.mean()


def _holidays_around(days: np.ndarray, dep: str) -> np.ndarray:
    if len(days) == 0:
        return np.array([], dtype="datetime64[D]")
    years = range(
        int(days.min().astype("datetime64[Y]").astype(np.int64)) + 1969,
        int(days.max().astype("datetime64[Y]").astype(np.int64)) + 1971,
    )
    out = [d for y in years for d in public_holidays(int(y), dep)]
    return np.array(sorted(out), dtype="datetime64[D]")
