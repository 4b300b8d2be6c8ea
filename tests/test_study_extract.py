"""Study extracts: per-project pseudonyms that two projects cannot link, protocol columns only, k-anonymity
checked before anything is written, every attempt in the audit trail."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.governance.study_extract import (
    ExtractRefused,
    extract_from_query,
    load_protocol,
    open_raw_zone,
    parse_protocol,
    write_extract,
)
from ingest.lake import audit
from ingest.lake.keys import LocalKeyStore
from ingest.lake.storage import ObjectStore
from ingest.landing.land import Ingestor
from tests.test_purge import build_lake

PROTOCOL = """\
project_id: {project}
description: influenza-like illness and age
columns: [patient_pseudonym, patient_sex, age_band, patient_department_code, icd10_code]
quasi_identifiers: [patient_sex, age_band, patient_department_code]
k: {k}
"""


def _protocol(tmp_path: Path, project: str = "grippe-2024", k: int = 3):
    path = tmp_path / f"{project}.yaml"
    path.write_text(PROTOCOL.format(project=project, k=k))
    return load_protocol(path)


def _cohort(n_patients: int = 12) -> pa.Table:
    """Two records per patient; patients 0-5 share one class, 6 and above another."""
    rows = []
    for i in range(n_patients):
        for _ in range(2):
            rows.append(
                {
                    "patient_pseudonym": f"{i:032x}",
                    "patient_sex": "F" if i < 6 else "M",
                    "age_band": "65+" if i < 6 else "15-64",
                    "patient_department_code": "75",
                    "icd10_code": "J111",
                    "act_id": f"act-{i}",  # present in the query, never extracted
                    "_source_file": "A75001_20240115_actes.csv",
                }
            )
    return pa.Table.from_pylist(rows)


def test_extract_has_protocol_columns_and_unlinkable_project_pseudonyms(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    cohort = _cohort()
    a = write_extract(cohort, _protocol(tmp_path, "grippe-2024"), keystore, local_store, tmp_path / "out")
    b = write_extract(cohort, _protocol(tmp_path, "bronchio-2024"), keystore, local_store, tmp_path / "out")
    again = write_extract(cohort, _protocol(tmp_path, "grippe-2024"), keystore, local_store, tmp_path / "o2")
    ta, tb, tagain = (pq.read_table(x.path) for x in (a, b, again))
    assert ta.column_names == [
        "patient_pseudonym",
        "patient_sex",
        "age_band",
        "patient_department_code",
        "icd10_code",
    ]
    assert (a.rows, a.patients, a.classes) == (24, 12, 2)
    lake = set(cohort["patient_pseudonym"].to_pylist())
    pa_ids, pb_ids = set(ta["patient_pseudonym"].to_pylist()), set(tb["patient_pseudonym"].to_pylist())
    assert len(pa_ids) == len(pb_ids) == 12
    assert not pa_ids & pb_ids and not pa_ids & lake and not pb_ids & lake  # nothing links
    assert ta["patient_pseudonym"] == tagain["patient_pseudonym"]  # stable within a project
    # Records of one patient stay together inside the project.
    assert ta["patient_pseudonym"][0] == ta["patient_pseudonym"][1]
    (first, *_) = audit.entries(local_store)
    assert (first.action, first.outcome, first.data["project_id"], first.data["rows"]) == (
        "extract",
        "success",
        "grippe-2024",
        24,
    )


def test_k_anonymity_failure_refuses_before_writing(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    lonely = [dict(r, age_band="0-4") for r in _cohort(13).slice(24).to_pylist()]  # alone in its class
    cohort = pa.concat_tables([_cohort(), pa.Table.from_pylist(lonely)])
    unique = "0-4"
    with pytest.raises(ExtractRefused) as info:
        write_extract(cohort, _protocol(tmp_path, k=3), keystore, local_store, tmp_path / "out")
    message = str(info.value)
    assert "1 of 3 equivalence classes" in message and "fewer than k=3" in message
    assert "patient_sex, age_band, patient_department_code" in message
    assert unique not in message and "75" not in message.replace("k=3", "")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    (entry,) = audit.entries(local_store)
    assert (entry.outcome, entry.data["classes_below_k"]) == ("refused", 1)


def test_k_counts_patients_not_records(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    # Six records of one patient in a class: six records, one patient, so k=3 fails.
    rows = _cohort().to_pylist()[:12] + [dict(_cohort().to_pylist()[12], patient_pseudonym="f" * 32)] * 6
    with pytest.raises(ExtractRefused, match="1 of 2 equivalence classes"):
        write_extract(pa.Table.from_pylist(rows), _protocol(tmp_path), keystore, local_store, tmp_path / "o")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {
                "project_id": "p1",
                "columns": ["act_id", "patient_sex"],
                "quasi_identifiers": ["patient_sex"],
                "k": 5,
            },
            "lists columns never extracted: act_id",
        ),
        (
            {
                "project_id": "p1",
                "columns": ["patient_sex"],
                "quasi_identifiers": ["patient_age_years"],
                "k": 5,
            },
            "names columns not extracted: patient_age_years",
        ),
        ({"project_id": "p1", "columns": ["a"], "quasi_identifiers": ["a"], "k": 1}, "field `k`"),
        ({"project_id": "P 1", "columns": ["a"], "quasi_identifiers": ["a"], "k": 5}, "field `project_id`"),
        (
            {
                "project_id": "p1",
                "columns": ["patient_pseudonym"],
                "quasi_identifiers": ["patient_pseudonym"],
                "k": 5,
            },
            "cannot hold pseudonym columns",
        ),
    ],
)
def test_bad_protocols_are_refused(document: dict, message: str) -> None:
    with pytest.raises(ExtractRefused, match=message):
        parse_protocol(document, "p.yaml")


def test_extract_from_a_query_over_the_encrypted_raw_zone(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    Ingestor(local_store, keystore).run(build_lake(tmp_path / "in"))
    con = open_raw_zone(local_store, keystore)
    sql = """
        select a.patient_pseudonym, a.patient_sex, a.patient_department_code, d.icd10_code
        from raw_acts a join raw_diagnoses d using (association_id, act_id)
        where d.diagnosis_rank = 1
    """
    proto = parse_protocol(
        {
            "project_id": "cohort-a",
            "columns": ["patient_pseudonym", "patient_sex", "patient_department_code", "icd10_code"],
            "quasi_identifiers": ["patient_sex", "patient_department_code"],
            "k": 3,
        }
    )
    result = extract_from_query(con, sql, proto, keystore, local_store, tmp_path / "out")
    # 16 acts: the objector's 2 pseudonyms (NIR, traits) and one other patient: 3 patients in one class.
    assert (result.rows, result.patients, result.classes) == (16, 3, 1)
    stricter = parse_protocol(
        {
            "project_id": "cohort-a",
            "columns": list(proto.columns),
            "quasi_identifiers": list(proto.quasi_identifiers),
            "k": 4,
        }
    )
    with pytest.raises(ExtractRefused, match="1 of 1 equivalence classes"):
        extract_from_query(con, sql, stricter, keystore, local_store, tmp_path / "out2")
