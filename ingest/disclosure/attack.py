"""The linear attacker: what a reader of the published tables can solve for, checked before anything leaves.

Complementary suppression (macros/disclosure/suppression.sql) is a heuristic over the margins it was told
about. This module plays the reader instead (the τ-Argus "audit"): every published count is a constant,
every suppressed count a variable, and every linear relation a reader knows between them a constraint
(shared notes: /docs/epidemiology.md, "What a reader can solve for"):

- margins: age class `all` = sum of the age classes; région = sum of its départements, France = sum of its
  régions; ISO week = sum of its days; hour band `all` = sum of the bands; France's daily acts (all ages)
  = sum of the associations' daily acts;
- unions: a composite syndromic group whose codes are exactly its components' codes (iCanicule) is their
  sum when no act carries two components (the reader's best guess), and in any case between the largest
  component and their sum; a composite with codes of its own (IRA) is at least each component;
- orderings: syndrome acts <= coded acts <= acts; emergency referrals, hospitalisations, death
  certificates <= acts of the same cell;
- rates: a published share with a published numerator or denominator (to within its rounding);
- non-negativity. A reader who sees zeros published may guess that a hidden count is at least 1, but
  complementary suppression hides a zero when nothing else is left, so the LP keeps 0 as the lower
  bound (assuming 1 made the true table infeasible wherever a zero was hidden); the guess is covered by
  the rule instead: an interval [0, 6] means 1..6 to that reader, and fails.

**Protection rule.** For every suppressed cell the reader's feasible interval [lo, hi] (linear relaxation)
must satisfy hi >= k and hi - lo >= k - 1: the reader can never rule out that a hidden count is k or
more (so never learns it is a small count, not even as "1..k-1"), and never narrows it to fewer than k
values (so never recovers it, exactly or to within a few units). This is τ-Argus's interval protection
with an upper protection level of k - value for a small cell and a protection interval (sliding) of
k - 1 for every hidden cell.

**Scale.** The relations never cross an ISO week, a syndromic family (a group and its union) or a count;
the problem is cut into its connected components of hidden cells (relations between two hidden cells
that only order them, e.g. syndrome <= coded acts, are not allowed to join two components: they are kept
inside a component, dropped between components, a documented relaxation). Per component, one HiGHS
model whose LPs' optima are all kept as feasible points: a cell whose points already span k - 1 (with one
reaching k) is safe; only the others get their own max, then min, LP (ingest/disclosure/solver.py).
`export` solves only the weeks no build certificate matches (ingest/disclosure/certificate.py).
"""

from __future__ import annotations

import csv
import math
import time
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import duckdb
import pyarrow as pa

from ingest.disclosure.solver import ComponentLP, Rows, interval_ok, intervals
from ingest.exceptions import LakehouseError

# Which column of which published mart is the same count, and which dimensions it does not depend on.
COUNT_ALIASES = {"observed_count": "syndrome_act_count"}
IGNORED_DIMENSIONS = {"act_count": {"syndrome_group"}, "coded_act_count": {"syndrome_group"}}
COUNT_COLUMNS = (
    "act_count",
    "coded_act_count",
    "syndrome_act_count",
    "observed_count",
    "emergency_referral_count",
    "hospitalisation_count",
    "death_certificate_count",
)
# A published share: its numerator and the first of its denominators the mart has (rounded to 2 decimals).
RATE_COLUMNS = {
    "coding_rate_pct": ("coded_act_count", ("act_count",)),
    "syndrome_share_of_coded_pct": ("syndrome_act_count", ("coded_act_count",)),
    "emergency_referral_share_pct": ("emergency_referral_count", ("act_count", "syndrome_act_count")),
    "hospitalisation_share_pct": ("hospitalisation_count", ("act_count", "syndrome_act_count")),
}
RATE_HALF_UNIT = 0.005
PARENT_LEVEL = {"departement": "region", "region": "france"}
AGE_ALL = "all"
BAND_ALL = "all"
SYNDROMIC_GROUP_CODES = Path(__file__).resolve().parents[2] / "seeds/surveillance/syndromic_group_codes.csv"
AGE_CLASS_SCHEMES = Path(__file__).resolve().parents[2] / "seeds/surveillance/age_class_schemes.csv"


class Cell(NamedTuple):
    """A published count, whatever mart it appears in (the same cell in two marts is one variable). A
    named tuple: hashed and compared in C, millions of times per audit (a frozen dataclass hashed in
    Python was the largest cost after the LPs)."""

    count: str
    syndrome_group: str | None = None
    age_class: str | None = None
    geo_level: str | None = None
    geo_code: str | None = None
    period_type: str | None = None
    period: str | None = None
    association_id: str | None = None
    hour_band: str | None = None

    def describe(self) -> str:
        parts = [f"{name}={value}" for name, value in self._asdict().items() if value is not None]
        return " ".join(parts[1:])


@dataclass
class Relation:
    """sum(coefficient * cell) == rhs (sense "eq") or <= rhs (sense "le") that a reader knows."""

    terms: dict[Hashable, float]
    sense: str
    rhs: float = 0.0
    label: str = ""
    joins: bool = True  # may join two components of hidden cells (orderings may not)
    relaxed: list[Relation] | None = None  # what still holds when this does not (overlapping unions)


@dataclass(frozen=True)
class Finding:
    """A hidden cell a reader pins down: where it is published and the interval a reader can solve."""

    cell: Hashable
    where: str
    lower: float
    upper: float

    def __str__(self) -> str:
        if self.upper - self.lower < 0.5:
            what = f"recovered exactly ({self.lower:.0f})"
        else:
            what = f"pinned inside {math.ceil(self.lower - 1e-6)}..{math.floor(self.upper + 1e-6)}"
        return f"{self.where}: suppressed count {what} from the published relations"


@dataclass
class AuditResult:
    findings: list[Finding] = field(default_factory=list)
    hidden_cells: int = 0
    components: int = 0
    largest_component: int = 0
    lps: int = 0
    seconds: float = 0.0
    relaxed_components: int = 0
    inconsistent_components: int = 0
    weeks: int = 0
    certified_weeks: int = 0  # weeks left out: the build's certificate matches them (certificate.py)


class _UnionFind:
    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _reduce(relation: Relation, values: dict[Hashable, float | None], index: dict[Hashable, int]):
    """The relation over hidden cells only (published cells moved to the right-hand side)."""
    rhs = relation.rhs
    terms: dict[int, float] = {}
    for cell, coefficient in relation.terms.items():
        value = values.get(cell)
        if value is None and cell in index:
            terms[index[cell]] = terms.get(index[cell], 0.0) + coefficient
        elif value is not None:
            rhs -= coefficient * value
    return terms, rhs


def audit(
    values: dict[Hashable, float | None],
    relations: Iterable[Relation],
    k: int,
    where: dict[Hashable, str] | None = None,
    focus: set[Hashable] | None = None,
    any_finding: bool = False,
) -> AuditResult:
    """Solve, for every hidden cell (value None), the interval a reader can prove; list those too narrow.

    With `focus`, only the components holding one of those cells are solved, and in them only those
    cells (ingest/disclosure/repair.py: the others were certified before, and hiding more cells only
    widens a certified interval), except where a union is read (adding a variable can let the strict
    reading of a union fit where only its relaxation did, which narrows intervals).
    With `any_finding`, it stops at the first finding or inconsistent component (the give-back pass only
    asks whether the attacker pins anything): the same verdict, not every finding."""
    started = time.perf_counter()
    result = AuditResult()
    hidden = [cell for cell, value in values.items() if value is None]
    index = {cell: position for position, cell in enumerate(hidden)}
    result.hidden_cells = len(hidden)
    reduced = []
    for relation in relations:
        terms, rhs = _reduce(relation, values, index)
        if terms:
            reduced.append((relation, terms, rhs))
    components = _UnionFind(len(hidden))
    for relation, terms, _ in reduced:
        if relation.joins:
            first, *rest = terms
            for other in rest:
                components.union(first, other)
    by_component: dict[int, list[int]] = defaultdict(list)
    for position in range(len(hidden)):
        by_component[components.find(position)].append(position)
    relations_of: dict[int, list] = defaultdict(list)
    for relation, terms, rhs in reduced:
        roots = {components.find(position) for position in terms}
        if len(roots) == 1:
            relations_of[roots.pop()].append((relation, terms, rhs))
    if focus is not None:
        wanted = {components.find(index[cell]) for cell in focus if cell in index}
        by_component = {root: members for root, members in by_component.items() if root in wanted}
    for root, members in by_component.items():
        result.components += 1
        result.largest_component = max(result.largest_component, len(members))
        only = None
        if focus is not None and not any(relation.relaxed for relation, _, _ in relations_of[root]):
            only = {index[cell] for cell in focus if cell in index}
        intervals, lps, relaxed = _component_intervals(
            members, relations_of[root], values, index, k, only, any_finding
        )
        result.lps += lps
        result.relaxed_components += relaxed
        if intervals is None:
            result.inconsistent_components += 1
            if any_finding:
                break
            continue
        for position, (lower, upper) in intervals.items():
            if not interval_ok(lower, upper, k):
                cell = hidden[position]
                label = (where or {}).get(cell) or (cell.describe() if isinstance(cell, Cell) else str(cell))
                result.findings.append(Finding(cell, label, lower, upper))
        if any_finding and result.findings:
            break
    result.seconds = time.perf_counter() - started
    return result


def _component_intervals(members, component_relations, values, index, k, only=None, any_finding=False):
    """Each member's interval (ingest/disclosure/solver.py), the LPs solved, whether a weaker reading of
    the relations was needed; no intervals when no reading fits."""
    local = {position: column for column, position in enumerate(members)}
    size = len(members)
    wanted = None if only is None else [local[position] for position in members if position in only]
    lps = 0
    # (relax unions, keep orderings): the strongest reading that fits.
    for relax, orderings in [(False, True), (True, True), (True, False)]:
        rows = Rows.empty()
        for relation, terms, rhs in component_relations:
            if not orderings and relation.label == "ordering":
                continue
            if relax and relation.relaxed is not None:
                for weaker in relation.relaxed:
                    weaker_terms, weaker_rhs = _reduce(weaker, values, index)
                    if weaker_terms and all(position in local for position in weaker_terms):
                        rows.add({local[p]: c for p, c in weaker_terms.items()}, weaker_rhs, equality=False)
                continue
            terms = {local[position]: coefficient for position, coefficient in terms.items()}
            rows.add(terms, rhs, equality=relation.sense == "eq")
        solved = intervals(ComponentLP(size, rows), k, wanted, any_finding)
        if solved is None:
            lps += 1
            continue
        found, solves = solved
        return {members[column]: interval for column, interval in found.items()}, lps + solves, int(relax)
    # No reading of the relations fits the published values: the attacker's model of them is wrong for
    # this component; it is counted (AuditResult.inconsistent_components), not guessed at.
    return None, lps, 1


# --- The published marts as cells and relations -------------------------------------------------------


def union_groups(path: Path = SYNDROMIC_GROUP_CODES) -> dict[str, tuple[list[str], bool]]:
    """Composite group -> (its component groups, whether the components' codes cover all its codes)."""
    codes: dict[str, set[tuple[str, str]]] = defaultdict(set)
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            codes[row["syndrome_group"]].add((row["code_system"], row["code"]))
    unions = {}
    for group, own in codes.items():
        components = [other for other, theirs in codes.items() if other != group and theirs and theirs <= own]
        if components:
            covered = set().union(*(codes[c] for c in components)) == own
            unions[group] = (sorted(components), covered)
    return unions


def merged_age_classes(path: Path = AGE_CLASS_SCHEMES) -> dict[str, tuple[str, ...]]:
    """Each published age class that merges detailed classes (e.g. `00-14`) -> the classes it adds up."""
    parts: dict[str, set[str]] = defaultdict(set)
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["published_age_class"] != row["age_class"]:
                parts[row["published_age_class"]].add(row["age_class"])
    return {merged: tuple(sorted(classes)) for merged, classes in parts.items()}


def _period(row: dict) -> tuple[str | None, str | None]:
    if row.get("act_date") is not None:
        return "day", str(row["act_date"])
    if row.get("iso_week") is not None:
        return "week", str(row["iso_week"])
    return None, None


@dataclass
class PublishedCells:
    """Every count published by the marts, as cells, with where each is first published."""

    values: dict[Cell, float | None] = field(default_factory=dict)
    where: dict[Cell, str] = field(default_factory=dict)
    parent_geo: dict[tuple[str, str], str] = field(default_factory=dict)
    week_of_day: dict[str, str] = field(default_factory=dict)
    rates: list[Relation] = field(default_factory=list)


def cells_from_marts(tables: dict[str, pa.Table]) -> PublishedCells:
    """Read every count column of every published mart into one cell space (a cell shared by marts once).

    The acts and coded acts beside a syndrome published in a merged age class (`00-14`) are not cells:
    the marts publish them as the sum of the detailed classes' cells (NULL when one is hidden), so they
    are read as that sum, in the shares they are the denominator of."""
    published = PublishedCells()
    merged = merged_age_classes()
    for mart, table in sorted(tables.items()):
        columns = [name for name in table.column_names if name in COUNT_COLUMNS]
        if not columns:
            continue
        for row in table.to_pylist():
            period_type, period = _period(row)
            if period_type == "day" and row.get("iso_week") is not None:
                published.week_of_day[period] = str(row["iso_week"])
            if row.get("geo_level") in PARENT_LEVEL and row.get("parent_geo_code") is not None:
                published.parent_geo[(row["geo_level"], str(row["geo_code"]))] = str(row["parent_geo_code"])
            cells: dict[str, dict[Cell, float]] = {}
            for column in columns:
                count = COUNT_ALIASES.get(column, column)
                ignored = IGNORED_DIMENSIONS.get(count, set())
                has_geo = row.get("geo_level") is not None
                cell = Cell(
                    count=count,
                    syndrome_group=None if "syndrome_group" in ignored else row.get("syndrome_group"),
                    age_class=row.get("age_class", AGE_ALL) if has_geo else None,
                    geo_level=row.get("geo_level"),
                    geo_code=None if row.get("geo_code") is None else str(row["geo_code"]),
                    period_type=period_type,
                    period=period,
                    association_id=row.get("association_id"),
                    hour_band=row.get("hour_band"),
                )
                value = row[column]
                if ignored and cell.age_class in merged:
                    parts = [_replace(cell, age_class=part) for part in merged[cell.age_class]]
                    cells[column] = {part: 1.0 for part in parts}
                    continue
                cells[column] = {cell: 1.0}
                if cell not in published.values or published.values[cell] is None:
                    published.values[cell] = None if value is None else float(value)
                    published.where.setdefault(cell, f"mart `{mart}`, column `{column}`, {cell.describe()}")
            for rate, (numerator, denominators) in RATE_COLUMNS.items():
                denominator = next((d for d in denominators if d in cells), None)
                if row.get(rate) is None or numerator not in cells or denominator is None:
                    continue
                share = float(row[rate]) / 100.0
                num, den = cells[numerator], cells[denominator]
                high, low = share + RATE_HALF_UNIT / 100, share - RATE_HALF_UNIT / 100
                published.rates.append(
                    Relation(_combine(num, 1.0) | _combine(den, -high), "le", label=f"{mart}.{rate}")
                )
                published.rates.append(
                    Relation(_combine(num, -1.0) | _combine(den, low), "le", label=f"{mart}.{rate}")
                )
    return published


def _combine(terms: dict[Cell, float], factor: float) -> dict[Hashable, float]:
    return {cell: factor * coefficient for cell, coefficient in terms.items()}


def _replace(cell: Cell, **changes) -> Cell:
    return cell._replace(**changes)


def relations_of_cells(
    published: PublishedCells, unions: dict[str, tuple[list[str], bool]]
) -> list[Relation]:
    """Every relation a reader knows that holds a hidden cell (the others cannot narrow anything)."""
    values = published.values
    children: dict[tuple[str, Cell], list[Cell]] = defaultdict(list)
    for cell in values:
        if cell.age_class is not None and cell.age_class != AGE_ALL:
            children[("age", _replace(cell, age_class=AGE_ALL))].append(cell)
        parent_code = published.parent_geo.get((cell.geo_level, cell.geo_code))
        if cell.geo_level in PARENT_LEVEL and parent_code is not None:
            parent = _replace(cell, geo_level=PARENT_LEVEL[cell.geo_level], geo_code=parent_code)
            children[("geography", parent)].append(cell)
        if cell.period_type == "day" and cell.period in published.week_of_day:
            children[
                ("time", _replace(cell, period_type="week", period=published.week_of_day[cell.period]))
            ].append(cell)
        if cell.hour_band is not None and cell.hour_band != BAND_ALL:
            children[("hour_band", _replace(cell, hour_band=BAND_ALL))].append(cell)
        if cell.association_id is not None and cell.count == "act_count" and cell.hour_band == BAND_ALL:
            network = Cell("act_count", None, AGE_ALL, "france", "FR", cell.period_type, cell.period)
            children[("network", network)].append(cell)
    relations: list[Relation] = []
    for (kind, parent), members in children.items():
        if parent not in values:
            continue
        cells = [parent, *members]
        if all(values[c] is not None for c in cells):
            continue
        terms = {parent: -1.0} | {member: 1.0 for member in members}
        relations.append(Relation(terms, "eq", label=kind))
    for cell, value in values.items():
        if cell.syndrome_group in unions:
            components, covered = unions[cell.syndrome_group]
            parts = [_replace(cell, syndrome_group=c) for c in components]
            parts = [p for p in parts if p in values]
            if not parts or all(values[c] is not None for c in [cell, *parts]):
                continue
            at_least_each = [Relation({p: 1.0, cell: -1.0}, "le", label="union", joins=False) for p in parts]
            if covered and len(parts) == len(components):
                at_most_sum = Relation({cell: 1.0} | {p: -1.0 for p in parts}, "le", label="union")
                relations.append(
                    Relation(
                        {cell: -1.0} | {p: 1.0 for p in parts},
                        "eq",
                        label="union",
                        relaxed=[at_most_sum, *at_least_each],
                    )
                )
            else:
                relations.extend(at_least_each)
        relations.extend(_orderings(cell, value, values))
    hidden = {cell for cell, value in values.items() if value is None}
    relations.extend(r for r in published.rates if any(c in hidden for c in r.terms))
    return relations


def _orderings(cell: Cell, value: float | None, values: dict[Cell, float | None]) -> list[Relation]:
    """Counts that cannot exceed another count of the same cell (acts ⊇ coded ⊇ syndrome ⊇ outcomes)."""
    bound_by = {
        "coded_act_count": ["act_count"],
        "syndrome_act_count": ["coded_act_count"],
        "death_certificate_count": ["act_count"],
    }
    relations = []
    reference = _replace(cell, syndrome_group=None) if cell.count == "syndrome_act_count" else cell
    for upper in bound_by.get(cell.count, []):
        bound = _replace(reference, count=upper)
        if bound in values and (value is None or values[bound] is None):
            relations.append(Relation({cell: 1.0, bound: -1.0}, "le", label="ordering", joins=False))
    if cell.count in ("act_count", "syndrome_act_count"):
        for outcome in ("emergency_referral_count", "hospitalisation_count"):
            part = _replace(cell, count=outcome)
            if part in values and (value is None or values[part] is None):
                relations.append(Relation({part: 1.0, cell: -1.0}, "le", label="ordering", joins=False))
    return relations


def audit_published_tables(
    tables: dict[str, pa.Table], k: int, certificates: set[tuple[str, int, str]] | None = None
) -> AuditResult:
    """The attacker on the marts about to be published; with `certificates` (the build's, from
    certificate.read_certificates), only on the weeks none of them matches."""
    started = time.perf_counter()
    published = cells_from_marts(tables)
    relations = relations_of_cells(published, union_groups())
    from ingest.disclosure.certificate import unit_of, units_to_audit

    values = published.values
    unit = {cell: unit_of(cell, published) for cell in values}
    weeks = set(unit.values()) - {None}
    audited = set(unit.values())
    if certificates is not None:
        audited = units_to_audit(published, relations, k, certificates)
        # The weeks audited are closed under the relations (certificate.units_to_audit): nothing cut.
        values = {cell: value for cell, value in values.items() if unit[cell] in audited}
        relations = [relation for relation in relations if all(cell in values for cell in relation.terms)]
    result = audit(values, relations, k, where=published.where)
    result.weeks = len(weeks)
    result.certified_weeks = len(weeks - audited)
    result.seconds = time.perf_counter() - started
    return result


# --- The price: information loss ----------------------------------------------------------------------

STATS_TABLE = "build_state.disclosure_controlled_cells__suppression_stats"
# The count column each family of disclosure_controlled_cells is published as: the macro
# epidemiology_attacker_cell (macros/disclosure/epidemiology_margins.sql) says the same in SQL
# (tests/test_disclosure_attack.py checks they agree); benchmarks/disclosure_repair.py reads this one.
FAMILY_COUNTS = {
    "acts": "act_count",
    "coded_acts": "coded_act_count",
    "syndrome_acts": "syndrome_act_count",
    "pathway_emergency_referrals": "emergency_referral_count",
    "pathway_hospitalisations": "hospitalisation_count",
    "death_certificates": "death_certificate_count",
    "association_acts": "act_count",
    "association_emergency_referrals": "emergency_referral_count",
    "association_hospitalisations": "hospitalisation_count",
}
FAMILY_MARTS = {
    "acts": "syndromic_indicators (acts)",
    "coded_acts": "syndromic_indicators (coded acts)",
    "syndrome_acts": "syndromic_indicators",
    "pathway_emergency_referrals": "care_pathway_by_syndrome_week",
    "pathway_hospitalisations": "care_pathway_by_syndrome_week",
    "death_certificates": "death_certificates_by_week",
    "association_acts": "activity_by_association_day",
    "association_emergency_referrals": "activity_by_association_day",
    "association_hospitalisations": "activity_by_association_day",
}


@dataclass(frozen=True)
class Loss:
    """Cells and counts suppressed in one table and geography level (complementary: beyond the primary)."""

    table: str
    period_type: str
    geo_level: str
    cells: int
    suppressed_cells: int
    complementary_cells: int
    count: int
    suppressed_count: int

    def __str__(self) -> str:
        cells = 100.0 * self.suppressed_cells / self.cells if self.cells else 0.0
        acts = 100.0 * self.suppressed_count / self.count if self.count else 0.0
        return (
            f"{self.table:<36} {self.period_type:<5} {self.geo_level:<12} {self.cells:>9} cells "
            f"{cells:5.1f} % hidden ({self.complementary_cells} complementary), {acts:5.1f} % of counts"
        )


def information_loss(con, database: str = "warehouse") -> list[Loss]:
    """Per published table and geography level, from the build's suppression statistics (no cell value)."""
    try:
        rows = con.execute(
            f"select family, period_type, coalesce(geo_level, 'association'), sum(cell_total),"  # noqa: S608
            " sum(suppressed_cell_total), sum(complementary_cell_total), sum(count_total),"
            f" sum(suppressed_count_total) from {database}.{STATS_TABLE} group by all"
        ).fetchall()
    except duckdb.Error:  # a warehouse built before the statistics existed: nothing to print
        return []
    merged: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for family, period_type, geo_level, *figures in rows:
        table = FAMILY_MARTS.get(family, family)
        totals = merged[(table, period_type, geo_level)]
        for position, figure in enumerate(figures):
            totals[position] += int(figure or 0)
    level_order = {"departement": 0, "region": 1, "france": 2}
    return [
        Loss(table, period_type, geo_level, *figures)
        for (table, period_type, geo_level), figures in sorted(
            merged.items(), key=lambda item: (item[0][0], item[0][1], level_order.get(item[0][2], 3))
        )
    ]


# --- The export's step ----------------------------------------------------------------------------------


class LinearAttackError(LakehouseError):
    """A reader of the tables about to be published could pin a suppressed count: nothing is written."""


def check_publication(
    tables: dict[str, pa.Table], k: int, shown: int = 5, certificates: set[tuple[str, int, str]] | None = None
) -> AuditResult:
    """Refuse (LinearAttackError, naming the mart and cell, never a value) if the attacker wins anywhere
    (in the weeks no certificate of the build matches, when `certificates` are given)."""
    result = audit_published_tables(tables, k, certificates)
    if result.findings:
        listed = "; ".join(str(finding) for finding in result.findings[:shown])
        more = len(result.findings) - shown
        raise LinearAttackError(
            f"{listed}{f'; and {more} more' if more > 0 else ''}. Nothing was published: rebuild the marts "
            "(dbt build) and see docs/epidemiology.md (disclosure control)."
        )
    return result


def publication_report(result: AuditResult | None, losses: list[Loss]) -> list[str]:
    """The lines `export` prints: the attacker's work (when it ran) and the price of the protection."""
    lines = []
    if result is not None:
        lines.append(
            f"Linear attacker: {result.hidden_cells} suppressed cells in {result.components} independent "
            f"tables (largest {result.largest_component}), {result.lps} LPs, {result.seconds:.1f} s: "
            f"none pinned ({result.inconsistent_components} tables its model of the relations did not fit)."
            + _certified(result)
        )
    if losses:
        lines.append("Information loss (share of cells and of counts suppressed):")
        lines += [f"  {loss}" for loss in losses]
    return lines


def _certified(result: AuditResult) -> str:
    if not result.certified_weeks:
        return ""
    return (
        f" {result.certified_weeks} of {result.weeks} ISO weeks not audited again: the build's certificate"
        " matches them (`--full` audits them all)."
    )


def audit_lines(result: AuditResult, losses: list[Loss], k: int) -> list[str]:
    """The attacker's work, the pinned cells by kind, and the information loss, as printed lines."""
    from collections import Counter

    lines = [
        f"{result.hidden_cells} suppressed cells, {result.components} independent tables (largest "
        f"{result.largest_component}), {result.lps} LPs, {result.seconds:.1f} s, "
        f"{len(result.findings)} pinned." + _certified(result)
    ]
    kinds: Counter[tuple[str, str, str | None, str | None]] = Counter()
    for finding in result.findings:
        exact = finding.upper - finding.lower < 0.5
        kind = "exact" if exact else ("below k" if finding.upper < k else "narrow")
        cell = finding.cell
        kinds[(kind, cell.count, cell.geo_level, cell.period_type)] += 1  # type: ignore[union-attr]
    lines += [f"  {count:>6} {' '.join(str(part) for part in key)}" for key, count in kinds.most_common()]
    return lines + publication_report(None, losses)
