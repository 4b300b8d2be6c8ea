"""The attacker's shortcuts (ingest/disclosure/solver.py) change its speed, never its verdict.

The audit proves most cells safe from feasible points it happens to find, and solves both ends of a
cell's interval only when they do not. On random tables whose relations hold exactly (ages, départements
→ région → France, the iCanicule union), with random cells hidden, it must pin exactly the cells that a
plain attacker pins, the one that solves min and max of every hidden cell over every relation at once with
scipy's `linprog`, and report the same intervals for them.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
from scipy.optimize import linprog

from ingest.disclosure.attack import Relation, audit, cells_from_marts, relations_of_cells, union_groups
from ingest.disclosure.solver import interval_ok

AGES = ["00-01", "02-14", "15-74", "75+", "unknown"]
COMPONENTS = ["icanicule_hyperthermie", "icanicule_deshydratation", "icanicule_hyponatremie"]
AREAS = [
    ("departement", "76", "28"),
    ("departement", "27", "28"),
    ("region", "28", "FR"),
    ("france", "FR", None),
]


def _random_week(rng: np.random.Generator, hidden_share: float) -> pa.Table:
    """A weekly mart whose margins and union hold exactly, with random counts hidden."""
    counts: dict[tuple[str, str, str], int] = {}
    for group in ["asthme", *COMPONENTS]:
        for age in AGES:
            for code in ("76", "27"):
                counts[(group, age, code)] = int(rng.choice([0, 1, 3, 8, 15, 30, 60]))
    for age in AGES:
        for code in ("76", "27"):
            counts[("icanicule", age, code)] = sum(counts[(c, age, code)] for c in COMPONENTS)
    for group in ["asthme", "icanicule", *COMPONENTS]:
        for code in ("76", "27"):
            counts[(group, "all", code)] = sum(counts[(group, age, code)] for age in AGES)
        for age in [*AGES, "all"]:
            counts[(group, age, "28")] = counts[(group, age, "76")] + counts[(group, age, "27")]
            counts[(group, age, "FR")] = counts[(group, age, "28")]
    rows = []
    for (group, age, code), count in sorted(counts.items()):
        level, _, parent = next(area for area in AREAS if area[1] == code)
        hidden = rng.random() < hidden_share
        rows.append((group, age, level, code, parent, None if hidden else count))
    names = ["syndrome_group", "age_class", "geo_level", "geo_code", "parent_geo_code", "syndrome_act_count"]
    table = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    table["iso_week"] = ["2024-W01"] * len(rows)
    fields = [pa.field(name, pa.string()) for name in names[:-1]]
    return pa.table(table).cast(
        pa.schema([*fields, ("syndrome_act_count", pa.int64()), ("iso_week", pa.string())])
    )


def _plain_attacker(values: dict, relations: list, k: int) -> dict:
    """Both ends of every hidden cell's interval, one LP each over all the relations (no shortcut)."""
    hidden = [cell for cell, value in values.items() if value is None]
    index = {cell: i for i, cell in enumerate(hidden)}
    eq, eq_rhs, ub, ub_rhs = [], [], [], []
    for relation in relations:
        row = np.zeros(len(hidden))
        rhs = relation.rhs
        for cell, coefficient in relation.terms.items():
            if values.get(cell) is None and cell in index:
                row[index[cell]] += coefficient
            elif values.get(cell) is not None:
                rhs -= coefficient * values[cell]
        if row.any():
            (eq if relation.sense == "eq" else ub).append(row)
            (eq_rhs if relation.sense == "eq" else ub_rhs).append(rhs)
    pinned = {}
    for cell, i in index.items():
        ends = []
        for sign in (1.0, -1.0):
            objective = np.zeros(len(hidden))
            objective[i] = sign
            solved = linprog(
                objective, A_eq=np.array(eq) if eq else None, b_eq=eq_rhs or None,
                A_ub=np.array(ub) if ub else None, b_ub=ub_rhs or None, bounds=(0, None), method="highs",
            )  # fmt: skip
            assert solved.status in (0, 3), solved.message  # the true table is a feasible point
            ends.append(sign * solved.fun if solved.status == 0 else math.inf)
        if not interval_ok(ends[0], ends[1], k):
            pinned[cell] = (ends[0], ends[1])
    return pinned


def test_audit_pins_exactly_what_the_plain_attacker_pins() -> None:
    unions = union_groups()
    pinned_total = safe_total = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        k = int(rng.choice([3, 5, 11]))
        published = cells_from_marts({"weekly": _random_week(rng, hidden_share=float(rng.uniform(0.3, 0.8)))})
        relations = relations_of_cells(published, unions)
        result = audit(published.values, relations, k)
        expected = _plain_attacker(published.values, relations, k)
        found = {finding.cell: (finding.lower, finding.upper) for finding in result.findings}
        assert set(found) == set(expected), f"seed {seed}"
        for cell, (lower, upper) in expected.items():
            assert math.isclose(found[cell][0], lower, abs_tol=1e-6), (seed, cell)
            assert found[cell][1] == upper or math.isclose(found[cell][1], upper, abs_tol=1e-6), (seed, cell)
        assert result.relaxed_components == 0 and result.inconsistent_components == 0
        pinned_total += len(found)
        safe_total += result.hidden_cells - len(found)
    # Both verdicts occur often enough for the comparison to mean something.
    assert pinned_total > 50 and safe_total > 200, (pinned_total, safe_total)


def test_many_free_cells_of_one_component_are_proven_by_a_few_lps() -> None:
    # Forty hidden cells under one published total of 2,000: each can reach k, but the two first points
    # (least and most in all) are one vertex that puts the whole total on one cell. Proving the others
    # one LP each took 40 LPs; lifting every unproven cell at once proves them together.
    cells = [f"cell-{i:02d}" for i in range(40)]
    values: dict = dict.fromkeys(cells) | {"total": 2000.0}
    relations = [Relation({"total": -1.0} | dict.fromkeys(cells, 1.0), "eq", label="geography")]
    result = audit(values, relations, 11)
    assert result.findings == [] and result.hidden_cells == 40
    assert result.lps <= 6, result.lps


def test_cells_proven_together_keep_their_exact_verdicts() -> None:
    # Beside the free cells, two cells pinned by their own small total (3 + 4 = 7 published): lifting the
    # others must not pass them, and their intervals stay the exact ones.
    free = [f"free-{i:02d}" for i in range(20)]
    values: dict = dict.fromkeys([*free, "a", "b"]) | {"total": 500.0, "small": 7.0}
    relations = [
        Relation({"total": -1.0, "a": 1.0, "b": 1.0} | dict.fromkeys(free, 1.0), "eq", label="geography"),
        Relation({"small": -1.0, "a": 1.0, "b": 1.0}, "eq", label="age"),
    ]
    result = audit(values, relations, 11)
    found = {finding.cell: (finding.lower, finding.upper) for finding in result.findings}
    assert found == {"a": (0.0, 7.0), "b": (0.0, 7.0)}


def test_asking_whether_anything_is_pinned_stops_at_the_first_finding() -> None:
    # Ten tables each pinning a pair (3 + 4 under a published 7): the give-back pass only needs to know
    # that one is pinned, and the full audit's verdict is the same.
    values: dict = {}
    relations = []
    for i in range(10):
        values |= {f"small{i}": 7.0, f"a{i}": None, f"b{i}": None}
        relations.append(Relation({f"small{i}": -1.0, f"a{i}": 1.0, f"b{i}": 1.0}, "eq", label="age"))
    everything = audit(values, relations, 11)
    first = audit(values, relations, 11, any_finding=True)
    assert len(everything.findings) == 20 and everything.components == 10
    assert [finding.cell for finding in first.findings] == ["a0"]
    assert first.components == 1 and first.lps < everything.lps
