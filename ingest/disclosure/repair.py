"""Audit and repair: complementary suppression finished by the linear attacker itself (τ-Argus style).

The SQL engine (macros/disclosure/suppression.sql) hides cells group by group; it does not see chains of
margins, so a reader solving the published relations as a linear programme can still pin a few hidden
cells. This module closes that gap inside the build: after the engine's fixed point, the post-hook hands
each ISO week's cells (published values and hidden flags only: no hidden value is needed) to
`disclosure_audit_repair`, a DuckDB function registered by this module's dbt-duckdb plugin. For that week
it runs the attacker (ingest/disclosure/attack.py: same cells, same relations, same protection rule) and,
for every cell the attacker pins, hides the cheapest published cell sharing a relation with it; then it
audits again, until the attacker certifies every hidden cell of the week. The function returns the ids of
the cells to hide; the post-hook hides them before the counts are nulled and the statistics written.

Cheapest first, among the published cells sharing a sum (a margin, a union) with the pinned cell, or
failing that with a hidden cell next to it: never a France- or région-level cell whose count is at least
k while anything else would do; then one that exposes no other relation (a cell that would be the only
hidden one of another sum is given back by subtraction: the next round's work); then one holding at
least the room the pinned cell lacks; then the finest geography; then the smallest count. Never a zero
while anything else is left: a hidden zero adds nothing to a hidden sum (taken as free room under a
hidden total, zeros cascaded: each is given back by its other sums). One pick per relation per round:
a pick may free every pinned cell of its relation.

Each pick only grows the hidden set, and a week whose cells are all hidden has every interval
unbounded above, so the loop ends; `MAX_ROUNDS` is a safety net that fails the build rather than
publish.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable
from typing import Any

from ingest.disclosure.attack import (
    AuditResult,
    Cell,
    Finding,
    PublishedCells,
    Relation,
    audit,
    relations_of_cells,
    union_groups,
)
from ingest.disclosure.certificate import attacker_version, certified_digest, remember_certified
from ingest.exceptions import LakehouseError

MAX_ROUNDS = 200
LEVEL_RANK = {None: 0, "departement": 0, "region": 1, "france": 2}
PROTECTED_LEVELS = ("region", "france")
FUNCTION_NAME = "disclosure_audit_repair"
# The struct the post-hook passes per cell (macros/disclosure/suppression.sql, `attacker_cell`).
CELL_FIELDS = (
    "cell_id",
    "count",
    "syndrome_group",
    "age_class",
    "geo_level",
    "geo_code",
    "parent_geo_code",
    "period_type",
    "period",
    "iso_week",
    "association_id",
    "hour_band",
)


class RepairError(LakehouseError):
    """The audit-and-repair loop found no complementary cell, or no fixed point: nothing is published."""


def published_cells(rows: Iterable[dict[str, Any]]) -> tuple[PublishedCells, dict[Cell, str]]:
    """The attacker's cell space from the post-hook's structs (a hidden cell has value None)."""
    published = PublishedCells()
    ids: dict[Cell, str] = {}
    # In the ids' order, not the query's: the greedy picks depend on the order, and a full build and an
    # incremental one must hide the same cells.
    for row in sorted(rows, key=lambda row: str(row["cell_id"])):
        cell = Cell(
            count=row["count"],
            syndrome_group=row.get("syndrome_group"),
            age_class=row.get("age_class") if row.get("geo_level") is not None else None,
            geo_level=row.get("geo_level"),
            geo_code=row.get("geo_code"),
            period_type=row.get("period_type"),
            period=row.get("period"),
            association_id=row.get("association_id"),
            hour_band=row.get("hour_band"),
        )
        value = row.get("value")
        if cell in published.values and published.values[cell] is None:
            value = None  # the same cell twice (a family shared by marts): hidden if hidden anywhere
        published.values[cell] = None if value is None else float(value)
        ids.setdefault(cell, str(row["cell_id"]))
        if cell.period_type == "day" and row.get("iso_week") is not None:
            published.week_of_day[str(cell.period)] = str(row["iso_week"])
        if cell.geo_level in ("departement", "region") and row.get("parent_geo_code") is not None:
            published.parent_geo[(cell.geo_level, str(cell.geo_code))] = str(row["parent_geo_code"])
    return published, ids


def every_relation(published: PublishedCells) -> list[Relation]:
    """Every relation between the cells, hidden or not (the attacker keeps those holding a hidden cell)."""
    everything = PublishedCells(
        values=dict.fromkeys(published.values),
        parent_geo=published.parent_geo,
        week_of_day=published.week_of_day,
    )
    return relations_of_cells(everything, union_groups())


def _score(
    candidate: Hashable,
    deficit: float,
    values: dict[Hashable, float | None],
    relations_of: dict[Hashable, list[Relation]],
    k: int,
) -> tuple:
    value = values[candidate] or 0.0
    level = getattr(candidate, "geo_level", None)
    protected = level in PROTECTED_LEVELS and value >= k
    # A total or bound of the pinned cell frees it only as far as its own other relations let it move.
    insufficient = value < deficit
    exposes = sum(
        1
        for relation in relations_of[candidate]
        if relation.sense == "eq"
        and all(values.get(other) is not None for other in relation.terms if other != candidate)
    )
    return (protected, exposes, insufficient, LEVEL_RANK.get(level, 0), value, str(candidate))


def _candidates(
    cell: Hashable,
    values: dict[Hashable, float | None],
    relations_of: dict[Hashable, list[Relation]],
    zeros: bool = False,
) -> set[Hashable]:
    """Published cells sharing a sum with `cell` (or, failing that, with a hidden neighbour of it; then
    any relation). Zeros only when nothing else is left: a hidden zero adds nothing to a hidden sum."""
    frontier, seen = [cell], {cell}
    for depth in range(8):
        found: set[Hashable] = set()
        hidden_next = []
        # Sums first (margins, unions): orderings only bound a cell, and hiding the bound (coded acts
        # above a syndrome's acts) frees little and exposes a whole table.
        equalities = depth < 4
        for hidden in frontier:
            for relation in relations_of[hidden]:
                if equalities and relation.sense != "eq":
                    continue
                for other in relation.terms:
                    if other in seen:
                        continue
                    if values.get(other) is None:
                        hidden_next.append(other)
                        seen.add(other)
                    elif values[other] or zeros:
                        found.add(other)
        if found:
            return found
        frontier = hidden_next if depth != 3 else [cell]
        seen = seen if depth != 3 else {cell}
    return set()


def repair(
    values: dict[Hashable, float | None],
    relations: list[Relation],
    k: int,
    where: dict[Hashable, str] | None = None,
) -> tuple[set[Hashable], AuditResult, AuditResult, int]:
    """Hide cells (in `values`, in place) until the attacker pins none.

    Returns the cells hidden, the first audit (what the attacker pinned before), the last (the
    certificate: every hidden cell of the components it solved is safe) and the rounds."""
    relations_of: dict[Hashable, list[Relation]] = defaultdict(list)
    for relation in relations:
        for cell in relation.terms:
            relations_of[cell].append(relation)
    added: set[Hashable] = set()
    focus: set[Hashable] | None = None
    first: AuditResult | None = None
    for rounds in range(1, MAX_ROUNDS + 1):
        result = audit(values, relations, k, where=where, focus=focus)
        first = first or result
        if not result.findings:
            return added, first, result, rounds
        picks: set[Hashable] = set()
        for finding in result.findings:
            # A finding sharing a relation with a cell just picked may be freed by it: next round.
            if any(other in picks for relation in relations_of[finding.cell] for other in relation.terms):
                continue
            pick = _pick(finding, values, relations_of, k)
            values[pick] = None
            picks.add(pick)
        added |= picks
        focus = picks | {finding.cell for finding in result.findings}
    raise RepairError(
        f"The audit of the suppressed cells found no fixed point in {MAX_ROUNDS} rounds: nothing is "
        "published (docs/epidemiology.md, disclosure control)."
    )


def _pick(
    finding: Finding,
    values: dict[Hashable, float | None],
    relations_of: dict[Hashable, list[Relation]],
    k: int,
) -> Hashable:
    upper = finding.upper if math.isfinite(finding.upper) else float(k)
    deficit = max(k - upper, (k - 1) - (upper - finding.lower), 1.0)
    candidates = _candidates(finding.cell, values, relations_of) or _candidates(
        finding.cell, values, relations_of, zeros=True
    )
    if not candidates:
        raise RepairError(
            f"{finding}: no published cell shares a relation with it, so no complementary suppression "
            "can protect it; nothing is published."
        )
    return min(
        candidates,
        key=lambda other: _score(other, deficit, values, relations_of, k),
    )


def repair_rows(k: int, rows: list[dict[str, Any]] | None) -> list[str]:
    """The DuckDB function: one ISO week's cells in, the ids of the cells to hide as well out."""
    if not rows:
        return []
    published, ids = published_cells(rows)
    relations = every_relation(published)
    added, _, _, _ = repair(published.values, relations, k)
    remember_certified(k, published)  # the cells with `added` hidden: what the attacker certified
    return sorted(ids[cell] for cell in added)  # type: ignore[index]


def certificate_of_rows(k: int, rows: list[dict[str, Any]] | None) -> str | None:
    """The DuckDB function `disclosure_certificate`: one week's cells as they stand in the table, their
    digest if the repair certified exactly these cells at this k in this build, else NULL."""
    if not rows:
        return None
    published, _ = published_cells(rows)
    return certified_digest(k, published)


def register(conn: Any) -> None:
    """Register `disclosure_audit_repair(k, cells)` on a DuckDB connection."""
    import duckdb

    struct = duckdb.struct_type(
        {name: duckdb.sqltype("VARCHAR") for name in CELL_FIELDS} | {"value": duckdb.sqltype("DOUBLE")}
    )
    conn.create_function(
        FUNCTION_NAME,
        repair_rows,
        [duckdb.sqltype("INTEGER"), duckdb.list_type(struct)],
        duckdb.list_type(duckdb.sqltype("VARCHAR")),
        side_effects=False,
    )
    # The certificate's two functions (certificate.py): the week's digest if certified, and the version.
    conn.create_function(
        "disclosure_certificate",
        certificate_of_rows,
        [duckdb.sqltype("INTEGER"), duckdb.list_type(struct)],
        duckdb.sqltype("VARCHAR"),
        side_effects=True,  # its answer depends on what the repair certified before it, in this process
    )
    conn.create_function(
        "disclosure_attacker_version", attacker_version, [], duckdb.sqltype("VARCHAR"), side_effects=False
    )


try:
    from dbt.adapters.duckdb.plugins import BasePlugin
except ImportError:  # the attacker and the repair are usable without dbt
    pass
else:

    class Plugin(BasePlugin):
        """dbt-duckdb plugin (profiles.yml): the audit-and-repair function on every build connection."""

        def configure_connection(self, conn: Any) -> None:
            register(conn)
