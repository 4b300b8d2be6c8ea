"""The cached list of committed raw files (ingest/lake/manifest_index.py), on both object stores: always equal
to what every manifest says, while reading only the manifests new or rewritten since the last call."""

from __future__ import annotations

from pathlib import Path

from ingest.governance.rotation import retire_data_key
from ingest.lake.keys import LocalKeyStore
from ingest.lake.manifest import all_manifests, manifest_path
from ingest.lake.manifest_index import RawFile, committed_raw_files
from ingest.lake.storage import ObjectStore, open_store
from ingest.landing.land import Ingestor
from tests.extract_builder import act_row, diagnosis_row, write_extract


def _from_every_manifest(store: ObjectStore) -> list[tuple[str, str, str]]:
    return sorted(
        (m.dataset, o.path, o.key_id)
        for m in all_manifests(store)
        if m.status == "committed" and m.dataset is not None
        for o in m.outputs
        if o.zone == "raw"
    )


def _listed(files: list[RawFile]) -> list[tuple[str, str, str]]:
    return sorted((f.dataset, f.path, f.key_id) for f in files)


def _day(folder: Path, d: int) -> list[Path]:
    dd = f"{d:02d}/01/2024"
    acts = [act_row(f"{d}-{i}", date_appel=dd, date_debut=dd, date_fin=dd) for i in range(5)]
    return [
        write_extract(folder, "actes", acts, day=f"202401{d:02d}"),
        write_extract(
            folder, "diagnostics", [diagnosis_row(f"{d}-{i}") for i in range(5)], day=f"202401{d:02d}"
        ),
    ]


def test_cache_reads_only_new_and_rewritten_manifests(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    cache = tmp_path / "warehouse.duckdb.manifests.parquet"
    unusable = write_extract(tmp_path / "bad", "actes", [act_row("x")], day="20240109")
    unusable.write_bytes(unusable.read_text().encode("utf-16"))  # quarantined whole: no raw file
    Ingestor(store, keystore).run([*_day(tmp_path / "in", 1), *_day(tmp_path / "in", 2), unusable])

    first = committed_raw_files(store, cache, keystore=keystore)
    assert (first.manifests, first.read) == (5, 5)
    assert _listed(first.files) == _from_every_manifest(store) and len(first.files) == 4

    again = committed_raw_files(store, cache, keystore=keystore)
    assert again.read == 0  # the quarantined file's manifest is remembered too
    assert again.files == first.files

    Ingestor(store, keystore).run(_day(tmp_path / "in", 3))
    after_day = committed_raw_files(store, cache, keystore=keystore)
    assert (after_day.manifests, after_day.read) == (7, 2)
    assert _listed(after_day.files) == _from_every_manifest(store) and len(after_day.files) == 6

    # Retiring a data key re-encrypts its files and rewrites their manifests in place: read again.
    acts_key = next(f.key_id for f in after_day.files if f.dataset == "acts")
    retire_data_key(store, keystore, acts_key)
    rotated = committed_raw_files(store, cache, keystore=keystore)
    assert rotated.read == 3
    assert _listed(rotated.files) == _from_every_manifest(store)
    assert {f.key_id for f in rotated.files if f.dataset == "acts"} == {f"{acts_key}.v2"}

    # A manifest gone from the lake takes its files with it.
    gone = next(m for m in all_manifests(store) if m.dataset == "diagnoses")
    store.delete(manifest_path(gone.batch_id))
    after_delete = committed_raw_files(store, cache, keystore=keystore)
    assert after_delete.read == 0
    assert _listed(after_delete.files) == _from_every_manifest(store) and len(after_delete.files) == 5


def test_a_torn_or_foreign_cache_is_rebuilt_from_the_manifests(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    cache = tmp_path / "warehouse.duckdb.manifests.parquet"
    Ingestor(local_store, keystore).run(_day(tmp_path / "in", 1))
    expected = _from_every_manifest(local_store)

    cache.write_bytes(b"PAR1 not a parquet file")
    rebuilt = committed_raw_files(local_store, cache, keystore=keystore)
    assert rebuilt.read == 2 and _listed(rebuilt.files) == expected
    assert committed_raw_files(local_store, cache, keystore=keystore).read == 0

    # The same cache file used for another lake: nothing of it is trusted.
    other = open_store(str(tmp_path / "other-lake"))
    Ingestor(other, keystore).run(_day(tmp_path / "in2", 2))
    assert committed_raw_files(other, cache, keystore=keystore).read == 2
    assert _listed(committed_raw_files(other, cache, keystore=keystore).files) == _from_every_manifest(other)
