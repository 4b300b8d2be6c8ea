"""The same dbt models on Spark (`lakehouse build --target spark`, dbt-spark's session method) and on DuckDB,
from the same encrypted lake: every table the Spark build makes equals DuckDB's row for row (a hash of
every row; OMOP ids bit-identical; timestamps without time zone on both). And every compiled node is
read by Spark's SQL parser, but for an explicit allow-list of the nodes not ported yet, each with its
reason: the list may only shrink.

The builds are the first builds of the session fixture `spark_builds` (tests/spark_builds.py), which
tests/test_spark_delta.py continues with an incremental build.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

pytest.importorskip(
    "dbt.adapters.spark", reason="the spark extra is not installed: pip install -e '.[spark]'"
)

from tests.spark_builds import CDM, MARTS, POST_HOOK_TABLES, PROJECT, stamped_tables, step, unequal_tables
from tests.spark_tables import delta_properties

pytestmark = pytest.mark.slow

# The compiled nodes Spark's parser does not read yet, each with why (docs/spark.md). Only shrinks: a
# node that parses is reported, so that it leaves the list.
NOT_PARSED_YET: dict[str, str] = {}


def test_spark_builds_staging_the_cdm_and_the_marts(spark_builds: dict[str, Any]) -> None:
    built = step(spark_builds, "spark-first").models
    assert set(CDM + MARTS) <= set(built), sorted(set(CDM + MARTS) - set(built))
    assert {"stg_lake__acts", "stg_lake__diagnoses", "base_lake__acts"} <= set(built)


def test_spark_build_passes_the_generic_tests(spark_builds: dict[str, Any]) -> None:
    """One test of each generic test kind of the staging, intermediate, seed and CDM tables ran on Spark,
    and passed (a failing one fails the build; tests/test_spark_baseline.py shows them failing on a
    broken row)."""
    step(spark_builds, "spark-first")
    target = spark_builds["root"] / "target-spark-first"
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    tests = {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("test.")}
    assert {uid.split(".")[2] for uid in tests} == set(spark_builds["spark_tests"])
    assert set(tests.values()) == {"pass"}, {uid: s for uid, s in tests.items() if s != "pass"}
    names = {uid.split(".")[2] for uid in tests}
    for macro in ("not_null_columns", "unique_combination", "omop_concept_conformances", "omop_after_birth"):
        assert any(name.startswith(macro) for name in names), macro
    assert len(names) >= 15, sorted(names)


def test_every_table_spark_builds_equals_duckdb_row_for_row(spark_builds: dict[str, Any]) -> None:
    duck, spark = step(spark_builds, "duckdb-first"), step(spark_builds, "spark-first")
    assert set(spark.models) == set(duck.models)
    assert not unequal_tables(spark, duck)
    # The CDM tables, the marts and the post-hook's tables are tables on both engines: each was compared.
    compared = set(spark.tables)
    assert set(CDM + MARTS) <= compared, sorted(set(CDM + MARTS) - compared)
    assert {name for _, name in POST_HOOK_TABLES} <= compared
    # The disclosure control did its work on the fixture: cells hidden by each rule, counts nulled.
    cells = spark.tables["disclosure_controlled_cells"].rows or []
    reasons = Counter(cell["suppression_reason"] for cell in cells if cell["cell_count"] is None)
    assert reasons.get("primary_cell_size", 0) > 0 and reasons.get("complementary", 0) > 0, reasons


def test_the_seeds_and_vocabulary_tables_carry_their_stamps_on_spark(spark_builds: dict[str, Any]) -> None:
    """The stamps by which the next build leaves them as they are (seed_when_changed, if_inputs_changed):
    a vocabulary table is stamped only when every parent's stamp was read back, so a missing or unread
    property on Spark shows here."""
    step(spark_builds, "spark-first")
    root = spark_builds["root"]
    stamped = stamped_tables(root / "target-spark-first")
    assert {"concept", "int_concepts_mapped_to_standard"} <= {name for name, _ in stamped["inputs:"]}
    assert len(stamped["seed:"]) >= 20, stamped["seed:"]
    for prefix, tables in stamped.items():
        for name, schema in tables:
            properties = delta_properties(root / "spark" / "warehouse" / f"{schema}.db" / name)
            assert properties.get("lakehouse.stamp", "").startswith(prefix), (name, properties)


def test_every_compiled_node_parses_on_spark_but_the_listed_ones(
    spark_builds: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dbt compile --target spark` in this process (dbt-spark's session), then Spark's own SQL parser
    on every model's compiled SQL: no data read, no plan run."""
    from dbt.cli.main import dbtRunner
    from pyspark.sql import SparkSession

    from ingest.build.spark_target import spark_environment

    step(spark_builds, "spark-first")
    root = spark_builds["root"]
    # A Spark home of its own: the Derby metastore of the build above is one process's at a time.
    env = spark_environment({**spark_builds["env"], "LAKEHOUSE_SPARK_HOME": str(root / "spark-parse")})
    for name, value in env.items():
        if name.startswith("LAKEHOUSE_"):
            monkeypatch.setenv(name, value)
    target = root / "target-parse"
    # Models only: the disclosure tests' macros find their model by its DuckDB relation name (a later slice).
    args = ["compile", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT), "--target", "spark"]
    args += ["--select", "resource_type:model", "--indirect-selection", "empty"]
    result = dbtRunner().invoke([*args, "--target-path", str(target), "--quiet"])
    spark = SparkSession.builder.getOrCreate()
    try:
        assert result.success, result.exception
        manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
        parser = spark._jsparkSession.sessionState().sqlParser()
        failing: dict[str, str] = {}
        parsed = 0
        for node in manifest["nodes"].values():
            # A Python model is Python on both engines (on Spark, applyInPandas: test_spark_baseline.py).
            if node["resource_type"] != "model" or node.get("language") == "python":
                continue
            if not node.get("compiled_code"):
                continue
            try:
                parser.parsePlan(node["compiled_code"])
                parsed += 1
            except Exception as error:  # py4j's wrapper of Spark's ParseException
                failing[node["name"]] = str(error).splitlines()[0][:200]
    finally:
        spark.stop()
    unexpected = sorted(set(failing) - set(NOT_PARSED_YET))
    now_parsing = sorted(set(NOT_PARSED_YET) - set(failing))
    assert not unexpected, {name: failing[name] for name in unexpected}
    assert not now_parsing, f"these nodes parse on Spark now: remove them from NOT_PARSED_YET: {now_parsing}"
    assert parsed > 40
