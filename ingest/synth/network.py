"""The network: 64 associations placed in real départements, their sites, rosters and software habits.

The structure (which associations exist, where, how big, which encoding their software exports) is fixed,
independent of the seed, so that association codes are stable across runs; the rosters of doctors and
everything the patients do depend on the seed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np

from ingest.synth import names, reference

N_NETWORK = 64
NATIONAL_ACTS_PER_YEAR = 4_000_000
_NETWORK_SEED = 20260101  # fixes the network's structure, whatever the generation seed
_ROSTER_TAG = 0x0D0C
# Corsica is always served (its 2A/2B codes must appear in extracts), whatever its population.
_FORCED_DEPS = ("2A",)
_DAY0 = date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class Site:
    code: str
    type: str  # BASE or CENTRE
    name: str
    commune_code: str
    postal_code: str


@dataclass(frozen=True)
class Association:
    index: int  # position in the network (0 = largest)
    code: str  # e.g. A59001
    dep: str
    region: str
    city: str  # name of the base commune
    annual_acts: float  # acts a year at scale 1
    encoding: str  # utf-8 or cp1252
    sites: tuple[Site, ...]  # the base first, then the centres
    catchment: np.ndarray  # indices into reference.communes()
    catchment_weight: np.ndarray  # probabilities over catchment
    ehpads: tuple[tuple[str, int, str], ...]  # (name, commune index, street address)
    # Software and coding habits.
    coding_rate: float  # share of acts with a coded diagnosis
    icd_style: int  # 0 undotted, 1 dotted, 2 mixed
    icd_missing: float  # share of coded diagnoses with the thesaurus code only
    drug_code_style: int  # 0 both CIP13 and ATC, 1 ATC only, 2 CIP13 only, 3 mixed
    act_id_style: int  # 0 <yyyymmdd><seq>, 1 <code>-<yymmdd><seq>
    cons_share: float  # share of acts in a centre when the centres are open

    @property
    def eol(self) -> str:
        return "\r\n" if self.encoding == "cp1252" else "\n"

    @property
    def base(self) -> Site:
        return self.sites[0]


@dataclass(frozen=True)
class Doctor:
    rpps: str
    last_name: str
    first_name: str
    sex: str
    specialty: str
    joined: int  # day ordinal since 1970-01-01
    left: int  # day ordinal, or a far-future sentinel
    show_joined: bool
    weight: float  # share of shifts


FAR_FUTURE = date(2100, 1, 1).toordinal() - _DAY0


def postal_code(commune_code: str, variant: int = 0) -> str:
    """A plausible postal code for a commune (SYNTHETIC: La Poste's table is not shipped).

    Paris, Lyon and Marseille get one of their arrondissement codes (by `variant`); Corsica 20xxx; other
    communes their département's prefix and three digits derived from the INSEE code.
    """
    if commune_code == "75056":
        return f"750{variant % 20 + 1:02d}"
    if commune_code == "69123":
        return f"6900{variant % 9 + 1}"
    if commune_code == "13055":
        return f"130{variant % 16 + 1:02d}"
    h = zlib.crc32(commune_code.encode())
    if commune_code.startswith("2A"):
        return f"20{h % 2}{h // 7 % 10}0"
    if commune_code.startswith("2B"):
        return f"20{(2, 6)[h % 2]}{h // 7 % 10}0"
    return f"{commune_code[:2]}{h % 9 + 1}{h // 9 % 10}0"


def _allocate_seats() -> list[str]:
    """Sainte-Laguë allocation of the network's associations over metropolitan départements."""
    pop = {d: a.sum() for d, a in reference.population_by_age().items() if not d.startswith("97")}
    seats = dict.fromkeys(pop, 0)
    order: list[str] = []
    for _ in range(N_NETWORK - len(_FORCED_DEPS)):
        best = max(sorted(pop), key=lambda d: pop[d] / (2 * seats[d] + 1))
        seats[best] += 1
        order.append(best)
    order.extend(_FORCED_DEPS)
    return order


@cache
def network() -> tuple[Association, ...]:
    """The 64 associations, largest first."""
    rng = np.random.Generator(np.random.PCG64(_NETWORK_SEED))
    com = reference.communes()
    deps = reference.departements()
    seats = _allocate_seats()
    pop = {d: a.sum() for d, a in reference.population_by_age().items()}
    drafts = []
    for dep in sorted(set(seats)):
        k = seats.count(dep)
        idx = np.flatnonzero(com.dep == dep)
        idx = idx[np.argsort(-com.population[idx], kind="stable")]
        for j in range(k):
            # Each association of a département is based in one of its largest towns and draws most of its
            # patients from the communes nearest in the INSEE numbering (a proxy for proximity).
            home = idx[j] if j < len(idx) else idx[0]
            near = 1.0 / (1.0 + np.abs(idx.astype(float) - float(home)) / 40.0)
            weight = com.population[idx] * (near if k > 1 else 1.0)
            size = pop[dep] / k * rng.lognormal(0.0, 0.25)
            drafts.append((size, dep, j, int(home), idx, weight / weight.sum()))
    drafts.sort(key=lambda x: -x[0])
    total = sum(d[0] for d in drafts)
    out = []
    per_dep: dict[str, int] = {}
    for i, (size, dep, _j, home, cidx, cw) in enumerate(drafts):
        per_dep[dep] = per_dep.get(dep, 0) + 1
        code = f"A{dep}{per_dep[dep]:03d}"
        annual = NATIONAL_ACTS_PER_YEAR * size / total
        n_centres = int(
            rng.choice(4, p=[0.3, 0.35, 0.25, 0.1] if annual > 40_000 else [0.5, 0.35, 0.15, 0.0])
        )
        city = str(com.name[home])
        sites = [Site(f"{code}-BASE", "BASE", f"Base de régulation {city}", str(com.code[home]), "")]
        centre_pool = cidx[: max(4, n_centres)]
        for c in range(n_centres):
            where = int(centre_pool[c])
            sites.append(
                Site(
                    f"{code}-C{c + 1}",
                    "CENTRE",
                    f"Centre de consultations {com.name[where]}",
                    str(com.code[where]),
                    "",
                )
            )
        sites = [
            Site(s.code, s.type, s.name, s.commune_code, postal_code(s.commune_code, n))
            for n, s in enumerate(sites)
        ]
        n_ehpad = int(rng.integers(4, 9))
        ehpad_where = rng.choice(cidx, size=n_ehpad, p=cw)
        ehpads = tuple(
            (
                f"{names.EHPAD_NAMES[(i + e) % len(names.EHPAD_NAMES)]}",
                int(np.flatnonzero(cidx == w)[0]),
                f"{int(rng.integers(1, 80))} {names.STREET_TYPES_AND_NAMES[int(rng.integers(0, 60))]}",
            )
            for e, w in enumerate(ehpad_where)
        )
        out.append(
            Association(
                index=i,
                code=code,
                dep=dep,
                region=deps[dep].region,
                city=city,
                annual_acts=annual,
                # A quarter of the associations run Windows software exporting Windows-1252 with CRLF.
                encoding="cp1252" if i % 4 == 1 else "utf-8",
                sites=tuple(sites),
                catchment=cidx,
                catchment_weight=cw,
                ehpads=ehpads,
                coding_rate=float(np.clip(rng.beta(9, 1.3), 0.55, 0.98)),
                icd_style=int(rng.choice(3, p=[0.5, 0.3, 0.2])),
                icd_missing=float(rng.choice([0.0, 0.02, 0.08, 0.25], p=[0.5, 0.25, 0.15, 0.1])),
                drug_code_style=int(rng.choice(4, p=[0.55, 0.15, 0.1, 0.2])),
                act_id_style=int(rng.integers(0, 2)),
                cons_share=[0.0, 0.35, 0.5, 0.6][n_centres],
            )
        )
    return tuple(out)


def _luhn_digit(body: np.ndarray) -> np.ndarray:
    """Luhn check digit for rows of digits (the check digit will be appended on the right)."""
    d = body.copy()
    d[:, -1::-2] *= 2  # from the right, every other digit starting with the last body digit
    d = np.where(d > 9, d - 9, d)
    return (10 - d.sum(axis=1) % 10) % 10


def rpps_numbers(bodies: np.ndarray) -> list[str]:
    """11-digit RPPS numbers ('10' + 8 digits + Luhn key) from integers below 10**8."""
    digits = np.array([[int(c) for c in f"10{b:08d}"] for b in bodies], dtype=np.int64).reshape(-1, 10)
    key = _luhn_digit(digits)
    return [f"10{b:08d}{k}" for b, k in zip(bodies, key, strict=True)]


@cache
def rosters(seed: int) -> tuple[tuple[Doctor, ...], ...]:
    """Every association's doctors over time (past, present and future members), for a seed."""
    assocs = network()
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(_ROSTER_TAG,))))
    drafts: list[list[tuple]] = []
    for a in assocs:
        slots = int(np.clip(round(a.annual_acts / 3500), 10, 40))
        docs = []
        for _ in range(slots):
            joined = date(1988, 1, 1).toordinal() - _DAY0 + int(rng.integers(0, 25 * 365))
            weight = float(rng.lognormal(0.0, 0.4))
            while joined < date(2040, 1, 1).toordinal() - _DAY0:
                tenure = int(365 * (2 + rng.exponential(13)))
                left = joined + tenure
                docs.append((joined, left, weight))
                joined = left + int(rng.integers(0, 60))
        drafts.append(docs)
    n_total = sum(len(d) for d in drafts)
    bodies = rng.choice(10**8, size=n_total, replace=False)
    rpps = rpps_numbers(bodies)
    out = []
    k = 0
    for docs in drafts:
        roster = []
        for joined, left, weight in docs:
            female = rng.random() < (0.3 if joined < 7300 else 0.55)  # more women among recent recruits
            birth_year = 1970 + joined // 365 - int(rng.integers(29, 40))
            gen = int(np.searchsorted(names.GENERATION_BOUNDS, birth_year, side="right"))
            firsts = (names.FIRST_NAMES_F if female else names.FIRST_NAMES_M)[gen]
            roster.append(
                Doctor(
                    rpps=rpps[k],
                    last_name=names.LAST_NAMES[int(rng.integers(0, len(names.LAST_NAMES)))],
                    first_name=firsts[int(rng.integers(0, len(firsts)))],
                    sex="F" if female else "M",
                    specialty=str(rng.choice(["MG", "URG", "PED"], p=[0.9, 0.07, 0.03])),
                    joined=joined,
                    left=left if left < date(2040, 1, 1).toordinal() - _DAY0 else FAR_FUTURE,
                    show_joined=bool(rng.random() < 0.93),
                    weight=weight,
                )
            )
            k += 1
        out.append(tuple(roster))
    return tuple(out)
