"""What footer key references cost (docs/spark.md): writing one landed file with and without the
reference, and `keys add-footer-keys` migrating a lake landed without them. Prints the figures.

    .venv/bin/python benchmarks/footer_keys.py [--rows 1000000] [--days 31] [--associations 2]

Everything runs in a temporary folder with its own key store and lake (the machine's are never used).
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pqe

from benchmarks.scratch import scratch_env
from ingest.governance.footer_keys import add_footer_keys
from ingest.lake.crypto import encrypt_parquet
from ingest.lake.footer_key import footer_key_metadata, with_footer_key_metadata
from ingest.lake.keys import DataKeyring, init_keystore, open_keystore
from ingest.lake.manifest import all_manifests
from ingest.lake.storage import open_store


def acts_like(rows: int) -> pa.Table:
    start = datetime(2024, 1, 1)
    return pa.table(
        {
            "act_id": [f"A{i:09d}" for i in range(rows)],
            "association_id": ["A75001"] * rows,
            "call_at": [start + timedelta(seconds=37 * i) for i in range(rows)],
            "patient_pseudonym": [secrets.token_hex(16) for _ in range(rows)],
            "patient_age_years": pa.array([i % 100 for i in range(rows)], pa.int16()),
            "outcome": [("home", "hospital", "other")[i % 3] for i in range(rows)],
        }
    )


def time_writes(rows: int, repeats: int = 3) -> None:
    table, key = acts_like(rows), secrets.token_bytes(32)
    for label, key_id in (("without reference", None), ("with reference", "raw/acts/2024-01")):
        seconds = []
        for _ in range(repeats):
            began = time.perf_counter()
            data = encrypt_parquet(table, key, key_id=key_id)
            seconds.append(time.perf_counter() - began)
        print(f"write {rows:,} rows {label}: median {statistics.median(seconds):.3f} s, {len(data):,} bytes")
    data, seconds = encrypt_parquet(table, key), []
    for _ in range(7):
        began = time.perf_counter()
        with_footer_key_metadata(data, footer_key_metadata("raw/acts/2024-01"))
        seconds.append(time.perf_counter() - began)
    median_ms = statistics.median(seconds) * 1000
    print(f"tail rewrite alone of that {len(data):,}-byte file: median {median_ms:.1f} ms")


def time_migration(days: int, associations: int) -> None:
    with tempfile.TemporaryDirectory(prefix="footer-keys-") as folder:
        root = Path(folder)
        env = scratch_env(root)
        end = (datetime(2024, 1, 1) + timedelta(days=days - 1)).date().isoformat()
        lakehouse = str(Path(sys.executable).parent / "lakehouse")
        init_keystore(root / "keystore.json")
        for args in (
            ["generate", "--associations", str(associations), "--scale", "0.2", "--end", end],
            ["ingest", str(root / "extracts")],
        ):
            subprocess.run([lakehouse, *args], env=env, check=True, capture_output=True)
        store, keystore = open_store(root / "lake"), open_keystore(root / "keystore.json")
        keyring = DataKeyring(store, keystore)
        outputs = [o for m in all_manifests(store) for o in m.outputs if o.path.endswith(".parquet")]
        size = 0
        for o in outputs:  # as the writer landed them before footer references existed
            key = keyring.get(o.key_id).key
            properties = pqe.create_decryption_properties(footer_key=key)
            table = pq.read_table(pa.BufferReader(store.get(o.path)), decryption_properties=properties)
            data = encrypt_parquet(table, key)
            store.put(o.path, data)
            size += len(data)
        for label in ("first run", "second run (nothing to do)"):
            began = time.perf_counter()
            result = add_footer_keys(store, keystore)
            took = time.perf_counter() - began
            print(
                f"keys add-footer-keys, {label}: {len(outputs)} files ({size / 1e6:.1f} MB), {took:.2f} s, "
                f"{result.files_updated} updated, {result.files_current} already current"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--associations", type=int, default=2)
    args = parser.parse_args()
    time_writes(args.rows)
    time_migration(args.days, args.associations)


if __name__ == "__main__":
    main()
