"""Time the epidemic baseline model (models/marts/epidemiology/epidemic_baseline_by_week.py) on a national
shape: 16 syndromic groups x 14 areas x 10 years of weekly counts, and on 13 small regional series (a rare
syndrome, most weeks below k and suppressed, so the disclosure check of every fit has work to do). Prints
the CPU seconds of fit_baselines for each and, for a version that has it, of a daily build's
fit_baselines_reusing: the previous build's result and fingerprints given, the last week changed.

    .venv/bin/python benchmarks/baseline_fit.py [path of another version of the model, to compare]
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

MODEL = Path(__file__).resolve().parent.parent / "models/marts/epidemiology/epidemic_baseline_by_week.py"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def national_shape(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mondays = pd.date_range("2014-07-07", periods=52 * 10, freq="W-MON")
    t = np.arange(len(mondays))
    parts = [
        pd.DataFrame(
            {
                "syndrome_group": f"g{group}",
                "geo_level": "region",
                "geo_code": f"{area:02d}",
                "iso_week": [d.strftime("%G-W%V") for d in mondays],
                "week_start_date": mondays.date,
                "observed_count": rng.poisson(200 + 80 * np.cos(2 * np.pi * t / 52.18)),
                "coded_act_count": 4000,
            }
        )
        for group in range(16)
        for area in range(14)
    ]
    return pd.concat(parts, ignore_index=True)


def small_series(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mondays = pd.date_range("2014-07-07", periods=52 * 10, freq="W-MON")
    t = np.arange(len(mondays))
    parts = []
    for area in range(13):
        full = rng.poisson(4 + 3 * np.cos(2 * np.pi * (t - 26) / 52.18))
        published = pd.array(np.where((full >= 1) & (full < 11), -1, full), dtype="Int64")
        published[published == -1] = pd.NA
        parts.append(
            pd.DataFrame(
                {
                    "syndrome_group": "rougeole",
                    "geo_level": "region",
                    "geo_code": f"{area:02d}",
                    "iso_week": [d.strftime("%G-W%V") for d in mondays],
                    "week_start_date": mondays.date,
                    "observed_count": published,
                    "full_count": full,
                    "coded_act_count": 400,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


if __name__ == "__main__":
    shapes = {"224 series x 10 seasons": national_shape(), "13 small series x 10 seasons": small_series()}
    for path in [MODEL, *map(Path, sys.argv[1:])]:
        model = load(path, path.stem.replace("-", "_"))
        for label, weekly in shapes.items():
            start = time.process_time()
            model.fit_baselines(weekly)
            print(f"{path}: {time.process_time() - start:.2f} CPU-s for {label}")
            if not hasattr(model, "fit_baselines_reusing"):
                continue
            previous, seasons = model.fit_baselines_reusing(weekly, {}, None, None)
            today = weekly.copy()
            today.loc[today["week_start_date"] == today["week_start_date"].max(), "observed_count"] += 1
            start = time.process_time()
            model.fit_baselines_reusing(today, {}, model._typed(previous), seasons)
            print(f"{path}: {time.process_time() - start:.2f} CPU-s for {label}, a day later, reusing")
