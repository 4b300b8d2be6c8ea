"""Compare disclosure_controlled_cells of two built warehouses (same key store): same columns, same rows.

A refactoring of the cells' models must leave the table unchanged; build the same lake into two
warehouses (before and after) and run:

    .venv/bin/python tools/compare_disclosure_cells.py BEFORE.duckdb AFTER.duckdb [--keystore PATH]

Prints the row counts and the rows found in only one of them (none: exit 0; some: exit 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from ingest.lake.crypto import load_httpfs
from ingest.lake.keys import open_keystore

CELLS = "epidemiology.disclosure_controlled_cells"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--keystore", type=Path, default=None)
    args = parser.parse_args()
    secret = open_keystore(args.keystore).warehouse_db_key()
    con = duckdb.connect()
    load_httpfs(con)
    con.execute(f"attach '{args.before}' as before (encryption_key '{secret}', read_only)")
    con.execute(f"attach '{args.after}' as after (encryption_key '{secret}', read_only)")
    columns = [
        con.execute(f"select * from {db}.{CELLS} limit 0").description  # noqa: S608
        for db in ("before", "after")
    ]
    if [c[0] for c in columns[0]] != [c[0] for c in columns[1]]:
        print("columns differ:", [c[0] for c in columns[0]], [c[0] for c in columns[1]])
        return 1
    counts = [
        con.execute(f"select count(*) from {db}.{CELLS}").fetchone()[0]  # noqa: S608
        for db in ("before", "after")
    ]
    only = [
        con.execute(
            f"select count(*) from (select * from {a}.{CELLS} except all select * from {b}.{CELLS})"  # noqa: S608
        ).fetchone()[0]
        for a, b in (("before", "after"), ("after", "before"))
    ]
    print(f"rows: {counts[0]:,} before, {counts[1]:,} after; only before: {only[0]:,}, after: {only[1]:,}")
    return 0 if only == [0, 0] else 1


if __name__ == "__main__":
    sys.exit(main())
