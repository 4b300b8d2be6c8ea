"""Certificates: which ISO weeks the build's attacker already certified, so `export` does not audit twice.

The build's audit and repair (repair.py) certifies each ISO week it recomputes: once no hidden cell of
the week can be pinned, it keeps the week's digest, the SHA-256 of the week's cells as a reader sees them
(every count's dimensions, the published value or "hidden", the parent of its area) in a canonical order.
The post-hook then asks `disclosure_certificate(k, cells)` for the digest of the cells as they stand in
the table, and stores it, with k and the attacker's version, in build_state (one row per week,
`<cells table>__disclosure_certificates`); the function answers NULL for cells the attacker did not
certify in this process, so a certificate can only name a state the attacker saw pinned-free.

`export` and `disclosure-audit` compute the same digests from the marts about to be published (cheap) and
run the attacker only on the weeks no certificate matches: a week edited in the warehouse, a different k,
a changed attacker (its version is the SHA-256 of its source and of the code lists of the unions) or a
week the build never certified. A week is also audited whatever its certificate when something published
beside the cells the build saw relates one of its hidden cells: a relation that joins two weeks (none
does today: every margin, union, ordering and share lies within one week of one area), a cell without a
week, or a published share over a hidden count. `--full` audits every week.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Hashable, Iterable
from functools import cache
from pathlib import Path

from ingest.disclosure.attack import (
    AGE_CLASS_SCHEMES,
    PARENT_LEVEL,
    SYNDROMIC_GROUP_CODES,
    Cell,
    PublishedCells,
    Relation,
)

CERTIFICATE_SUFFIX = "__disclosure_certificates"
# What the attacker's verdict depends on: its relations and LPs, the unions' code lists and the merged
# age classes.
_ATTACKER_SOURCES = (
    Path(__file__).resolve().parent / "attack.py",
    Path(__file__).resolve().parent / "solver.py",
    SYNDROMIC_GROUP_CODES,
    AGE_CLASS_SCHEMES,
)
_CERTIFIED: set[tuple[int, str]] = set()  # (k, digest) the attacker certified in this process


@cache
def attacker_version() -> str:
    digest = hashlib.sha256()
    for source in _ATTACKER_SOURCES:
        digest.update(source.read_bytes())
    return digest.hexdigest()


def unit_of(cell: Hashable, published: PublishedCells) -> str | None:
    """The ISO week a cell belongs to (the build's audit unit); None for a cell of no week."""
    if not isinstance(cell, Cell):
        return None
    if cell.period_type == "week":
        return cell.period
    if cell.period_type == "day":
        return published.week_of_day.get(str(cell.period))
    return None


def _line(cell: Cell, value: float | None, published: PublishedCells) -> str:
    parent = (
        published.parent_geo.get((cell.geo_level, cell.geo_code)) if cell.geo_level in PARENT_LEVEL else None
    )
    fields = [
        *(str(field) for field in cell),
        str(parent),
        "hidden" if value is None else repr(value),
    ]
    return "\x1f".join(fields)


def digests(published: PublishedCells) -> dict[str | None, str]:
    """Each week's digest: SHA-256 of its cells' canonical lines, sorted."""
    lines: dict[str | None, list[str]] = defaultdict(list)
    for cell, value in published.values.items():
        lines[unit_of(cell, published)].append(_line(cell, value, published))  # type: ignore[arg-type]
    return {
        unit: hashlib.sha256("\n".join(sorted(unit_lines)).encode()).hexdigest()
        for unit, unit_lines in lines.items()
    }


def remember_certified(k: int, published: PublishedCells) -> None:
    """Called by the repair once the attacker pins nothing in these cells (one week of the build)."""
    for digest in digests(published).values():
        _CERTIFIED.add((k, digest))


def certified_digest(k: int, published: PublishedCells) -> str | None:
    """The digest to store as the week's certificate, or None if the attacker did not certify it."""
    found = digests(published)
    if len(found) != 1:
        return None
    digest = next(iter(found.values()))
    return digest if (k, digest) in _CERTIFIED else None


def units_to_audit(
    published: PublishedCells,
    relations: Iterable[Relation],
    k: int,
    certificates: set[tuple[str, int, str]],
) -> set[str | None]:
    """The weeks the attacker must solve: no certificate for (digest, k, version), or related to another
    week, to a cell of no week or by a share (not among the relations the build's audit saw)."""
    version = attacker_version()
    week_digests = digests(published)
    audit = {unit for unit, digest in week_digests.items() if (digest, k, version) not in certificates}
    audit.add(None)
    hidden = {cell for cell, value in published.values.items() if value is None}
    rates = {id(rate) for rate in published.rates}
    for relation in relations:
        units = {unit_of(cell, published) for cell in relation.terms}
        if len(units) > 1 or (id(relation) in rates and any(cell in hidden for cell in relation.terms)):
            audit |= units
    return audit


def read_certificates(con, database: str = "warehouse") -> set[tuple[str, int, str]]:
    """Every (digest, k, attacker version) the build stored, from each cells table's certificates."""
    import duckdb

    try:
        tables = con.execute(
            "select table_name from duckdb_tables() where database_name = ? and schema_name = 'build_state'"
            " and table_name like ?",
            [database, f"%{CERTIFICATE_SUFFIX}"],
        ).fetchall()
        found: set[tuple[str, int, str]] = set()
        for (table,) in tables:
            found |= set(
                con.execute(
                    "select cells_sha256, disclosure_k, attacker_version"  # noqa: S608
                    f' from {database}.build_state."{table}" where cells_sha256 is not null'
                ).fetchall()
            )
        return found
    except duckdb.Error:  # a warehouse built before certificates existed: every week is audited
        return set()
