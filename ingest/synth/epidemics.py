"""Seasonal processes driving the incidence of each diagnosis: daily curves by région.

Every curve is a deterministic function of (seed, day, région): a season's parameters come from a random
stream keyed by the season alone (plus the région for its regional variation), never by the generated
range, so any sub-range of days sees the same epidemics.

A few seasons are pinned to what happened in France (COVID-19 waves, the 2003 and 2019 heat waves, no
influenza epidemic in 2020-21, the early bronchiolitis epidemics of 2021 and 2022); other seasons vary
at random around the usual timing.
"""

from __future__ import annotations

from datetime import date

import numpy as np

PROCESSES: tuple[str, ...] = (
    "steady",
    "winter",
    "summer",
    "influenza",
    "bronchiolitis",
    "gea",
    "covid",
    "pollen",
    "heat",
    "varicella",
    "deaths",
)
_EPI_TAG = 0x0E61  # spawn-key namespace of the epidemic streams
_SOUTH = frozenset({"76", "93", "94"})  # Occitanie, Provence-Alpes-Côte d'Azur, Corse
_NORTH = frozenset({"32", "28", "53", "44", "11", "27", "24"})


def _ord(d: str) -> int:
    return date.fromisoformat(d).toordinal() - date(1970, 1, 1).toordinal()


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(_EPI_TAG, *key))))


def _bump(t: np.ndarray, centre: float, width: float, height: float) -> np.ndarray:
    return height * np.exp(-0.5 * ((t - centre) / width) ** 2)


def _seasonal(t: np.ndarray, peak_doy: float, amplitude: float) -> np.ndarray:
    doy = (t - _ord("2000-01-01")) % 365.2425
    return 1.0 + amplitude * np.cos(2 * np.pi * (doy - peak_doy) / 365.2425)


# Season (starting year) -> (peak date, width in days, height) pinned to history; None = no epidemic.
_INFLUENZA_PINNED = {
    2019: ("2020-02-03", 14.0, 0.9),
    2020: None,  # barrier measures: no influenza epidemic in 2020-21
    2021: ("2022-03-28", 16.0, 0.55),
    2022: ("2022-12-28", 13.0, 1.25),
}
# The strongest recent season (2022-23) is pinned at 1.25: random seasons stay below about that.
_INFLUENZA_MAX_HEIGHT = 1.3
_BRONCHIOLITIS_PINNED = {
    2020: ("2021-02-25", 22.0, 0.6),
    2021: ("2021-11-25", 20.0, 1.0),
    2022: ("2022-11-20", 18.0, 1.6),
}
_GEA_DAMPED = {2020: 0.35}
# COVID-19 waves in France: (peak, width in days, height); the first wave hit Île-de-France and Grand Est.
_COVID_WAVES = (
    ("2020-03-28", 10.0, 1.0),
    ("2020-11-02", 14.0, 0.75),
    ("2021-01-25", 25.0, 0.3),
    ("2021-04-05", 14.0, 0.45),
    ("2021-08-05", 14.0, 0.3),
    ("2021-12-05", 10.0, 0.35),
    ("2022-01-18", 14.0, 1.3),
    ("2022-03-30", 14.0, 0.6),
    ("2022-07-08", 12.0, 0.45),
    ("2022-10-10", 12.0, 0.3),
    ("2022-12-22", 12.0, 0.2),
)
_COVID_FIRST_WAVE_REGION = {"11": 2.2, "44": 2.5, "32": 1.3, "27": 1.3, "84": 1.0}
_COVID_START = _ord("2020-02-24")
_COVID_PINNED_UNTIL = 2022  # later years get random small waves
# Summer -> heat-wave episodes (start, days, intensity).
_HEAT_PINNED = {
    2003: (("2003-08-01", 14, 4.0),),
    2006: (("2006-07-10", 18, 1.2),),
    2015: (("2015-06-29", 9, 1.0),),
    2018: (("2018-07-24", 12, 1.0),),
    2019: (("2019-06-24", 8, 2.0), ("2019-07-21", 6, 2.2)),
    2020: (("2020-08-06", 8, 1.2),),
    2022: (("2022-06-15", 5, 1.5), ("2022-07-12", 8, 1.8), ("2022-08-01", 12, 1.2)),
    2023: (("2023-08-18", 8, 1.6),),
}
# Lockdowns: fewer calls for everything but COVID-19 and deaths.
_LOCKDOWNS = (("2020-03-17", "2020-05-10", 0.55), ("2020-10-30", "2020-12-14", 0.85))


def _season_bumps(
    t: np.ndarray, seed: int, region: str, process: int, peak_md: tuple[int, int], spread: float,
    width: tuple[float, float], pinned: dict, baseline: float, max_height: float = np.inf,
) -> np.ndarray:  # fmt: skip
    """Sum of one bump per season (September-August), each with its own timing and height (capped at
    `max_height`, so that a random season is no stronger than the strongest pinned one)."""
    out = np.full(len(t), baseline)
    if len(t) == 0:
        return out
    reg = int(region) if region.isdigit() else 0
    first = date.fromordinal(int(t.min()) + date(1970, 1, 1).toordinal()).year - 2
    last = date.fromordinal(int(t.max()) + date(1970, 1, 1).toordinal()).year + 1
    for season in range(first, last + 1):
        nat = _rng(seed, process, season)
        loc = _rng(seed, process, season, reg)
        centre = _ord(f"{season + (peak_md[0] < 9)}-{peak_md[0]:02d}-{peak_md[1]:02d}")
        centre += nat.normal(0.0, spread)
        w = nat.uniform(*width)
        h = min(nat.lognormal(0.0, 0.3), max_height)
        if season in pinned:
            if pinned[season] is None:
                continue
            day, w, h = pinned[season]
            centre = _ord(day)
        shift = loc.normal(0.0, 5.0)
        if process == PROCESSES.index("pollen"):
            shift += -14.0 if region in _SOUTH else (7.0 if region in _NORTH else 0.0)
        out += _bump(t, centre + shift, w, h * loc.lognormal(0.0, 0.15))
    return out


def _covid(t: np.ndarray, seed: int, region: str) -> np.ndarray:
    out = np.zeros(len(t))
    if len(t) == 0 or t.max() < _COVID_START:
        return out
    reg = int(region) if region.isdigit() else 0
    p = PROCESSES.index("covid")
    for i, (day, w, h) in enumerate(_COVID_WAVES):
        mult = (
            _COVID_FIRST_WAVE_REGION.get(region, 0.45) if i == 0 else _rng(seed, p, i, reg).lognormal(0, 0.25)
        )
        out += _bump(t, _ord(day), w, h * mult)
    last = date.fromordinal(int(t.max()) + date(1970, 1, 1).toordinal()).year
    for year in range(_COVID_PINNED_UNTIL + 1, last + 1):
        nat = _rng(seed, p, year)
        for _ in range(int(nat.integers(1, 3))):
            centre = _ord(f"{year}-01-01") + nat.uniform(0, 365)
            out += _bump(t, centre, nat.uniform(10, 20), nat.uniform(0.04, 0.15))
    # Endemic floor after the first wave; nothing before the first French cases.
    out += np.where(t > _ord("2020-05-01"), np.where(t > _ord("2023-01-01"), 0.01, 0.03), 0.0)
    return np.where(t < _COVID_START, 0.0, out)


def _heat(t: np.ndarray, seed: int, region: str) -> np.ndarray:
    out = np.zeros(len(t))
    if len(t) == 0:
        return out
    reg = int(region) if region.isdigit() else 0
    regional = 1.3 if region in _SOUTH else (0.8 if region in _NORTH else 1.0)
    p = PROCESSES.index("heat")
    first = date.fromordinal(int(t.min()) + date(1970, 1, 1).toordinal()).year
    last = date.fromordinal(int(t.max()) + date(1970, 1, 1).toordinal()).year
    for year in range(first, last + 1):
        nat = _rng(seed, p, year)
        if year in _HEAT_PINNED:
            episodes = [(_ord(d), n, h) for d, n, h in _HEAT_PINNED[year]]
        else:
            k = min(int(nat.poisson(1.2)), 3)
            starts = np.sort(nat.uniform(_ord(f"{year}-06-15"), _ord(f"{year}-08-25"), size=k))
            episodes = [(int(s), int(nat.integers(3, 10)), float(nat.uniform(0.5, 1.3))) for s in starts]
        local = _rng(seed, p, year, reg).lognormal(0.0, 0.15) * regional
        for start, n, h in episodes:
            # Effects build over the first days, last the episode, and linger a day or two.
            ramp = np.clip((t - start + 1) / 2.0, 0.0, 1.0)
            tail = np.clip(1.0 - (t - (start + n)) / 2.0, 0.0, 1.0)
            out += h * local * np.minimum(ramp, tail)
    return out


def process_curves(days: np.ndarray, region: str, seed: int) -> np.ndarray:
    """Array (len(PROCESSES), len(days)) of multipliers; days as numpy datetime64[D]."""
    t = days.astype("datetime64[D]").astype(np.int64).astype(float)
    heat = _heat(t, seed, region)
    covid = _covid(t, seed, region)
    curves = {
        "steady": _seasonal(t, 15.0, 0.08),
        "winter": _seasonal(t, 15.0, 0.45),
        "summer": _seasonal(t, 196.0, 0.3),
        "influenza": _season_bumps(
            t, seed, region, 3, (1, 28), 16.0, (11.0, 17.0), _INFLUENZA_PINNED, 0.03, _INFLUENZA_MAX_HEIGHT
        ),
        "bronchiolitis": _season_bumps(
            t, seed, region, 4, (12, 8), 10.0, (18.0, 25.0), _BRONCHIOLITIS_PINNED, 0.05
        ),
        "gea": _season_bumps(t, seed, region, 5, (1, 5), 12.0, (18.0, 25.0), {}, 0.25),
        "covid": covid,
        "pollen": _season_bumps(t, seed, region, 7, (5, 10), 8.0, (20.0, 26.0), {}, 0.4),
        "heat": 0.12 * _seasonal(t, 200.0, 0.8) + heat,
        "varicella": _season_bumps(t, seed, region, 9, (4, 1), 15.0, (40.0, 50.0), {}, 0.3),
        "deaths": _seasonal(t, 15.0, 0.22) + 0.5 * heat + 0.4 * covid,
    }
    for season, factor in _GEA_DAMPED.items():
        in_season = (t >= _ord(f"{season}-09-01")) & (t < _ord(f"{season + 1}-09-01"))
        curves["gea"] = np.where(in_season, 0.25 + (curves["gea"] - 0.25) * factor, curves["gea"])
    lock = np.ones(len(t))
    for lo, hi, f in _LOCKDOWNS:
        lock[(t >= _ord(lo)) & (t <= _ord(hi))] = f
    out = np.stack([curves[p] for p in PROCESSES])
    keep = np.array([p in ("covid", "deaths") for p in PROCESSES])
    out[~keep] *= lock
    return out
