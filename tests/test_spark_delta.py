"""Incremental builds on Spark (Delta tables): after the first builds of the session fixture
`spark_builds` (tests/spark_builds.py), one more day landed and an incremental build on each engine.
The incremental Spark build rebuilds the day's scopes only, as DuckDB's does: its tables equal, row for
row, DuckDB's incremental build, and a DuckDB full refresh of the same lake (which the first builds show
equal to a Spark full build).
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip(
    "dbt.adapters.spark", reason="the spark extra is not installed: pip install -e '.[spark]'"
)

from tests.spark_builds import (
    CDM,
    FIRST_DAY,
    INCREMENTAL_ENV,
    LAST_DAY,
    MARTS,
    incremental_wanted,
    stamped_tables,
    step,
    unequal_tables,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not incremental_wanted(),
        reason=f"the incremental Spark build (a second Spark build): {INCREMENTAL_ENV}=1 runs it",
    ),
]

# Bookkeeping of the build itself (what changed since the last completed build, which build loaded each
# file): a full refresh has no earlier build, so these differ from an incremental build's by design.
BUILD_BOOKKEEPING = {
    "base_lake__changed_acts", "base_lake__child_extract_floors", "base_lake__file_loads",
    "base_lake__builds_completed", "base_lake__removed_rows", "int_surveillance_weeks_changed",
    "disclosure_controlled_cells__disclosure_certificates", "disclosure_controlled_cells__suppression_stats",
}  # fmt: skip


def test_the_next_spark_build_rebuilds_the_days_scopes_only(spark_builds: dict[str, Any]) -> None:
    first, spark = step(spark_builds, "spark-first"), step(spark_builds, "spark-next")
    # The first build completed: the watermark moved, and the next build counts as changed the acts of
    # the files loaded since, not every act.
    assert len(first.tables["base_lake__builds_completed"].rows or []) == 1
    assert len(spark.tables["base_lake__builds_completed"].rows or []) == 2
    acts = spark.tables["base_lake__acts"].rows or []
    changed = spark.tables["base_lake__changed_acts"].rows or []
    last_file = max(act["_lake_file"] for act in acts)
    new_acts = {(a["association_id"], a["act_id"]) for a in acts if a["_lake_file"] == last_file}
    assert new_acts, "the last day landed no act"
    changed_keys = {(a["association_id"], a["act_id"]) for a in changed}
    # The day's acts, and earlier acts only if the day's files hold rows of theirs (a late diagnosis).
    assert new_acts <= changed_keys
    assert len(changed_keys) < len({(a["association_id"], a["act_id"]) for a in acts}) / 4, len(changed_keys)
    operations = spark.operations
    # The base tables appended the new day's rows only, into the table the first build made.
    assert len({act["_lake_file"] for act in acts}) == (LAST_DAY - FIRST_DAY).days + 1
    head, *_, last = operations["base_lake__acts"]
    assert head[0] == "CREATE TABLE AS SELECT", operations["base_lake__acts"]
    assert last == ("WRITE", len(new_acts)), operations["base_lake__acts"]
    # The scoped models deleted their scope (one MERGE) and inserted it again, into the first build's
    # table. Delta commits no MERGE that matched nothing: the day's new acts had no rows to delete.
    for scoped in ("stg_lake__acts", "visit_occurrence", "person", "condition_occurrence"):
        ops = [op for op, _ in operations[scoped]]
        assert ops[0] == "CREATE TABLE AS SELECT" and ops[1:] in (["WRITE"], ["MERGE", "WRITE"]), scoped
    # An ISO week's models: the last day's week held rows of the first build, deleted and written again.
    for weekly in ("int_surveillance_syndrome_counts_by_week", "syndromic_indicators_by_week"):
        assert [op for op, _ in operations[weekly]] == ["CREATE TABLE AS SELECT", "MERGE", "WRITE"], weekly


def test_the_next_spark_build_leaves_the_seeds_and_the_vocabulary_as_they_were(
    spark_builds: dict[str, Any],
) -> None:
    first, spark = step(spark_builds, "spark-first"), step(spark_builds, "spark-next")
    stamped = stamped_tables(spark_builds["root"] / "target-spark-next")
    names = [name for tables in stamped.values() for name, _ in tables]
    assert "concept" in names and len(names) >= 25, names
    # No commit since the first build: not loaded, rebuilt nor stamped again.
    assert {n: spark.operations[n] for n in names} == {n: first.operations[n] for n in names}


def test_incremental_spark_build_equals_duckdb_incremental_build(spark_builds: dict[str, Any]) -> None:
    duck, spark = step(spark_builds, "duckdb-next"), step(spark_builds, "spark-next")
    assert set(spark.models) == set(duck.models)
    assert set(CDM + MARTS) <= set(spark.tables), sorted(set(CDM + MARTS) - set(spark.tables))
    assert not unequal_tables(spark, duck)


def test_incremental_spark_build_equals_a_full_refresh(spark_builds: dict[str, Any]) -> None:
    spark, full = step(spark_builds, "spark-next"), step(spark_builds, "duckdb-full")
    data = {name: table for name, table in spark.tables.items() if name not in BUILD_BOOKKEEPING}
    assert set(CDM + MARTS) - BUILD_BOOKKEEPING <= set(data)
    unequal = [
        name
        for name, table in data.items()
        if (table.columns, table.count, table.hashes)
        != (full.tables[name].columns, full.tables[name].count, full.tables[name].hashes)
    ]
    assert not unequal, unequal
