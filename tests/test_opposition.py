"""The opposition list: pseudonymised on entry exactly as ingest does, stored encrypted with no identity,
and the mask ingest will use to drop objectors' records."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.governance.opposition import (
    _FORMAT,
    Identity,
    OppositionError,
    OppositionStaleError,
    _key_for_new_entry,
    _write_entry,
    add_identities,
    add_pseudonyms,
    drop_stale_entries,
    load_opposition,
)
from ingest.lake.keys import DataKeyring, LocalKeyStore
from ingest.lake.manifest import Manifest, all_manifests
from ingest.lake.storage import ObjectStore
from ingest.landing.land import Ingestor
from ingest.records.pseudonymise import PSEUDONYM_SCHEME
from tests.extract_builder import NIR, NIR_PATIENT, act_row, write_extract
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
    assert add_identities(store, keystore, [NIR_PATIENT]) == 0


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
        (
            Identity(nir=NIR[:-2] + "00", birth_date=date(1950, 3, 2), sex="F"),
            "field `nir` fails its control key",
        ),
        (
            Identity(nir="12345", birth_date=date(1950, 3, 2), sex="F"),
            "field `nir` is not a 15-character NIR",
        ),
        (
            Identity(last_name="Dupont", first_name="Jeanne"),
            "give fields `nir`, `birth_date` and `sex`, or all of",
        ),
        # A NIR alone may be a parent's, carried by their children: it names nobody for sure.
        (Identity(nir=NIR), "give fields `nir`, `birth_date` and `sex`"),
        (Identity(nir=NIR, birth_date=date(1950, 3, 2)), "give fields `nir`, `birth_date` and `sex`"),
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


def test_a_parent_objecting_does_not_remove_the_child_on_their_nir(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    """A child's acts often carry the insured parent's NIR (carte Vitale of the ouvrant droit): keyed with
    birth date and sex, parent and child are two patients, and one's objection leaves the other."""
    child = {"patient_prenom": "Louis", "patient_date_naissance": "14/09/2016", "patient_sexe": "M"}
    rows = [act_row("1"), act_row("2", **child)]
    Ingestor(store, keystore).run([write_extract(tmp_path / "in", "actes", rows)])
    by_act = {a["act_id"]: a for a in zone_rows(store, keystore)[("raw", "acts")]}
    assert {a["patient_identity_basis"] for a in by_act.values()} == {"nir"}
    assert by_act["1"]["patient_pseudonym"] != by_act["2"]["patient_pseudonym"]
    # Each batch says which identity scheme its pseudonyms follow; a manifest from before the field: 1.
    (manifest,) = all_manifests(store)
    assert manifest.pseudonym_scheme == PSEUDONYM_SCHEME == 2
    former = json.loads(manifest.to_json())
    del former["pseudonym_scheme"]
    assert Manifest.from_json(json.dumps(former).encode()).pseudonym_scheme == 1

    assert add_identities(store, keystore, [NIR_PATIENT]) == 1
    landed = pa.array([by_act["1"]["patient_pseudonym"], by_act["2"]["patient_pseudonym"]])
    assert load_opposition(store, keystore).is_opposed(landed).tolist() == [True, False]


def test_entries_of_the_former_identity_scheme_are_stale(
    local_store: ObjectStore, keystore: LocalKeyStore
) -> None:
    """Entries written before the NIR was keyed with birth date and sex (no `pseudonym_scheme`) hold
    NIR-only pseudonyms that match nothing landed since: the list refuses to answer until re-entered."""
    version, _ = keystore.pseudonym_secret()
    old = {
        "format": _FORMAT,
        "added_at": "2026-01-05T10:00:00+00:00",
        "pseudonym_secret_version": version,
        "pseudonyms": ["0" * 32],
    }
    path = "opposition/2026-01/20260105T100000000000-00000000.json"
    _write_entry(local_store, path, old, _key_for_new_entry(DataKeyring(local_store, keystore), "2026-01"))
    with pytest.raises(OppositionStaleError, match=r"1 opposition entries .* another identity scheme than 2"):
        load_opposition(local_store, keystore).is_opposed(pa.array(["0" * 32]))

    assert add_identities(local_store, keystore, [NIR_PATIENT]) == 1  # re-entered from the register
    assert drop_stale_entries(local_store, keystore) == 1
    current = load_opposition(local_store, keystore)
    assert len(current.pseudonyms) == 1 and "0" * 32 not in current.pseudonyms


def test_pseudonyms_must_look_like_pseudonyms(local_store: ObjectStore, keystore: LocalKeyStore) -> None:
    with pytest.raises(OppositionError, match="32 lower-case hex"):
        add_pseudonyms(local_store, keystore, ["Jeanne Dupont"])
