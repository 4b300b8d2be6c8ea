"""The retention period at its boundary: a batch whose extract date is exactly `years` before today is
kept, one a day older is deleted (tests/test_purge.py covers what a purge removes and shreds)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ingest.governance.purge import purge_retention
from ingest.lake.keys import LocalKeyStore
from ingest.lake.manifest import all_manifests
from ingest.lake.storage import ObjectStore
from ingest.landing.land import Ingestor
from tests.extract_builder import act_row, write_extract


def _acts_of_day(folder: Path, day: date) -> Path:
    dd = day.strftime("%d/%m/%Y")
    row = act_row(f"R{day:%m%d}", date_appel=dd, date_debut=dd, date_fin=dd)
    return write_extract(folder, "actes", [row], day=f"{day:%Y%m%d}")


def test_retention_keeps_the_cutoff_day_and_deletes_the_day_before(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    days = [date(2004, 5, 31), date(2004, 6, 1), date(2004, 6, 2)]
    report = Ingestor(local_store, keystore).run([_acts_of_day(tmp_path / "in", d) for d in days])
    assert [f.status for f in report.files] == ["landed"] * 3, report.files

    # Twenty years before 1 June 2024 is 1 June 2004: that day is still within the period.
    result = purge_retention(local_store, keystore, years=20, today=date(2024, 6, 1))

    assert result.batches_rewritten == 1
    kept = {m.extract_date for m in all_manifests(local_store) if m.dataset == "acts" and m.outputs}
    emptied = {m.extract_date for m in all_manifests(local_store) if m.dataset == "acts" and not m.outputs}
    assert kept == {"2004-06-01", "2004-06-02"} and emptied == {"2004-05-31"}
