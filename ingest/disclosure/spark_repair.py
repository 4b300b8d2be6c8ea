"""The linear attacker's audit and repair on Spark: a script Spark SQL runs on each ISO week's cells.

On DuckDB the post-hook calls `disclosure_audit_repair` and `disclosure_certificate`, Python functions the
dbt-duckdb plugin registers on the build's connection (repair.py). dbt-spark runs its Spark session in the
dbt process, where nothing can register a Python function, so the Spark post-hook
(macros/disclosure/suppression_statements.sql) streams the cells through this script instead, with Spark
SQL's script transform (`TRANSFORM (audit_unit, cell_json) USING '<python> -m ingest.disclosure.spark_repair
<k>'`, every cell of a unit sent to one script). Input: one line per cell, the audit unit and the cell's
struct as JSON (all its fields, whatever they are: `repair_rows` reads them). Output, tab-separated:
`change <unit> <cell id>` for every cell whose state the repair changes (a published cell it hides, a
complementary cell its give-back pass publishes again), then `certificate <unit> <digest>` for the unit's
cells once changed (the certificate is kept in this process's memory, so it is asked
for here, after the repair, as the DuckDB post-hook asks after its update), each with the attacker's
version. A unit the repair cannot protect fails the script, hence the statement and the build: nothing
is published.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from ingest.disclosure.certificate import attacker_version
from ingest.disclosure.repair import certificate_of_rows, repair_rows

NULL = "\\N"  # how Spark's script transform writes a NULL


def cells_by_unit(lines: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """{audit unit: [cell]} from the transform's input lines (`unit<TAB>json`)."""
    units: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\n")
        if not line:
            continue
        unit, separator, cell = line.partition("\t")
        if not separator or cell == NULL:
            raise ValueError(
                f"line {number} of the cells to audit: expected `unit<TAB>cell JSON`, got {line!r}"
            )
        units[unit].append(json.loads(cell))
    return units


def rows_after_changes(rows: list[dict[str, Any]], changed: set[str]) -> list[dict[str, Any]]:
    """The unit's cells as the table holds them once the changes are applied (the post-hook's struct of
    each): a cell hidden as well keeps its count as `true_value`, a cell given back is published at its
    `true_value`."""
    after = []
    for row in rows:
        if str(row["cell_id"]) not in changed:
            after.append(row)
        elif row.get("value") is None:
            after.append({**row, "value": row["true_value"], "true_value": None})
        else:
            after.append({**row, "value": None, "true_value": row["value"]})
    return after


def audit_units(k: int, units: dict[str, list[dict[str, Any]]]) -> Iterator[tuple[str, str, str]]:
    """(kind, unit, value): the cells whose state each unit's repair changes, then the unit's certificate."""
    for unit in sorted(units):
        rows = units[unit]
        changed = set(repair_rows(k, rows))
        for cell_id in sorted(changed):
            yield "change", unit, cell_id
        certificate = certificate_of_rows(k, rows_after_changes(rows, changed))
        yield "certificate", unit, NULL if certificate is None else certificate


def main(argv: list[str], stdin: TextIO, stdout: TextIO) -> None:
    if len(argv) != 1 or not argv[0].isdigit():
        raise SystemExit("usage: python -m ingest.disclosure.spark_repair <k>")
    version = attacker_version()
    for kind, unit, value in audit_units(int(argv[0]), cells_by_unit(stdin)):
        stdout.write(f"{kind}\t{unit}\t{value}\t{version}\n")


if __name__ == "__main__":
    main(sys.argv[1:], sys.stdin, sys.stdout)
