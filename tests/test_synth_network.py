"""The synthetic network, its calendar and its identifiers."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pyarrow as pa

from ingest.contract import default_contract
from ingest.records.validate import luhn_ok, nir_ok
from ingest.synth import network
from ingest.synth.network import NATIONAL_ACTS_PER_YEAR, postal_code, rosters, rpps_numbers
from ingest.synth.population import build_pool, format_nir
from ingest.synth.timeline import day_types_and_factors, easter, public_holidays


def test_network_of_64_associations_sized_to_the_national_volume() -> None:
    assocs = network()
    assert len(assocs) == 64 and len({a.code for a in assocs}) == 64
    pattern = default_contract().file_name_pattern
    assert all(pattern.match(f"{a.code}_20240101_actes.csv") for a in assocs)
    assert abs(sum(a.annual_acts for a in assocs) - NATIONAL_ACTS_PER_YEAR) < 1
    assert [a.annual_acts for a in assocs] == sorted((a.annual_acts for a in assocs), reverse=True)
    assert sum(a.encoding == "cp1252" for a in assocs) == 16
    assert any(a.code == "A2A001" for a in assocs)
    for a in assocs:
        assert a.sites[0].type == "BASE" and 0 <= len(a.sites) - 1 <= 3
        assert all(re.fullmatch(r"\d{5}", s.postal_code) for s in a.sites)


def test_rosters_keep_10_to_40_doctors_with_valid_rpps() -> None:
    day = date(2024, 6, 1).toordinal() - date(1970, 1, 1).toordinal()
    for roster in rosters(42):
        active = [d for d in roster if d.joined <= day < d.left]
        assert 8 <= len(active) <= 45
    every = [d.rpps for r in rosters(42) for d in r]
    assert len(set(every)) == len(every) and luhn_ok(pa.array(every)).all()
    assert rpps_numbers(np.array([12345678]))[0].startswith("1012345678")


def test_nir_keys_and_corsica() -> None:
    assert format_nir(np.array([1850375056123]), np.array([0]))[0] == "185037505612356"  # 97 - n mod 97
    # Corsica: the key is computed with 2A read as 19.
    nir = format_nir(np.array([1850319004123]), np.array([1]))[0]
    assert nir[5:7] == "2A" and nir_ok(pa.array([nir])).all()
    pool = build_pool(network()[63], 1, 0.05)
    nirs = format_nir(pool.nir_body, pool.nir_corsica)
    known = [n for n in nirs if n is not None]
    assert 0.6 < len(known) / len(nirs) < 0.8 and nir_ok(pa.array(known)).all()
    assert any(n[5:7] in ("2A", "2B") for n in known)


def test_postal_codes_are_plausible() -> None:
    assert postal_code("75056", 6) == "75007"
    assert postal_code("2A004").startswith("20") and postal_code("59350").startswith("59")


def test_french_public_holidays() -> None:
    assert easter(2024) == date(2024, 3, 31) and easter(2025) == date(2025, 4, 20)
    h = public_holidays(2024)
    assert {date(2024, 4, 1), date(2024, 5, 9), date(2024, 5, 20), date(2024, 7, 14)} <= h and len(h) == 11
    assert date(2024, 3, 29) in public_holidays(2024, "67") and date(2024, 3, 29) not in h


def test_sundays_and_holidays_weigh_more_than_weekdays() -> None:
    days = np.arange(np.datetime64("2024-05-06"), np.datetime64("2024-05-13"))  # Mon 6 to Sun 12 May
    kinds, factors = day_types_and_factors(days, "75")
    assert kinds.tolist() == [0, 0, 2, 2, 0, 1, 2]  # 8 May and Ascension are holidays
    assert factors[2] > factors[1] and factors[6] > factors[5] > factors[0]
    assert factors[4] > factors[1]  # the bridge Friday after Ascension


def test_association_registry_seed_matches_the_simulated_network() -> None:
    from ingest.contract import PROJECT_ROOT
    from ingest.synth.registry import render_registry

    seed = (PROJECT_ROOT / "seeds" / "network" / "associations.csv").read_text(encoding="utf-8")
    assert seed == render_registry(), "run `python -m ingest.synth.registry`"
