"""Ingest at scale: files are prepared in worker processes and written by one writer, in input order.

A parallel run must land exactly what a sequential run lands (same files, rows, quarantine, reports),
including the order-dependent rules: the children of an act whose patient objects are dropped with it,
and a file given twice in one run is a duplicate the second time.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from ingest.governance.opposition import add_pseudonyms
from ingest.lake.keys import LocalKeyStore
from ingest.lake.storage import ObjectStore, open_store
from ingest.landing.land import Ingestor, find_extract_files
from ingest.synth import generate_extracts
from tests.test_purge import zone_rows


def _comparable(rows: dict[tuple[str, str], list[dict]]) -> dict[tuple[str, str], list[dict]]:
    # The ingestion time is the only column that differs between two runs of the same files.
    return {k: [{c: v for c, v in r.items() if c != "_ingested_at"} for r in rs] for k, rs in rows.items()}


def _report(store: ObjectStore, keystore: LocalKeyStore, paths: list[Path], workers: int) -> list[tuple]:
    report = Ingestor(store, keystore).run(paths, workers=workers)
    return [
        (f.file, f.status, f.rows_read, f.rows_accepted, f.rows_quarantined, f.rows_opposed, dict(f.reasons))
        for f in report.files
    ]


@pytest.fixture
def extracts(tmp_path: Path) -> list[Path]:
    out = tmp_path / "extracts"
    generate_extracts(
        out, date(2024, 2, 1), date(2024, 2, 4), n_associations=2, scale=0.1, invalid_share=0.03
    )
    # The same file under a second path: one batch, seen twice in the same run.
    again = tmp_path / "again"
    again.mkdir()
    first = sorted(out.rglob("*_actes.csv"))[0]
    shutil.copy(first, again / first.name)
    return [*find_extract_files([out]), again / first.name]


def test_parallel_ingest_lands_what_a_sequential_one_does(
    tmp_path: Path, keystore: LocalKeyStore, extracts: list[Path]
) -> None:
    # A patient with several acts (hence diagnoses, prescriptions, vital signs) objects before the run.
    probe = open_store(tmp_path / "probe")
    Ingestor(probe, keystore).run(extracts, workers=1)
    acts = zone_rows(probe, keystore)[("raw", "acts")]
    counts: dict[str, int] = {}
    for row in acts:
        counts[row["patient_pseudonym"]] = counts.get(row["patient_pseudonym"], 0) + 1
    objector = max(counts, key=lambda p: counts[p])

    lakes = {}
    reports = {}
    for workers in (1, 2):
        store = open_store(tmp_path / f"lake-{workers}")
        add_pseudonyms(store, keystore, [objector])
        reports[workers] = _report(store, keystore, extracts, workers)
        lakes[workers] = _comparable(zone_rows(store, keystore))

    assert reports[2] == reports[1]
    assert lakes[2] == lakes[1]
    statuses = [r[1] for r in reports[2]]
    assert statuses[-1] == "duplicate" and statuses.count("duplicate") == 1
    assert sum(r[4] for r in reports[2]) > 0  # invalid rows were quarantined
    opposed = {r[0].rsplit("_", 1)[-1]: 0 for r in reports[2]}
    for r in reports[2]:
        opposed[r[0].rsplit("_", 1)[-1]] += r[5]
    # The objector's acts and, through them, rows of the child datasets were dropped.
    assert opposed["actes.csv"] == counts[objector]
    assert opposed["diagnostics.csv"] > 0
    assert all(r["patient_pseudonym"] != objector for r in lakes[2][("raw", "acts")])
