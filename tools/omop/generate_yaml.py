"""Generate models/omop/_models/<table>.yml from the OMOP CDM v5.4 specification and the DQD check CSVs.

Inputs are the curated copies in tools/omop/spec/ (only the rows of the tables this project builds;
`--refresh-spec DIR` re-extracts them from the OHDSI CSVs). For each CDM table the output carries:
  - every column, in spec order, with its DuckDB `data_type` and the spec's guidance as description,
    and an enforced contract (names, types, not-null constraints on required fields);
  - DQD field checks as dbt tests: isRequired -> not_null_columns (one per table), isPrimaryKey -> unique,
    isForeignKey -> relationships, fkDomain / isStandardValidConcept -> omop_concept_conformance,
    plausibleValueLow/High -> omop_plausible_value, plausibleStartBeforeEnd -> omop_start_before_end,
    plausibleAfterBirth -> omop_after_birth, plausibleBeforeDeath -> omop_before_death,
    withinVisitDates -> omop_within_visit_dates, with the DQD failure thresholds (percent of rows);
  - DQD concept checks for the concepts this project emits: plausibleGender and plausible units.
Output is deterministic; never edit it by hand: put extra tests in tools/omop/overrides.yml.

    python -m tools.omop.generate_yaml [--check]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent
SPEC = HERE / "spec"
OUT = PROJECT / "models" / "omop" / "_models"

CLINICAL_TABLES = [
    "person", "observation_period", "visit_occurrence", "condition_occurrence", "drug_exposure",
    "measurement", "observation", "death", "location", "care_site", "provider", "cdm_source",
]  # fmt: skip
VOCABULARY_TABLES = [
    "concept", "concept_relationship", "concept_ancestor", "vocabulary", "domain", "concept_class",
    "relationship", "source_to_concept_map",
]  # fmt: skip
TABLES = CLINICAL_TABLES + VOCABULARY_TABLES
# Surrogate keys are hashes of natural keys (macros/vocabulary.sql: stable_id), 63 bits wide: the spec's
# "integer" is a logical type, and 32 bits cannot hold tens of millions of hashed ids without collisions.
SURROGATE_KEYS = {
    "person_id", "observation_period_id", "visit_occurrence_id", "visit_detail_id",
    "preceding_visit_occurrence_id", "condition_occurrence_id", "drug_exposure_id", "measurement_id",
    "observation_id", "provider_id", "care_site_id", "location_id", "measurement_event_id",
    "observation_event_id",
}  # fmt: skip


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def refresh_spec(source: Path) -> None:
    """Copy the rows of the tables we build (never the whole files) from the OHDSI CSVs."""
    SPEC.mkdir(exist_ok=True)
    for name in ("OMOP_CDMv5.4_Field_Level.csv", "DQD_OMOP_CDMv5.4_Field_Level.csv"):
        rows = [r for r in read_csv(source / name) if r["cdmTableName"].lower() in TABLES]
        write_csv(SPEC / name, rows)
    tables = [
        r for r in read_csv(source / "OMOP_CDMv5.4_Table_Level.csv") if r["cdmTableName"].lower() in TABLES
    ]
    write_csv(SPEC / "OMOP_CDMv5.4_Table_Level.csv", tables)
    concept_ids = used_concept_ids()
    concept_rows = [
        r for r in read_csv(source / "DQD_OMOP_CDMv5.4_Concept_Level.csv") if r["conceptId"] in concept_ids
    ]
    write_csv(SPEC / "DQD_OMOP_CDMv5.4_Concept_Level.csv", concept_rows)


def used_concept_ids() -> set[str]:
    """Concepts the models can emit as standard concepts: the curated vocabulary seed's standard rows."""
    seed = PROJECT / "seeds" / "vocabulary" / "vocabulary_concept.csv"
    with seed.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {r["concept_id"] for r in rows if r["standard_concept"] == "S"}


def duckdb_type(column: str, spec_type: str, table: str) -> str:
    spec_type = spec_type.lower()
    if spec_type == "integer":
        return "bigint" if column in SURROGATE_KEYS else "integer"
    if spec_type == "float":
        return "double"
    if spec_type == "datetime":
        return "timestamp"
    if spec_type.startswith("varchar"):
        return "varchar"
    if spec_type == "date":
        return "date"
    raise ValueError(f"unknown CDM datatype `{spec_type}` for `{table}.{column}`")


def varchar_length(spec_type: str) -> int | None:
    match = re.fullmatch(r"varchar\((\d+)\)", spec_type.lower())
    return int(match.group(1)) if match else None


def dqd_sql(value: str) -> str:
    """A DQD plausible-value bound (SQL Server flavour) as DuckDB SQL."""
    value = value.strip()
    if re.fullmatch(r"'\d{8}'", value):
        return f"date '{value[1:5]}-{value[5:7]}-{value[7:9]}'"
    if value == "DATEADD(dd,1,GETDATE())":
        return "current_date + 1"
    if value == "YEAR(GETDATE())+1":
        return "year(current_date) + 1"
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return value
    raise ValueError(f"unsupported DQD bound `{value}`")


def threshold(row: dict[str, str], check: str) -> float:
    raw = (row.get(f"{check}Threshold") or "0").strip()
    return float(raw) if raw not in ("", "NA") else 0.0


def description(text: str, fallback: str) -> str:
    text = re.sub(r"\s+", " ", (text or "").strip())
    return text if text and text != "NA" else fallback


def column_tests(table: str, field: dict[str, str], dqd: dict[str, str]) -> list[Any]:
    name = field["cdmFieldName"].lower()
    tests: list[Any] = []
    if field["isPrimaryKey"] == "Yes":
        tests.append("unique")
    fk_table = field["fkTableName"].lower()
    if (
        field["isForeignKey"] == "Yes"
        and fk_table in TABLES
        and not (fk_table == table and name.endswith("_id"))
    ):
        tests.append(
            {
                "relationships": {
                    "arguments": {"to": f"ref('{fk_table}')", "field": field["fkFieldName"].lower()}
                }
            }
        )
    domain = field["fkDomain"] if field["fkDomain"] not in ("", "NA") else None
    standard = dqd.get("isStandardValidConcept") == "Yes"
    if domain or standard:
        args: dict[str, Any] = {"standard_valid": standard}
        if domain:
            args["domain_id"] = domain
        tests.append({"omop_concept_conformance": {"arguments": args}})
    low = dqd.get("plausibleValueLow", "")
    high = dqd.get("plausibleValueHigh", "")
    if low not in ("", "NA") or high not in ("", "NA"):
        args = {
            "threshold_pct": max(threshold(dqd, "plausibleValueLow"), threshold(dqd, "plausibleValueHigh"))
        }
        if low not in ("", "NA"):
            args["low"] = dqd_sql(low)
        if high not in ("", "NA"):
            args["high"] = dqd_sql(high)
        tests.append({"omop_plausible_value": {"arguments": args}})
    if dqd.get("plausibleStartBeforeEnd") == "Yes":
        end = dqd["plausibleStartBeforeEndFieldName"].lower()
        args = {"end_column": end, "threshold_pct": threshold(dqd, "plausibleStartBeforeEnd")}
        tests.append({"omop_start_before_end": {"arguments": args}})
    if dqd.get("plausibleAfterBirth") == "Yes" and table != "person":
        tests.append(
            {"omop_after_birth": {"arguments": {"threshold_pct": threshold(dqd, "plausibleAfterBirth")}}}
        )
    if dqd.get("plausibleBeforeDeath") == "Yes" and table != "death":
        tests.append(
            {"omop_before_death": {"arguments": {"threshold_pct": threshold(dqd, "plausibleBeforeDeath")}}}
        )
    if dqd.get("withinVisitDates") == "Yes":
        tests.append(
            {"omop_within_visit_dates": {"arguments": {"threshold_pct": threshold(dqd, "withinVisitDates")}}}
        )
    return tests


def concept_tests(table: str, concept_rows: list[dict[str, str]]) -> list[Any]:
    tests: list[Any] = []
    rows = [r for r in concept_rows if r["cdmTableName"].lower() == table]
    gender = sorted(
        (r["cdmFieldName"].lower(), int(r["conceptId"]), r["plausibleGender"].strip())
        for r in rows
        if r["plausibleGender"].strip() in ("Male", "Female")
    )
    if gender:
        field = gender[0][0]
        tests.append(
            {"omop_plausible_gender": {"arguments": {
                "concept_column": field,
                "male_only": [c for f, c, g in gender if g == "Male"],
                "female_only": [c for f, c, g in gender if g == "Female"],
            }}}
        )  # fmt: skip
    units = sorted(
        (int(r["conceptId"]), sorted(int(u) for u in r["plausibleUnitConceptIds"].split(",") if u.strip()))
        for r in rows
        if r["plausibleUnitConceptIds"].strip() not in ("", "NA")
    )
    if units:
        tests.append(
            {"omop_plausible_unit": {"arguments": {"units_by_concept": {str(c): u for c, u in units}}}}
        )
    return tests


def _foreign_key(arguments: dict[str, Any]) -> dict[str, str]:
    target = re.fullmatch(r"ref\('([a-z_]+)'\)", arguments["to"])
    assert target, arguments
    return {"to": target.group(1), "field": arguments["field"]}


# Column tests generated once per table over all its columns (macros/tests/omop_dqd.sql): the test, the
# table-level test that replaces it, and its arguments for one column.
MERGED_TESTS: dict[str, tuple[str, Any]] = {
    "relationships": ("omop_foreign_keys", _foreign_key),
    "omop_concept_conformance": ("omop_concept_conformances", dict),
    "omop_plausible_value": ("omop_plausible_values", dict),
    "omop_after_birth": ("omop_after_births", dict),
    "omop_before_death": ("omop_before_deaths", dict),
}


def build(table: str) -> dict[str, Any]:
    fields = [
        r for r in read_csv(SPEC / "OMOP_CDMv5.4_Field_Level.csv") if r["cdmTableName"].lower() == table
    ]
    dqd = {
        r["cdmFieldName"].lower(): r
        for r in read_csv(SPEC / "DQD_OMOP_CDMv5.4_Field_Level.csv")
        if r["cdmTableName"].lower() == table
    }
    table_row = next(
        r for r in read_csv(SPEC / "OMOP_CDMv5.4_Table_Level.csv") if r["cdmTableName"].lower() == table
    )
    concept_rows = read_csv(SPEC / "DQD_OMOP_CDMv5.4_Concept_Level.csv")
    columns = []
    # isRequired and the varchar lengths as one test each per table (one scan and one dbt node, not one
    # per column: dbt's per-node work is most of a daily build); their failures name the columns.
    required: list[str] = []
    lengths: dict[str, int] = {}
    # Likewise the foreign keys, concept conformance, plausible values and the dates after birth and
    # before death: {test: {column: arguments}}.
    merged: dict[str, dict[str, Any]] = {name: {} for name in MERGED_TESTS}
    for field in fields:
        name = field["cdmFieldName"].lower()
        column: dict[str, Any] = {
            "name": name,
            "description": description(field["userGuidance"], name.replace("_", " ")),
            "data_type": duckdb_type(name, field["cdmDatatype"], table),
        }
        if field["isRequired"] == "Yes":
            column["constraints"] = [{"type": "not_null"}]
            required.append(name)
        tests = []
        for test in column_tests(table, field, dqd.get(name, {})):
            kind = next(iter(test)) if isinstance(test, dict) else test
            if kind in MERGED_TESTS:
                merged[kind][name] = MERGED_TESTS[kind][1](test[kind]["arguments"])
            else:
                tests.append(test)
        length = varchar_length(field["cdmDatatype"])
        if length:
            lengths[name] = length
        if tests:
            column["data_tests"] = tests
        columns.append(column)
    model: dict[str, Any] = {
        "name": table,
        "description": description(table_row["tableDescription"], table),
        "config": {"contract": {"enforced": True}},
    }
    table_tests: list[Any] = []
    if required:
        table_tests.append({"not_null_columns": {"arguments": {"columns": required}}})
    if lengths:
        table_tests.append({"omop_max_lengths": {"arguments": {"lengths": lengths}}})
    for kind, (merged_name, _) in MERGED_TESTS.items():
        if merged[kind]:
            table_tests.append({merged_name: {"arguments": {"columns": merged[kind]}}})
    table_tests += concept_tests(table, concept_rows)
    if table_tests:
        model["data_tests"] = table_tests
    model["columns"] = columns
    return model


def merge_overrides(model: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    extra = overrides.get(model["name"], {})
    if "description" in extra:
        model["description"] = extra["description"]
    if "data_tests" in extra:
        model["data_tests"] = model.get("data_tests", []) + extra["data_tests"]
    for column in model["columns"]:
        col_extra = extra.get("columns", {}).get(column["name"], {})
        if "description" in col_extra:
            column["description"] = col_extra["description"]
        if "data_tests" in col_extra:
            column["data_tests"] = column.get("data_tests", []) + col_extra["data_tests"]
    return model


def render(model: dict[str, Any]) -> str:
    header = (
        "# Generated by `python -m tools.omop.generate_yaml` from the OMOP CDM v5.4 and DQD CSVs: "
        "do not edit.\n"
    )
    body = yaml.safe_dump({"version": 2, "models": [model]}, sort_keys=False, width=110, allow_unicode=True)
    return header + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refresh-spec", type=Path, help="folder of the OHDSI CDM and DQD CSVs")
    parser.add_argument("--check", action="store_true", help="fail if the YAML on disk is not up to date")
    args = parser.parse_args(argv)
    if args.refresh_spec:
        refresh_spec(args.refresh_spec)
    overrides = yaml.safe_load((HERE / "overrides.yml").read_text(encoding="utf-8")) or {}
    OUT.mkdir(parents=True, exist_ok=True)
    stale = []
    for table in TABLES:
        text = render(merge_overrides(build(table), overrides))
        path = OUT / f"{table}.yml"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(
            f"Error: out of date, run `python -m tools.omop.generate_yaml`: {', '.join(stale)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
