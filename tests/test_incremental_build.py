"""Incremental builds: after each daily load the warehouse an incremental `dbt build` leaves is, table for
table and row for row, the one a `--full-refresh` build gives (staging, intermediate, CDM and marts),
through new days, a late act, a corrected act moved to another week, a late child row, a duplicate batch
and the purge of an objecting patient; and the daily build really is incremental (only the changed acts
and weeks are rebuilt, and the big tables' tests read only them)."""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path

import pytest

from ingest.governance.opposition import add_identities
from ingest.governance.purge import purge_opposition
from ingest.lake.keys import LocalKeyStore
from ingest.lake.manifest import all_manifests
from ingest.lake.storage import open_store
from ingest.landing.land import Ingestor, find_extract_files
from ingest.synth import generate_extracts
from tests.extract_builder import NIR, NIR_PATIENT, act_row, diagnosis_row, with_nir_key, write_extract
from tests.test_dbt_build import dbt, open_warehouse

pytestmark = pytest.mark.slow

ASSOCIATION = "A76001"  # one of the generator's two associations: no new area or association
OTHER_NIR = with_nir_key("1600576540123")


# The tables a daily build reads or deletes by the changed acts' days, and the column they are stored
# in order of.
DATE_ORDERED = {
    "staging.stg_lake__acts": "start_at",
    "intermediate.int_acts_typed_as_visits": "visit_start_date",
    "intermediate.int_diagnoses_mapped_to_standard": "visit_start_date",
    "intermediate.int_surveillance_acts_classified": "act_date",
    "intermediate.int_surveillance_act_syndromes": "week_start_date",
}


def _act(act_id: str, day: str, nir: str, **overrides: str) -> dict[str, str]:
    return act_row(
        act_id,
        code_site=f"{ASSOCIATION}-B",
        date_appel=day,
        date_debut=day,
        date_fin=day,
        patient_nir=nir,
        patient_commune_insee="76540",
        patient_code_postal="76000",
        **overrides,
    )


def scoped_tables(manifest: Path) -> set[str]:
    """The schema.table of every scoped incremental model of a build's graph."""
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return {
        f"{n['schema']}.{n['alias']}"
        for n in nodes
        if n["resource_type"] == "model" and n["config"]["materialized"] == "scoped_incremental"
    }


def _snapshot(warehouse: Path, keystore: LocalKeyStore) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent hash of every row, per table built from the lake."""
    con = open_warehouse(warehouse, keystore)
    tables = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() where database_name = 'warehouse' "
        "and schema_name in ('staging', 'intermediate', 'cdm', 'epidemiology') order by 1"
    ).fetchall()
    sums = {}
    for (table,) in tables:
        sums[table] = con.execute(f"select count(*), sum(hash(r)) from warehouse.{table} as r").fetchone()
    con.close()
    # Every incremental model, found in the graph of the build that made the warehouse, is compared.
    scoped = scoped_tables(warehouse.parent / "target" / "manifest.json")
    assert len(scoped) >= 25
    assert scoped <= set(sums), scoped - set(sums)
    assert sums["cdm.visit_occurrence"][0] > 1000
    return sums


def _query(warehouse: Path, keystore: LocalKeyStore, sql: str) -> list[tuple]:
    con = open_warehouse(warehouse, keystore)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_incremental_builds_equal_full_refresh(keystore: LocalKeyStore, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    store = open_store(lake)
    ingestor = Ingestor(store, keystore)
    generate_extracts(
        tmp_path / "generated", date(2024, 1, 1), date(2024, 1, 24), n_associations=2, scale=0.3
    )
    generated = find_extract_files([tmp_path / "generated"])

    def days(first: str, last: str) -> list[Path]:
        return [p for p in generated if first <= p.name.split("_")[1] <= last]

    hand = tmp_path / "hand"
    # History: three weeks, with two hand-made acts on Wednesday 10 January: act H1 of a patient who
    # will object, act H2 of another patient.
    history_acts = write_extract(
        hand / "history",
        "actes",
        [_act("H1", "10/01/2024", NIR), _act("H2", "10/01/2024", OTHER_NIR)],
        association=ASSOCIATION,
        day="20240110",
    )
    history_diagnoses = write_extract(
        hand / "history",
        "diagnostics",
        [diagnosis_row("H1", code_cim10="J11.1")],
        association=ASSOCIATION,
        day="20240110",
    )
    assert ingestor.run([*days("20240101", "20240117"), history_acts, history_diagnoses]).totals[2] == 0

    incremental, full = tmp_path / "incremental", tmp_path / "full"
    env = {**os.environ, "LAKEHOUSE_KEYSTORE": str(keystore.path), "LAKEHOUSE_LAKE": str(lake)}
    env_inc = {**env, "LAKEHOUSE_WAREHOUSE": str(incremental / "warehouse.duckdb")}
    # The full build's log must hold every statement's SQL (the per-week inserts are counted below).
    env_full = {**env, "LAKEHOUSE_WAREHOUSE": str(full / "warehouse.duckdb"), "DBT_LOG_LEVEL_FILE": "debug"}

    def build(env: dict[str, str], root: Path, *extra: str) -> list[dict]:
        result = dbt([*extra], env, root)
        assert result.returncode == 0, result.stdout[-4000:]
        return json.loads((root / "target" / "run_results.json").read_text())["results"]

    def compare() -> None:
        # The full refresh counts the cells one ISO week per statement (a year at a time by default).
        one_week = ["--vars", "{surveillance_weeks_per_statement: 1}"]
        log = full / "logs" / "dbt.log"
        log.unlink(missing_ok=True)
        build(
            env_full,
            full,
            "build",
            "--full-refresh",
            "--resource-type",
            "seed",
            "--resource-type",
            "model",
            *one_week,
        )
        # ... and so ran the materialisation's inserts, one per week after the first (into the new
        # table, swapped in at the end).
        cells = r'"warehouse"\."epidemiology"\."disclosure_controlled_cells(?:__dbt_tmp)?"'
        per_week = re.findall(f"insert into {cells}", log.read_text())
        assert len(per_week) >= 2
        assert _snapshot(incremental / "warehouse.duckdb", keystore) == _snapshot(
            full / "warehouse.duckdb", keystore
        )
        # The full build stores the act-dated tables in date order, which the daily builds' bounds on
        # the changed acts' days rely on to skip the row groups of other periods.
        for table, column in DATE_ORDERED.items():
            out_of_order = _query(
                full / "warehouse.duckdb",
                keystore,
                f"select count(*) from (select {column} < lag({column}) over (order by rowid) as back "
                f"from warehouse.{table}) where back",
            )
            assert out_of_order == [(0,)], table

    build(env_inc, incremental, "build")

    # Daily load 1: four new days. The 19 January extract carries H2 again, corrected: it was in fact
    # seen on Tuesday 16 January (another ISO week) and sent to the emergency department; it also
    # carries late acts H3 and H4 of Saturday 13 January. H2's diagnosis arrives with the 20 January
    # extract, apart from its act; H4's came with the 5 January extract, a week before its act's day (a
    # dating error). A history file is given again (a duplicate batch, a no-op).
    correction = write_extract(
        hand / "late",
        "actes",
        [
            _act("H2", "16/01/2024", OTHER_NIR, orientation="URG"),
            _act("H3", "13/01/2024", OTHER_NIR),
            _act("H4", "13/01/2024", OTHER_NIR),
        ],
        association=ASSOCIATION,
        day="20240119",
    )
    early_child = write_extract(
        hand / "early",
        "diagnostics",
        [diagnosis_row("H4", code_cim10="J11.1")],
        association=ASSOCIATION,
        day="20240105",
    )
    late_child = write_extract(
        hand / "late",
        "diagnostics",
        [diagnosis_row("H2", code_cim10="J11.1")],
        association=ASSOCIATION,
        day="20240120",
    )
    report = ingestor.run([*days("20240118", "20240121"), correction, late_child, early_child, history_acts])
    statuses = [f.status for f in report.files]
    assert statuses.count("duplicate") == 1 and "quarantined" not in statuses, statuses
    assert report.totals[2] == 0  # no row quarantined: every hand-made row is valid
    results = build(env_inc, incremental, "build")
    compare()
    warehouse = incremental / "warehouse.duckdb"
    h2 = _query(
        warehouse,
        keystore,
        "select visit_start_date, discharged_to_source_value from warehouse.cdm.visit_occurrence "
        "where visit_occurrence_id in (select visit_occurrence_id from warehouse.intermediate"
        ".int_acts_typed_as_visits where act_id = 'H2')",
    )
    assert h2 == [(date(2024, 1, 16), "URG")]
    assert _query(
        warehouse,
        keystore,
        "select count(*) from warehouse.cdm.condition_occurrence where visit_occurrence_id in "
        "(select visit_occurrence_id from warehouse.intermediate.int_acts_typed_as_visits "
        "where act_id = 'H2')",
    ) == [(1,)]

    # It read and deleted the act-dated tables within literal bounds on the days of every version of
    # the changed acts (from H2's first day, 10 January, or earlier), which DuckDB compares with each
    # row group's min/max; and the published marts within the recomputed weeks.
    first, after = _query(
        warehouse,
        keystore,
        "select min(act_date), max(act_date) + 1 from warehouse.build_state.base_lake__changed_acts",
    )[0]
    assert first <= date(2024, 1, 10) and after >= date(2024, 1, 22)
    code = {r["unique_id"].split(".")[-1]: r.get("compiled_code") or "" for r in results}
    bound = f"visit_start_date >= cast('{first}' as date) and visit_start_date < cast('{after}' as date)"
    for model in ["int_diagnoses_mapped_to_standard", "visit_occurrence", "condition_occurrence"]:
        assert bound in code[model], model
    assert f"start_at >= cast('{first}' as timestamp_s)" in code["stg_lake__acts"]
    assert "week_start_date >= cast('2024-01-08' as date)" in code["disclosure_controlled_cells"]
    delete = 'delete from "warehouse"."intermediate"."int_acts_typed_as_visits"'
    log = (incremental / "logs" / "dbt.log").read_text()
    assert delete in log and bound in log.split(delete, 1)[1].split(";", 1)[0]
    # The child tables, which carry no act day, are read and deleted from the earliest extract date a
    # changed act's child row can have: H4's early diagnosis (5 January) is kept as a floor for later
    # builds, below every act's day.
    floors = "select act_id, floor_date from warehouse.build_state.base_lake__child_extract_floors"
    assert _query(warehouse, keystore, floors) == [("H4", date(2024, 1, 5))]
    child_bound = "extract_date >= cast('2024-01-05' as date)"
    for model in ["stg_lake__diagnoses", "stg_lake__prescriptions", "stg_lake__vital_signs"]:
        assert child_bound in code[model], model
        delete = f'delete from "warehouse"."staging"."{model}"'
        assert child_bound in log.split(delete, 1)[1].split(";", 1)[0], model
    for model in ["int_diagnoses_mapped_to_standard", "drug_exposure", "measurement"]:
        assert child_bound in code[model], model
    # No lake file was removed: no base table was scanned for the rows of one.
    removal = re.compile(r"cast\('[0-9-]+ [0-9:.]+' as timestamp\) as _removed_at")
    assert not removal.search(log)

    # The feed test of the coding rate judges the ISO weeks of the changed acts on a daily build, every
    # week with --vars test_scope: all. With a threshold no week meets, it flags exactly the
    # (association, week) pairs with enough acts among those.
    def coding_rate_flags(scope: str) -> int:
        vars_ = f"{{min_diagnosis_coding_rate: 1.01, test_scope: {scope}}}"
        select = ["--select", "test_name:diagnosis_coding_rate_by_week"]
        result = dbt(["test", *select, "--vars", vars_], env_inc, incremental)
        assert result.returncode == 0, result.stdout[-3000:]
        results = json.loads((incremental / "target" / "run_results.json").read_text())["results"]
        # The tests, not the on-run-end hook (the watermark, which a test alone never moves).
        run = [r for r in results if r["unique_id"].startswith("test.")]
        assert [r["status"] for r in run] == ["warn"]
        return run[0]["failures"]

    weeks_with_acts = (
        "select count(*) from (select association_id, date_trunc('week', start_at) as week "
        "from warehouse.staging.base_lake__acts group by all having count(distinct act_id) >= 20) "
        "where week in ({})"
    )
    changed_weeks = "select date_trunc('week', act_date) from warehouse.build_state.base_lake__changed_acts"
    every_week = "select date_trunc('week', start_at) from warehouse.staging.base_lake__acts"
    expected_changed = _query(warehouse, keystore, weeks_with_acts.format(changed_weeks))[0][0]
    expected_all = _query(warehouse, keystore, weeks_with_acts.format(every_week))[0][0]
    assert 0 < expected_changed < expected_all
    assert coding_rate_flags("changed") == expected_changed
    assert coding_rate_flags("all") == expected_all

    # The daily build rebuilt the changed acts only, and the big tables' tests read only them.
    changed = _query(
        warehouse,
        keystore,
        "select count(distinct visit_occurrence_id) from warehouse.build_state.base_lake__changed_acts",
    )
    total = _query(warehouse, keystore, "select count(*) from warehouse.cdm.visit_occurrence")
    assert 0 < changed[0][0] < total[0][0] / 2
    compiled = {
        r["unique_id"]: r.get("compiled_code") or ""
        for r in results
        if r["unique_id"].startswith("test.") and ".not_null_columns_visit_occurrence_" in r["unique_id"]
    }
    # They read the rows the materialisation inserted (kept for them), not the ten-year table.
    assert compiled and all("visit_occurrence__changed_rows" in sql for sql in compiled.values())
    # Every copy holds exactly the rows of its table that the changed acts (or their persons) touch.
    copies = _query(
        warehouse,
        keystore,
        "select c.table_name, t.schema_name from duckdb_tables() as c join duckdb_tables() as t "
        "on c.table_name = t.table_name || '__changed_rows' where c.schema_name = 'build_state' "
        "and c.database_name = 'warehouse' and t.database_name = 'warehouse'",
    )
    assert len(copies) == 17, copies
    for copy, schema in copies:
        table = copy.removesuffix("__changed_rows")
        if table.startswith("stg_lake__"):
            scope = "(association_id, act_id) in (select association_id, act_id from {changed})"
        elif table in {"int_persons_derived_from_acts", "person", "observation_period", "death"}:
            scope = "person_id in (select person_id from {changed})"
        else:
            scope = "visit_occurrence_id in (select visit_occurrence_id from {changed})"
        scope = scope.format(changed="warehouse.build_state.base_lake__changed_acts")
        in_copy = f"select count(*), sum(hash(r)) from warehouse.build_state.{copy} as r"
        in_scope = f"select count(*), sum(hash(r)) from warehouse.{schema}.{table} as r where {scope}"
        assert _query(warehouse, keystore, in_copy) == _query(warehouse, keystore, in_scope), table
    assert _query(
        warehouse, keystore, "select count(*) from warehouse.build_state.measurement__changed_rows"
    )[0][0]
    # ... the very rows the materialisation inserted (staged there first), not filtered out of the
    # whole table again.
    staged = 'from "warehouse"."build_state"."visit_occurrence__changed_rows"'
    assert staged in (incremental / "logs" / "dbt.log").read_text()
    # The published marts' disclosure tests read the ISO weeks this build recomputed (and only those:
    # the rest of the marts was not rewritten), never a row-level scope.
    disclosure = [r for r in results if r["unique_id"].startswith("test.") and "disclosure" in r["unique_id"]]
    assert disclosure and not any(
        "base_lake__changed_acts" in (r.get("compiled_code") or "") for r in disclosure
    )
    week_scoped = [
        r for r in disclosure if "int_surveillance_weeks_changed" in (r.get("compiled_code") or "")
    ]
    assert any(".disclosure_cells_geography_margin" in r["unique_id"] for r in week_scoped)
    assert all(
        "period_start >= cast('2024-01-08' as date)" in r["compiled_code"]
        for r in week_scoped
        if ".disclosure_cells_" in r["unique_id"]
    )

    # Daily load 2: three new days, H4's diagnosis corrected (the new list replaces the early one), and
    # the patient of H1 objects: their acts are purged from the lake.
    relisted = write_extract(
        hand / "relisted",
        "diagnostics",
        [diagnosis_row("H4", code_cim10="J20.9")],
        association=ASSOCIATION,
        day="20240122",
    )
    ingestor.run([*days("20240122", "20240124"), relisted])
    add_identities(store, keystore, [NIR_PATIENT])
    assert purge_opposition(store, keystore).rows_removed
    results = build(env_inc, incremental, "build")
    # The purged act's first day (10 January) would bound the child tables from the 9th: H4's floor,
    # recorded by the previous build, takes them back to its early diagnosis, which the new list replaces.
    assert _query(
        warehouse,
        keystore,
        "select icd10_code from warehouse.staging.stg_lake__diagnoses where act_id = 'H4'",
    ) == [("J209",)]
    code = {r["unique_id"].split(".")[-1]: r.get("compiled_code") or "" for r in results}
    assert "extract_date >= cast('2024-01-05' as date)" in code["stg_lake__diagnoses"]
    weeks = _query(
        warehouse,
        keystore,
        "select week_start_date from warehouse.build_state.int_surveillance_weeks_changed order by 1",
    )
    # The purged act's week, the week of the previous last day and the new week; not the first week.
    assert [w for (w,) in weeks] == [date(2024, 1, 8), date(2024, 1, 15), date(2024, 1, 22)]
    # The purge removed a lake file: its rows were looked for, and their keys kept.
    assert removal.search((incremental / "logs" / "dbt.log").read_text())
    # The plugin takes the files a base table holds from base_lake__file_loads: the purged files'
    # entries went with their rows, so that list is exactly the files of the rows.
    for dataset in ("acts", "diagnoses", "prescriptions", "vital_signs"):
        in_table = f"select distinct _lake_file from warehouse.staging.base_lake__{dataset} order by 1"
        loads = "select distinct _lake_file from warehouse.build_state.base_lake__file_loads"
        recorded = f"{loads} where dataset = '{dataset}' order by 1"
        assert _query(warehouse, keystore, recorded) == _query(warehouse, keystore, in_table), dataset
    compare()
    assert _query(
        warehouse,
        keystore,
        "select count(*) from warehouse.intermediate.int_acts_typed_as_visits "
        "where act_id in ('H1', 'H2', 'H3')",
    ) == [(2,)]
    removed = "select count(*) from warehouse.build_state.base_lake__removed_rows"
    assert _query(warehouse, keystore, removed) == [(0,)]
    # Nor does the objector's pseudonym (with their acts and days) stay in the changed acts, which
    # `lakehouse query` reads, once the build is through.
    assert _query(
        warehouse,
        keystore,
        "select count(*) from warehouse.build_state.base_lake__changed_acts "
        "where patient_pseudonym not in (select person_source_value from warehouse.cdm.person)",
    ) == [(0,)]
    watermarks = "select count(*) from warehouse.build_state.base_lake__builds_completed"
    assert _query(warehouse, keystore, watermarks) == [(3,)]
    # A partial selection runs the watermark model but does not move the watermark: the models it
    # leaves out have not built the changes.
    build(env_inc, incremental, "run", "--select", "visit_occurrence+")
    assert _query(warehouse, keystore, watermarks) == [(3,)]
    # Every committed acts batch is loaded once; the purge rewrote one of them.
    loaded = _query(
        warehouse, keystore, "select count(distinct _batch_id) from warehouse.staging.base_lake__acts"
    )
    assert loaded[0][0] == len(
        [m for m in all_manifests(store) if m.dataset == "acts" and m.status == "committed"]
    )
