"""Read the project seeds the generator draws from (geography, population, the network's thesauri).

Seeds live in `seeds/` at the project root so that dbt and the generator share one copy; they are small
and read once per process.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

SEEDS_DIR = Path(__file__).resolve().parents[2] / "seeds"

# INSEE 5-year groups run 00-04 ... 90-94 then 95+; single years up to MAX_AGE spread the last group.
MAX_AGE = 104
POPULATION_YEAR = 2025


def _rows(relative: str) -> list[dict[str, str]]:
    with open(SEEDS_DIR / relative, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@dataclass(frozen=True)
class Departement:
    code: str
    name: str
    region: str


@dataclass(frozen=True)
class Communes:
    """Communes of at least 1,000 inhabitants, as parallel arrays (vectorised sampling)."""

    code: np.ndarray  # object: INSEE code
    name: np.ndarray  # object
    dep: np.ndarray  # object
    population: np.ndarray  # int64


@dataclass(frozen=True)
class Drug:
    drug_code: str
    atc_code: str
    substance_fr: str
    label: str
    cip13: str
    dose_value: float
    dose_unit: str
    intakes_per_day: int
    duration_days: int


@cache
def departements() -> dict[str, Departement]:
    return {
        r["dep_code"]: Departement(r["dep_code"], r["dep_name"], r["reg_code"])
        for r in _rows("reference/departements.csv")
    }


@cache
def communes() -> Communes:
    rows = _rows("reference/communes.csv")
    return Communes(
        code=np.array([r["com_code"] for r in rows], dtype=object),
        name=np.array([r["com_name"] for r in rows], dtype=object),
        dep=np.array([r["dep_code"] for r in rows], dtype=object),
        population=np.array([int(r["population"]) for r in rows], dtype=np.int64),
    )


@cache
def population_by_age(year: int = POPULATION_YEAR) -> dict[str, np.ndarray]:
    """Département -> array (2, MAX_AGE + 1) of inhabitants by sex (0 = M, 1 = F) and single year of age.

    Each 5-year group is spread evenly over its years; 95+ is spread over 95-104 with a geometric decline,
    since centenarians are a small fraction of that group.
    """
    tail = 0.72 ** np.arange(MAX_AGE - 95 + 1)
    tail /= tail.sum()
    out: dict[str, np.ndarray] = {}
    for r in _rows("reference/population_dep_sex_age5.csv"):
        if int(r["year"]) != year:
            continue
        arr = out.setdefault(r["dep_code"], np.zeros((2, MAX_AGE + 1)))
        sex = 0 if r["sex"] == "M" else 1
        lo, pop = int(r["age_min"]), float(r["population"])
        if r["age_max"]:
            arr[sex, lo : int(r["age_max"]) + 1] += pop / (int(r["age_max"]) - lo + 1)
        else:
            arr[sex, lo:] += pop * tail
    return out


@cache
def thesaurus() -> list[dict[str, str]]:
    return _rows("network/diagnosis_thesaurus.csv")


@cache
def call_reason_codes() -> tuple[str, ...]:
    return tuple(r["call_reason_code"] for r in _rows("network/call_reasons.csv"))


@cache
def call_reason_labels() -> dict[str, str]:
    return {r["call_reason_code"]: r["label_fr"] for r in _rows("network/call_reasons.csv")}


@cache
def drugs() -> dict[str, Drug]:
    return {
        r["drug_code"]: Drug(
            drug_code=r["drug_code"],
            atc_code=r["atc_code"],
            substance_fr=r["substance_fr"],
            label=r["label"],
            cip13=r["cip13"],
            dose_value=float(r["dose_value"]),
            dose_unit=r["dose_unit"],
            intakes_per_day=int(r["intakes_per_day"]),
            duration_days=int(r["duration_days"]),
        )
        for r in _rows("network/drugs.csv")
    }
