"""The latent severity of simulated acts: it moves the outcome, the vital signs and the coded diagnoses
together, without changing how often each condition leads to each outcome (docs/ai-evaluation.md, 7)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from ingest.synth import acts as acts_mod
from ingest.synth import clinical
from ingest.synth.network import network, rosters
from ingest.synth.population import build_pool

REFERRED = (clinical.OUTCOMES.index("URG"), clinical.OUTCOMES.index("HOSP"))


def _simulate() -> acts_mod.Acts:
    assoc = network()[0]
    return acts_mod.simulate(
        assoc, build_pool(assoc, 3, 0.2), rosters(3)[0], 3, 0.2, date(2023, 1, 1), date(2023, 6, 30)
    )[0]


@pytest.fixture(scope="module")
def simulated() -> acts_mod.Acts:
    return _simulate()


def test_referred_acts_have_worse_vital_signs_within_their_condition(simulated: acts_mod.Acts) -> None:
    vitals = acts_mod.vitals(simulated)
    first = np.r_[True, vitals.act[1:] != vitals.act[:-1]]
    act = vitals.act[first]
    hr, spo2 = vitals.hr[first], vitals.spo2[first]
    referred = np.isin(simulated.outcome[act], REFERRED)
    cond = simulated.cond[act]
    hr_gaps, spo2_gaps, weights = [], [], []
    for c in np.unique(cond):
        m = cond == c
        has_hr, has_spo2 = m & (hr >= 0), m & (spo2 >= 0)
        if min((has_hr & referred).sum(), (has_hr & ~referred).sum(), (has_spo2 & referred).sum()) < 20:
            continue
        if (has_spo2 & ~referred).sum() < 20:
            continue
        hr_gaps.append(hr[has_hr & referred].mean() - hr[has_hr & ~referred].mean())
        spo2_gaps.append(spo2[has_spo2 & referred].mean() - spo2[has_spo2 & ~referred].mean())
        weights.append(m.sum())
    assert len(weights) >= 5
    assert np.average(hr_gaps, weights=weights) > 3  # bpm faster when sent to hospital
    assert np.average(spo2_gaps, weights=weights) < -0.3  # points of saturation lower


def test_severe_acts_get_more_associated_diagnoses(simulated: acts_mod.Acts) -> None:
    referred = np.isin(simulated.outcome, REFERRED)
    assert simulated.n_assoc[referred].mean() > 1.3 * simulated.n_assoc[~referred].mean()


def test_severity_leaves_each_conditions_outcome_shares_unchanged(
    simulated: acts_mod.Acts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(acts_mod, "_RHO_OUTCOME", 0.0)
    without = _simulate()
    assert np.array_equal(without.cond, simulated.cond)  # the same acts, only the outcome draw differs
    assert not np.array_equal(without.outcome, simulated.outcome)
    for c in np.unique(simulated.cond):
        m = simulated.cond == c
        if m.sum() < 400:
            continue
        for o in range(len(clinical.OUTCOMES)):
            p = (without.outcome[m] == o).mean()
            sd = np.sqrt(max(p * (1 - p), 1 / m.sum()) / m.sum())
            # Two draws from the same marginal shares: their difference stays within sampling error.
            assert abs((simulated.outcome[m] == o).mean() - p) < 5 * np.sqrt(2) * sd
