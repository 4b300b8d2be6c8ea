"""The opposition list: pseudonymised on entry exactly as ingest does, stored encrypted with no identity,
and the mask ingest will use to drop objectors' records."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.keys import LocalKeyStore
from ingest.land import Ingestor
from ingest.opposition import (
    Identity,
    OppositionError,
    add_identities,
    add_pseudonyms,
    load_opposition,
)
from ingest.storage import ObjectStore
from tests.extract_builder import NIR, act_row, write_extract
from tests.test_purge import zone_rows


def test_identities_give_the_pseudonyms_ingest_landed(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    rows = [
        act_row("1"),  # landed under the NIR
        act_row("2", patient_nir=""),  # landed under the traits
        act_row("3", patient_nir="", patient_nom="Martin", patient_prenom="Paul", patient_sexe="M"),
    ]
    Ingestor(store, keystore).run([write_extract(tmp_path / "in", "actes", rows)])
    acts = zone_rows(store, keystore)[("raw", "acts")]
    by_act = {a["act_id"]: a["patient_pseudonym"] for a in acts}

    # Spaced NIR, upper-case name without accents: normalised as ingest normalises them.
    spaced = f"{NIR[0]} {NIR[1:3]} {NIR[3:5]} {NIR[5:7]} {NIR[7:10]} {NIR[10:13]} {NIR[13:]}"
    ident = Identity(
        nir=spaced, last_name="DUPONT LEFEVRE", first_name="jeanne", birth_date=date(1950, 3, 2), sex="F"
    )
    assert add_identities(store, keystore, [ident]) == 2
    opposition = load_opposition(store, keystore)
    assert opposition.pseudonyms == {by_act["1"], by_act["2"]}

    landed = pa.array([a["patient_pseudonym"] for a in acts] + [None], pa.string())
    assert opposition.is_opposed(landed).tolist() == [True, True, False, False]
    assert opposition.is_opposed(pa.array([], pa.string())).tolist() == []
    # Entering the same person again adds nothing.
    assert add_identities(store, keystore, [Identity(nir=NIR)]) == 0


def test_the_list_stores_no_identity_and_no_clear_pseudonym(
    local_store: ObjectStore, keystore: LocalKeyStore
) -> None:
    ident = Identity(
        nir=NIR, last_name="Dupont-Lefèvre", first_name="Jeanne", birth_date=date(1950, 3, 2), sex="F"
    )
    add_identities(local_store, keystore, [ident])
    (pseudonym, *_) = sorted(load_opposition(local_store, keystore).pseudonyms)
    stored = b"".join(local_store.get(p) for p in local_store.list(""))
    for value in (NIR, "Dupont", "Jeanne", "1950", pseudonym):
        assert value.encode() not in stored
    assert "Jeanne" not in repr(ident) and NIR not in str(ident)
    (entry,) = [p for p in local_store.list("opposition")]
    assert entry.startswith("opposition/") and entry.endswith(".json")


@pytest.mark.parametrize(
    ("ident", "message"),
    [
        (Identity(nir=NIR[:-2] + "00"), "identity 1: field `nir` fails its control key"),
        (Identity(nir="12345"), "identity 1: field `nir` is not a 15-character NIR"),
        (Identity(last_name="Dupont", first_name="Jeanne"), "give field `nir`, or all of"),
        (
            Identity(last_name="A", first_name="B", birth_date=date(1950, 1, 1), sex="X"),
            "field `sex` must be one of M, F, I",
        ),
    ],
)
def test_bad_identities_are_refused_without_quoting_them(
    local_store: ObjectStore, keystore: LocalKeyStore, ident: Identity, message: str
) -> None:
    with pytest.raises(OppositionError) as info:
        add_identities(local_store, keystore, [ident])
    assert message in str(info.value)
    assert NIR[:10] not in str(info.value) and "Dupont" not in str(info.value)
    assert local_store.list("opposition") == []


def test_pseudonyms_must_look_like_pseudonyms(local_store: ObjectStore, keystore: LocalKeyStore) -> None:
    with pytest.raises(OppositionError, match="32 lower-case hex"):
        add_pseudonyms(local_store, keystore, ["Jeanne Dupont"])
