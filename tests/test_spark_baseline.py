"""The epidemic baseline (models/marts/epidemiology/epidemic_baseline_by_week.py) on Spark: the dbt model
built by `dbt run --target spark` (dbt-spark's session method, the `session` submission method of
ingest/build/spark_python_models.py), each series fitted by `groupBy(series).applyInPandas` with the
same `fit_series` the DuckDB model calls, equals the model run on DuckDB over the same input tables, bit
for bit.

The inputs are the model's own (the weekly mart, the full weekly counts, the two seeds), made here with
seasonal series long enough for the fit (five seasons, epidemics, suppressed weeks) rather than built
from the lake: a fixture of two weeks fits nothing.

The same session runs the project's generic tests on Spark against a CDM table, before and after a
broken row is inserted: dbt's tests are proved on Spark by failing, not only by passing (the build of
the staging and CDM fixture, tests/test_spark_build.py, shows them passing on real data). One Spark
session for the module (dbt's), in this process.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

pytest.importorskip(
    "dbt.adapters.spark", reason="the spark extra is not installed: pip install -e '.[spark]'"
)

from ingest.build.spark_target import LAKE_VIEWS_ENV
from ingest.lake.keys import init_keystore
from tests.spark_tables import session_jars

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
MODEL = PROJECT / "models/marts/epidemiology/epidemic_baseline_by_week.py"
_spec = importlib.util.spec_from_file_location("epidemic_baseline_by_week", MODEL)
baseline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(baseline)

# The model's inputs, by the schema dbt builds them in (generate_schema_name: the custom schema).
INPUTS = {
    "syndromic_indicators_by_week": "epidemiology",
    "int_surveillance_syndrome_counts_by_week": "intermediate",
    "syndromic_groups": "seeds",
    "surveillance_periods": "seeds",
}
SERIES = [
    ("grippe", "france", "FR"), ("grippe", "region", "11"), ("grippe", "region", "84"),
    ("gea", "france", "FR"), ("gea", "region", "11"), ("icanicule", "france", "FR"),
    ("gea", "region", None),  # acts of no known région: a NULL key, on both engines
]  # fmt: skip


def _weekly_inputs() -> dict[str, pd.DataFrame]:
    """Five seasons of weekly counts per series (a seasonal background, a January epidemic), some weeks
    suppressed in the mart (NULL count, full count kept), a week with no act (no full-count row), rows
    the model filters out (an age class, a département)."""
    rng = np.random.default_rng(19)
    mondays = pd.date_range("2019-07-01", periods=52 * 5, freq="W-MON")
    t = np.arange(len(mondays))
    mart, full = [], []
    for number, (group, level, code) in enumerate(SERIES):
        scale = 1.0 if level == "france" else 0.1 + 0.05 * number
        expected = scale * (100 + 30 * np.cos(2 * np.pi * (t - 26) / 52.18))
        expected += np.where((mondays.month == 1) & (mondays.day <= 42), 250 * scale, 0)
        counts = rng.poisson(expected)
        coded = counts * 7 + rng.poisson(500, len(t))
        published = np.where(counts < 11, np.nan, counts)  # the mart suppresses small counts
        frame = pd.DataFrame(
            {
                "syndrome_group": group,
                "age_class": "all",
                "geo_level": level,
                "geo_code": code,
                "iso_week": [d.strftime("%G-W%V") for d in mondays],
                "week_start_date": mondays.date,
                "syndrome_act_count": pd.array(published, dtype="Int64"),
                "coded_act_count": pd.array(coded, dtype="Int64"),
            }
        )
        mart += [frame, frame.assign(age_class="15_74"), frame.assign(geo_level="departement", geo_code="75")]
        counted = frame[counts > 0].iloc[1:]  # the first week: no act, so no full-count row
        full.append(
            counted[["syndrome_group", "geo_level", "geo_code", "week_start_date"]].assign(
                full_count=counts[counts > 0][1:].astype("int64")
            )
        )
    seeds = PROJECT / "seeds" / "surveillance"
    return {
        "syndromic_indicators_by_week": pd.concat(mart, ignore_index=True),
        "int_surveillance_syndrome_counts_by_week": pd.concat(full, ignore_index=True),
        "syndromic_groups": pd.read_csv(seeds / "syndromic_groups.csv", dtype=str)[
            ["syndrome_group", "surveillance_period"]
        ],
        "surveillance_periods": pd.read_csv(seeds / "surveillance_periods.csv"),
    }


class _Config(dict):
    """dbt's `dbt.config`: called to set the materialisation, read with get()."""

    def __call__(self, **config: Any) -> None:
        self.update(config)


class _This:
    """dbt's `this`, as dbt-duckdb renders it into a Python model."""

    database, schema, identifier = "memory", "main", "epidemic_baseline_by_week"

    def __repr__(self) -> str:
        return f'"{self.database}"."{self.schema}"."{self.identifier}"'


class _DuckDbt:
    """What dbt-duckdb hands a Python model: `ref` as a DuckDB relation, the model's config, `this`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, config: dict[str, Any]) -> None:
        self._con = con
        self.config = _Config(config)
        self.this = _This()

    def ref(self, name: str) -> duckdb.DuckDBPyRelation:
        return self._con.table(name)


def _on_duckdb(inputs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        for name, frame in inputs.items():
            con.register(f"{name}_frame", frame)
            con.execute(f"create table {name} as select * from {name}_frame")
        config = {"training_seasons": 5, "min_training_weeks": 80, "min_intensity_seasons": 3}
        config["disclosure_k"] = 11
        result = baseline.model(_DuckDbt(con, config), con)
    finally:
        con.close()
    return result


def _dbt(args: list[str]) -> Any:
    """dbt on the spark target, in this process (dbt-spark's session method: this process's Spark)."""
    from dbt.cli.main import dbtRunner

    common = ["--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT), "--target", "spark", "--quiet"]
    return dbtRunner().invoke([*args, *common])


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """dbt's Spark session, opened by dbt with the profile's settings; no lake (nothing here reads it)."""
    from ingest.build.spark_python_models import register

    root = tmp_path_factory.mktemp("spark_baseline")
    views = root / "lake_views.jsonl"
    # Every field on the line, as ingest/build/spark_target.py writes it (Spark infers the columns).
    line = {"n": 0, "sql": "select 1", **dict.fromkeys(["dataset", "columns", "empty", "view", "file"])}
    views.write_text(json.dumps(line) + "\n", encoding="utf-8")
    # Spark's temporary folders (profiles.yml), and the key store whose `warehouse` master key wraps the
    # keys of the tables Spark writes (docs/spark.md, "At rest").
    for folder in ("tmp", "local"):
        (root / "spark" / folder).mkdir(parents=True)
    init_keystore(root / "keystore.json")
    env = {
        "LAKEHOUSE_SPARK_HOME": str(root / "spark"),
        "LAKEHOUSE_KEYSTORE": str(root / "keystore.json"),
        # The profile's session loads Delta Lake's extension and catalog (the tables are Delta tables).
        "LAKEHOUSE_SPARK_JARS": session_jars(),
        # The KMS client is the lake's, though nothing here reads the lake.
        "LAKEHOUSE_SPARK_LAKE": (root / "lake").as_uri(),
        "LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS": "2",
        LAKE_VIEWS_ENV: str(views),
        "DBT_TARGET_PATH": str(root / "target"),
        "DBT_LOG_PATH": str(root / "logs"),
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    register()
    try:
        result = _dbt(["show", "--inline", "select 1"])
        assert result.success, result.exception
        from pyspark.sql import SparkSession

        session = SparkSession.builder.getOrCreate()
        yield session
        session.stop()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="module")
def built(spark: Any) -> dict[str, Any]:
    """The model built by `dbt run` on Spark from the inputs written to Spark's tables, and the model
    run on DuckDB over the same inputs."""
    inputs = _weekly_inputs()
    for name, schema in INPUTS.items():
        spark.sql(f"create schema if not exists {schema}")
        spark.createDataFrame(inputs[name]).write.mode("overwrite").saveAsTable(f"{schema}.{name}")
    result = _dbt(["run", "--select", "epidemic_baseline_by_week", "--full-refresh"])
    assert result.success, result.exception or result.result
    table = spark.table("epidemiology.epidemic_baseline_by_week")
    return {"spark": table.toPandas(), "duckdb": _on_duckdb(inputs), "columns": table.columns}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[baseline.COLUMNS].sort_values([*baseline.KEYS, "iso_week"])
    return frame.reset_index(drop=True)


def test_spark_builds_the_baseline_equal_to_duckdb_bit_for_bit(built: dict[str, Any]) -> None:
    spark, duck = _sorted(built["spark"]), _sorted(built["duckdb"])
    assert built["columns"] == baseline.COLUMNS
    assert len(spark) == len(duck) == len(SERIES) * 52 * 5
    # The fit ran: thresholds from the third season on, epidemic weeks flagged, some fits withheld.
    assert spark["epidemic_threshold"].notna().sum() > len(SERIES) * 52
    assert spark["is_epidemic_week"].fillna(False).sum() > 10
    for name in baseline.COLUMNS:
        left, right = spark[name], duck[name]
        assert (left.isna() == right.isna()).all(), name
        known = left.notna()
        if name.endswith("_pct") or name in ("baseline_count", "epidemic_threshold"):
            # Bit-equal doubles: the same function on the same inputs, whichever engine ran it.
            a = left[known].to_numpy(dtype="float64").view("int64")
            b = right[known].to_numpy(dtype="float64").view("int64")
            assert (a == b).all(), name
        elif name in ("observed_count", "coded_act_count", "training_week_count"):
            assert (left[known].astype("int64") == right[known].astype("int64")).all(), name
        else:
            assert [str(v) for v in left[known]] == [str(v) for v in right[known]], name


LOCATION = (
    "location_id bigint, address_1 string, address_2 string, city string, state string, zip string, "
    "county string, location_source_value string, country_concept_id int, country_source_value string, "
    "latitude double, longitude double"
)


def _location_tests() -> dict[str, tuple[str, int | None]]:
    """`dbt test` of the CDM's location table on Spark: {test: (status, failures)}."""
    result = _dbt(["test", "--select", "location", "--indirect-selection", "cautious"])
    assert result.exception is None, result.exception
    tests = [r for r in result.result.results if r.node.resource_type == "test"]
    return {r.node.name: (str(r.status), r.failures) for r in tests}


def test_generic_tests_pass_on_spark_and_fail_on_a_broken_row(spark: Any) -> None:
    """The project's generic tests (dbt's unique, not_null_columns, omop_max_lengths) run on Spark: they
    pass on the CDM's location table, and fail (not error) once a broken row is inserted."""
    spark.sql("create schema if not exists cdm")
    spark.sql("drop table if exists cdm.location")
    spark.sql(f"create table cdm.location ({LOCATION}) using parquet")
    row = "'{city}', 'IF', '{zip}', null, '{zip}', 4330442, 'France', 48.85, 2.35"
    spark.sql(
        "insert into cdm.location values "
        f"(1, null, null, {row.format(city='Paris', zip='75001')}), "
        f"(2, null, null, {row.format(city='Lyon', zip='69001')})"
    )
    passed = _location_tests()
    assert {"unique_location_location_id", "not_null_columns_location_location_id"} <= set(passed)
    assert len(passed) == 3, passed
    assert all(status == "pass" for status, _ in passed.values()), passed
    # A second row with id 2, a row without id, a state of three letters (the CDM's varchar(2)).
    spark.sql(
        "insert into cdm.location values "
        f"(2, null, null, {row.format(city='Lyon', zip='69002')}), "
        f"(null, null, null, {row.format(city='Lille', zip='59000')}), "
        "(3, null, null, 'Nice', 'PAC', '06000', null, '06000', 4330442, 'France', 43.7, 7.26)"
    )
    failed = _location_tests()
    assert failed["unique_location_location_id"] == ("fail", 1), failed
    assert failed["not_null_columns_location_location_id"] == ("fail", 1), failed
    assert [status for name, (status, _) in failed.items() if name.startswith("omop_max_lengths")] == ["fail"]
