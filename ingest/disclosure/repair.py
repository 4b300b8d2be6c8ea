"""Audit and repair: complementary suppression finished by the linear attacker itself (τ-Argus style).

The SQL engine (macros/disclosure/suppression.sql) hides cells group by group; it does not see chains of
margins, so a reader solving the published relations as a linear programme can still pin a few hidden
cells. This module closes that gap inside the build: after the engine's fixed point, the post-hook hands
each ISO week's cells (what a reader sees: published values, NULL when hidden; and the true count of
each complementary cell, for the give-back pass below) to `disclosure_audit_repair`, a DuckDB function
registered by this module's dbt-duckdb plugin. For that week it runs the attacker
(ingest/disclosure/attack.py: same cells, same relations, same protection rule) on what a reader sees
and, for every cell the attacker pins, hides the cheapest published cell sharing a relation with it;
then it audits again, until the attacker certifies every hidden cell of the week. The function returns
the ids of the cells whose state changes (to hide, or to publish again); the post-hook applies them
before the counts are nulled and the statistics written.

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

Both the group rules and the repair only ever add hidden cells, so a greedy pick can end up unneeded (a
later pick protects what it protected). The give-back pass then publishes again, one at a time and most
valuable first (France, then région, then the largest count), each complementary cell whose true value
it was given (the post-hook passes `true_value` for complementary cells only: a primary cell's value
never reaches it) or that the repair itself hid, with the partners a margin would otherwise give back
by subtraction, and keeps them published only if the attacker, solving the hidden cells they can have
narrowed, still certifies every one of them. Publishing cells only adds to what a reader knows, so a
cell refused stays refused: the result does not depend on retrying, and every cell left hidden as
complementary is needed (publishing it alone would let the attacker pin one).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
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


@dataclass
class WeekCells:
    """One week's cells as the post-hook passes them: what a reader sees (`published`), every row id of
    each cell, and the true values of the hidden cells that may be published again (complementary ones:
    a cell with one hidden row without `true_value`, i.e. a primary row, is never among them)."""

    published: PublishedCells
    ids: dict[Cell, list[str]]
    true_values: dict[Cell, float]


def published_cells(rows: Iterable[dict[str, Any]]) -> tuple[PublishedCells, dict[Cell, str]]:
    """The attacker's cell space from the post-hook's structs (a hidden cell has value None)."""
    week = read_week(rows)
    return week.published, {cell: ids[0] for cell, ids in week.ids.items()}


def read_week(rows: Iterable[dict[str, Any]]) -> WeekCells:
    """The post-hook's structs as the attacker's cells, their row ids and the hidden true values."""
    published = PublishedCells()
    ids: dict[Cell, list[str]] = defaultdict(list)
    true_values: dict[Cell, float] = {}
    primary: set[Cell] = set()
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
        ids[cell].append(str(row["cell_id"]))
        if row.get("value") is None:
            if row.get("true_value") is None:
                primary.add(cell)
            else:
                true_values[cell] = float(row["true_value"])
        if cell.period_type == "day" and row.get("iso_week") is not None:
            published.week_of_day[str(cell.period)] = str(row["iso_week"])
        if cell.geo_level in ("departement", "region") and row.get("parent_geo_code") is not None:
            published.parent_geo[(cell.geo_level, str(cell.geo_code))] = str(row["parent_geo_code"])
    for cell in primary:
        true_values.pop(cell, None)
    return WeekCells(published, dict(ids), true_values)


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
    relations_of = _relations_by_cell(relations)
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


def _relations_by_cell(relations: Iterable[Relation]) -> dict[Hashable, list[Relation]]:
    relations_of: dict[Hashable, list[Relation]] = defaultdict(list)
    for relation in relations:
        for cell in relation.terms:
            relations_of[cell].append(relation)
    return relations_of


@dataclass
class GiveBack:
    """What the give-back pass published again, out of how many cells tried, at what cost."""

    published: set[Hashable] = field(default_factory=set)
    tried: int = 0
    audits: int = 0
    lps: int = 0
    seconds: float = 0.0


def give_back_order(cell: Hashable, value: float) -> tuple:
    """Most valuable first: France, then région, then the largest count (the id breaks ties, so a full
    and an incremental build try the cells in the same order)."""
    return (-LEVEL_RANK.get(getattr(cell, "geo_level", None), 0), -value, str(cell))


def give_back(
    values: dict[Hashable, float | None],
    relations: list[Relation],
    k: int,
    true_values: dict[Hashable, float],
) -> GiveBack:
    """Publish again (in `values`, in place) the hidden cells of `true_values` the attacker does not need.

    `values` must be certified (the repair's fixed point). Each candidate, most valuable first, is
    published at its true value with its partners: a margin left with a single hidden cell would give it
    back by subtraction, so that cell is published too if it is a candidate (two classes hidden together
    under one total come back together), else the candidate stays hidden. The group is kept published
    only if the attacker, on the components of the hidden cells related to it (the only intervals
    publishing it can narrow), pins none of them and finds every reading consistent. A count of 1..k-1
    is never published, whatever it was given as."""
    started = time.perf_counter()
    result = GiveBack()
    relations_of = _relations_by_cell(relations)
    # The relations of a local audit in their global order: the LPs' rows do not depend on set order.
    position = {id(relation): rank for rank, relation in enumerate(relations)}
    allowed = {cell: value for cell, value in true_values.items() if not 0 < value < k}
    candidates = sorted(
        (cell for cell in allowed if _is_hidden(cell, values)),
        key=lambda cell: give_back_order(cell, allowed[cell]),
    )
    for cell in candidates:
        if not _is_hidden(cell, values):
            continue  # published already, as a partner
        result.tried += 1
        group = _publish_with_partners(cell, values, relations_of, allowed)
        if group is None:
            continue
        scope = set().union(*(_hidden_around(member, values, relations_of) for member in group))
        if scope:
            local = sorted(
                {id(relation): relation for other in scope for relation in relations_of[other]}.values(),
                key=lambda relation: position[id(relation)],
            )
            local_values = {other: values[other] for relation in local for other in relation.terms}
            found = audit(local_values, local, k, focus=scope)
            result.audits += 1
            result.lps += found.lps
            if found.findings or found.inconsistent_components:
                for member in group:
                    values[member] = None
                continue
        result.published |= set(group)
    result.seconds = time.perf_counter() - started
    return result


def _publish_with_partners(
    cell: Hashable,
    values: dict[Hashable, float | None],
    relations_of: dict[Hashable, list[Relation]],
    allowed: dict[Hashable, float],
) -> list[Hashable] | None:
    """Publish `cell` (in `values`) and every cell a margin would then give back by subtraction, if each
    is one that may be published; else publish nothing and return None. A union is left to the attacker:
    where its strict reading does not fit, it only bounds its components."""
    group = [cell]
    values[cell] = allowed[cell]
    for member in group:  # grows while it is read: each partner's own margins are checked in turn
        for relation in relations_of[member]:
            if relation.sense != "eq" or relation.relaxed is not None:
                continue
            hidden = [other for other in relation.terms if _is_hidden(other, values)]
            if len(hidden) != 1:
                continue
            partner = hidden[0]
            if partner not in allowed:
                for published in group:
                    values[published] = None
                return None
            values[partner] = allowed[partner]
            group.append(partner)
    return group


def _is_hidden(cell: Hashable, values: dict[Hashable, float | None]) -> bool:
    return cell in values and values[cell] is None


def _hidden_around(
    cell: Hashable, values: dict[Hashable, float | None], relations_of: dict[Hashable, list[Relation]]
) -> set[Hashable]:
    """The hidden cells whose intervals publishing `cell` can narrow: those sharing any relation with it
    (an ordering too: between two components the attacker drops it, with `cell` published it bounds the
    other cell alone) and every hidden cell of their components (the relations that join them)."""
    related = {other for relation in relations_of[cell] for other in relation.terms}
    frontier = [other for other in related if _is_hidden(other, values)]
    scope = set(frontier)
    while frontier:
        hidden = frontier.pop()
        for relation in relations_of[hidden]:
            if not relation.joins:
                continue
            for other in relation.terms:
                if other not in scope and _is_hidden(other, values):
                    scope.add(other)
                    frontier.append(other)
    return scope


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
    """The DuckDB function: one ISO week's cells in, the ids of the cells whose state the attacker's audit
    changes out: published cells to hide as well (the repair) and complementary cells to publish again
    (the give-back pass, only for cells whose struct carries `true_value`; without it, only cells to
    hide, as before the pass). The post-hook flips exactly these, and only a complementary cell's way
    back (macros/disclosure/suppression.sql, `disclosure_apply_audit`)."""
    if not rows:
        return []
    week = read_week(rows)
    values = week.published.values
    relations = every_relation(week.published)
    shown = {cell: value for cell, value in values.items() if value is not None}
    added, _, _, _ = repair(values, relations, k)
    known = week.true_values | {cell: shown[cell] for cell in added}  # type: ignore[index]
    returned = give_back(values, relations, k, known).published
    remember_certified(k, week.published)  # the final cells: what the attacker certified
    changed = added ^ returned  # hidden by the repair and kept, or hidden before it and published again
    return sorted(row_id for cell in changed for row_id in week.ids[cell])  # type: ignore[index]


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
        {name: duckdb.sqltype("VARCHAR") for name in CELL_FIELDS}
        | {"value": duckdb.sqltype("DOUBLE"), "true_value": duckdb.sqltype("DOUBLE")}
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
