"""The raw-zone files that committed manifests name, kept in a local cache between builds.

Every `dbt build` needs the list of committed raw files (ingest/build/dbt_plugin.py). Reading every manifest
costs one GET each: ~0.2 ms on a local disk, tens of ms on S3, and a network sending daily files writes
about 140,000 manifests a year (64 associations x 6 entities x 365 days), so ten years of history would
cost minutes of every daily build on a disk and hours on S3. The cache keeps, per manifest, its version
(from the store's listing) and its raw outputs; a build lists the manifests once (one LIST per 1,000 on
S3) and reads only those new or rewritten since (a purge, a rotation and an objection rewrite
manifests in place; a new version is read again). The manifests stay the only source of truth: the
cache is derived, holds no health data (paths, key ids, dataset names, digests), and a missing, stale or
unreadable cache is rebuilt from the manifests.

Each manifest read is authenticated (its seal: ingest.lake.manifest_seal) and the cache keeps each file's
digest, which the build checks before it decrypts the file. So that the cache is no way around the seals,
it is itself sealed: an HMAC of its bytes under the manifest key, in `<cache>.mac`; a cache whose MAC
fails (edited, or torn between the two writes) is not trusted and is rebuilt from the manifests.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.exceptions import LakeIntegrityError
from ingest.lake.keys import KeyStore
from ingest.lake.manifest import MANIFEST_PREFIX, PENDING_PREFIX, Manifest
from ingest.lake.manifest_seal import IntegrityReport, UnsealedManifestError, open_manifest
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
        ("sha256", pa.string()),
    ]
)
_FORMAT = b"lakehouse-manifest-index/2"
_READERS = 16  # parallel GETs of new manifests (S3 latency-bound; harmless on a disk)


@dataclass(frozen=True)
class RawFile:
    dataset: str
    path: str
    key_id: str
    sha256: str


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
                "sha256": o.sha256,
            }
            for o in manifest.outputs
            if o.zone == "raw"
        ]
    return rows or [
        {
            "manifest": manifest_path,
            "version": version,
            "dataset": None,
            "path": None,
            "key_id": None,
            "sha256": None,
        }
    ]


def _mac_path(cache: Path) -> Path:
    return cache.with_name(cache.name + ".mac")


def _cache_mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, b"lakehouse-manifest-index\0" + data, hashlib.sha256).hexdigest()


def _load_cache(cache: Path, lake_url: str, key: bytes) -> pa.Table | None:
    try:
        data = cache.read_bytes()
        mac = _mac_path(cache).read_text("ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        log.warning("Manifest cache `%s` unreadable (%s): rebuilding it from the manifests", cache, e)
        return None
    if not hmac.compare_digest(_cache_mac(key, data).encode(), mac.encode()):
        log.warning("Manifest cache `%s` does not match its MAC: rebuilding it from the manifests", cache)
        return None
    try:
        # Parsed from the bytes whose MAC was checked, not read again from the file.
        table = pq.read_table(pa.BufferReader(data), schema=_SCHEMA)
        meta = pq.read_schema(pa.BufferReader(data)).metadata or {}
    except Exception as e:  # a torn or foreign file: rebuilt from the manifests, never trusted
        log.warning("Manifest cache `%s` unreadable (%s): rebuilding it from the manifests", cache, e)
        return None
    if meta.get(b"format") != _FORMAT or meta.get(b"lake") != lake_url.encode():
        return None
    return table


def _save_cache(cache: Path, lake_url: str, table: pa.Table, key: bytes) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    table = table.replace_schema_metadata({b"format": _FORMAT, b"lake": lake_url.encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    data = sink.getvalue().to_pybytes()
    for path, payload in ((cache, data), (_mac_path(cache), _cache_mac(key, data).encode("ascii"))):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(payload)
        # Two builds racing: the last one wins, both caches are right; a pair torn between them fails
        # its MAC and is rebuilt.
        os.replace(tmp, path)


def committed_raw_files(store: ObjectStore, cache: Path | None = None, *, keystore: KeyStore) -> IndexResult:
    """The raw files committed manifests name, reading only the manifests the cache does not hold at their
    current version (all of them without a cache). Each manifest read is authenticated: one error for
    all that fail (LakeIntegrityError naming the first), and nothing is listed."""
    _, cache_key = keystore.manifest_key()
    versions = {
        path: version
        for path, version in store.list_versions(MANIFEST_PREFIX).items()
        if path.endswith(".json") and not path.startswith(PENDING_PREFIX + "/")
    }
    cached = _load_cache(cache, store.url, cache_key) if cache is not None else None
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

    def read(path: str) -> Manifest | LakeIntegrityError:
        try:
            return open_manifest(store, path, store.get(path), keystore)
        except LakeIntegrityError as e:
            return e

    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        read_back = list(pool.map(read, [path for path, _ in missing]))
    failed = IntegrityReport(
        unsealed=[r.path for r in read_back if isinstance(r, UnsealedManifestError)],
        problems=[
            str(r)
            for r in read_back
            if isinstance(r, LakeIntegrityError) and not isinstance(r, UnsealedManifestError)
        ],
    )
    if (error := failed.error()) is not None:
        raise error  # fails closed: nothing listed, the cache unchanged
    new_rows = [
        row
        for (path, version), manifest in zip(missing, read_back, strict=True)
        if isinstance(manifest, Manifest)
        for row in _rows(path, version, manifest)
    ]
    table = pa.concat_tables([kept, pa.Table.from_pylist(new_rows, schema=_SCHEMA)])
    if cache is not None and (missing or cached is None or kept.num_rows != cached.num_rows):
        _save_cache(cache, store.url, table, cache_key)
    committed = table.filter(pc.is_valid(table.column("path"))).sort_by(
        [("manifest", "ascending"), ("path", "ascending")]
    )
    files = [
        RawFile(dataset, path, key_id, sha256)
        for dataset, path, key_id, sha256 in zip(
            committed.column("dataset").to_pylist(),
            committed.column("path").to_pylist(),
            committed.column("key_id").to_pylist(),
            committed.column("sha256").to_pylist(),
            strict=True,
        )
    ]
    return IndexResult(files=files, manifests=len(versions), read=len(missing))
