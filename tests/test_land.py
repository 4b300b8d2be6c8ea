"""The ingest pipeline on hand-built extracts: each class of bad input, pseudonymisation, encryption,
idempotency and crash recovery, against a real local object store and real encrypted Parquet."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pytest

from ingest.lake import audit
from ingest.lake.crypto import decrypt_blob, decrypt_parquet
from ingest.lake.keys import DataKeyring, init_keystore, open_keystore
from ingest.lake.manifest import LOCK_PATH, LakeLockedError, all_manifests, begin, writer_lock
from ingest.lake.storage import ObjectStore, open_store
from ingest.landing.land import Ingestor, find_extract_files
from ingest.records.read_extract import NAME_REASONS
from tests.extract_builder import IDENTIFIERS, NIR, NIR_PATIENT, act_row, diagnosis_row, write_extract


@pytest.fixture
def lake(tmp_path: Path) -> tuple[ObjectStore, Ingestor]:
    ks_path, _ = init_keystore(tmp_path / "keys" / "keystore.json")
    store = open_store(str(tmp_path / "lake"))
    return store, Ingestor(store, open_keystore(ks_path))


def read_zone(store: ObjectStore, ingestor: Ingestor, prefix: str) -> pa.Table:
    keyring = DataKeyring(store, ingestor.keystore)
    tables = []
    for m in all_manifests(store):
        for o in m.outputs:
            if o.path.startswith(prefix) and o.path.endswith(".parquet"):
                tables.append(decrypt_parquet(store.get(o.path), keyring.get(o.key_id).key, path=o.path))
    return pa.concat_tables(tables) if tables else pa.table({})


def all_plaintext(store: ObjectStore, ingestor: Ingestor) -> str:
    """Every zone after decryption, as one text, for identifier scans."""
    keyring = DataKeyring(store, ingestor.keystore)
    parts = []
    for m in all_manifests(store):
        parts.append(m.to_json().decode())
        for o in m.outputs:
            key = keyring.get(o.key_id).key
            if o.path.endswith(".parquet"):
                parts.append(str(decrypt_parquet(store.get(o.path), key, path=o.path).to_pylist()))
    return "\n".join(parts)


def test_valid_acts_land_pseudonymised_without_identifiers(lake, tmp_path: Path) -> None:
    store, ingestor = lake
    path = write_extract(tmp_path / "in", "actes", [act_row("1"), act_row("2", patient_nir="")])
    report = ingestor.run([path])
    (f,) = report.files
    assert (f.status, f.rows_read, f.rows_accepted, f.rows_quarantined) == ("landed", 2, 2, 0)

    acts = read_zone(store, ingestor, "raw/acts/").to_pylist()
    assert [a["patient_identity_basis"] for a in acts] == ["nir", "traits"]
    assert acts[0]["patient_birth_year"] == 1950 and acts[0]["patient_birth_month"] == 3
    assert acts[0]["patient_age_years"] == 73
    assert acts[0]["patient_department_code"] == "75"
    assert acts[0]["_source_line"] == 2 and acts[0]["_source_file"] == path.name
    assert str(acts[0]["start_at"]) == "2024-01-15 21:00:00"

    text = all_plaintext(store, ingestor)
    for value in [*IDENTIFIERS.values(), NIR, "Lilas", "0612345678", "02/03/1950", "1950-03-02"]:
        assert value not in text
    # Encrypted footer ('PARE' magic): the stored bytes do not even show the column names.
    (raw_file,) = store.list("raw")
    raw_bytes = store.get(raw_file)
    assert raw_bytes[:4] == raw_bytes[-4:] == b"PARE"
    assert b"patient_pseudonym" not in raw_bytes


BAD_ROWS = [
    pytest.param({"date_debut": "31/02/2024"}, "date_debut", "bad_date", id="impossible-date"),
    pytest.param({"date_debut": "2024-01-15"}, "date_debut", "bad_date", id="iso-date"),
    pytest.param({"heure_appel": "25:10"}, "heure_appel", "bad_time", id="bad-time"),
    pytest.param({"type_acte": "XYZ"}, "type_acte", "unknown_code", id="unknown-act-type"),
    pytest.param({"motif_appel": "NOPE"}, "motif_appel", "unknown_code", id="unknown-call-reason"),
    pytest.param({"patient_nom": ""}, "patient_nom", "missing_required", id="missing-name"),
    pytest.param({"orientation": ""}, "orientation", "missing_required", id="missing-outcome"),
    pytest.param({"patient_nir": NIR[:-2] + "00"}, "patient_nir", "nir_key", id="nir-key"),
    pytest.param({"rpps_medecin": "10001234560"}, "rpps_medecin", "rpps_luhn", id="rpps-luhn"),
    pytest.param(
        {"heure_debut": "19:00"}, "date_debut+heure_debut", "act_times_ordered", id="start-before-call"
    ),
    pytest.param(
        {"patient_date_naissance": "16/01/2024"},
        "patient_date_naissance",
        "birth_before_act",
        id="born-after-act",
    ),
    pytest.param(
        {"date_appel": "01/01/2023", "date_debut": "01/01/2023", "date_fin": "01/01/2023"},
        "date_debut",
        "act_on_extract_day",
        id="act-far-from-extract-day",
    ),
    pytest.param({"num_acte": "1"}, "num_acte", "duplicate_key", id="duplicate-act-id"),
]


@pytest.mark.parametrize(("overrides", "field", "rule"), BAD_ROWS)
def test_each_bad_row_is_quarantined_with_its_reason(lake, tmp_path: Path, overrides, field, rule) -> None:
    store, ingestor = lake
    rows = [act_row("1"), act_row("2"), act_row("3", **overrides)]
    if field == "num_acte":
        rows[2] = act_row("1")
    path = write_extract(tmp_path / "in", "actes", rows)
    (f,) = ingestor.run([path]).files
    assert (f.rows_read, f.rows_accepted, f.rows_quarantined) == (3, 2, 1)
    assert f.reasons == {f"{field}:{rule}": 1}

    (q,) = read_zone(store, ingestor, "quarantine/rows/acts/").to_pylist()
    assert (q["field"], q["rule"], q["line"], q["_source_file"]) == (field, rule, 4, path.name)
    assert path.name in q["message"] and "line 4" in q["message"]
    record = json.loads(q["record"])
    # The record helps find the row, but keeps no identifying field and no value that failed a rule.
    assert "patient_nom" not in record and "note_appel" not in record and "patient_nir" not in record
    for part in field.split("+"):
        assert part not in record
    assert field == "type_acte" or record["type_acte"] == "VAD"


def test_wrong_column_count(lake, tmp_path: Path) -> None:
    store, ingestor = lake
    path = write_extract(tmp_path / "in", "diagnostics", [diagnosis_row(str(i)) for i in range(1, 6)])
    lines = path.read_text().splitlines()
    lines[2] += ";extra"  # second data row: one field too many
    path.write_text("\n".join(lines) + "\n")
    (f,) = ingestor.run([path]).files
    assert (f.rows_read, f.rows_accepted, f.rows_quarantined) == (5, 4, 1)
    assert f.reasons == {"*:column_count": 1}
    q = read_zone(store, ingestor, "quarantine/rows/").to_pylist()
    assert [(r["line"], r["rule"], r["record"]) for r in q] == [(3, "column_count", None)]


def test_a_file_cut_mid_row_is_quarantined_whole_and_the_complete_one_lands(lake, tmp_path: Path) -> None:
    """The contract ends every row with a line break: without one, the transfer was cut short. Landing
    the rows before the cut would lose the rest of the day without a sign."""
    store, ingestor = lake
    path = write_extract(tmp_path / "in", "diagnostics", [diagnosis_row(str(i)) for i in range(1, 6)])
    complete = path.read_bytes()
    path.write_bytes(complete[:-6])  # cut in the middle of the last row
    (f,) = ingestor.run([path]).files
    assert (f.status, f.rows_read, f.rows_accepted, f.reasons) == ("quarantined", 5, 0, {"file:truncated": 5})
    assert path.name in (f.message or "") and "line break" in (f.message or "")
    assert store.list("raw") == []
    path.write_bytes(complete)  # sent again, whole
    (again,) = ingestor.run([path]).files
    assert (again.status, again.rows_accepted) == ("landed", 5)


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_an_unclosed_quote_does_not_swallow_the_next_rows(lake, tmp_path: Path, line_end: str) -> None:
    store, ingestor = lake
    rows = [diagnosis_row(str(i)) for i in range(1, 6)]
    rows[1]["code_thesaurus"] = '"' + rows[1]["code_thesaurus"]  # row 2, physical line 3
    columns = list(ingestor.contract.entities["diagnostics"].source_names)
    text = line_end.join([";".join(columns), *(";".join(r[c] for c in columns) for r in rows)]) + line_end
    path = tmp_path / "in" / "A75001_20240115_diagnostics.csv"
    path.parent.mkdir(parents=True)
    path.write_text(text, newline="")
    (f,) = ingestor.run([path]).files
    assert (f.status, f.rows_read, f.rows_accepted, f.rows_quarantined) == ("landed", 5, 4, 1)
    assert f.reasons == {"*:quoting": 1}
    assert [r["line"] for r in read_zone(store, ingestor, "quarantine/rows/").to_pylist()] == [3]
    landed = read_zone(store, ingestor, "raw/diagnoses/").to_pylist()
    assert sorted((r["_source_line"], r["act_id"]) for r in landed) == [
        (2, "1"),
        (4, "3"),
        (5, "4"),
        (6, "5"),
    ]


def test_row_numbers_hold_on_a_long_file(lake, tmp_path: Path) -> None:
    """300 acts, some with a note over two lines (a quoted field may hold a line break), errors at known
    places before and after them, an unclosed quote, and a bad last row: every landed row and every
    quarantined one names its own first physical line, so an off-by-one anywhere shows."""
    import csv
    import io

    store, ingestor = lake
    columns = list(ingestor.contract.entities["actes"].source_names)
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\n")
    w.writerow(columns)
    line = 2  # physical line of the next record
    first_line: dict[str, int] = {}
    expected_bad: dict[int, str] = {}
    for n in range(1, 301):
        act = str(n)
        note = "appel du fils" if n % 37 else "appel du fils\nrappeler demain"  # 8 notes on two lines
        row = act_row(act, note_appel=note)
        if n == 50:
            row["date_debut"] = "31/02/2024"
            expected_bad[line] = "date_debut:bad_date"
        if n == 300:
            row["heure_fin"] = "25:00"
            expected_bad[line] = "heure_fin:bad_time"
        record = io.StringIO()
        csv.writer(record, delimiter=";", lineterminator="\n").writerow([row[c] for c in columns])
        text = record.getvalue()
        if n == 120:
            text = text.replace("\n", ";extra\n")
            expected_bad[line] = "*:column_count"
        if n == 201:
            text = text.replace(";VAD;", ';"VAD;', 1)  # unclosed: would run into rows 202-...
            expected_bad[line] = "*:quoting"
        out.write(text)
        if line not in expected_bad:
            first_line[act] = line
        line += text.count("\n")
    path = tmp_path / "in" / "A75001_20240115_actes.csv"
    path.parent.mkdir(parents=True)
    path.write_text(out.getvalue(), newline="")
    assert line - 1 == len(out.getvalue().splitlines()) == 309  # 300 rows, 8 of them on two lines

    (f,) = ingestor.run([path]).files
    assert (f.rows_read, f.rows_accepted, f.rows_quarantined) == (300, 296, 4)
    landed = read_zone(store, ingestor, "raw/acts/").to_pylist()
    assert {r["act_id"]: r["_source_line"] for r in landed} == first_line
    q = read_zone(store, ingestor, "quarantine/rows/").to_pylist()
    assert {r["line"]: f"{r['field']}:{r['rule']}" for r in q} == expected_bad
    assert max(expected_bad) == 309  # the last line
    for r in q:
        assert f"line {r['line']}" in r["message"]


def test_the_same_content_under_another_name_is_recognised(lake, tmp_path: Path) -> None:
    store, ingestor = lake
    path = write_extract(tmp_path / "in", "actes", [act_row("1")])
    copy = tmp_path / "in" / "A75001_20240116_actes.csv"  # the same bytes, dated another day
    copy.write_bytes(path.read_bytes())
    other = tmp_path / "other" / "A13001_20240115_actes.csv"  # or named for another association
    other.parent.mkdir()
    other.write_bytes(path.read_bytes())
    first = ingestor.run([path, copy]).files
    later = ingestor.run([other]).files
    assert [f.status for f in first + later] == ["landed", "duplicate", "duplicate"]
    for f in first[1:] + later:
        assert path.name in (f.message or "") and "same content" in (f.message or "")
    assert read_zone(store, ingestor, "raw/acts/").num_rows == 1
    # Header-only files are alike by nature: each association's is a batch of its own.
    empty = [write_extract(tmp_path / "e", "actes", [], association=a) for a in ("A75001", "A13001")]
    assert [f.status for f in ingestor.run(empty).files] == ["landed", "landed"]


def test_windows_1252_file_gives_the_same_pseudonyms_as_utf8(lake, tmp_path: Path) -> None:
    store, ingestor = lake
    row = act_row("1", patient_nir="")  # pseudonym from the accented name
    a = write_extract(tmp_path / "in", "actes", [row], association="A75001")
    b = write_extract(tmp_path / "in", "actes", [row], association="A13001", encoding="cp1252")
    assert "è".encode("cp1252") in b.read_bytes()
    report = ingestor.run([a, b])
    assert [f.status for f in report.files] == ["landed", "landed"]
    manifests = {m.association_id: m for m in all_manifests(store)}
    assert manifests["A13001"].encoding == "cp1252" and manifests["A75001"].encoding == "utf-8"
    acts = read_zone(store, ingestor, "raw/acts/").to_pylist()
    assert len({a["patient_pseudonym"] for a in acts}) == 1


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        pytest.param(lambda p: p.write_bytes(p.read_text().encode("utf-16")), "encoding", id="utf-16"),
        pytest.param(
            lambda p: p.write_bytes(p.read_text().encode("utf-8").decode("cp1252").encode("utf-8")),
            "double_encoded",
            id="double-encoded",
        ),
        pytest.param(lambda p: p.write_bytes(p.read_bytes() + b"\x81\x8d"), "encoding", id="not-text"),
        pytest.param(
            lambda p: p.write_text(p.read_text().replace("patient_nom", "nom_patient")),
            "header",
            id="schema-drift",
        ),
        pytest.param(lambda p: p.write_bytes(b""), "empty_file", id="empty"),
        pytest.param(
            lambda p: p.rename(p.with_name("A75001_20240230_actes.csv")), "file_name", id="bad-date-in-name"
        ),
        pytest.param(
            lambda p: p.rename(p.with_name("A75001_20240115_visites.csv")),
            "unknown_entity",
            id="unknown-entity",
        ),
    ],
)
def test_unusable_file_is_quarantined_whole_and_encrypted(lake, tmp_path: Path, mangle, reason) -> None:
    store, ingestor = lake
    path = write_extract(tmp_path / "in", "actes", [act_row("1"), act_row("2")])
    mangle(path)
    (path,) = list((tmp_path / "in").iterdir())
    original = path.read_bytes()
    (f,) = ingestor.run([path]).files
    assert f.status == "quarantined" and f.reasons == {f"file:{reason}": f.rows_read}
    if reason in NAME_REASONS:
        # A name that failed its checks may be anything, a patient's name included: it is never kept.
        placeholder = f"unrecognised-file-{hashlib.sha256(original).hexdigest()[:12]}"
        assert f.file == placeholder and placeholder in (f.message or "")
        assert path.name not in all_plaintext(store, ingestor) + " ".join(store.list(""))
    else:
        assert path.name in (f.message or "")
    assert f.rows_accepted == 0 and f.rows_quarantined == f.rows_read
    assert store.list("raw") == []
    (m,) = all_manifests(store)
    assert m.file_reason == reason
    (out,) = m.outputs
    blob = store.get(out.path)
    assert b"Jeanne" not in blob and b"Lilas" not in blob
    key = DataKeyring(store, ingestor.keystore).get(out.key_id).key
    assert decrypt_blob(blob, key, aad=m.batch_id.encode(), path=out.path) == original


def _dated_act(act_id: str, day: str) -> dict[str, str]:
    return act_row(act_id, date_appel=day, date_debut=day, date_fin=day)


def test_a_period_file_lands_as_one_batch_dated_by_its_last_day(lake, tmp_path: Path) -> None:
    store, ingestor = lake
    rows = [
        _dated_act("1", "25/12/2023"),  # 7 days before the first day: a re-sent correction, accepted
        _dated_act("2", "01/01/2024"),
        _dated_act("3", "31/01/2024"),
        _dated_act("4", "01/02/2024"),  # the day after the last one (an act begun before midnight)
        _dated_act("5", "24/12/2023"),  # 8 days before the first day
        _dated_act("6", "02/02/2024"),  # 2 days after the last day
    ]
    path = write_extract(tmp_path / "in", "actes", rows, name="A75001_20240101_20240131_actes.csv")
    (f,) = ingestor.run([path]).files
    assert (f.status, f.rows_read, f.rows_accepted) == ("landed", 6, 4)
    assert f.reasons == {"date_debut:act_on_extract_day": 2}
    q = read_zone(store, ingestor, "quarantine/rows/acts/").to_pylist()
    assert sorted(r["line"] for r in q) == [6, 7]
    (m,) = all_manifests(store)
    assert (m.extract_date, m.source_file) == ("2024-01-31", path.name)
    raw = [o.path for o in m.outputs if o.zone == "raw"]
    assert raw == [f"raw/acts/association_id=A75001/extract_date=2024-01-31/{m.batch_id}.parquet"]
    acts = read_zone(store, ingestor, "raw/acts/").to_pylist()
    assert {str(a["extract_date"]) for a in acts} == {"2024-01-31"}
    assert sorted(a["act_id"] for a in acts) == ["1", "2", "3", "4"]


def test_a_daily_file_keeps_its_one_day_window(lake, tmp_path: Path) -> None:
    _, ingestor = lake
    days = ("08/01/2024", "07/01/2024", "16/01/2024", "17/01/2024")  # the extract day is 15/01/2024
    rows = [_dated_act(str(i), day) for i, day in enumerate(days, start=1)]
    (f,) = ingestor.run([write_extract(tmp_path / "in", "actes", rows)]).files
    assert (f.rows_accepted, f.reasons) == (2, {"date_debut:act_on_extract_day": 2})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "A75001_20240131_20240101_actes.csv", "ends (01/01/2024) before it starts", id="reversed"
        ),
        pytest.param(
            "A75001_20230101_20240131_actes.csv", "covers 396 days, more than the 366", id="too-long"
        ),
    ],
)
def test_a_nonsense_period_quarantines_the_whole_file(lake, tmp_path: Path, name: str, expected: str) -> None:
    store, ingestor = lake
    path = write_extract(tmp_path / "in", "actes", [act_row("1"), act_row("2")], name=name)
    (f,) = ingestor.run([path]).files
    assert (f.status, f.file, f.reasons) == ("quarantined", name, {"file:period": 2})
    assert f.message is not None and name in f.message and expected in f.message
    assert store.list("raw") == []
    (m,) = all_manifests(store)
    assert (m.file_reason, m.source_file) == ("period", name)


def test_a_leap_year_period_is_accepted(lake, tmp_path: Path) -> None:
    _, ingestor = lake
    rows = [_dated_act("1", "31/12/2024")]
    path = write_extract(tmp_path / "in", "actes", rows, name="A75001_20240101_20241231_actes.csv")
    (f,) = ingestor.run([path]).files
    assert (f.status, f.rows_accepted) == ("landed", 1)


def test_same_file_twice_changes_nothing_and_a_correction_is_a_new_batch(lake, tmp_path: Path) -> None:
    store, ingestor = lake
    path = write_extract(tmp_path / "in", "actes", [act_row("1")])
    first = ingestor.run([path]).files[0]
    objects = [p for p in store.list("") if not p.startswith("_audit/")]
    again = ingestor.run([path]).files[0]
    assert (first.status, again.status) == ("landed", "duplicate")
    assert [p for p in store.list("") if not p.startswith("_audit/")] == objects
    # Each run is in the audit trail, the no-op one included.
    runs = [e for e in audit.entries(store) if e.action == "ingest"]
    assert [(e.data["files_landed"], e.data["files_duplicate"]) for e in runs] == [(1, 0), (0, 1)]
    write_extract(tmp_path / "in", "actes", [act_row("1", orientation="URG")])  # same name, new content
    corrected = ingestor.run([path]).files[0]
    assert corrected.status == "landed"
    assert [a["outcome"] for a in read_zone(store, ingestor, "raw/acts/").to_pylist()] in (
        ["DOM", "URG"],
        ["URG", "DOM"],
    )


def test_half_written_batch_is_rolled_back_then_landed(lake, tmp_path: Path) -> None:
    store, ingestor = lake
    path = write_extract(tmp_path / "in", "actes", [act_row("1")])
    # What a crash after the data file and before the manifest leaves behind.
    batch = ingestor.ingest_file(path)
    (m,) = all_manifests(store)
    store.delete(f"manifests/{m.batch_id}.json")
    begin(store, m.batch_id, [o.path for o in m.outputs])
    assert all_manifests(store) == []

    report = ingestor.run([path])
    assert report.rolled_back == [m.batch_id]
    assert report.files[0].status == "landed" and batch.status == "landed"
    assert store.list("manifests/_pending") == []
    assert read_zone(store, ingestor, "raw/acts/").num_rows == 1


def test_a_second_writer_is_refused_while_the_first_runs(lake, tmp_path: Path) -> None:
    store, ingestor = lake
    path = write_extract(tmp_path / "in", "actes", [act_row("1")])
    with writer_lock(store):
        with pytest.raises(LakeLockedError, match=r"another ingest is writing to this lake \(pid \d+"):
            ingestor.run([path])
    assert all_manifests(store) == []
    assert ingestor.run([path]).files[0].status == "landed"  # released on exit
    assert not store.exists(LOCK_PATH)


def test_a_lock_left_by_a_dead_process_is_taken_over(lake, tmp_path: Path) -> None:
    store, ingestor = lake
    import socket

    # Above the kernel's pid_max (2**22): no process can have it.
    store.put(LOCK_PATH, json.dumps({"host": socket.gethostname(), "pid": 2**22 + 1, "since": "x"}).encode())
    path = write_extract(tmp_path / "in", "actes", [act_row("1")])
    assert ingestor.run([path]).files[0].status == "landed"


def test_folders_are_searched_recursively_skipping_hidden_files_only_below_them(tmp_path: Path) -> None:
    root = tmp_path / ".hidden-parent" / "extracts"
    a = write_extract(root / "A75001", "actes", [act_row("1")])
    write_extract(root / ".partial", "actes", [act_row("1")])
    (root / ".DS_Store").write_text("x")
    assert find_extract_files([root]) == [a]


def test_an_objecting_patient_is_not_landed_nor_their_acts_diagnoses(lake, tmp_path: Path) -> None:
    from ingest.governance.opposition import add_identities

    store, ingestor = lake
    add_identities(store, ingestor.keystore, [NIR_PATIENT])
    other = {"patient_nir": "", "patient_nom": "Autre"}
    acts = write_extract(tmp_path / "in", "actes", [act_row("1"), act_row("2", **other), act_row("3")])
    diags = write_extract(tmp_path / "in", "diagnostics", [diagnosis_row("1"), diagnosis_row("2")])
    report = ingestor.run([acts, diags])
    assert [(f.rows_read, f.rows_accepted, f.rows_quarantined, f.rows_opposed) for f in report.files] == [
        (3, 1, 0, 2),
        (2, 1, 0, 1),
    ]
    assert [a["act_id"] for a in read_zone(store, ingestor, "raw/acts/").to_pylist()] == ["2"]
    assert [d["act_id"] for d in read_zone(store, ingestor, "raw/diagnoses/").to_pylist()] == ["2"]
    assert {m.source_file: m.rows_opposed for m in all_manifests(store)} == {acts.name: 2, diags.name: 1}
    (run,) = [e for e in audit.entries(store) if e.action == "ingest"]
    assert run.data["rows_opposed"] == 3
