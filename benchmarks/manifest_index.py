"""What listing the committed raw files costs a build as manifests accumulate, without and with the
cache of ingest/lake/manifest_index.py. Writes N manifests (one per daily file: a network sending daily
files writes ~140,000 a year) into a scratch local lake, then times:
  - reading every manifest (what each build did before the cache),
  - the first cached call (reads them all and writes the cache),
  - the next call with one new manifest (what a daily build pays),
and prints the figures as JSON.

    .venv/bin/python benchmarks/manifest_index.py --manifests 140000 [--workdir /tmp/manifests]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from ingest.lake.keys import init_keystore, open_keystore
from ingest.lake.manifest import Manifest, Output, all_manifests, manifest_path
from ingest.lake.manifest_index import committed_raw_files
from ingest.lake.manifest_seal import seal
from ingest.lake.storage import open_store


def _manifest(i: int, keystore) -> Manifest:  # type: ignore[no-untyped-def]
    batch = f"{i:032x}"
    day = f"2024-01-{i % 28 + 1:02d}"
    return Manifest(
        batch_id=batch, status="committed", source_file=f"A{i % 64:05d}_{day}_actes.csv",
        source_sha256=batch * 2, source_size=60_000, entity="actes", dataset="acts",
        association_id=f"A{i % 64:05d}", extract_date=day, encoding="utf-8", contract="urgent-care",
        contract_version="1.1.0", rows_read=170, rows_accepted=170, rows_quarantined=0,
        quarantine_reasons={},
        outputs=[Output("raw", f"raw/acts/association_id=A{i % 64:05d}/extract_date={day}/{batch}.parquet",
                        170, "raw/acts/2024-01", batch * 2)],
        ingested_at=f"{day}T06:00:00+00:00", ingest_version="0.1.0",
        pseudonym_secret_version="v1",  # noqa: S106
    ) if keystore is None else seal(_manifest(i, None), keystore)  # fmt: skip


def _timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return result, round(time.perf_counter() - start, 3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manifests", type=int, default=140_000)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="manifest-index-"))
    lake = folder / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    store = open_store(str(lake))
    keystore_file, _ = init_keystore(folder / "keystore.json")
    keystore = open_keystore(keystore_file)
    # Written straight to the folder (the store's put fsyncs each object: minutes for nothing here).
    (lake / "manifests").mkdir(parents=True)
    _, write_s = _timed(
        lambda: [
            (lake / manifest_path(f"{i:032x}")).write_bytes(_manifest(i, keystore).to_json())
            for i in range(args.manifests)
        ]
    )
    cache = folder / "warehouse.duckdb.manifests.parquet"
    cache.unlink(missing_ok=True)
    every, every_s = _timed(lambda: all_manifests(store))
    first, first_s = _timed(lambda: committed_raw_files(store, cache, keystore=keystore))
    store.put(manifest_path(f"{args.manifests:032x}"), _manifest(args.manifests, keystore).to_json())
    daily, daily_s = _timed(lambda: committed_raw_files(store, cache, keystore=keystore))
    print(json.dumps({
        "manifests": args.manifests,
        "write_manifests_s": write_s,
        "read_every_manifest_s": every_s,
        "cached_first_call_s": first_s,
        "cached_next_day_s": daily_s,
        "next_day_manifests_read": daily.read,
        "cache_bytes": cache.stat().st_size,
        "files_listed": len(daily.files),
    }, indent=2))  # fmt: skip
    assert len(every) == args.manifests and first.read == args.manifests and daily.read == 1
    if args.workdir is None:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
