"""The give-back pass of the build's audit and repair, week by week: what it publishes again, at what cost.

The pass needs the true counts of the complementary cells, which a built warehouse no longer holds (the
post-hook nulls every hidden count). So this rebuilds `disclosure_controlled_cells` (dbt in this
process, `--full-refresh`, that model only) with the repair and the give-back wrapped in timers, and
prints per ISO week the cells, the cells the repair hides, the cells the pass tries, audits, publishes
again, its LPs and its CPU seconds (the thread's: DuckDB may run weeks in parallel), against the
repair's. It WRITES the warehouse: run it on a copy. The lake, key store and warehouse come from the
usual LAKEHOUSE_* variables.

    LAKEHOUSE_WAREHOUSE=copy.duckdb .venv/bin/python benchmarks/disclosure_giveback.py
"""

from __future__ import annotations

import os
import time
from typing import Any

from dbt.cli.main import dbtRunner

from ingest import settings
from ingest.disclosure import repair as repair_module
from ingest.settings import PROJECT_ROOT

WEEKS: dict[int, dict[str, Any]] = {}  # by the week's dict of values: DuckDB may run weeks in parallel


def _timed_repair(values, relations, k, where=None):
    started = time.thread_time()
    outcome = _REPAIR(values, relations, k, where)
    WEEKS[id(values)] = {
        "cells": len(values),
        "hidden": sum(1 for value in values.values() if value is None),
        "added": len(outcome[0]),
        "repair_cpu": time.thread_time() - started,
    }
    return outcome


def _timed_give_back(values, relations, k, true_values):
    started = time.thread_time()
    result = _GIVE_BACK(values, relations, k, true_values)
    WEEKS[id(values)].update(
        tried=result.tried,
        audits=result.audits,
        lps=result.lps,
        published=len(result.published),
        give_back_cpu=time.thread_time() - started,
    )
    return result


_REPAIR, _GIVE_BACK = repair_module.repair, repair_module.give_back


def main() -> None:
    # repair_rows looks both up in its module when called: the build's own function, timed.
    repair_module.repair = _timed_repair
    repair_module.give_back = _timed_give_back
    os.environ.update(settings.dbt_environment())
    project = str(PROJECT_ROOT)
    command = ["build", "--select", "disclosure_controlled_cells", "--full-refresh", "--quiet"]
    started = time.perf_counter()
    result = dbtRunner().invoke([*command, "--project-dir", project, "--profiles-dir", project])
    wall = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"dbt build failed: {result.exception}")
    print("week   cells  hidden  repair adds  repair CPU s  tried  audits    LPs  given back  CPU s")
    weeks = list(WEEKS.values())
    for number, week in enumerate(weeks, start=1):
        print(
            f"{number:>4}  {week['cells']:>6}  {week['hidden']:>6}  {week['added']:>11}  "
            f"{week['repair_cpu']:>12.1f}  {week['tried']:>5}  {week['audits']:>6}  {week['lps']:>5}  "
            f"{week['published']:>10}  {week['give_back_cpu']:>5.1f}"
        )
    total = {key: sum(week[key] for week in weeks) for key in weeks[0]} if weeks else {}
    print(
        f"{len(weeks)} weeks: repair {total.get('repair_cpu', 0):.1f} s CPU, give-back "
        f"{total.get('give_back_cpu', 0):.1f} s CPU ({total.get('tried', 0)} tried, "
        f"{total.get('audits', 0)} audits, {total.get('lps', 0)} LPs, {total.get('published', 0)} given "
        f"back); the model's build {wall:.0f} s wall"
    )


if __name__ == "__main__":
    main()
