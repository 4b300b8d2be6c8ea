"""Objections and the retention period hold in every zone, whatever arrives after the purge: a child file
of an objector's act sent again alone, children that landed before their act, a re-sent acts file whose
rows are quarantined, a file older than the retention period. Real encrypted lake (local and moto S3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest.governance.opposition import add_identities, load_opposition
from ingest.governance.purge import purge_opposition, purge_retention
from ingest.lake.keys import LocalKeyStore
from ingest.lake.manifest import all_manifests
from ingest.lake.storage import ObjectStore
from ingest.landing.land import Ingestor
from tests.extract_builder import act_row, diagnosis_row, write_extract
from tests.test_purge import OTHER_NIR, THEIRS, act_of, build_lake, objector, zone_rows


def _theirs(store: ObjectStore, keystore: LocalKeyStore) -> dict[tuple[str, str], int]:
    """Rows of the objector's acts left in each zone x dataset (raw and quarantine)."""
    rows_by_zone = zone_rows(store, keystore)
    counts = {key: sum(act_of(key[0], r) in THEIRS for r in rows) for key, rows in rows_by_zone.items()}
    return {k: v for k, v in counts.items() if v}


def _other(act_id: str) -> dict[str, str]:
    """A rejected act (no outcome) of a patient who does not object."""
    return act_row(act_id, orientation="", patient_nir=OTHER_NIR, patient_nom=f"Autre{act_id}")


def _purged_lake(store: ObjectStore, keystore: LocalKeyStore, folder: Path) -> list[Path]:
    paths = build_lake(folder)
    Ingestor(store, keystore).run(paths)
    add_identities(store, keystore, [objector()])
    purge_opposition(store, keystore)
    assert _theirs(store, keystore) == {}
    return paths


def test_a_child_file_sent_again_alone_after_the_purge_lands_none_of_the_objectors_rows(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    paths = _purged_lake(store, keystore, tmp_path / "in")
    diags = next(p for p in paths if p.name == "A75001_20240115_diagnostics.csv")
    diags.write_bytes(diags.read_bytes() + b"\n\n")  # same name, two bytes more: a new batch
    (f,) = Ingestor(store, keystore).run([diags]).files
    assert f.status == "landed"
    # Acts 1 and 3 are the objector's: 2 diagnoses each, and act 1's quarantined one (rank 12).
    assert (f.rows_read, f.rows_accepted, f.rows_quarantined, f.rows_opposed) == (18, 12, 1, 5)
    assert _theirs(store, keystore) == {}


def test_a_purge_removes_children_that_landed_before_their_act_was_dropped_at_ingest(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    """The diagnoses come first, then the acts, whose objector's rows ingest drops: the purge that
    follows must find the diagnoses of acts opposed in that earlier run, not only of acts it sees."""
    add_identities(store, keystore, [objector()])
    paths = build_lake(tmp_path / "in")
    children = [p for p in paths if "actes" not in p.name]
    acts = [p for p in paths if "actes" in p.name]
    Ingestor(store, keystore).run(children)
    theirs = _theirs(store, keystore)
    assert theirs[("raw", "diagnoses")] == 6
    report = Ingestor(store, keystore).run(acts)
    assert [f.rows_opposed for f in report.files] == [2, 1]  # A75001 acts 1 and 3; A13001 act 7

    result = purge_opposition(store, keystore)
    assert result.rows_removed == {
        "raw/diagnoses": 6,
        "raw/prescriptions": 3,
        "raw/vital_signs": 3,
        "quarantine/diagnoses": 2,
    }
    assert _theirs(store, keystore) == {}
    assert load_opposition(store, keystore).acts == THEIRS


def test_a_resent_acts_file_whose_rows_are_quarantined_keeps_nothing_of_the_objector(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    """Every row rejected (no outcome): the objector's acts are known by their act numbers (removed by
    the purge) and by their patient (act 9, never landed before)."""
    _purged_lake(store, keystore, tmp_path / "in")
    rows = [act_row(n, orientation="") if n != "2" else _other("2") for n in ("1", "2", "3")]
    rows.append(act_row("9", orientation=""))  # the objector, a new act
    rows.append(_other("4"))
    resent = write_extract(tmp_path / "again", "actes", rows, name="A75001_20240115_actes.csv")
    resent.write_bytes(resent.read_bytes() + b"\n\n")
    (f,) = Ingestor(store, keystore).run([resent]).files
    assert (f.rows_read, f.rows_accepted, f.rows_quarantined, f.rows_opposed) == (5, 0, 2, 3)
    quarantined = zone_rows(store, keystore)[("quarantine", "acts")]
    assert sorted(act_of("quarantine", r)[1] for r in quarantined) == ["2", "4"]
    # Act 9 is recorded as the objector's: its diagnoses, sent later, are dropped too.
    assert ("A75001", "9") in load_opposition(store, keystore).acts
    diag = write_extract(tmp_path / "later", "diagnostics", [diagnosis_row("9"), diagnosis_row("2")])
    (d,) = Ingestor(store, keystore).run([diag]).files
    assert (d.rows_accepted, d.rows_opposed) == (1, 1)


def test_a_file_older_than_the_retention_period_is_not_landed_again(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    store = local_store
    today = datetime.now(UTC).date()
    old_day = today.replace(day=1) - timedelta(days=3 * 366)
    new_day = today - timedelta(days=40)
    old = build_lake(tmp_path / "old", day=f"{old_day:%Y%m%d}", dd=f"{old_day:%d/%m/%Y}", first_act=101)
    new = build_lake(tmp_path / "new", day=f"{new_day:%Y%m%d}", dd=f"{new_day:%d/%m/%Y}")
    Ingestor(store, keystore).run(old + new)
    result = purge_retention(store, keystore, years=2)
    assert result.batches_rewritten == len(old)
    objects = [p for p in store.list("") if not p.startswith("_audit/")]

    resent = old[1]  # diagnostics, two bytes more: not a duplicate of the tombstone
    resent.write_bytes(resent.read_bytes() + b"\n\n")
    broken = old[0]  # an acts file that would be quarantined whole (header drift)
    broken.write_text(broken.read_text().replace("patient_nom", "nom_patient"))
    report = Ingestor(store, keystore).run([resent, broken, new[0]])
    assert [f.status for f in report.files] == ["expired", "expired", "duplicate"]
    assert "retention" in (report.files[0].message or "")
    assert [p for p in store.list("") if not p.startswith("_audit/")] == objects
    old_outputs = [m.outputs for m in all_manifests(store) if m.extract_date < new_day.isoformat()]
    assert old_outputs and not any(old_outputs)


def _cut(path: Path) -> Path:
    """The same file cut mid-row (a transfer cut short): it is quarantined whole."""
    path.write_bytes(path.read_bytes()[:-9])
    return path


def _blob_text(store: ObjectStore, keystore: LocalKeyStore, name: str) -> str:
    from ingest.governance.purge import read_output
    from ingest.lake.keys import DataKeyring

    keyring = DataKeyring(store, keystore)
    (m,) = [m for m in all_manifests(store) if m.source_file == name and m.status == "quarantined"]
    (out,) = m.outputs
    blob = read_output(store, keyring, m, out)
    assert isinstance(blob, bytes)
    return blob.decode("utf-8")


def test_a_file_kept_whole_in_quarantine_keeps_no_line_of_an_objector(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    """Ingest takes the objector's lines out of a file it quarantines whole (here, cut short), and the
    lines of their acts' diagnoses; the rest stays as sent."""
    add_identities(store, keystore, [objector()])
    paths = build_lake(tmp_path / "in")
    acts = _cut(paths[0])  # A75001 acts: 1 and 3 are the objector's
    diags = _cut(paths[1])  # their diagnoses
    report = Ingestor(store, keystore).run([acts, diags])
    assert [(f.status, f.rows_read, f.rows_quarantined, f.rows_opposed) for f in report.files] == [
        ("quarantined", 8, 6, 2),
        ("quarantined", 18, 13, 5),
    ]
    kept = _blob_text(store, keystore, acts.name)
    assert "Dupont" not in kept and "Autre2" in kept
    assert len(kept.splitlines()) == 1 + 6  # the header and the 6 other acts, the last one cut
    assert [ln.split(";")[0] for ln in _blob_text(store, keystore, diags.name).splitlines()[1:]] == [
        "2", "2", "4", "4", "5", "5", "6", "6", "7", "7", "8", "8", "5"
    ]  # fmt: skip


def test_the_purge_takes_an_objectors_lines_out_of_files_quarantined_whole(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    paths = build_lake(tmp_path / "in")
    cut = [_cut(p) for p in paths if "actes" in p.name or "diagnostics" in p.name]
    Ingestor(store, keystore).run(cut)
    assert all("Dupont" in _blob_text(store, keystore, p.name) for p in cut if "actes" in p.name)
    add_identities(store, keystore, [objector()])
    result = purge_opposition(store, keystore)
    # Acts 1, 3 (A75001) and 7 (A13001); their diagnoses, the quarantined one of act 1 (rank 12) included.
    assert result.rows_removed == {"quarantine/acts": 3, "quarantine/diagnoses": 8}
    for p in cut:
        text = _blob_text(store, keystore, p.name)
        assert "Dupont" not in text
        numbers = {ln.split(";")[0] for ln in text.splitlines()[1:]}
        assert not {(p.name[:6], n) for n in numbers} & THEIRS
    assert load_opposition(store, keystore).acts == THEIRS
