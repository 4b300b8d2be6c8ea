"""Acts of one association over a range of days, with diagnoses, prescriptions and vital signs.

Everything random is drawn per (seed, association, call day) with numpy's SeedSequence: a day's acts
are the same whatever range is generated. Each day's stream only yields a count per diagnosis and a
block of uniforms and normals; the transformation into acts is then vectorised over the whole range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np
from scipy import special

from ingest.synth import clinical, epidemics, timeline
from ingest.synth.network import Association, Doctor, network
from ingest.synth.population import DAYS_PER_YEAR, Pool

_ACT_TAG = 0xAC75
_DAY0 = date(1970, 1, 1).toordinal()
ACT_TYPES = ("VAD", "CONS", "TLC")
VAD, CONS, TLC = 0, 1, 2
CALLERS = ("PAT", "FAM", "C15", "EHPAD", "MT", "TIERS")
PAT, FAM, C15, EHPAD, MT, TIERS = range(6)

# Columns of the per-act uniform block.
(U_AGE, U_SEX, U_PAT, U_HOUR, U_MIN, U_TYPE, U_SITE, U_CALLER, U_REASON, U_OUTCOME, U_CODED, U_NASSOC,
 U_ASSOC, U_ASSOC2, U_ICD1, U_ICD2, U_ICD3, U_DOCTOR, U_VITALS, U_VITALS2, U_END, U_NOTE, U_NOTE_A,
 U_NOTE_B, U_NOTE_C, U_MEASURE, U_MEASURE2, U_TEMP_M, U_FC_M, U_SPO2_M, U_BP_M, U_FR_M, U_W_M,
 U_POSO, U_C15) = range(35)  # fmt: skip
U_DRUG = 35  # one column per prescription slot
N_SLOTS = 5
U_DRUG_CODE = U_DRUG + N_SLOTS
NU = U_DRUG_CODE + N_SLOTS
(Z_DELAY, Z_DUR, Z_TEMP, Z_HR, Z_SPO2, Z_SBP, Z_DBP, Z_RR, Z_WEIGHT, Z_SEVERITY) = range(10)
NZ = 10

# Caller by age band (rows) over CALLERS: parents call for children, patients or family for adults.
_CALLER_BY_BAND = np.array(
    [
        [0.0, 0.92, 0.05, 0.0, 0.02, 0.01],
        [0.0, 0.92, 0.05, 0.0, 0.02, 0.01],
        [0.02, 0.9, 0.04, 0.0, 0.02, 0.02],
        [0.72, 0.16, 0.06, 0.0, 0.02, 0.04],
        [0.7, 0.16, 0.08, 0.0, 0.03, 0.03],
        [0.5, 0.35, 0.09, 0.0, 0.03, 0.03],
        [0.25, 0.55, 0.1, 0.0, 0.05, 0.05],
    ]
)
_CALLER_CUM = np.cumsum(_CALLER_BY_BAND, axis=1)
_DEATH_CALLER_CUM = np.cumsum([0.0, 0.5, 0.2, 0.0, 0.05, 0.25])
# Emergency referral and admission rise with age (and in infants).
_SEVERITY_BY_BAND = np.array([1.4, 1.0, 0.8, 0.9, 1.1, 1.5, 2.0])
# Latent severity of an act: a standard normal within its condition and age (z[:, Z_SEVERITY], a draw the
# per-day stream always made, so no other draw moves). It enters the outcome and the number of associated
# diagnoses as the latent variable of an ordinal probit (the uniform of each draw is replaced by
# Phi(rho * severity + sqrt(1 - rho^2) * Phi^-1(u)), still uniform: the condition's and age band's shares
# of each outcome are unchanged, only *which* acts get them), and shifts the vital signs (`vitals`).
# Correlations set by hand, not fitted; docs/ai-evaluation.md says where each comes from.
_RHO_OUTCOME = 0.65  # severity -> referral (URG/HOSP): vitals then carry an AUROC gain like NEWS2's
_RHO_ASSOCIATED = 0.4  # severity -> a complication or comorbidity coded as an associated diagnosis
# Vital-sign shifts per standard deviation of severity (NEWS2 parameters move together in deteriorating
# patients): heart rate (/min), respiratory rate (/min, doubled for respiratory profiles), SpO2 points
# (plus a share of the profile's own drop), systolic pressure (mmHg), temperature (°C, febrile profiles).
_SEV_HR, _SEV_RR, _SEV_SPO2, _SEV_SPO2_SHARE, _SEV_SBP, _SEV_TEMP = 5.0, 1.2, 0.5, 0.25, -3.0, 0.2
# Age norms of vital signs, by single year of age 0..104 (interpolated between knots).
_AGES = np.arange(clinical.reference.MAX_AGE + 1)
_HR_NORM = np.interp(_AGES, [0, 1, 3, 6, 12, 16, 104], [135, 120, 105, 95, 82, 76, 72])
_RR_NORM = np.interp(_AGES, [0, 1, 3, 6, 12, 16, 104], [38, 30, 25, 21, 18, 15, 16])
_SBP_NORM = np.interp(_AGES, [0, 6, 12, 16, 40, 65, 85, 104], [85, 98, 108, 115, 122, 135, 142, 140])
_WEIGHT_KNOTS = (
    [0, 0.5, 1, 2, 3, 5, 8, 10, 12, 14, 16],
    [3.4, 7.5, 9.8, 12.2, 14.3, 18.5, 25.5, 32, 40, 50, 58],
)
# Weight-graduated oral syringes: the dose is written as the child's weight.
_WEIGHT_DOSED = frozenset({"PARASUSP", "IBUSUSP", "AMOXSUSP", "AMOXCLAVSUSP"})


@dataclass
class Acts:
    """One entry per act, sorted by start time; arrays of equal length."""

    call_day: np.ndarray  # day ordinal since 1970-01-01
    seq: np.ndarray  # rank of the act among the calls of its call day
    call_min: np.ndarray  # minutes since midnight of the call day
    start_abs: np.ndarray  # minutes since 1970-01-01 00:00
    end_abs: np.ndarray  # minutes since 1970-01-01 00:00, -1 when not recorded
    cond: np.ndarray  # condition (thesaurus row)
    age: np.ndarray  # completed years at the call
    age_frac: np.ndarray  # age with fractions of a year (weights)
    patient: np.ndarray  # index into the pool
    resident: np.ndarray  # bool: lives in a nursing home
    act_type: np.ndarray
    site: np.ndarray  # index into Association.sites
    caller: np.ndarray
    reason: np.ndarray  # index into the call-reason codes
    outcome: np.ndarray  # index into clinical.OUTCOMES
    doctor: np.ndarray  # index into the roster
    coded: np.ndarray  # bool
    n_assoc: np.ndarray
    assoc: np.ndarray  # (n, 2) condition indices of the associated diagnoses
    weight: np.ndarray  # latent body weight (kg)
    u: np.ndarray  # (n, NU) uniforms reused when formatting (notes, codes)
    z: np.ndarray  # (n, NZ) normals

    def __len__(self) -> int:
        return len(self.cond)

    def take(self, idx: np.ndarray) -> Acts:
        return Acts(**{k: v[idx] for k, v in self.__dict__.items()})

    @property
    def file_day(self) -> np.ndarray:
        return self.start_abs // 1440


def day_ordinal(d: date) -> int:
    return d.toordinal() - _DAY0


def _stream(seed: int, assoc: int, day: int) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(_ACT_TAG, assoc, day)))
    )


def _daily_weights(assoc: Association, days: np.ndarray, seed: int) -> np.ndarray:
    """(n_days, C) expected acts per day and condition, up to the association's scale factor."""
    prof = clinical.profiles()
    curves = epidemics.process_curves(days, assoc.region, seed)
    proc = np.array([epidemics.PROCESSES.index(p) for p in prof.process])
    _, factor = timeline.day_types_and_factors(days, assoc.dep)
    return (curves[proc].T * prof.weight[None, :]) * factor[:, None]


@cache
def _rate_scale(assoc_index: int, seed: int) -> float:
    """Acts per unit of daily weight, so that a typical year (mid-2022 to mid-2024) has the annual volume."""
    assoc = network()[assoc_index]
    days = np.arange(np.datetime64("2022-07-01"), np.datetime64("2024-07-01"))
    return assoc.annual_acts * 2 / _daily_weights(assoc, days, seed).sum()


@cache
def _age_tables(dep: str) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative P(age | condition) (C, ages) and P(female | age) for a département."""
    prof = clinical.profiles()
    pop = clinical.reference.population_by_age()[dep]
    band = np.searchsorted(clinical.AGE_BANDS, _AGES, side="right") - 1
    w = pop.sum(axis=0)[None, :] * clinical.USE_RATE_BY_AGE[None, :] * prof.rr[:, band]
    cum = np.cumsum(w, axis=1)
    cum /= cum[:, -1:]
    p_female = pop[1] / np.maximum(pop.sum(axis=0), 1.0)
    return cum, p_female


def _tlc_share(day: np.ndarray) -> np.ndarray:
    """Teleconsultation share: none before its 2019 roll-out, a surge in the first lockdown."""
    o = day_ordinal
    return np.select(
        [day < o(date(2019, 9, 15)), day < o(date(2020, 3, 17)), day <= o(date(2020, 5, 10)),
         day <= o(date(2022, 12, 31))],
        [0.0, 0.01, 0.2, 0.06],
        0.04,
    )  # fmt: skip


def _severity_uniform(u: np.ndarray, severity: np.ndarray, rho: float) -> np.ndarray:
    """A uniform correlated with `severity` (ordinal probit): high severity, high value."""
    return special.ndtr(rho * severity + np.sqrt(1 - rho**2) * special.ndtri(u))


def _pick_rows(cum: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Categorical draw per act from row `rows[i]` of a cumulative table."""
    return np.minimum((cum[rows] < u[:, None]).sum(axis=1), cum.shape[1] - 1)


def _pick_doctors(roster: tuple[Doctor, ...], days: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A doctor on the roster on each act's day, weighted by their share of shifts."""
    joined = np.array([d.joined for d in roster])
    left = np.array([d.left for d in roster])
    wt = np.array([d.weight for d in roster])
    uniq, inv = np.unique(days, return_inverse=True)
    active = (joined[None, :] <= uniq[:, None]) & (uniq[:, None] < left[None, :])
    w = active * wt[None, :]
    w[~active.any(axis=1)] = wt  # never happens with the generated rosters; keeps the draw defined
    cum = np.cumsum(w, axis=1)
    total = cum[:, -1]
    stride = float(total.max()) + 1.0
    flat = (cum + (np.arange(len(uniq)) * stride)[:, None]).ravel()
    target = inv * stride + u * total[inv]
    idx = np.searchsorted(flat, target, side="right") - inv * len(roster)
    return np.clip(idx, 0, len(roster) - 1)


def simulate(
    assoc: Association,
    pool: Pool,
    roster: tuple[Doctor, ...],
    seed: int,
    scale: float,
    first: date,
    last: date,
) -> tuple[Acts, Pool]:
    """Acts whose start falls in [first, last] (calls from the evening before may start after midnight),
    and the pool their `patient` indices point into: `pool` and a new person per death certificate."""
    prof = clinical.profiles()
    stream_days = np.arange(
        np.datetime64(first) - np.timedelta64(1, "D"), np.datetime64(last) + np.timedelta64(1, "D")
    )
    lam = _daily_weights(assoc, stream_days, seed) * _rate_scale(assoc.index, seed) * scale
    day_ord = stream_days.astype(np.int64)
    n_cond = len(prof.codes)
    conds, us, zs, dayix = [], [], [], []
    for i, d in enumerate(day_ord):
        rng = _stream(seed, assoc.index, int(d))
        counts = rng.poisson(lam[i])
        n = int(counts.sum())
        conds.append(np.repeat(np.arange(n_cond), counts))
        us.append(rng.random((n, NU)))
        zs.append(rng.standard_normal((n, NZ)))
        dayix.append(np.full(n, i))
    cond = np.concatenate(conds)
    u = np.concatenate(us)
    z = np.concatenate(zs)
    di = np.concatenate(dayix)
    call_day = day_ord[di]
    n = len(cond)

    cum_age, p_female = _age_tables(assoc.dep)
    age = _pick_rows(cum_age, cond, u[:, U_AGE])
    odds = p_female[age] / (1 - p_female[age]) * prof.female_odds[cond]
    sex = (u[:, U_SEX] < odds / (1 + odds)).astype(np.int64)
    death = cond == prof.death
    patient = pool.pick(call_day.astype(float), age.astype(float), sex, u[:, U_PAT])
    pool, patient[death] = pool.with_deceased(assoc, call_day[death], age[death], sex[death], u[death, U_PAT])
    age_frac = (call_day - pool.birth[patient]) / DAYS_PER_YEAR
    age = np.clip(np.floor(age_frac).astype(np.int64), 0, clinical.reference.MAX_AGE)
    band = np.searchsorted(clinical.AGE_BANDS, age, side="right") - 1
    resident = (pool.ehpad[patient] >= 0) & (age >= 70)

    dtypes, _ = timeline.day_types_and_factors(stream_days, assoc.dep)
    hour = _pick_rows(timeline.HOUR_CUM, dtypes[di], u[:, U_HOUR])
    call_min = hour * 60 + (u[:, U_MIN] * 60).astype(np.int64)

    # Act type: centres take walk-in patients while open (08:00-24:00); the old, the dependent and the
    # dead are seen at home; teleconsultation exists since 2019.
    p_tlc = _tlc_share(call_day) * np.where(death, 0.0, np.where((age >= 80) | resident, 0.2, 1.0))
    p_cons = np.full(n, assoc.cons_share)
    p_cons *= np.where(age < 15, 1.3, np.where(age >= 75, 0.15, 1.0))
    p_cons[resident | death | (hour < 8)] = 0.0
    p_cons = np.minimum(p_cons, 1 - p_tlc)
    ut = u[:, U_TYPE]
    act_type = np.where(ut < p_tlc, TLC, np.where(ut < p_tlc + p_cons, CONS, VAD))
    n_centres = len(assoc.sites) - 1
    site = np.where(act_type == CONS, 1 + (u[:, U_SITE] * max(n_centres, 1)).astype(np.int64), 0)
    site = np.minimum(site, n_centres)

    caller = _pick_rows(_CALLER_CUM, band, u[:, U_CALLER])
    caller = np.where(
        death, _pick_rows(_DEATH_CALLER_CUM[None, :], np.zeros(n, np.int64), u[:, U_CALLER]), caller
    )
    acute = np.isin(
        prof.vitals[cond], [clinical.VITALS_KEYS.index(k) for k in ("cardio", "asthma_severe", "allergy")]
    )
    caller = np.where(acute & (u[:, U_C15] < 0.3), C15, caller)
    caller = np.where(resident, np.where(u[:, U_C15] < 0.9, EHPAD, C15), caller)
    reason = _pick_rows(prof.reason_cum, cond, u[:, U_REASON])

    # Outcome: base probabilities of the condition, emergency referral and admission scaled by age.
    p_out = prof.outcome[cond].copy()
    p_out[:, 2:] *= _SEVERITY_BY_BAND[band][:, None]
    p_out /= p_out.sum(axis=1, keepdims=True).clip(min=1e-9)
    u_out = _severity_uniform(u[:, U_OUTCOME], z[:, Z_SEVERITY], _RHO_OUTCOME)
    outcome = np.minimum((np.cumsum(p_out, axis=1) < u_out[:, None]).sum(axis=1), 3)
    outcome = np.where(death, 4, outcome)

    # Delays grow on busy days (epidemics, Sundays); home visits wait longest.
    # (relative to the association's mean day, never to the generated range: sub-ranges must agree)
    per_day = np.bincount(di, minlength=len(stream_days))
    load = np.clip(np.sqrt(per_day[di] / max(assoc.annual_acts * scale / 365.0, 1.0)), 0.8, 1.8)
    delay = np.select(
        [act_type == VAD, act_type == CONS],
        [
            np.clip(55 * load * np.exp(0.4 * z[:, Z_DELAY]), 15, 240),
            np.clip(20 * load * np.exp(0.6 * z[:, Z_DELAY]), 2, 120),
        ],
        np.clip(10 * np.exp(0.6 * z[:, Z_DELAY]), 1, 60),
    ).astype(np.int64)
    duration = np.clip(
        np.where(death, 35, np.where(act_type == TLC, 12, 20)) * np.exp(0.3 * z[:, Z_DUR]), 10, 40
    )
    start_abs = call_day * 1440 + call_min + delay
    end_abs = np.where(u[:, U_END] < 0.03, -1, start_abs + duration.astype(np.int64))

    coded = u[:, U_CODED] < np.where(death, max(assoc.coding_rate, 0.95), assoc.coding_rate)
    u_nassoc = _severity_uniform(u[:, U_NASSOC], -z[:, Z_SEVERITY], _RHO_ASSOCIATED)
    n_assoc = np.where(u_nassoc < 0.05, 2, np.where(u_nassoc < 0.22, 1, 0))
    j1 = (u[:, U_ASSOC] * 3).astype(np.int64)
    j2 = (j1 + 1 + (u[:, U_ASSOC2] * 2).astype(np.int64)) % 3
    assoc_cond = np.stack([prof.associates[cond, j1], prof.associates[cond, j2]], axis=1)

    weight = np.interp(age_frac, *_WEIGHT_KNOTS) * np.exp(0.12 * z[:, Z_WEIGHT])
    weight = np.where(age_frac >= 16, 70 * np.exp(0.18 * z[:, Z_WEIGHT]), weight)

    doctor = _pick_doctors(roster, start_abs // 1440, u[:, U_DOCTOR])

    # Keep the acts starting in the requested range; order them as the software lists them.
    first_o, last_o = day_ordinal(first), day_ordinal(last)
    fday = start_abs // 1440
    keep = (fday >= first_o) & (fday <= last_o)
    # Sequence numbers follow call time within each call day (the dispatch software numbers calls).
    order_in_day = np.lexsort((call_min, call_day))
    seq = np.empty(n, dtype=np.int64)
    starts = np.searchsorted(call_day[order_in_day], call_day[order_in_day], side="left")
    seq[order_in_day] = np.arange(n) - starts + 1
    acts = Acts(
        call_day=call_day, seq=seq, call_min=call_min, start_abs=start_abs, end_abs=end_abs, cond=cond,
        age=age, age_frac=age_frac, patient=patient, resident=resident, act_type=act_type, site=site,
        caller=caller, reason=reason, outcome=outcome, doctor=doctor, coded=coded, n_assoc=n_assoc,
        assoc=assoc_cond, weight=weight, u=u, z=z,
    )  # fmt: skip
    idx = np.flatnonzero(keep)
    idx = idx[np.lexsort((seq[idx], call_day[idx], start_abs[idx]))]
    return acts.take(idx), pool


@dataclass
class Vitals:
    act: np.ndarray  # index into Acts
    measured_abs: np.ndarray  # minutes since epoch
    temperature: np.ndarray  # °C, NaN when not measured
    hr: np.ndarray  # int, -1 when not measured
    spo2: np.ndarray
    sbp: np.ndarray
    dbp: np.ndarray
    rr: np.ndarray
    weight: np.ndarray  # kg, NaN when not measured


def vitals(acts: Acts) -> Vitals:
    prof = clinical.profiles()
    params = np.array([clinical.VITALS[k] for k in clinical.VITALS_KEYS])[prof.vitals[acts.cond]]
    u, z = acts.u, acts.z
    taken = (u[:, U_VITALS] < params[:, 6] * np.where(acts.act_type == TLC, 0.06, 1.0)) & (
        acts.cond != prof.death
    )
    resp = params[:, 2] >= 3.0
    second = taken & (u[:, U_VITALS2] < np.where(resp, 0.12, 0.03))
    age = acts.age
    sev = z[:, Z_SEVERITY]
    febrile = params[:, 0] >= 37.5
    temp = np.clip(params[:, 0] + params[:, 1] * z[:, Z_TEMP] + _SEV_TEMP * sev * febrile, 35.0, 42.5)
    hr = np.clip(_HR_NORM[age] + params[:, 3] + 10 * z[:, Z_HR] + _SEV_HR * sev, 35, 220)
    spo2 = np.clip(
        np.where(age >= 75, 96.5, 98.2)
        - params[:, 2] * (1 + 0.35 * z[:, Z_SPO2])
        + 0.8 * z[:, Z_SPO2]
        - (_SEV_SPO2 + _SEV_SPO2_SHARE * params[:, 2]) * sev,
        72,
        100,
    )
    sbp = np.clip(_SBP_NORM[age] + params[:, 5] + 14 * z[:, Z_SBP] + _SEV_SBP * sev, 70, 230)
    dbp = np.clip(sbp * 0.58 + 8 + 7 * z[:, Z_DBP], 35, sbp - 20)
    rr = np.clip(_RR_NORM[age] + params[:, 4] + 3 * z[:, Z_RR] + _SEV_RR * sev * np.where(resp, 2, 1), 8, 80)
    has_t = u[:, U_TEMP_M] < 0.88
    has_hr = u[:, U_FC_M] < 0.7
    has_spo2 = u[:, U_SPO2_M] < np.where(resp, 0.95, 0.6)
    has_bp = u[:, U_BP_M] < np.where(age >= 15, 0.6, 0.03)
    has_rr = u[:, U_FR_M] < np.where(resp, 0.6, 0.2)
    has_w = (age < 16) & (u[:, U_W_M] < 0.85)
    has_t |= ~(has_hr | has_spo2 | has_bp | has_rr | has_w)  # a row always carries something
    measured = acts.start_abs + 2 + (u[:, U_MEASURE] * 14).astype(np.int64)
    a1 = np.flatnonzero(taken)
    a2 = np.flatnonzero(second)
    act = np.concatenate([a1, a2])
    later = np.concatenate([np.zeros(len(a1), np.int64), 20 + (u[a2, U_MEASURE2] * 20).astype(np.int64)])
    # A second measurement (after treatment) shows some improvement.
    better = np.concatenate([np.zeros(len(a1)), np.ones(len(a2))])
    order = np.lexsort((later, act))
    act, later, better = act[order], later[order], better[order]

    def pick(values: np.ndarray, present: np.ndarray, missing: float) -> np.ndarray:
        return np.where(present[act], values[act], missing)

    return Vitals(
        act=act,
        measured_abs=measured[act] + later,
        temperature=pick(np.round(temp, 1), has_t, np.nan) - 0.3 * better * (temp[act] > 38),
        hr=pick(np.round(hr).astype(np.int64), has_hr, -1),
        spo2=np.where(
            pick(np.round(spo2).astype(np.int64), has_spo2, -1) >= 0,
            np.minimum(
                pick(np.round(spo2).astype(np.int64), has_spo2, -1) + (better * 2).astype(np.int64), 100
            ),
            -1,
        ),
        sbp=pick(np.round(sbp).astype(np.int64), has_bp, -1),
        dbp=pick(np.round(dbp).astype(np.int64), has_bp, -1),
        rr=pick(np.round(rr).astype(np.int64), has_rr, -1),
        weight=pick(np.round(acts.weight, 1), has_w, np.nan),
    )


@dataclass
class Prescriptions:
    act: np.ndarray
    line: np.ndarray
    drug: np.ndarray  # index into clinical.profiles().drug_codes (never 0)
    code_form: np.ndarray  # 0 CIP13 and ATC, 1 ATC only, 2 CIP13 only
    dose_by_weight: np.ndarray  # bool: dose written as the child's weight
    u_poso: np.ndarray


def prescriptions(acts: Acts, assoc: Association) -> Prescriptions:
    prof = clinical.profiles()
    slots = prof.drug_prob.shape[1]
    child = acts.age < clinical.CHILD_AGE
    drug = np.where(child[:, None], prof.drug_child[acts.cond], prof.drug_adult[acts.cond])
    # Patients sent to hospital mostly leave without a prescription.
    p = prof.drug_prob[acts.cond] * np.where(acts.outcome >= 2, 0.25, 1.0)[:, None]
    take = (acts.u[:, U_DRUG : U_DRUG + slots] < p) & (drug > 0)
    act, slot = np.nonzero(take)
    line = np.cumsum(take, axis=1)[act, slot]
    d = drug[act, slot]
    uc = acts.u[act, U_DRUG_CODE + slot]
    style = assoc.drug_code_style
    if style == 3:
        form = np.where(uc < 0.6, 0, np.where(uc < 0.85, 1, 2))
    else:
        form = np.full(len(act), style)
    has_atc = np.array(
        [bool(clinical.reference.drugs()[c].atc_code) if c else False for c in prof.drug_codes]
    )
    form = np.where(has_atc[d], form, 2)  # no ATC code: the CIP13 must be there
    weighted = np.isin(np.array(prof.drug_codes)[d], list(_WEIGHT_DOSED)) & child[act]
    return Prescriptions(
        act=act, line=line, drug=d, code_form=form, dose_by_weight=weighted, u_poso=acts.u[act, U_POSO]
    )
