"""The linear attacker's audit and repair on the cells of a built warehouse: what it adds, at what cost.

Reads `disclosure_controlled_cells` of a warehouse built by the group rules alone (or by the build with
the repair: it then has nothing to add), runs ingest/disclosure/repair.py on each ISO week exactly as
the build's post-hook does, and prints per week the hidden cells, the cells the attacker pins before the
repair, the cells the repair hides and the time; then the information loss per table and geography level
before and after (share of cells, share of counts), and the complementary cells at France and région
level. Read-only: the warehouse is never written.

    .venv/bin/python benchmarks/disclosure_repair.py --warehouse W --keystore K [--weeks 4] [--k 11]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

from ingest.disclosure.attack import FAMILY_COUNTS, FAMILY_MARTS, STATS_TABLE
from ingest.disclosure.repair import every_relation, published_cells, repair
from ingest.publish.export import open_warehouse

CELLS = "warehouse.epidemiology.disclosure_controlled_cells"
# The struct of macros/disclosure/epidemiology_margins.sql (epidemiology_attacker_cell), as dicts.
COUNT_OF_FAMILY = " ".join(f"when '{family}' then '{count}'" for family, count in FAMILY_COUNTS.items())
STRUCT = f"""
    cell_id,
    case family {COUNT_OF_FAMILY} end as count,
    syndrome_group, age_class, geo_level, geo_code, parent_geo_code, period_type,
    case when period_type = 'week' then iso_week else strftime(period_start, '%Y-%m-%d') end as period,
    iso_week, association_id, hour_band,
    case when is_suppressed then null else cast(cell_count as double) end as value,
    family, suppression_reason
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--keystore", type=Path, required=True)
    parser.add_argument("--weeks", type=int, default=0, help="the first N full weeks only (0: all)")
    parser.add_argument("--week", help="this ISO week only (e.g. 2024-W01)")
    parser.add_argument("--k", type=int, default=11)
    args = parser.parse_args()
    con = open_warehouse(args.warehouse, args.keystore)
    weeks = [
        row[0]
        for row in con.execute(
            f"select iso_week from {CELLS} where period_type = 'day' group by iso_week"  # noqa: S608
            " having count(distinct period_start) = 7 order by iso_week"
        ).fetchall()
    ]
    if args.weeks:
        weeks = weeks[: args.weeks]
    if args.week:
        weeks = [args.week]
    # (table, period type, level) -> cells, hidden before, hidden after, count total, hidden counts
    # before, hidden counts after, complementary before, complementary after
    loss: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0] * 8)
    totals = {"hidden": 0, "pinned": 0, "exact": 0, "added": 0, "seconds": 0.0, "lps": 0}
    print("week      hidden  pinned (exact)  added  rounds  seconds")
    for week in weeks:
        cursor = con.execute(f"select {STRUCT} from {CELLS} where iso_week = ?", [week])  # noqa: S608
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        started = time.perf_counter()
        published, ids = published_cells(rows)
        relations = every_relation(published)
        added, first, last, rounds = repair(published.values, relations, args.k)
        seconds = time.perf_counter() - started
        exact = sum(1 for finding in first.findings if finding.upper - finding.lower < 0.5)
        print(
            f"{week}  {first.hidden_cells:>6}  {len(first.findings):>6} ({exact:>3})  {len(added):>5}"
            f"  {rounds:>6}  {seconds:7.1f}"
        )
        totals["hidden"] += first.hidden_cells
        totals["pinned"] += len(first.findings)
        totals["exact"] += exact
        totals["added"] += len(added)
        totals["seconds"] += seconds
        totals["lps"] += first.lps + (last.lps if last is not first else 0)
        added_ids = {ids[cell] for cell in added}  # type: ignore[index]
        for row in rows:
            table = FAMILY_MARTS.get(row["family"], row["family"])
            key = (table, row["period_type"], row["geo_level"] or "association")
            figures = loss[key]
            hidden_before = row["value"] is None
            hidden_after = hidden_before or row["cell_id"] in added_ids
            complementary_before = row["suppression_reason"] == "complementary"
            figures[0] += 1
            figures[1] += hidden_before
            figures[2] += hidden_after
            figures[6] += complementary_before
            figures[7] += complementary_before or (hidden_after and not hidden_before)
            if not hidden_before:
                figures[3] += row["value"]
                figures[5] += row["value"] if hidden_after else 0.0
    # The hidden counts before the repair: the build's statistics (its values are gone from the cells).
    placeholders = ", ".join("?" for _ in weeks)
    for family, period_type, level, _count_total, hidden_total in con.execute(
        f"select family, period_type, coalesce(geo_level, 'association'), sum(count_total),"  # noqa: S608
        f" sum(suppressed_count_total) from {STATS_TABLE.replace('build_state', 'warehouse.build_state')}"
        f" where strftime(period_start, '%G-W%V') in ({placeholders}) group by all",
        weeks,
    ).fetchall():
        figures = loss[(FAMILY_MARTS.get(family, family), period_type, level)]
        figures[3] += float(hidden_total or 0)
        figures[4] += float(hidden_total or 0)
        figures[5] += float(hidden_total or 0)
    print(
        f"\n{len(weeks)} weeks: {totals['hidden']} hidden cells, {totals['pinned']} pinned "
        f"({totals['exact']} exactly), {totals['added']} cells added by the repair, "
        f"{totals['lps']} LPs, {totals['seconds']:.0f} s"
    )
    print(
        "\ntable | period | level | cells | hidden before | after | counts before | after"
        " | compl. before | after"
    )
    order = {"departement": 0, "region": 1, "france": 2}
    for (table, period_type, level), f in sorted(
        loss.items(), key=lambda item: (item[0][0], item[0][1], order.get(item[0][2], 3))
    ):
        share = lambda part, whole: 100.0 * part / whole if whole else 0.0  # noqa: E731
        print(
            f"{table} | {period_type} | {level} | {f[0]:.0f} | {share(f[1], f[0]):.1f} % | "
            f"{share(f[2], f[0]):.1f} % | {share(f[4], f[3]):.1f} % | {share(f[5], f[3]):.1f} % | "
            f"{f[6]:.0f} | {f[7]:.0f}"
        )
    con.close()


if __name__ == "__main__":
    main()
