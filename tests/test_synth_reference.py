"""Seeds shipped for the generator and dbt: geography, population, the network's thesauri."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pyarrow as pa

from ingest.records.validate import ean13_ok
from ingest.synth import reference
from ingest.synth.clinical import profiles

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
SURVEILLANCE_GROUPS = {
    "grippe", "bronchiolite", "gea", "covid19", "asthme", "icanicule_hyperthermie",
    "icanicule_deshydratation", "icanicule_hyponatremie", "malaise", "pneumopathie", "varicelle",
    "rougeole", "coqueluche", "fievre_isolee",
}  # fmt: skip


def _rows(name: str) -> list[dict[str, str]]:
    with open(SEEDS / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_thesaurus_covers_every_surveillance_group_with_cim10_codes() -> None:
    rows = _rows("network/diagnosis_thesaurus.csv")
    assert 60 <= len(rows) <= 80
    assert len({r["thesaurus_code"] for r in rows}) == len(rows)
    assert all(re.fullmatch(r"[A-Z][0-9]{2}[0-9]?", r["icd10_code"]) for r in rows)
    assert {r["syndrome_hint"] for r in rows} - {""} == SURVEILLANCE_GROUPS
    by_hint = {r["syndrome_hint"]: r["icd10_code"] for r in rows}
    assert by_hint["covid19"] in ("U071", "B342") and by_hint["bronchiolite"].startswith("J21")
    assert set(profiles().codes) == {r["thesaurus_code"] for r in rows}


def test_drugs_have_valid_synthetic_cip13_and_printable_labels() -> None:
    rows = _rows("network/drugs.csv")
    assert all(r["cip13"].startswith("34009") and r["cip13_synthetic"] == "true" for r in rows)
    assert ean13_ok(pa.array([r["cip13"] for r in rows])).all()
    assert all(re.fullmatch(r"[A-Z0-9 ,./%()+-]{1,120}", r["label"]) for r in rows)
    assert all(
        r["atc_code"] == "" or re.fullmatch(r"[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}", r["atc_code"]) for r in rows
    )


def test_call_reasons() -> None:
    codes = reference.call_reason_codes()
    assert 15 <= len(codes) <= 20 and {"FIEVRE", "CONSTAT_DECES", "AUTRE"} <= set(codes)


def test_geography_keeps_codes_as_strings() -> None:
    deps = reference.departements()
    assert deps["01"].name == "Ain" and deps["2A"].region == "94" and len(deps) == 101
    com = reference.communes()
    assert "01004" in set(com.code) and (com.population >= 1000).all()
    assert {"75056", "13055", "69123"} <= set(com.code)


def test_population_matches_insee_totals() -> None:
    pop = reference.population_by_age(2025)
    total = sum(a.sum() for a in pop.values())
    assert 68.0e6 < total < 69.0e6
    paris = pop["75"]
    assert paris.shape == (2, reference.MAX_AGE + 1) and paris[1, 90:].sum() > paris[0, 90:].sum()
