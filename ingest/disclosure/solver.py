"""The attacker's LPs: each hidden cell's feasible interval in one independent table (component).

One HiGHS model per component (highspy), built once: only the objective changes between its LPs, so each
LP after the first starts from the previous optimal basis (warm start) instead of a new model, its
presolve and its checks (scipy's `linprog` rebuilt all of that for every LP, ~4 ms each, of which HiGHS
itself was ~0.4 ms). Which LPs, in order:

1. `+sum` and `-sum` of the component's cells: feasible points (the first also tells whether this
   reading of the relations fits at all);
2. every feasible point an LP returns is kept: a cell whose points already span k - 1 with one of them
   at k or more is safe, whatever its exact interval (the points are feasible, so the interval holds
   them) and needs no LP of its own;
3. while that proves some: maximise a randomly weighted sum of the cells still unproven, each capped
   2k above the first point (never unbounded, and feasible: the caps hold the first point), which
   moves many cells at once, some to their caps, some to their least. A capped point is a feasible
   point of the uncapped relations too. In a large component one such LP proves most of the cells that
   step 4 proves one LP each;
4. for each cell still unproven: maximise it (its exact upper end; the optimum is a new point for every
   other cell), and only if that does not prove it, minimise it (its exact lower end).

So every reported interval that fails the rule is exact (both ends solved), and every cell passed is
passed on feasible points: the same findings as solving both ends of every cell, with fewer LPs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import highspy
import numpy as np

from ingest.exceptions import LakehouseError

_SOLVED = highspy.HighsModelStatus.kOptimal
_UNBOUNDED = (highspy.HighsModelStatus.kUnbounded, highspy.HighsModelStatus.kUnboundedOrInfeasible)
_INFEASIBLE = highspy.HighsModelStatus.kInfeasible
_CONCLUSIVE = (_SOLVED, _INFEASIBLE, *_UNBOUNDED)
_TOLERANCE = 1e-6


def interval_ok(lower: float, upper: float, k: int) -> bool:
    """The protection rule: the reader cannot rule out k or more, nor narrow it to fewer than k values."""
    return upper >= k - _TOLERANCE and upper - lower >= k - 1 - _TOLERANCE


class SolverError(LakehouseError):
    """HiGHS could not decide an LP even from scratch: nothing is certified (nor published)."""


@dataclass
class Rows:
    """Linear rows over a component's columns, sense per row: lower <= A x <= upper (CSR arrays)."""

    starts: list[int]
    columns: list[int]
    coefficients: list[float]
    lower: list[float]
    upper: list[float]

    @classmethod
    def empty(cls) -> Rows:
        return cls([0], [], [], [], [])

    def add(self, terms: dict[int, float], rhs: float, equality: bool) -> None:
        for column, coefficient in terms.items():
            self.columns.append(column)
            self.coefficients.append(coefficient)
        self.starts.append(len(self.columns))
        self.lower.append(rhs if equality else -highspy.kHighsInf)
        self.upper.append(rhs)


class ComponentLP:
    """One component's relations as a HiGHS model whose objective is changed between solves."""

    def __init__(self, size: int, rows: Rows, floor: float = 0.0) -> None:
        self.size = size
        self.floor = floor
        self.solves = 0
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        # Presolve rebuilds the reduced model on every solve and discards the warm basis.
        self.highs.setOptionValue("presolve", "off")
        lp = highspy.HighsLp()
        lp.num_col_ = size
        lp.num_row_ = len(rows.lower)
        lp.col_cost_ = np.zeros(size)
        lp.col_lower_ = np.full(size, floor)
        lp.col_upper_ = np.full(size, highspy.kHighsInf)
        lp.row_lower_ = np.array(rows.lower, dtype=float)
        lp.row_upper_ = np.array(rows.upper, dtype=float)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.array(rows.starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(rows.columns, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(rows.coefficients, dtype=float)
        self.highs.passModel(lp)
        self._columns = np.arange(size, dtype=np.int32)

    def solve_capped(self, objective: np.ndarray, caps: np.ndarray) -> np.ndarray | None:
        """Minimise `objective` with every cell at most its cap: the optimal point, or None."""
        self.highs.changeColsBounds(self.size, self._columns, np.zeros(self.size) + self.floor, caps)
        try:
            status, _, point = self.solve(objective)
        finally:
            self.highs.changeColsBounds(
                self.size,
                self._columns,
                np.zeros(self.size) + self.floor,
                np.full(self.size, highspy.kHighsInf),
            )
        return point if status == "optimal" else None

    def solve(self, objective: np.ndarray) -> tuple[str, float, np.ndarray | None]:
        """Minimise `objective`: ("optimal", value, point), ("unbounded", -inf, None) or "infeasible"."""
        self.highs.changeColsCost(self.size, self._columns, objective)
        self.highs.run()
        self.solves += 1
        status = self.highs.getModelStatus()
        if status not in _CONCLUSIVE:
            # A warm start can end without a verdict (seen: an unbounded maximum reported as kUnknown):
            # solve again from scratch, with presolve, rather than read a non-answer as a bound.
            self.highs.clearSolver()
            self.highs.setOptionValue("presolve", "on")
            self.highs.run()
            self.highs.setOptionValue("presolve", "off")
            self.solves += 1
            status = self.highs.getModelStatus()
        if status == _SOLVED:
            point = np.asarray(self.highs.getSolution().col_value, dtype=float)
            return "optimal", float(self.highs.getInfo().objective_function_value), point
        if status in _UNBOUNDED:
            return "unbounded", -math.inf, None
        if status == _INFEASIBLE:
            return "infeasible", math.nan, None
        verdict = self.highs.modelStatusToString(status)
        raise SolverError(f"HiGHS gave no verdict ({verdict}) on an attacker LP: nothing is certified.")


def intervals(
    lp: ComponentLP, k: int, wanted: list[int] | None = None, any_failure: bool = False
) -> tuple[dict[int, tuple[float, float]], int] | None:
    """Each wanted column's interval (exact where it fails the rule), and the LPs solved; None when the
    relations admit no point at all. With `any_failure`, only up to the first interval that fails."""
    size = lp.size
    status, _, first = lp.solve(np.ones(size))
    if status != "optimal":
        # Minimising the sum of non-negative cells is never unbounded: not optimal means infeasible.
        return None
    low, high = first.copy(), first.copy()

    def seen(point: np.ndarray | None) -> None:
        if point is not None:
            np.minimum(low, point, out=low)
            np.maximum(high, point, out=high)

    seen(lp.solve(-np.ones(size))[2])
    columns = range(size) if wanted is None else wanted
    # Room above the first point for every cell to be proven (k above its lowest point, k - 1 wide).
    caps = first + 2.0 * k
    pending = [column for column in columns if not interval_ok(low[column], high[column], k)]
    weights = np.random.default_rng(size)  # seeded: the same component gets the same LPs
    while len(pending) > 1:
        # Random weights: under a published total the cells' sum is fixed, so lifting them all alike
        # would return the first point; unequal weights lift some to their caps and drop others to 0.
        objective = np.zeros(size)
        objective[pending] = -weights.uniform(0.0, 1.0, len(pending))
        seen(lp.solve_capped(objective, caps))
        proven = [column for column in pending if interval_ok(low[column], high[column], k)]
        if len(proven) < 2:  # one cell an LP: its own LP below costs less than a capped one
            break
        pending = [column for column in pending if not interval_ok(low[column], high[column], k)]
    found: dict[int, tuple[float, float]] = {}
    unbounded: set[int] = set()
    for column in columns:
        upper = math.inf if column in unbounded else high[column]
        if interval_ok(low[column], upper, k):
            found[column] = (low[column], upper)
            continue
        objective = np.zeros(size)
        objective[column] = -1.0
        status, value, point = lp.solve(objective)
        seen(point)
        if status == "unbounded":
            unbounded.add(column)
            upper = math.inf
        elif status == "optimal":
            upper = -value
        lower = low[column]
        if not interval_ok(lower, upper, k):
            objective[column] = 1.0
            status, value, point = lp.solve(objective)
            seen(point)
            if status == "optimal":
                lower = value
        found[column] = (lower, upper)
        if any_failure and not interval_ok(lower, upper, k):
            break
    return found, lp.solves
