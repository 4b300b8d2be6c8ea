"""Pseudonyms: stable, keyed, normalised, and free of the identity they replace."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from ingest.records.pseudonymise import normalise_name, pseudonymise_doctors, pseudonymise_patients

SECRET = b"s" * 32
OTHER_SECRET = b"t" * 32


def _patients(secret: bytes, nir: list, last: list, first: list, birth: list, sex: list) -> list[str]:
    pseudo, _ = pseudonymise_patients(
        secret,
        pa.array(nir, pa.string()),
        pa.array(last, pa.string()),
        pa.array(first, pa.string()),
        pa.array(birth, pa.date32()),
        pa.array(sex, pa.string()),
    )
    return pseudo.to_pylist()


def test_names_are_normalised_before_hashing() -> None:
    assert normalise_name(pa.array(["  Lefèvre-Dupré ", "LEFEVRE DUPRE", "d'Aubigné"])).to_pylist() == [
        "LEFEVRE DUPRE",
        "LEFEVRE DUPRE",
        "D AUBIGNE",
    ]
    born = date(1950, 3, 2)
    a, b = _patients(SECRET, [None, None], ["Lefèvre", "LEFEVRE "], ["Zoé", "ZOE"], [born, born], ["F", "F"])
    assert a == b


def test_nir_takes_precedence_over_traits_and_is_space_insensitive() -> None:
    born = date(1950, 3, 2)
    nir = "250037512345678"
    p = _patients(
        SECRET,
        [nir, "2 50 03 75 123 456 78", None],
        ["Martin", "Autre", "Martin"],
        ["Léa", "Nom", "Léa"],
        [born, born, born],
        ["F", "F", "F"],
    )
    assert p[0] == p[1]  # same NIR, whatever the names typed
    assert p[0] != p[2]  # without NIR the traits are used: another identity string


def test_a_nir_is_keyed_with_birth_date_and_sex() -> None:
    """One NIR, several people: a parent and the children on their carte Vitale, or two people born a
    century apart (the NIR holds the birth year in two digits). Only the full identity is one patient."""
    nir = "250037512345678"
    p = _patients(
        SECRET,
        [nir] * 5,
        ["Martin", "Martin", "Martin", "Martin", "Autre"],
        ["Léa", "Louis", "Léa", "Léa", "Nom"],
        [date(1950, 3, 2), date(2016, 9, 14), date(2050, 3, 2), date(1950, 3, 2), date(1950, 3, 2)],
        ["F", "M", "F", "M", "F"],
    )
    assert len(set(p[:4])) == 4  # parent, child, a century later, same birth date other sex
    assert p[4] == p[0]  # the names typed do not matter when the NIR is known


def test_basis_says_which_identity_was_used() -> None:
    _, basis = pseudonymise_patients(
        SECRET,
        pa.array(["250037512345678", None]),
        pa.array(["A", "B"]),
        pa.array(["A", "B"]),
        pa.array([date(2000, 1, 1)] * 2, pa.date32()),
        pa.array(["F", "M"]),
    )
    assert basis.to_pylist() == ["nir", "traits"]


def test_doctor_and_patient_domains_never_collide() -> None:
    digits = "10001234567"
    doctor = pseudonymise_doctors(SECRET, pa.array([digits])).to_pylist()[0]
    patient = _patients(SECRET, [digits], ["X"], ["Y"], [date(2000, 1, 1)], ["M"])[0]
    assert doctor != patient


@given(st.text(min_size=1, max_size=40), st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 1, 1)))
def test_same_input_same_key_same_pseudonym_other_key_other_pseudonym(name: str, born: date) -> None:
    args = ([None], [name], ["Prénom"], [born], ["F"])
    first = _patients(SECRET, *args)[0]
    assert first == _patients(SECRET, *args)[0]
    assert first != _patients(OTHER_SECRET, *args)[0]
    assert len(first) == 32 and int(first, 16) >= 0


def test_pseudonyms_are_the_documented_hmac_of_the_documented_identity_strings() -> None:
    """The module's docstring is a contract others rely on (objection forms, a DPO answering a request):
    pinned against the standard library's HMAC, independently of the implementation."""

    def documented(message: str) -> str:
        return hmac.new(SECRET, message.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    rpps = "10001234567"
    assert pseudonymise_doctors(SECRET, pa.array([rpps])).to_pylist() == [documented(f"rpps:{rpps}")]
    nir = "250037511123478"
    born = date(1950, 3, 2)
    patients = _patients(SECRET, [nir, None], ["x", "Lefèvre-Dupré "], ["x", "Zoé"], [born, born], ["F", "F"])
    assert patients == [
        documented(f"nir:{nir}|1950-03-02|F"),
        documented("traits:LEFEVRE DUPRE|ZOE|1950-03-02|F"),
    ]
