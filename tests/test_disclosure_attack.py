"""The linear attacker (ingest/disclosure/attack.py) and the suppression engine it audits.

The attacker must win where a reader wins (a union's component by subtraction, two small hidden cells
under one margin), lose where the protection holds, and run in `export` before anything is written. The
engine (macros/disclosure/suppression.sql), on random tables of the disclosure fixture project, must leave
nothing the attacker can pin, for any table and any k (hypothesis: each example is a real dbt build).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.disclosure.attack import (
    LinearAttackError,
    audit_published_tables,
    cells_from_marts,
    check_publication,
    union_groups,
)
from ingest.disclosure.repair import published_cells, repair_rows
from ingest.exceptions import LakehouseError
from ingest.lake.storage import open_store
from ingest.publish.export import export
from tests.disclosure_fixtures.gen_raw_cells import write_raw_cells

PROJECT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "disclosure_fixtures"
K = 11
AGES = ["00-01", "02-14", "15-74", "75+", "unknown"]


def _weekly(rows: list[tuple[str, str, int | None]]) -> pa.Table:
    """A weekly mart shaped like syndromic_indicators_by_week: (syndrome group, age class, count)."""
    return pa.table(
        {
            "syndrome_group": [group for group, _, _ in rows],
            "age_class": [age for _, age, _ in rows],
            "geo_level": ["france"] * len(rows),
            "geo_code": ["FR"] * len(rows),
            "parent_geo_code": [None] * len(rows),
            "iso_week": ["2024-W01"] * len(rows),
            "syndrome_act_count": pa.array([count for _, _, count in rows], pa.int64()),
        }
    )


def _asthme(total: int) -> list[tuple[str, str, int | None]]:
    """All ages, two hidden age classes and the published rest (their sum is total - 34)."""
    hidden: list[tuple[str, str, int | None]] = [("asthme", "00-01", None), ("asthme", "02-14", None)]
    return [
        ("asthme", "all", total),
        *hidden,
        ("asthme", "15-74", 20),
        ("asthme", "75+", 14),
        ("asthme", "unknown", 0),
    ]


def test_union_groups_come_from_the_code_lists() -> None:
    unions = union_groups()
    components, covered = unions["icanicule"]
    assert components == ["icanicule_deshydratation", "icanicule_hyperthermie", "icanicule_hyponatremie"]
    assert covered
    assert "grippe" in unions["ira"][0] and not unions["ira"][1]  # IRA has codes of its own


def test_attacker_recovers_a_union_component_by_subtraction() -> None:
    table = _weekly(
        [
            ("icanicule", "all", 30),
            ("icanicule_hyperthermie", "all", None),
            ("icanicule_deshydratation", "all", 15),
            ("icanicule_hyponatremie", "all", 12),
        ]
    )
    result = audit_published_tables({"weekly": table}, K)
    assert [f.cell.syndrome_group for f in result.findings] == ["icanicule_hyperthermie"]
    assert "recovered exactly (3)" in str(result.findings[0])
    assert "mart `weekly`, column `syndrome_act_count`" in str(result.findings[0])


def test_attacker_pins_two_small_hidden_cells_under_a_margin() -> None:
    # asthme, one area, one week: the two hidden age classes add up to 6, so each is in 0..6.
    table = _weekly(_asthme(total=40))
    findings = audit_published_tables({"weekly": table}, K).findings
    assert len(findings) == 2
    assert all(f.upper <= 6 + 1e-6 and "pinned inside 0..6" in str(f) for f in findings)


def test_attacker_accepts_cells_hidden_in_a_wide_interval() -> None:
    table = _weekly(_asthme(total=54))
    result = audit_published_tables({"weekly": table}, K)
    assert result.hidden_cells == 2 and result.findings == []


def test_attacker_reads_a_share_as_an_equation() -> None:
    # A share published beside a hidden numerator gives it back (coded 40 x 12.5 % = 5).
    table = _weekly([("grippe", "all", None)]).append_column("coded_act_count", pa.array([40], pa.int64()))
    table = table.append_column("syndrome_share_of_coded_pct", pa.array([12.5]))
    findings = audit_published_tables({"weekly": table}, K).findings
    assert len(findings) == 1 and "recovered exactly (5)" in str(findings[0])


def test_attacker_reads_a_merged_age_class_as_the_sum_of_its_classes() -> None:
    """A syndrome published in a merged class (`00-14`, seeds/surveillance/age_class_schemes.csv) carries
    the acts and coded acts of that class as the sum of the detailed classes' cells: the attacker must read
    it as that sum, not as a cell of its own. Read as a cell, a hidden `00-14` joined the detailed classes
    under all ages: a phantom variable that absorbed the margin and hid a recovered count."""
    coded = {"all": 1000, "00-01": None, "02-14": 200, "15-74": 600, "75+": 100, "unknown": 0}
    rows = [("gea", age, count, 10) for age, count in coded.items()]
    rows.append(("grippe", "00-14", None, 20))  # 00-01 + 02-14, NULL since 00-01 is hidden
    table = pa.table(
        {
            "syndrome_group": [group for group, _, _, _ in rows],
            "age_class": [age for _, age, _, _ in rows],
            "geo_level": ["france"] * len(rows),
            "geo_code": ["FR"] * len(rows),
            "parent_geo_code": [None] * len(rows),
            "iso_week": ["2024-W01"] * len(rows),
            "coded_act_count": pa.array([count for _, _, count, _ in rows], pa.int64()),
            "syndrome_act_count": pa.array([count for _, _, _, count in rows], pa.int64()),
        }
    )
    published = cells_from_marts({"weekly": table})
    assert not [c for c in published.values if c.count == "coded_act_count" and c.age_class == "00-14"]
    result = audit_published_tables({"weekly": table}, K)
    assert result.hidden_cells == 1
    assert [f.cell.age_class for f in result.findings] == ["00-01"]
    assert "recovered exactly (100)" in str(result.findings[0])


def test_attacker_reads_a_share_over_a_merged_class() -> None:
    """The share of a merged class is over the sum of its detailed classes' coded acts."""
    rows = [
        ("gea", "00-01", 100, 50, None),
        ("gea", "02-14", 200, 50, None),
        ("grippe", "00-14", 300, None, 2.0),
    ]
    table = pa.table(
        {
            "syndrome_group": [row[0] for row in rows],
            "age_class": [row[1] for row in rows],
            "geo_level": ["france"] * len(rows),
            "geo_code": ["FR"] * len(rows),
            "parent_geo_code": [None] * len(rows),
            "iso_week": ["2024-W01"] * len(rows),
            "coded_act_count": pa.array([row[2] for row in rows], pa.int64()),
            "syndrome_act_count": pa.array([row[3] for row in rows], pa.int64()),
            "syndrome_share_of_coded_pct": pa.array([row[4] for row in rows], pa.float64()),
        }
    )
    findings = audit_published_tables({"weekly": table}, K).findings
    assert len(findings) == 1 and "recovered exactly (6)" in str(findings[0])


def test_export_publishes_nothing_outside_the_epidemiology_schema(tmp_path: Path) -> None:
    """The marts to publish and their columns' roles come from dbt's manifest.json, a plain file in the
    target folder: flagging cdm.person `published` there, every column a `dimension`, had the next
    `lakehouse export` write every person (pseudonym, year and month of birth, location) to
    publication/. Only the epidemiology schema's marts are ever published."""
    con = duckdb.connect()
    con.execute("attach ':memory:' as warehouse")
    con.execute("create schema warehouse.cdm")
    con.execute(
        "create table warehouse.cdm.person as "
        "select 1 as person_id, 'a3f9c2e1b7d54e0f9a8b6c4d2e1f0a9b' as person_source_value, "
        "2011 as year_of_birth"
    )
    manifest = {
        "nodes": {
            "model.x.person": {
                "resource_type": "model",
                "name": "person",
                "database": "warehouse",
                "schema": "cdm",
                "config": {"meta": {"disclosure": {"published": True}}},
                "columns": {
                    name: {"name": name, "config": {"meta": {"disclosure": {"role": "dimension"}}}}
                    for name in ("person_id", "person_source_value", "year_of_birth")
                },
            }
        }
    }
    with pytest.raises(LakehouseError, match=r"`person`.*schema `cdm`"):
        export(manifest, con, open_store(tmp_path), k=K)
    assert not (tmp_path / "publication").exists()


def test_export_refuses_before_writing_when_the_attacker_wins(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("attach ':memory:' as warehouse")
    leaky = _weekly(
        [
            ("icanicule", "all", 30),
            ("icanicule_hyperthermie", "all", None),
            ("icanicule_deshydratation", "all", 15),
            ("icanicule_hyponatremie", "all", 12),
        ]
    )
    con.register("leaky_view", leaky)
    con.execute("create schema warehouse.epidemiology")
    con.execute("create table warehouse.epidemiology.weekly as select * from leaky_view")
    manifest = {
        "nodes": {
            "model.x.weekly": {
                "resource_type": "model",
                "name": "weekly",
                "database": "warehouse",
                "schema": "epidemiology",
                "config": {"meta": {"disclosure": {"published": True}}},
                # Each column's role, as the marts' YAML declares them: the role check passes, the
                # attacker is what refuses.
                "columns": {
                    name: {
                        "name": name,
                        "config": {"meta": {"disclosure": {"role": role}}},
                    }
                    for name in leaky.column_names
                    for role in ["count_of_acts" if name == "syndrome_act_count" else "dimension"]
                },
            }
        }
    }
    with pytest.raises(LinearAttackError, match=r"mart `weekly`.*icanicule_hyperthermie.*recovered exactly"):
        export(manifest, con, open_store(tmp_path), k=K)
    assert not (tmp_path / "publication").exists()
    with pytest.raises(LinearAttackError):
        check_publication({"weekly": leaky}, K)


def _struct_rows(table: pa.Table) -> list[dict]:
    """A weekly test mart as the build's post-hook hands it to the repair (one struct per cell)."""
    return [
        {
            "cell_id": f"{row['syndrome_group']}|{row['age_class']}",
            "count": "syndrome_act_count",
            "syndrome_group": row["syndrome_group"],
            "age_class": row["age_class"],
            "geo_level": row["geo_level"],
            "geo_code": row["geo_code"],
            "parent_geo_code": None,
            "period_type": "week",
            "period": row["iso_week"],
            "iso_week": row["iso_week"],
            "value": row["syndrome_act_count"],
        }
        for row in table.to_pylist()
    ]


def _after_repair(table: pa.Table, hidden_ids: list[str]) -> pa.Table:
    counts = [
        None if f"{group}|{age}" in hidden_ids else count
        for group, age, count in zip(
            table.column("syndrome_group").to_pylist(),
            table.column("age_class").to_pylist(),
            table.column("syndrome_act_count").to_pylist(),
            strict=True,
        )
    ]
    return table.set_column(
        table.column_names.index("syndrome_act_count"), "syndrome_act_count", pa.array(counts, pa.int64())
    )


def test_repair_hides_the_cheapest_cell_that_frees_two_pinned_cells() -> None:
    table = _weekly(_asthme(total=40))
    added = repair_rows(K, _struct_rows(table))
    # 14 acts (75+) widen the hidden pair to 0..20; the France total (40 >= k) and the zero are spared.
    assert added == ["asthme|75+"]
    assert audit_published_tables({"weekly": _after_repair(table, added)}, K).findings == []


def test_repair_closes_a_union_subtraction() -> None:
    table = _weekly(
        [
            ("icanicule", "all", 30),
            ("icanicule_hyperthermie", "all", None),
            ("icanicule_deshydratation", "all", 15),
            ("icanicule_hyponatremie", "all", 12),
        ]
    )
    added = repair_rows(K, _struct_rows(table))
    assert added == ["icanicule_hyponatremie|all"]
    assert audit_published_tables({"weekly": _after_repair(table, added)}, K).findings == []


# One France week of asthme: two primary cells (5 and 4), two complementary ones (20 and 60) hidden by
# the greedy rules, and the true counts the post-hook passes for the complementary cells only.
GREEDY_WEEK = [("all", 100, "published"), ("00-01", 5, "primary"), ("02-14", 4, "primary")]
GREEDY_WEEK += [("15-74", 20, "complementary"), ("75+", 60, "complementary"), ("unknown", 11, "published")]


def _rows_with_truth(week: list[tuple[str, int, str]]) -> list[dict]:
    """The post-hook's structs: a hidden cell's value is NULL, a complementary cell carries its count."""
    table = _weekly([("asthme", age, None if state != "published" else count) for age, count, state in week])
    rows = _struct_rows(table)
    for row, (_, count, state) in zip(rows, week, strict=True):
        row["true_value"] = float(count) if state == "complementary" else None
    return rows


def _published_after(week: list[tuple[str, int, str]], changed: list[str]) -> pa.Table:
    """The week as the marts publish it once the post-hook has flipped the cells the function returned."""
    hidden = {f"asthme|{age}" for age, _, state in week if state != "published"} ^ set(changed)
    return _weekly([("asthme", age, None if f"asthme|{age}" in hidden else count) for age, count, _ in week])


def test_give_back_publishes_a_complementary_cell_the_attacker_does_not_need() -> None:
    """The greedy rules hid 15-74 and 75+; the primary pair (5 + 4) needs only one of them beside it. The
    give-back pass publishes the larger one again at its true count, and the attacker, run on what is then
    published, pins nothing."""
    changed = repair_rows(K, _rows_with_truth(GREEDY_WEEK))
    assert changed == ["asthme|75+"]
    published = _published_after(GREEDY_WEEK, changed)
    counts = dict(
        zip(published["age_class"].to_pylist(), published["syndrome_act_count"].to_pylist(), strict=True)
    )
    assert counts["75+"] == 60 and counts["15-74"] is None
    result = audit_published_tables({"weekly": published}, K)
    assert result.hidden_cells == 3 and result.findings == []


def test_give_back_keeps_hidden_a_cell_whose_publication_pins_a_primary_cell() -> None:
    """15-74 (20) stays hidden: published too, it would leave the primary pair summing to 9 under the
    total, each pinned inside 0..9 (an LP finds it: no margin is left with one hidden cell). A primary
    cell is never published, even when a caller hands its count over."""
    rows = _rows_with_truth(GREEDY_WEEK)
    for row in rows:
        if row["age_class"] in ("00-01", "02-14"):
            row["true_value"] = 5.0 if row["age_class"] == "00-01" else 4.0
    changed = repair_rows(K, rows)
    assert changed == ["asthme|75+"]
    too_much = _published_after(GREEDY_WEEK, [*changed, "asthme|15-74"])
    findings = audit_published_tables({"weekly": too_much}, K).findings
    assert sorted(f.cell.age_class for f in findings) == ["00-01", "02-14"]
    assert all("pinned inside 0..9" in str(f) for f in findings)


def test_give_back_publishes_two_classes_hidden_together_under_one_total() -> None:
    """The national case: France's under-15s (835) and 75+ (454) hidden as complementary under a published
    all-ages total. Published alone, either one gives the other back by subtraction; published together
    they disclose nothing. A cell whose partner is primary stays hidden (00-01 under the 2-14s' margin)."""
    week = [("all", 1500, "published"), ("00-14", 835, "complementary"), ("15-74", 211, "published")]
    week += [("75+", 454, "complementary"), ("unknown", 0, "published")]
    changed = repair_rows(K, _rows_with_truth(week))
    assert changed == ["asthme|00-14", "asthme|75+"]
    assert audit_published_tables({"weekly": _published_after(week, changed)}, K).hidden_cells == 0
    primary_partner = [("all", 100, "published"), ("00-01", 5, "primary"), ("02-14", 30, "complementary")]
    primary_partner += [("15-74", 65, "published")]
    assert repair_rows(K, _rows_with_truth(primary_partner)) == []


def test_give_back_tries_france_then_region_then_the_largest_count() -> None:
    """The order the pass tries cells in: a France cell before a larger région one, a région cell before a
    larger département one, then the largest count, the cell breaking ties (the same in every build)."""
    from ingest.disclosure.attack import Cell
    from ingest.disclosure.repair import give_back_order

    def cell(level: str, code: str) -> Cell:
        return Cell("syndrome_act_count", "grippe", "00-14", level, code, "week", "2024-W03")

    counts = {
        cell("departement", "75"): 2000.0,
        cell("region", "11"): 900.0,
        cell("france", "FR"): 454.0,
        cell("region", "84"): 900.0,
        cell("region", "24"): 1200.0,
    }
    tried = sorted(counts, key=lambda c: give_back_order(c, counts[c]))
    assert [(c.geo_level, c.geo_code) for c in tried] == [
        ("france", "FR"),
        ("region", "24"),
        ("region", "11"),
        ("region", "84"),
        ("departement", "75"),
    ]


def test_publication_folder_is_checked_on_its_own(tmp_path: Path) -> None:
    """tools/check_publication.py reads only the exported Parquet files: the give-back's week passes; the
    same week with 15-74 published too (the primary pair pinned) and a count of 4 published fail."""
    import pyarrow.parquet as pq

    from tools.check_publication import check_folder

    changed = repair_rows(K, _rows_with_truth(GREEDY_WEEK))
    (tmp_path / "safe").mkdir()
    pq.write_table(_published_after(GREEDY_WEEK, changed), tmp_path / "safe" / "weekly.parquet")
    small, result = check_folder(tmp_path / "safe", K)
    assert small == [] and result.hidden_cells == 3 and result.findings == []
    (tmp_path / "leaky").mkdir()
    leaky = _published_after(GREEDY_WEEK, [*changed, "asthme|15-74"])
    pq.write_table(leaky, tmp_path / "leaky" / "weekly.parquet")
    pq.write_table(_weekly([("grippe", "all", 4)]), tmp_path / "leaky" / "small.parquet")
    small, result = check_folder(tmp_path / "leaky", K)
    assert small == ["small.syndrome_act_count: 1 value(s) between 1 and 10"]
    assert sorted(finding.cell.age_class for finding in result.findings) == ["00-01", "02-14"]


def test_repair_reads_the_cells_as_the_attacker_reads_the_marts() -> None:
    table = _weekly(_asthme(total=40))
    published, _ = published_cells(_struct_rows(table))
    assert published.values == audit_published_values(table)


def audit_published_values(table: pa.Table) -> dict:
    from ingest.disclosure.attack import cells_from_marts

    return cells_from_marts({"weekly": table}).values


def test_union_margin_of_the_engine_is_the_attackers_union() -> None:
    """The SQL engine's iCanicule margin (macros) and the attacker's (the code lists) are one union."""
    macro = (PROJECT / "macros" / "disclosure" / "epidemiology_margins.sql").read_text(encoding="utf-8")
    union = macro[macro.index("'name': 'union'") :]
    union = union[: union.index("},")]
    children = sorted(re.findall(r"'(icanicule_[a-z]+)'", union))
    parent = re.search(r"syndrome_group = '([a-z_]+)'", union)
    covered = {group: parts for group, (parts, whole) in union_groups().items() if whole}
    assert parent is not None and covered == {parent.group(1): children}


# --- The engine on the disclosure fixture project ---------------------------------------------------------


def _build_fixture_project(
    work: Path, seed: int, tables: int, k: int, attacker: bool = True
) -> tuple[subprocess.CompletedProcess, Path]:
    project = work / "project"
    shutil.copytree(
        FIXTURES, project, ignore=shutil.ignore_patterns("*.duckdb", "target", "logs", "__pycache__")
    )
    if not attacker:  # an analyst's own profile, without the plugin that registers the attacker
        profile = (project / "profiles.yml").read_text(encoding="utf-8")
        (project / "profiles.yml").write_text(profile[: profile.index("      # The linear attacker")])
    write_raw_cells(project / "seeds" / "raw_cells.csv", seed=seed, tables=tables)
    env = {
        **os.environ,
        "DISCLOSURE_MACROS_DIR": str(PROJECT / "macros" / "disclosure"),
        "DISCLOSURE_FIXTURES_DB": str(work / "fixtures.duckdb"),
    }
    command = [str(Path(sys.executable).parent / "dbt"), "build", "--project-dir", str(project)]
    command += [
        "--profiles-dir",
        str(project),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work),
    ]
    command += ["--select", "raw_cells", "suppressed_cells", "--vars", json.dumps({"disclosure_k": k})]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return result, work / "fixtures.duckdb"


def _engine_output_as_a_mart(db: Path) -> pa.Table:
    """The engine's cells as a reader sees them: each fixture table is a 'syndrome group', one week."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql(
            "select family as syndrome_group, age_class, geo_level, geo_code, parent_geo_code,"
            " '2024-W01' as iso_week, cell_count as syndrome_act_count, is_suppressed"
            " from main.suppressed_cells"
        ).to_arrow_table()
    finally:
        con.close()


def test_engine_leaves_no_cell_the_attacker_can_pin(tmp_path: Path) -> None:
    result, db = _build_fixture_project(tmp_path, seed=20261128, tables=40, k=K)
    assert result.returncode == 0, result.stdout[-3000:]
    table = _engine_output_as_a_mart(db)
    audit = audit_published_tables({"suppressed_cells": table}, K)
    assert audit.hidden_cells > 300
    assert audit.findings == [], [str(f) for f in audit.findings[:5]]


@example(seed=0, tables=7, k=3)
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1), tables=st.integers(1, 8), k=st.integers(3, 15))
def test_for_any_table_and_k_published_cells_are_safe(
    tmp_path_factory, seed: int, tables: int, k: int
) -> None:
    work = tmp_path_factory.mktemp("engine")
    result, db = _build_fixture_project(work, seed=seed, tables=tables, k=k)
    assert result.returncode == 0, result.stdout[-3000:]
    table = _engine_output_as_a_mart(db)
    published = [count for count in table.column("syndrome_act_count").to_pylist() if count is not None]
    assert all(count == 0 or count >= k for count in published)
    assert table.column("is_suppressed").to_pylist() == [
        c is None for c in table.column("syndrome_act_count").to_pylist()
    ]
    # Recovered from its margins, or pinned inside 0..k-1 or to fewer than k values: the full rule.
    findings = audit_published_tables({"suppressed_cells": table}, k).findings
    assert findings == [], [str(f) for f in findings[:5]]


def test_engine_hides_no_complementary_cell_the_attacker_does_not_need(tmp_path: Path) -> None:
    """The group rules and the repair only add hidden cells; the give-back pass publishes again those not
    needed. On the built tables, each complementary cell left hidden is needed: published alone at its
    true count (from the seed), it lets the attacker pin a cell of its table."""
    result, db = _build_fixture_project(tmp_path, seed=20261207, tables=8, k=K)
    assert result.returncode == 0, result.stdout[-3000:]
    con = duckdb.connect(str(db), read_only=True)
    try:
        cells = con.sql(
            "select s.family as syndrome_group, s.age_class, s.geo_level, s.geo_code, s.parent_geo_code,"
            " '2024-W01' as iso_week, s.cell_count as syndrome_act_count, r.cell_count as true_count,"
            " s.suppression_reason from main.suppressed_cells as s"
            " left join main.raw_cells as r on s.cell_id = r.cell_id order by s.cell_id"
        ).to_arrow_table()
    finally:
        con.close()
    rows = cells.to_pylist()
    complementary = [row for row in rows if row["suppression_reason"] == "complementary"]
    assert len(complementary) > 20
    assert any(row["suppression_reason"] is None and row["true_count"] > 0 for row in rows)
    for cell in complementary:
        table = [
            {**row, "syndrome_act_count": row["true_count"] if row is cell else row["syndrome_act_count"]}
            for row in rows
            if row["syndrome_group"] == cell["syndrome_group"]
        ]
        mart = pa.Table.from_pylist(table).drop_columns(["true_count", "suppression_reason"])
        assert audit_published_tables({"cells": mart}, K).findings, f"not needed: {cell}"


def test_a_build_without_the_attacker_publishes_nothing(tmp_path: Path) -> None:
    result, db = _build_fixture_project(tmp_path, seed=7, tables=2, k=K, attacker=False)
    assert result.returncode != 0
    assert "`disclosure_audit_repair` is not on this connection" in result.stdout, result.stdout[-3000:]
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = {row[0] for row in con.sql("select table_name from information_schema.tables").fetchall()}
    finally:
        con.close()
    assert "suppressed_cells" not in tables


def test_engine_leaves_no_margin_group_hiding_less_than_k_beside_a_published_cell(tmp_path: Path) -> None:
    """Two hidden cells summing to 6 under a published total pin each in 0..6: the engine hides another."""
    result, db = _build_fixture_project(tmp_path, seed=7, tables=12, k=K)
    assert result.returncode == 0, result.stdout[-3000:]
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select s.family, s.age_class, s.geo_level, s.geo_code, s.parent_geo_level, s.parent_geo_code,"
            " r.cell_count, s.is_suppressed from main.suppressed_cells as s"
            " left join main.raw_cells as r on s.cell_id = r.cell_id"
        ).fetchall()
    finally:
        con.close()
    groups: dict[tuple, list[tuple]] = {}
    for row in rows:
        family, age, level, code, parent_level, parent_code = row[:6]
        groups.setdefault(("age", family, level, code), []).append(row)
        groups.setdefault(("geo", family, age, level, code), []).append(row)
        if parent_level:
            groups.setdefault(("geo", family, age, parent_level, parent_code), []).append(row)
    narrow = [
        key
        for key, members in groups.items()
        if len(members) > 1
        and 0 < sum(m[6] for m in members if m[7]) < K
        and any(not m[7] and m[6] > 0 for m in members)
    ]
    assert narrow == []


def test_a_manifest_name_cannot_smuggle_sql_into_export(tmp_path: Path) -> None:
    """An alias edited in manifest.json closed the quoted name and ran a COPY of cdm.person to a file in
    clear, with the warehouse key, at the next `export` or `disclosure-audit`."""
    con = duckdb.connect()
    con.execute("attach ':memory:' as warehouse")
    con.execute("create schema warehouse.epidemiology")
    con.execute("create table warehouse.epidemiology.weekly as select 12 as syndrome_act_count")
    leak = tmp_path / "leak.csv"
    alias = f"weekly\"; copy (select 1 as x) to '{leak}'; "
    alias += 'select * from "warehouse"."epidemiology"."weekly'
    manifest = {
        "nodes": {
            "model.x.weekly": {
                "resource_type": "model",
                "name": "weekly",
                "alias": alias,
                "database": "warehouse",
                "schema": "epidemiology",
                "config": {"meta": {"disclosure": {"published": True}}},
                "columns": {
                    "syndrome_act_count": {
                        "name": "syndrome_act_count",
                        "config": {"meta": {"disclosure": {"role": "count_of_acts"}}},
                    }
                },
            }
        }
    }
    with pytest.raises(LakehouseError, match="not a plain name"):
        export(manifest, con, open_store(tmp_path / "lake"), k=K)
    assert not leak.exists()
    assert not (tmp_path / "lake" / "publication").exists()


def test_the_attackers_count_of_each_family_is_the_macros() -> None:
    """epidemiology_attacker_cell (SQL, the build) and FAMILY_COUNTS (Python, the benchmark and the
    information loss) name the same published count for every family of disclosure_controlled_cells."""
    from ingest.disclosure.attack import FAMILY_COUNTS, FAMILY_MARTS

    macro = (PROJECT / "macros" / "disclosure" / "epidemiology_margins.sql").read_text()
    body = macro[macro.index("macro epidemiology_attacker_cell") :]
    body = body[: body.index("syndrome_group=")]
    assert dict(re.findall(r"when '(\w+)' then '(\w+)'", body)) == FAMILY_COUNTS
    assert set(FAMILY_MARTS) == set(FAMILY_COUNTS)
