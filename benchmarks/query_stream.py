"""Peak memory of `lakehouse query` on a large result: streamed (today) against materialised (before).

Builds a throw-away encrypted warehouse holding one table of `--rows` rows (an id, a 20-character text,
a date), then runs, each in a child process of its own so that its peak resident memory is its own:
- `lakehouse query "select * from cdm.big" --out big.parquet --max-rows <rows>` (record batches);
- the same, with LAKEHOUSE_QUERY_MEMORY_LIMIT=128MB (DuckDB's cache of the warehouse blocks it read
  is what still grows with the table, up to that limit);
- the same query materialised as one Arrow table then written, as `lakehouse query` did before;
and prints wall time and peak RSS of each. Usage:

    .venv/bin/python benchmarks/query_stream.py --rows 10000000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.scratch import scratch_env

ROOT = Path(__file__).resolve().parents[1]

BUILD = """
import sys
from ingest.lake.crypto import connect_duckdb
from ingest.lake.keys import init_keystore, open_keystore
from ingest import settings
init_keystore()
con = connect_duckdb()
path, key = settings.home() / "warehouse.duckdb", open_keystore().warehouse_db_key()
con.execute(f"attach '{path}' as w (encryption_key '{key}')")
con.execute("create schema w.cdm")
rows = int(sys.argv[1])
con.execute(
    "create table w.cdm.big as select range as id, md5(range::varchar)[:20] as label, "
    f"date '2024-01-01' + (range % 3650)::int as day from range({rows})"
)
"""

MATERIALISED = """
import sys
from pathlib import Path
import pyarrow.parquet as pq
from ingest.lake.keys import open_keystore
from ingest.publish.query import open_locked_warehouse
con = open_locked_warehouse(Path(sys.argv[1]), open_keystore())
pq.write_table(con.execute("select * from cdm.big").to_arrow_table(), sys.argv[2])
"""


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stdout) of one child process."""
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        seconds = time.monotonic() - started
        log.seek(0)
        output = log.read()
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="query-bench-") as scratch:
        work = Path(scratch)
        env = scratch_env(work)
        # Built in a child: a child forked from a parent holding the table would count the parent's
        # pages in its own peak RSS.
        subprocess.run([sys.executable, "-c", BUILD, str(args.rows)], env=env, check=True)
        size = (work / "warehouse.duckdb").stat().st_size / 2**20
        print(f"warehouse: {args.rows:,} rows, {size:,.0f} MB encrypted")
        cli = [sys.executable, "-m", "ingest.cli", "query", "select * from cdm.big"]
        out = ["--out", str(work / "big.parquet"), "--max-rows", str(args.rows)]
        runs = {
            "streamed (lakehouse query)": _run([*cli, *out], env),
            "streamed, memory limit 128MB": _run(
                [*cli, *out], {**env, "LAKEHOUSE_QUERY_MEMORY_LIMIT": "128MB"}
            ),
            "materialised, then written (before)": _run(
                [sys.executable, "-c", MATERIALISED, str(work / "warehouse.duckdb"), str(work / "m.parquet")],
                env,
            ),
        }
        print(f"{'mode':<40} {'seconds':>8} {'peak RSS MB':>12}")
        for mode, (seconds, rss, _) in runs.items():
            print(f"{mode:<40} {seconds:>8.1f} {rss:>12,.0f}")


if __name__ == "__main__":
    main()
