"""Check a publication folder on its own: what a reader of `publication/` gets, nothing from the build.

Reads every Parquet file `lakehouse export` wrote (no warehouse, no key store, no certificate) and checks
the two promises of disclosure control (docs/epidemiology.md): no published count is between 1 and k-1,
and the linear attacker, solving every relation between the published counts, pins no hidden one (every
week audited, as `disclosure-audit --full` does on the warehouse). Exit 1 on any finding.

    .venv/bin/python -m tools.check_publication PUBLICATION_FOLDER [--k 11]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.disclosure.attack import COUNT_COLUMNS, AuditResult, audit_published_tables


def small_counts(tables: dict[str, pa.Table], k: int) -> list[str]:
    """Each published count column holding values between 1 and k-1, with how many."""
    found = []
    for name, table in sorted(tables.items()):
        for column in COUNT_COLUMNS:
            if column not in table.column_names:
                continue
            values = table.column(column)
            small = pc.sum(pc.and_(pc.greater_equal(values, 1), pc.less(values, k))).as_py() or 0
            if small:
                found.append(f"{name}.{column}: {small} value(s) between 1 and {k - 1}")
    return found


def check_folder(folder: Path, k: int) -> tuple[list[str], AuditResult]:
    tables = {path.stem: pq.read_table(path) for path in sorted(folder.glob("*.parquet"))}
    if not tables:
        raise SystemExit(f"{folder}: no Parquet file (is it the `publication/` folder of a lake?)")
    return small_counts(tables, k), audit_published_tables(tables, k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--k", type=int, default=11)
    args = parser.parse_args()
    small, result = check_folder(args.folder, args.k)
    print(
        f"{result.hidden_cells} hidden cells in {result.weeks} ISO weeks, {result.components} independent"
        f" tables, {result.lps} LPs, {result.seconds:.1f} s: {len(result.findings)} pinned;"
        f" {len(small)} count column(s) with values between 1 and {args.k - 1}."
    )
    for line in [*small, *(str(finding) for finding in result.findings[:20])]:
        print(f"  {line}")
    sys.exit(1 if small or result.findings else 0)


if __name__ == "__main__":
    main()
