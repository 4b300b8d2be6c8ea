"""Compare two warehouses built from the same lake, table for table (`except all` both ways).

Used to show that a refactoring of the dbt layer leaves the data unchanged: build a small lake with the
code before and after the change (two copies of the same lake), then

    python -m tools.compare_warehouses KEYSTORE WAREHOUSE_A WAREHOUSE_B [SCHEMA ...]

prints, per table of the schemas (cdm by default), its rows, the rows only in A and only in B, and
whether the columns (names, types, order) are the same; the last line is IDENTICAL or how many differ
(exit status 1). The base tables' `_lake_file` is left out: it names the lake's folder.
"""

from __future__ import annotations

import sys

import duckdb

from ingest.lake.crypto import load_httpfs
from ingest.lake.keys import open_keystore


def _tables(con: duckdb.DuckDBPyConnection, db: str, schemas: list[str]) -> set[str]:
    rows = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where database_name = ? and list_contains(?, schema_name)",
        [db, schemas],
    ).fetchall()
    return {r[0] for r in rows}


def _columns(con: duckdb.DuckDBPyConnection, db: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        "select column_name, data_type from duckdb_columns() "
        "where database_name = ? and schema_name || '.' || table_name = ? order by column_index",
        [db, table],
    ).fetchall()


def compare(keystore: str, a: str, b: str, schemas: list[str]) -> int:
    key = open_keystore(keystore).warehouse_db_key()
    con = duckdb.connect()
    load_httpfs(con)
    con.execute(f"attach '{a}' as a (encryption_key '{key}', read_only)")
    con.execute(f"attach '{b}' as b (encryption_key '{key}', read_only)")
    in_a, in_b = _tables(con, "a", schemas), _tables(con, "b", schemas)
    differ = len(in_a ^ in_b)
    if in_a ^ in_b:
        print("only in A:", sorted(in_a - in_b), "only in B:", sorted(in_b - in_a))
    for table in sorted(in_a & in_b):
        columns = _columns(con, "a", table)
        chosen = "* exclude (_lake_file)" if any(name == "_lake_file" for name, _ in columns) else "*"
        # Names from the catalog, quoted: identifiers cannot be query parameters.
        quoted = ".".join(f'"{part}"' for part in table.split("."))
        rows = con.execute(f"select count(*) from a.{quoted}").fetchone()[0]  # noqa: S608
        only = [
            con.execute(
                f"select count(*) from (select {chosen} from {x}.{quoted} except all "  # noqa: S608
                f"select {chosen} from {y}.{quoted})"
            ).fetchone()[0]
            for x, y in (("a", "b"), ("b", "a"))
        ]
        same_columns = columns == _columns(con, "b", table)
        differ += only != [0, 0] or not same_columns
        print(
            f"{table:55s} rows {rows:8d}  only in A {only[0]:6d}  only in B {only[1]:6d}  "
            f"columns {'same' if same_columns else 'DIFFER'}"
        )
    print("IDENTICAL" if differ == 0 else f"{differ} table(s) differ")
    return 1 if differ else 0


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    keystore, a, b, *schemas = sys.argv[1:]
    sys.exit(compare(keystore, a, b, schemas or ["cdm"]))
