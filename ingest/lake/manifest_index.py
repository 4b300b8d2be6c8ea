"""The raw-zone files that committed manifests name, kept in a local cache between builds.

Every `dbt build` needs the list of committed raw files (ingest/build/dbt_plugin.py). Reading every manifest
costs one GET each: ~0.2 ms on a local disk, tens of ms on S3, and a network sending daily files writes
about 140,000 manifests a year (64 associations x 6 entities x 365 days), so ten years of history would
cost minutes of every daily build on a disk and hours on S3. The cache keeps, per manifest, its version
(from the store's listing) and its raw outputs; a build lists the manifests once (one LIST per 1,000 on
S3) and reads only those new or rewritten since (a purge, a rotation and an objection rewrite
manifests in place; a new version is read again). The manifests stay the only source of truth: the
cache is derived, holds no health data (paths, key ids, dataset names), and a missing, stale or
unreadable cache is rebuilt from the manifests.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.lake.manifest import MANIFEST_PREFIX, PENDING_PREFIX, Manifest
from ingest.lake.storage import ObjectStore

log = logging.getLogger(__name__)

# One row per (manifest, raw output); a manifest with no committed raw output keeps one row with null
# output fields, so that it is not read again on every build.
_SCHEMA = pa.schema(
    [
        ("manifest", pa.string()),
        ("version", pa.string()),
        ("dataset", pa.string()),
        ("path", pa.string()),
        ("key_id", pa.string()),
    ]
)
_FORMAT = b"lakehouse-manifest-index/1"
_READERS = 16  # parallel GETs of new manifests (S3 latency-bound; harmless on a disk)


@dataclass(frozen=True)
class RawFile:
    dataset: str
    path: str
    key_id: str


@dataclass(frozen=True)
class IndexResult:
    files: list[RawFile]
    manifests: int  # committed and other manifests listed
    read: int  # manifests read from the store by this call (the rest came from the cache)


def _rows(manifest_path: str, version: str, manifest: Manifest) -> list[dict[str, str | None]]:
    rows: list[dict[str, str | None]] = []
    if manifest.status == "committed" and manifest.dataset is not None:
        rows = [
            {
                "manifest": manifest_path,
                "version": version,
                "dataset": manifest.dataset,
                "path": o.path,
                "key_id": o.key_id,
            }
            for o in manifest.outputs
            if o.zone == "raw"
        ]
    return rows or [
        {"manifest": manifest_path, "version": version, "dataset": None, "path": None, "key_id": None}
    ]


def _load_cache(cache: Path, lake_url: str) -> pa.Table | None:
    try:
        table = pq.read_table(cache, schema=_SCHEMA)
        meta = pq.read_schema(cache).metadata or {}
    except FileNotFoundError:
        return None
    except Exception as e:  # a torn or foreign file: rebuilt from the manifests, never trusted
        log.warning("Manifest cache `%s` unreadable (%s): rebuilding it from the manifests", cache, e)
        return None
    if meta.get(b"format") != _FORMAT or meta.get(b"lake") != lake_url.encode():
        return None
    return table


def _save_cache(cache: Path, lake_url: str, table: pa.Table) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    table = table.replace_schema_metadata({b"format": _FORMAT, b"lake": lake_url.encode()})
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, cache)  # two builds racing: the last one wins, both caches are right


def committed_raw_files(store: ObjectStore, cache: Path | None = None) -> IndexResult:
    """The raw files committed manifests name, reading only the manifests the cache does not hold at their
    current version (all of them without a cache)."""
    versions = {
        path: version
        for path, version in store.list_versions(MANIFEST_PREFIX).items()
        if path.endswith(".json") and not path.startswith(PENDING_PREFIX + "/")
    }
    cached = _load_cache(cache, store.url) if cache is not None else None
    current = pa.table(
        {"manifest": list(versions), "version": list(versions.values())},
        schema=pa.schema([("manifest", pa.string()), ("version", pa.string())]),
    )
    kept = _SCHEMA.empty_table()
    missing_table = current
    if cached is not None and cached.num_rows:
        # Rows of manifests still listed at the same version; the others (rewritten, deleted) go.
        kept = cached.join(current, ["manifest", "version"], join_type="inner").select(_SCHEMA.names)
        missing_table = current.join(kept, ["manifest", "version"], join_type="left anti")
    missing = list(
        zip(
            missing_table.column("manifest").to_pylist(),
            missing_table.column("version").to_pylist(),
            strict=True,
        )
    )

    def read(item: tuple[str, str]) -> list[dict[str, str | None]]:
        path, version = item
        return _rows(path, version, Manifest.from_json(store.get(path)))

    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        new_rows = [row for rows in pool.map(read, missing) for row in rows]
    table = pa.concat_tables([kept, pa.Table.from_pylist(new_rows, schema=_SCHEMA)])
    if cache is not None and (missing or cached is None or kept.num_rows != cached.num_rows):
        _save_cache(cache, store.url, table)
    committed = table.filter(pc.is_valid(table.column("path"))).sort_by(
        [("manifest", "ascending"), ("path", "ascending")]
    )
    files = [
        RawFile(dataset, path, key_id)
        for dataset, path, key_id in zip(
            committed.column("dataset").to_pylist(),
            committed.column("path").to_pylist(),
            committed.column("key_id").to_pylist(),
            strict=True,
        )
    ]
    return IndexResult(files=files, manifests=len(versions), read=len(missing))
