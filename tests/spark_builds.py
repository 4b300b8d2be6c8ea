"""The Spark builds the Spark test modules share (session fixture `spark_builds`, tests/conftest.py).

One fixture lake (one association), built on DuckDB and on Spark as the CLI builds (each build its own
process, one Spark JVM at a time): a first build of every day but the last (Spark's with the generic
tests of what it builds), then the last day landed and an incremental build on both engines, then a
DuckDB full refresh of the whole lake. Each step's tables are read as soon as it is built (the next
build changes them): DuckDB's from the encrypted warehouse, Spark's from the files their Delta log names.
A Spark build costs minutes; the modules assert on these steps instead of building again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.spark_tables import delta_operations, is_delta_table, read_delta_table

__all__ = [
    "BUILD_TIME_COLUMNS",
    "CDM",
    "FIRST_DAY",
    "LAST_DAY",
    "MARTS",
    "POST_HOOK_TABLES",
    "PROJECT",
    "SELECT",
    "Built",
    "Table",
    "built_models",
    "run_lakehouse",
    "spark_builds",
    "spark_test_names",
    "step",
    "unequal_tables",
]

PROJECT = Path(__file__).resolve().parent.parent
LAKEHOUSE = Path(sys.executable).parent / "lakehouse"

# Two ISO weeks, the last day landed after the first build.
FIRST_DAY, LAST_DAY = date(2024, 1, 8), date(2024, 1, 21)

# What builds on Spark today (docs/spark.md): staging, the CDM, the surveillance intermediates, the
# published marts and their disclosure control (the epidemic baseline, a Python model, by applyInPandas),
# with all they are built from.
CDM = [
    "person", "visit_occurrence", "condition_occurrence", "measurement", "drug_exposure", "observation",
    "death", "location", "care_site", "provider", "observation_period", "cdm_source", "concept",
    "concept_relationship", "concept_ancestor", "vocabulary", "domain", "concept_class", "relationship",
    "source_to_concept_map",
]  # fmt: skip
MARTS = [
    "disclosure_controlled_cells", "syndromic_indicators_by_day", "syndromic_indicators_by_week",
    "activity_by_association_day", "care_pathway_by_syndrome_week", "death_certificates_by_week",
    "int_surveillance_acts_classified", "int_surveillance_act_syndromes", "int_surveillance_grid_by_week",
    "int_surveillance_departements_covered", "int_surveillance_syndrome_counts_by_week",
    "int_surveillance_weeks_changed", "epidemic_baseline_by_week", "epidemic_seasons_by_region",
]  # fmt: skip
SELECT = ["--select", "+path:models/omop", "+path:models/marts"]
NO_TESTS = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
# buildable: the tests whose every table is built (eager would also take the tests of the vocabulary
# tables that only read concept). The marts' own tests (the disclosure tests among them) are DuckDB's
# for now (docs/spark.md).
# One test of each generic test kind on Spark, chosen by `spark_test_names`: each kind's SQL must run there;
# the verdicts of the others follow from the tables, equal row for row to DuckDB's (whose build runs them
# all): a test costs a Spark job of seconds, and the CI minutes are counted.
SPARK_TESTS = ["--indirect-selection", "empty", "--exclude-resource-type", "unit_test"]
# The incremental Spark build (a second Spark build) and its comparison (tests/test_spark_delta.py) run
# when this variable is 1 (`LAKEHOUSE_TEST_SPARK_INCREMENTAL=1 ./lakehouse test`): with them CI does not
# hold its budget (benchmarks/README.md), so they are run by hand on a change of the incremental pattern
# or of the Spark target (docs/spark.md).
INCREMENTAL_ENV = "LAKEHOUSE_TEST_SPARK_INCREMENTAL"


def incremental_wanted() -> bool:
    return os.environ.get(INCREMENTAL_ENV, "0") == "1"


# Tables the disclosure post-hook writes beside the cells (not models): the linear attacker's
# certificates and the information loss, compared too.
POST_HOOK_TABLES = [
    ("build_state", "disclosure_controlled_cells__disclosure_certificates"),
    ("build_state", "disclosure_controlled_cells__suppression_stats"),
]
# Columns that hold the build's own time, not data: equal on no two builds.
BUILD_TIME_COLUMNS = {
    "base_lake__file_loads": {"loaded_at"},
    "base_lake__builds_completed": {"built_through"},
}
# Tables whose rows the tests read themselves, beyond their hashes.
KEPT_ROWS = {
    "base_lake__acts", "base_lake__changed_acts", "base_lake__builds_completed",
    "disclosure_controlled_cells",
}  # fmt: skip


@dataclass
class Table:
    """A built table: its columns, row count and a hash of every row (columns in name order, the build's
    own times left out), and the rows themselves for the tables of KEPT_ROWS."""

    columns: list[str]
    count: int
    hashes: Counter[str]
    rows: list[tuple] | None = None


@dataclass
class Built:
    """One build: the CLI's outcome, the models it built ({model: schema}) and the tables read after it."""

    process: subprocess.CompletedProcess[str]
    models: dict[str, str] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    # Spark builds: (operation, rows written) of every commit of each Delta table.
    operations: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    # What did not succeed: models, seeds and hooks (the next steps are not built), and tests (a failed
    # test fails the build but its tables are there: the next steps are built, and the test of the
    # generic tests reports it).
    failed_nodes: list[str] = field(default_factory=list)
    failed_tests: list[str] = field(default_factory=list)

    @property
    def built(self) -> bool:
        return not self.failed_nodes and (self.process.returncode == 0 or bool(self.failed_tests))

    def check(self, step: str) -> None:
        done = self.process
        assert self.built, f"{step}: {self.failed_nodes}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"


def run_lakehouse(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LAKEHOUSE), *args], env=env, cwd=PROJECT, capture_output=True, text=True, check=False
    )


def built_models(target: Path) -> dict[str, str]:
    """{model: schema} of the tables and views the build made (run_results.json)."""
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    built = {}
    for result in results:
        node = manifest["nodes"].get(result["unique_id"], {})
        if node.get("resource_type") in ("model", "seed") and result["status"] == "success":
            built[node["name"]] = node["schema"]
    return built


def stamped_tables(target: Path) -> dict[str, list[tuple[str, str]]]:
    """{"seed:": the seeds, "inputs:": the table_if_inputs_changed models} the build made, each as (name,
    schema): the tables a build leaves as they are when their stamp is unchanged (the prefix of that
    stamp)."""
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    built = built_models(target)
    stamped: dict[str, list[tuple[str, str]]] = {"seed:": [], "inputs:": []}
    for node in manifest["nodes"].values():
        if node["name"] not in built:
            continue
        if node["resource_type"] == "seed":
            stamped["seed:"].append((node["name"], node["schema"]))
        elif node["config"].get("materialized") == "table_if_inputs_changed":
            stamped["inputs:"].append((node["name"], node["schema"]))
    return stamped


def _plain(value: Any) -> Any:
    """One value as both engines' rows compare: timestamps naive (UTC where they had a zone)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _table(name: str, columns: list[str], rows: list[tuple]) -> Table:
    compared = sorted(c for c in columns if c not in BUILD_TIME_COLUMNS.get(name, set()))
    index = [columns.index(c) for c in compared]
    hashes = Counter(
        hashlib.sha256(repr(tuple(_plain(row[i]) for i in index)).encode()).hexdigest() for row in rows
    )
    kept = [dict(zip(columns, row, strict=True)) for row in rows] if name in KEPT_ROWS else None
    return Table(sorted(columns), len(rows), hashes, kept)  # type: ignore[arg-type]


def _duckdb_tables(root: Path, models: dict[str, str]) -> dict[str, Table]:
    from ingest.publish.export import open_warehouse

    con = open_warehouse(root / "warehouse.duckdb", root / "keystore.json")
    try:
        base_tables = set(
            con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = 'warehouse' and table_type = 'BASE TABLE'"
            ).fetchall()
        )
        tables = {}
        for schema, name in sorted((s, n) for n, s in models.items()) + POST_HOOK_TABLES:
            if (schema, name) not in base_tables:
                continue  # a view (staging): its rows are those of the tables built from it
            result = con.execute(f"select * from warehouse.{schema}.{name}")
            tables[name] = _table(name, [d[0] for d in result.description], result.fetchall())
        return tables
    finally:
        con.close()


def _spark_tables(root: Path, models: dict[str, str]) -> tuple[dict[str, Table], dict[str, list]]:
    """The tables (not the views) of the Spark build, and their Delta tables' commits."""
    import duckdb

    warehouse = root / "spark" / "warehouse"
    tables, operations = {}, {}
    con = duckdb.connect()
    try:
        for schema, name in sorted((s, n) for n, s in models.items()) + POST_HOOK_TABLES:
            folder = warehouse / f"{schema}.db" / name
            if not folder.is_dir():
                continue  # a view (staging): its rows are those of the tables built from it
            assert is_delta_table(folder), f"{folder}: not a Delta table"
            columns, rows = read_delta_table(con, folder, root / "keystore.json")
            operations[name] = delta_operations(folder)
            tables[name] = _table(name, columns, rows)
        return tables, operations
    finally:
        con.close()


def _land(root: Path, until: date) -> None:
    """Ingest the extract files of the days up to `until` (a file's day is in its name)."""
    from ingest.lake.keys import open_keystore
    from ingest.lake.storage import open_store
    from ingest.landing.land import Ingestor, find_extract_files

    day = until.strftime("%Y%m%d")
    files = [f for f in find_extract_files([root / "extracts"]) if f.name.split("_")[1] <= day]
    Ingestor(open_store(root / "lake"), open_keystore(root / "keystore.json")).run(files)


class _ShortLivedFiles(threading.Thread):
    """Copies, while a Spark build runs, the files of Spark's local and temporary folders (shuffle,
    spill, broadcast: deleted when the session stops) to `<root>/short-lived/<step>/`, for the at-rest
    test (tests/test_spark_at_rest.py) to search them like every other file the build wrote."""

    def __init__(self, root: Path, step: str) -> None:
        super().__init__(daemon=True)
        self.folders = [root / "spark" / "local", root / "spark" / "tmp"]
        self.copies = root / "short-lived" / step
        self.seen: dict[Path, tuple[int, int]] = {}
        self.done = threading.Event()

    def keep(self) -> None:
        for folder in self.folders:
            for path in folder.rglob("*") if folder.is_dir() else []:
                try:
                    stat = path.stat()
                    if not path.is_file() or self.seen.get(path) == (stat.st_mtime_ns, stat.st_size):
                        continue
                    self.seen[path] = (stat.st_mtime_ns, stat.st_size)
                    copy = self.copies / path.relative_to(folder.parent)
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, copy)
                except OSError:
                    continue  # deleted between listing and copying

    def run(self) -> None:
        while not self.done.wait(1):
            self.keep()
        self.keep()


def spark_test_names(target: Path, built: dict[str, str]) -> list[str]:
    """The first test (by name) of each generic test kind whose every parent the build made, but the
    marts' own tests (the disclosure tests find their model by its DuckDB relation name: docs/spark.md).
    The build excludes the others by name (`spark_test_exclusions`): `--indirect-selection empty` still
    took the tests of the vocabulary tables and the seeds."""
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    parents = {uid for uid, node in manifest["nodes"].items() if node.get("name") in built}
    chosen: dict[str, str] = {}
    for node in sorted(manifest["nodes"].values(), key=lambda n: n["name"]):
        kind = (node.get("test_metadata") or {}).get("name")
        if node["resource_type"] != "test" or kind is None or kind in chosen:
            continue
        attached = manifest["nodes"].get(node.get("attached_node") or "", {})
        if attached.get("original_file_path", "").startswith("models/marts/"):
            continue
        if set(node["depends_on"]["nodes"]) <= parents:
            chosen[kind] = node["name"]
    return sorted(chosen.values())


def spark_test_exclusions(target: Path, chosen: list[str]) -> list[str]:
    """`--exclude` and the name of every test of the project but the chosen ones."""
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    names = {node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "test"}
    return ["--exclude", *sorted(names - set(chosen))]


def _build(root: Path, env: dict[str, str], step: str, *args: str, tests: list[str] | None = None) -> Built:
    target = root / f"target-{step}"
    keeper = _ShortLivedFiles(root, step) if "spark" in args else None
    if keeper:
        keeper.start()
    try:
        done = run_lakehouse(["build", *args, *SELECT, *(tests or []), "--target-path", str(target)], env)
    finally:
        if keeper:
            keeper.done.set()
            keeper.join()
    built = Built(done)
    results = target / "run_results.json"
    if not results.is_file():
        built.failed_nodes.append("no run_results.json")
        return built
    for result in json.loads(results.read_text(encoding="utf-8"))["results"]:
        if result["status"] not in ("success", "pass"):
            failing = built.failed_tests if result["unique_id"].startswith("test.") else built.failed_nodes
            failing.append(result["unique_id"])
    if not built.built:
        return built
    built.models = built_models(target)
    if "spark" in args:
        built.tables, built.operations = _spark_tables(root, built.models)
    else:
        built.tables = _duckdb_tables(root, built.models)
    return built


@pytest.fixture(scope="session")
def spark_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """{"root", "env", and each step: "duckdb-first", "spark-first", "duckdb-next", "spark-next",
    "duckdb-full" (a `Built`)}. A build whose model fails ends the steps (the next ones are absent):
    the tests assert its outcome first."""
    pytest.importorskip(
        "dbt.adapters.spark", reason="the spark extra is not installed: pip install -e '.[spark]'"
    )
    from ingest.lake.keys import init_keystore
    from ingest.synth import generate_extracts

    root = tmp_path_factory.mktemp("spark_builds")
    init_keystore(root / "keystore.json")
    generate_extracts(root / "extracts", FIRST_DAY, LAST_DAY, n_associations=1, scale=0.3)
    env = {
        **os.environ,
        "LAKEHOUSE_HOME": str(root),
        "LAKEHOUSE_KEYSTORE": str(root / "keystore.json"),
        "LAKEHOUSE_LAKE": str(root / "lake"),
        "LAKEHOUSE_WAREHOUSE": str(root / "warehouse.duckdb"),
        "LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    steps: dict[str, Any] = {"root": root, "env": env}
    plan = [
        ("duckdb-first", NO_TESTS),
        ("spark-first", ["--target", "spark", *SPARK_TESTS]),
    ]
    if incremental_wanted():
        plan += [
            ("duckdb-next", NO_TESTS),
            ("spark-next", ["--target", "spark", *NO_TESTS]),
            ("duckdb-full", ["--full-refresh", *NO_TESTS]),
        ]
    _land(root, LAST_DAY - timedelta(days=1))
    chosen: list[str] = []
    for step, args in plan:
        if step == "duckdb-next":
            _land(root, LAST_DAY)
        tests = None
        if step == "spark-first":
            tests = chosen + spark_test_exclusions(root / "target-duckdb-first", chosen)
        steps[step] = _build(root, env, step, *args, tests=tests)
        if not steps[step].built:
            break
        if step == "duckdb-first":
            chosen = spark_test_names(root / "target-duckdb-first", steps[step].models)
    steps["spark_tests"] = chosen
    return steps


def unequal_tables(spark: Built, duck: Built) -> list[str]:
    """The tables of the Spark build whose rows are not DuckDB's (hashes of every row)."""
    unequal = []
    for name, table in spark.tables.items():
        other = duck.tables[name]
        if table.columns != other.columns:
            unequal.append(f"{name}: columns {table.columns} on Spark, {other.columns} on DuckDB")
        elif table.count != other.count or table.hashes != other.hashes:
            unequal.append(f"{name}: {table.count} rows on Spark, {other.count} on DuckDB")
    return unequal


def step(builds: dict[str, Any], name: str) -> Built:
    """A step of `spark_builds`, which must have succeeded: else the first failed step's output."""
    for earlier in ("duckdb-first", "spark-first", "duckdb-next", "spark-next", "duckdb-full"):
        assert earlier in builds, f"{earlier} was not built (a build before it failed)"
        builds[earlier].check(earlier)
        if earlier == name:
            return builds[name]
    raise KeyError(name)
