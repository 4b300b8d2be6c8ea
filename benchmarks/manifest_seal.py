"""What sealed manifests cost (docs/security.md, "Sealed manifests"): the check a build makes before it
decrypts lake files (each manifest's MAC, each file's SHA-256), on one day's files (a daily build) and
on every file (a first build or --full-refresh), next to DuckDB decrypting and scanning the same files
(the floor of any build); and `keys seal-manifests` migrating the same lake landed without seals.
Prints the figures.

    .venv/bin/python benchmarks/manifest_seal.py [--days 31] [--associations 2] [--scale 0.2]

Everything runs in a temporary folder with its own key store and lake (the machine's are never used).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from benchmarks.scratch import scratch_env
from ingest.build.dbt_plugin import lake_view_sql
from ingest.governance.seal_manifests import seal_manifests
from ingest.lake.crypto import connect_duckdb
from ingest.lake.keys import DataKeyring, init_keystore, open_keystore, register_duckdb_keys
from ingest.lake.manifest import Output
from ingest.lake.manifest_seal import check_objects, manifest_paths, open_manifest
from ingest.lake.storage import ObjectStore, open_store


def _median(fn: Callable[[], object], repeats: int = 5) -> float:
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds)


def _scan(store: ObjectStore, keystore: object, files: list[tuple[str, Output]]) -> None:
    """DuckDB decrypting and scanning `files` as the lake views do."""
    keys = {k.key_id: k for k in DataKeyring(store, keystore).all(zone="raw")}  # type: ignore[arg-type]
    by_dataset: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for dataset, o in files:
        by_dataset[dataset][keys[o.key_id].duckdb_name].append(store.uri(o.path))
    con = connect_duckdb()
    con.execute("set disabled_optimizers = 'filter_pushdown,join_filter_pushdown'")
    register_duckdb_keys(con, keys.values())
    for dataset, grouped in by_dataset.items():
        con.execute(f"select count(*) from ({lake_view_sql(dataset, grouped)})").fetchall()  # noqa: S608
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--associations", type=int, default=2)
    parser.add_argument("--scale", default="0.2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="manifest-seal-") as folder:
        root = Path(folder)
        env = scratch_env(root)
        end = (datetime(2024, 1, 1) + timedelta(days=args.days - 1)).date().isoformat()
        lakehouse = str(Path(sys.executable).parent / "lakehouse")
        init_keystore(root / "keystore.json")
        for command in (
            ["generate", "--associations", str(args.associations), "--scale", args.scale, "--end", end],
            ["ingest", str(root / "extracts")],
        ):
            subprocess.run([lakehouse, *command], env=env, check=True, capture_output=True)
        store, keystore = open_store(root / "lake"), open_keystore(root / "keystore.json")
        paths = manifest_paths(store)
        raw = {p: store.get(p) for p in paths}
        manifests = [open_manifest(store, p, data, keystore) for p, data in raw.items()]
        every = [(m.dataset or "", o) for m in manifests for o in m.outputs if o.zone == "raw"]
        last_day = max(m.extract_date or "" for m in manifests)
        daily = [(m.dataset or "", o) for m in manifests if m.extract_date == last_day for o in m.outputs]
        daily = [(d, o) for d, o in daily if o.zone == "raw"]
        daily_manifests = [
            (p, data) for p, data in raw.items() if f'"extract_date": "{last_day}"' in data.decode()
        ]
        size = sum(len(store.get(o.path)) for _, o in every)
        mac_s = _median(lambda: [open_manifest(store, p, data, keystore) for p, data in raw.items()])
        figures = {
            "manifests": len(paths),
            "raw_files": len(every),
            "raw_mb": round(size / 1e6, 1),
            "mac_every_manifest_s": round(mac_s, 4),
            "mac_per_manifest_us": round(mac_s / len(paths) * 1e6, 1),
            "full_digests_s": round(_median(lambda: check_objects(store, [o for _, o in every])), 3),
            "full_decrypt_scan_s": round(_median(lambda: _scan(store, keystore, every), 3), 3),
            "daily_files": len(daily),
            "daily_mac_s": round(
                _median(lambda: [open_manifest(store, p, d, keystore) for p, d in daily_manifests]), 5
            ),
            "daily_digests_s": round(_median(lambda: check_objects(store, [o for _, o in daily])), 4),
            "daily_decrypt_scan_s": round(_median(lambda: _scan(store, keystore, daily), 3), 3),
        }
        # The same lake as landed before seals: every manifest without digests and MAC.
        for p, data in raw.items():
            doc = json.loads(data)
            doc.pop("mac")
            doc.pop("mac_key_id")
            for output in doc["outputs"]:
                output.pop("sha256")
            store.put(p, json.dumps(doc, indent=2, sort_keys=True).encode())
        for run in ("first", "second"):
            began = time.perf_counter()
            result = seal_manifests(store, keystore)
            figures[f"seal_{run}_run_s"] = round(time.perf_counter() - began, 2)
            figures[f"seal_{run}_run_manifests_sealed"] = result.manifests_sealed
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
