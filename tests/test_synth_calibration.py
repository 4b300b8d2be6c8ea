"""The generator's epidemic sizes against what real SOS Médecins bulletins show (docs/epidemiology.md,
"Calibration"): at a season's peak, acute lower respiratory infections together reach about 25 % of the
activity in a strong season, influenza alone well below that. Checked on the expected weekly shares
(the generator's rates: process curves x diagnosis weights) of every région over ten seasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ingest.synth import clinical, epidemics, reference

INFLUENZA = {"GRIPPE", "GRIPPE_CONFIRMEE", "GRIPPE_DIGESTIVE"}
LOWER_RESPIRATORY = INFLUENZA | {
    "BRONCHIOLITE", "BRONCHIOLITE_VRS", "COVID19", "COVID19_SUSPECT", "PNEUMOPATHIE", "PNEUMOPATHIE_BACT",
    "BRONCHITE", "BPCO_EXACERBATION",
}  # fmt: skip


@pytest.fixture(scope="module")
def season_peaks() -> pd.DataFrame:
    """Highest weekly share (%) of each season (September-August) and région, 2015-16 to 2024-25."""
    profiles = clinical.profiles()
    codes = list(profiles.codes)
    process = np.array([epidemics.PROCESSES.index(p) for p in profiles.process])
    days = np.arange(np.datetime64("2015-09-01"), np.datetime64("2025-09-01"))
    regions = sorted({d.region for d in reference.departements().values()})
    peaks = []
    for region in regions:
        rates = epidemics.process_curves(days, region, 42)[process].T * profiles.weight[None, :]
        weekly = pd.DataFrame(rates, index=pd.to_datetime(days), columns=codes).resample("W-SUN").sum()
        total = weekly.sum(axis=1)
        shares = pd.DataFrame(
            {
                "influenza": 100 * weekly[[c for c in codes if c in INFLUENZA]].sum(axis=1) / total,
                "lower_respiratory": 100
                * weekly[[c for c in codes if c in LOWER_RESPIRATORY]].sum(axis=1)
                / total,
                "season": (weekly.index - pd.DateOffset(months=8)).year,
            }
        )
        peaks.append(shares.groupby("season").max().assign(region=region))
    return pd.concat(peaks).reset_index()


def test_influenza_peaks_stay_well_below_a_quarter_of_activity(season_peaks: pd.DataFrame) -> None:
    with_flu = season_peaks[season_peaks["influenza"] > 2]  # 2020-21 had no influenza epidemic
    assert 6 <= with_flu["influenza"].median() <= 14
    assert with_flu["influenza"].max() <= 20


def test_lower_respiratory_infections_reach_about_a_quarter_in_strong_seasons(
    season_peaks: pd.DataFrame,
) -> None:
    # Outside the first COVID-19 wave (spring 2020, pinned to history), which ran far above any season.
    ordinary = season_peaks[season_peaks["season"] != 2019]
    assert 15 <= ordinary["lower_respiratory"].median() <= 25
    assert 22 <= ordinary["lower_respiratory"].quantile(0.9) <= 32
