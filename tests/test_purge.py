"""Retroactive purges on a real encrypted lake (local and moto S3): a patient's objection removes their
acts and everything attached to those acts from every zone and leaves every other record untouched;
the retention purge drops whole old partitions; both survive a kill mid-way and re-run cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.governance.opposition import Identity, add_identities, load_opposition
from ingest.governance.purge import (
    committed_files,
    next_path,
    purge_opposition,
    purge_retention,
    read_output,
    recover_rewrites,
)
from ingest.lake import audit
from ingest.lake.keys import DataKeyring, KeyStore, LocalKeyStore
from ingest.lake.manifest import all_manifests
from ingest.lake.storage import ObjectStore, open_store
from ingest.landing.land import Ingestor
from tests.extract_builder import NIR, act_row, diagnosis_row, with_nir_key, write_extract

OTHER_NIR = with_nir_key("1850699123456")


def prescription_row(act_id: str, line: str = "1", **overrides: str) -> dict[str, str]:
    row = {
        "num_acte": act_id,
        "ligne": line,
        "code_cip13": "3400907502305",
        "code_atc": "N02BE01",
        "libelle": "PARACETAMOL 1000MG CPR",
        "dose_valeur": "1000",
        "dose_unite": "mg",
        "prises_par_jour": "3",
        "duree_jours": "5",
        "posologie": "1 cp matin midi soir",
    }
    row.update(overrides)
    return row


def vital_row(act_id: str, **overrides: str) -> dict[str, str]:
    row = {
        "num_acte": act_id,
        "date_mesure": "15/01/2024",
        "heure_mesure": "21:05",
        "temperature": "38,5",
        "fc": "90",
        "spo2": "97",
        "pas": "130",
        "pad": "80",
        "fr": "16",
        "poids": "",
    }
    row.update(overrides)
    return row


# Act numbers of the objecting patient (NIR in one association, traits only in the other).
THEIRS = {("A75001", "1"), ("A75001", "3"), ("A13001", "7")}


def build_lake(
    folder: Path, *, day: str = "20240115", dd: str = "15/01/2024", first_act: int = 1
) -> list[Path]:
    """Two associations, one day; acts 1 and 3 (A75001, NIR) and 7 (A13001, no NIR) are the objector's
    (numbered from `first_act`: act numbers are unique within an association, across days)."""
    when = {"date_appel": dd, "date_debut": dd, "date_fin": dd}
    paths = []
    for assoc, objectors in (("A75001", (1, 3)), ("A13001", (7,))):
        acts, diags, prescs, vitals = [], [], [], []
        mine = tuple(str(first_act + n - 1) for n in objectors)
        for n in range(1, 9):
            act = str(first_act + n - 1)
            if act in mine:
                row = act_row(act, **when) if assoc == "A75001" else act_row(act, patient_nir="", **when)
            else:
                row = act_row(act, patient_nir=OTHER_NIR, patient_nom=f"Autre{n}", **when)
            acts.append(row)
            diags.append(diagnosis_row(act))
            diags.append(diagnosis_row(act, rank="2"))
            # Each association's files differ (byte-identical files with rows are one file re-sent).
            prescs.append(prescription_row(act, posologie=f"1 cp matin midi soir ({assoc})"))
            vitals.append(vital_row(act, date_mesure=dd, fr="16" if assoc == "A75001" else "18"))
        # Quarantined rows: a diagnosis of the objector's act (bad rank) and one of another act.
        diags.append(diagnosis_row(mine[0], rank="12"))
        diags.append(diagnosis_row(str(first_act + 4), rank="12"))
        paths.append(write_extract(folder, "actes", acts, association=assoc, day=day))
        paths.append(write_extract(folder, "diagnostics", diags, association=assoc, day=day))
        paths.append(write_extract(folder, "prescriptions", prescs, association=assoc, day=day))
        paths.append(write_extract(folder, "constantes", vitals, association=assoc, day=day))
    return paths


def zone_rows(store: ObjectStore, keystore: KeyStore) -> dict[tuple[str, str], list[dict]]:
    """Every committed row of every zone, decrypted with the key its manifest names, sorted."""
    keyring = DataKeyring(store, keystore)
    out: dict[tuple[str, str], list[dict]] = {}
    for m in all_manifests(store):
        for o in m.outputs:
            if o.path.endswith(".parquet"):
                table = read_output(store, keyring, m, o)
                assert isinstance(table, pa.Table)
                out.setdefault((o.zone, m.dataset or ""), []).extend(table.to_pylist())
    return {
        k: sorted(v, key=lambda r: (r["association_id"], r["_source_file"], r["_source_line"]))
        for k, v in out.items()
    }


def act_of(zone: str, row: dict) -> tuple[str, str] | None:
    if zone == "raw":
        return (row["association_id"], row.get("act_id"))
    record = json.loads(row["record"]) if row["record"] else {}
    return (row["association_id"], record.get("num_acte"))


def objector() -> Identity:
    return Identity(
        nir=NIR, last_name="Dupont-Lefèvre", first_name="Jeanne", birth_date=date(1950, 3, 2), sex="F"
    )


def test_next_path() -> None:
    assert next_path("raw/acts/a=1/d=2/abc.parquet") == "raw/acts/a=1/d=2/abc.r2.parquet"
    assert next_path("raw/acts/a=1/d=2/abc.r2.parquet") == "raw/acts/a=1/d=2/abc.r3.parquet"
    assert next_path("quarantine/files/abc.bin") == "quarantine/files/abc.r2.bin"


def test_objection_purges_every_zone_and_keeps_everything_else(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    report = Ingestor(store, keystore).run(build_lake(tmp_path / "in"))
    assert all(f.status == "landed" for f in report.files)
    before = zone_rows(store, keystore)
    theirs_before = {
        ds: [r for r in rows if act_of(ds[0], r) in THEIRS] for ds, rows in before.items() if ds[1] != "acts"
    }
    assert {k: len(v) for k, v in theirs_before.items()} == {
        ("raw", "diagnoses"): 6,
        ("raw", "prescriptions"): 3,
        ("raw", "vital_signs"): 3,
        ("quarantine", "diagnoses"): 2,
    }

    assert add_identities(store, keystore, [objector()]) == 2  # one NIR pseudonym, one traits pseudonym
    result = purge_opposition(store, keystore)
    assert result.rows_removed == {
        "raw/acts": 3,
        "raw/diagnoses": 6,
        "raw/prescriptions": 3,
        "raw/vital_signs": 3,
        "quarantine/diagnoses": 2,
    }

    after = zone_rows(store, keystore)
    opposed = load_opposition(store, keystore).pseudonyms
    for (zone, dataset), rows in after.items():
        assert not [r for r in rows if act_of(zone, r) in THEIRS], (zone, dataset)
        if dataset == "acts":
            assert not opposed & {r["patient_pseudonym"] for r in rows}
    # Every other record is intact, field for field.
    for key, rows in before.items():
        zone = key[0]
        expected = [r for r in rows if act_of(zone, r) not in THEIRS]
        assert after.get(key, []) == expected, key
    # Nothing left behind: the store holds exactly what the manifests name, in the rewritten names.
    named = {o.path for m in all_manifests(store) for o in m.outputs}
    assert set(store.list("raw")) | set(store.list("quarantine")) == named
    assert store.list("_rewrites") == []
    assert any(".r2.parquet" in p for p in named)

    (entry,) = [e for e in audit.entries(store) if e.action == "purge_opposition"]
    assert entry.data["patients"] == 2 and entry.data["acts"] == 3
    assert audit.verify(store, keystore).ok
    # Re-running finds nothing more to do.
    again = purge_opposition(store, keystore)
    assert again.batches_rewritten == 0 and zone_rows(store, keystore) == after


def test_duckdb_reads_the_purged_lake_through_the_manifests(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    from ingest.governance.study_extract import open_raw_zone

    Ingestor(local_store, keystore).run(build_lake(tmp_path / "in"))
    add_identities(local_store, keystore, [objector()])
    purge_opposition(local_store, keystore)
    con = open_raw_zone(local_store, keystore)
    counts = dict(con.execute("select association_id, count(*) from raw_acts group by all").fetchall())
    assert counts == {"A75001": 6, "A13001": 7}
    assert con.execute("select count(*) from raw_diagnoses").fetchone() == ((16 - 3) * 2,)
    assert set(committed_files(local_store, "raw", "acts")) == {"raw/acts/2024-01"}


def test_retention_drops_old_partitions_whole_and_shreds_their_keys(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    store = local_store
    old = build_lake(tmp_path / "old", day="20040110", dd="10/01/2004", first_act=101)
    new = build_lake(tmp_path / "new")
    Ingestor(store, keystore).run(old + new)
    before = zone_rows(store, keystore)

    result = purge_retention(store, keystore, years=20, today=date(2024, 6, 1))
    assert result.batches_rewritten == len(old)
    assert sorted(result.keys_deleted) == [
        "quarantine/diagnoses/2004-01",
        "raw/acts/2004-01",
        "raw/diagnoses/2004-01",
        "raw/prescriptions/2004-01",
        "raw/vital_signs/2004-01",
    ]
    after = zone_rows(store, keystore)
    for key, rows in before.items():
        assert after[key] == [r for r in rows if r["extract_date"] >= date(2004, 6, 1)], key
    assert not [p for p in store.list("raw") + store.list("quarantine") if "2004-01-10" in p]
    # Tombstones: the old files are still recognised, and not landed again.
    again = Ingestor(store, keystore).run(old[:1])
    assert again.files[0].status == "duplicate"
    (entry,) = [e for e in audit.entries(store) if e.action == "purge_retention"]
    assert entry.data["batches"] == len(old) and entry.data["cutoff"] == "2004-06-01"


def test_rewrite_killed_mid_way_leaves_a_readable_lake_and_reruns(
    tmp_path: Path, keystore: LocalKeyStore
) -> None:
    """A real process killed (SIGKILL) right after writing the first new file of a rewrite."""
    lake = tmp_path / "lake"
    store = open_store(lake)
    Ingestor(store, keystore).run(build_lake(tmp_path / "in"))
    add_identities(store, keystore, [objector()])
    before = zone_rows(store, keystore)

    script = textwrap.dedent(
        f"""
        import os, signal
        from ingest.lake.keys import open_keystore
        from ingest.governance.purge import purge_opposition
        from ingest.lake.storage import LocalObjectStore, open_store

        store = open_store({str(lake)!r})
        original = LocalObjectStore._put
        def put(self, path, data, *, overwrite):
            done = original(self, path, data, overwrite=overwrite)
            if ".r2." in path:
                os.kill(os.getpid(), signal.SIGKILL)  # after the new file, before the manifest
            return done
        LocalObjectStore._put = put
        purge_opposition(store, open_keystore({str(keystore.path)!r}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env=os.environ, capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert store.list("_rewrites"), "the kill should interrupt a rewrite"
    # Mid-way: every manifest still names intact files readable with the keys it names.
    assert zone_rows(store, keystore) == before

    assert recover_rewrites(store)
    named = {o.path for m in all_manifests(store) for o in m.outputs}
    assert set(store.list("raw")) | set(store.list("quarantine")) == named
    result = purge_opposition(store, keystore)
    assert result.rows_removed["raw/acts"] == 3
    after = zone_rows(store, keystore)
    assert not [r for (z, _), rows in after.items() for r in rows if act_of(z, r) in THEIRS]


@pytest.mark.parametrize("years", [0, -1])
def test_retention_refuses_nonsense_periods(
    local_store: ObjectStore, keystore: LocalKeyStore, years: int
) -> None:
    with pytest.raises(ValueError, match="at least one year"):
        purge_retention(local_store, keystore, years=years)
