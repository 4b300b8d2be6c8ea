"""The CI check (ingest/publish/disclosure_check.py): passes on the project, fails on manifests where a mart
lost its disclosure tests, naming every offending model."""

from __future__ import annotations

import copy
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.publish.disclosure_check import check_manifest

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("parse")
    env = {**os.environ, "LAKEHOUSE_KEYSTORE": str(work / "none.json"), "LAKEHOUSE_LAKE": str(work / "lake")}
    command = [str(Path(sys.executable).parent / "dbt"), "parse", "--project-dir", str(PROJECT)]
    command += [
        "--profiles-dir",
        str(PROJECT),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=PROJECT)
    assert result.returncode == 0, result.stdout[-3000:]
    return json.loads((work / "target" / "manifest.json").read_text())


def _model(manifest: dict, name: str) -> dict:
    return manifest["nodes"][f"model.urgent_care_lakehouse.{name}"]


def test_project_marts_all_carry_their_tests(manifest: dict) -> None:
    assert check_manifest(manifest) == []
    marts = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["path"].startswith("marts/")
    ]
    assert len([n for n in marts if n["config"]["materialized"] != "ephemeral"]) >= 8


def test_fails_listing_every_mart_that_lost_its_tests(manifest: dict, tmp_path: Path) -> None:
    leaky = copy.deepcopy(manifest)
    # 1. a mart whose complementary-suppression tests were deleted
    for uid, node in list(leaky["nodes"].items()):
        if node["resource_type"] == "test" and node.get("attached_node", "").endswith(
            ".syndromic_indicators_by_week"
        ):
            if node["test_metadata"]["name"] == "disclosure_no_recoverable_cell":
                del leaky["nodes"][uid]
    # 2. a mart without its cell-size test
    for uid, node in list(leaky["nodes"].items()):
        if node["resource_type"] == "test" and node.get("attached_node", "").endswith(
            ".death_certificates_by_week"
        ):
            if node["test_metadata"]["name"] == "disclosure_min_cell_size":
                del leaky["nodes"][uid]
    # 3. a new mart with no disclosure metadata at all; 4. a record-level mart without k-anonymity
    for name, meta in [("new_mart", {}), ("patient_list", {"disclosure": {"output": "record_level"}})]:
        node = copy.deepcopy(_model(leaky, "death_certificates_by_week"))
        node.update(
            name=name, unique_id=f"model.urgent_care_lakehouse.{name}", path=f"marts/epidemiology/{name}.sql"
        )
        node["config"]["meta"] = meta
        leaky["nodes"][node["unique_id"]] = node
    findings = check_manifest(leaky)
    by_model = {f.model: f.problem for f in findings}
    assert set(by_model) == {
        "syndromic_indicators_by_week",
        "death_certificates_by_week",
        "new_mart",
        "patient_list",
    }
    assert "disclosure_no_recoverable_cell" in by_model["syndromic_indicators_by_week"]
    assert "disclosure_min_cell_size" in by_model["death_certificates_by_week"]
    assert "meta.disclosure.output" in by_model["new_mart"]
    assert "disclosure_k_anonymity" in by_model["patient_list"]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(leaky))
    result = CliRunner().invoke(main, ["disclosure-check", "--manifest", str(path)])
    assert result.exit_code == 6, result.output
    assert f"{len(findings)} disclosure-control finding(s)" in result.output


def test_published_columns_all_declare_a_disclosure_role(manifest: dict) -> None:
    leaky = copy.deepcopy(manifest)
    seasons = _model(leaky, "epidemic_seasons_by_region")
    assert seasons["columns"]["epidemic_week_count"]["config"]["meta"]["disclosure"]["role"] == "duration"
    del seasons["columns"]["epidemic_week_count"]["config"]["meta"]["disclosure"]
    seasons["columns"]["epidemic_week_count"].pop("meta", None)
    weekly = _model(leaky, "syndromic_indicators_by_week")
    weekly["columns"]["incidence_per_100k"]["config"]["meta"]["disclosure"]["numerator"] = "no_such_column"
    problems = [f.problem for f in check_manifest(leaky)]
    assert any("`epidemic_week_count` declares no known disclosure role" in p for p in problems)
    assert any("`incidence_per_100k` (rate) names `no_such_column`" in p for p in problems)


def test_cell_size_test_is_derived_from_the_roles(manifest: dict) -> None:
    tests = [
        n for n in manifest["nodes"].values()
        if n["resource_type"] == "test" and n["test_metadata"]["name"] == "disclosure_min_cell_size"
        and n.get("attached_node", "").startswith("model.urgent_care_lakehouse.")
    ]  # fmt: skip
    published = [
        n for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["config"]["meta"].get("disclosure", {}).get("published")
    ]  # fmt: skip
    assert {t["attached_node"] for t in tests} >= {n["unique_id"] for n in published}
    # No mart repeats its counts in the test's arguments: the columns' roles are the one declaration.
    assert all(
        "count_columns" not in t["test_metadata"]["kwargs"]
        for t in tests
        if t["attached_node"] in {n["unique_id"] for n in published}
    )


def test_ephemeral_helpers_are_exempt(manifest: dict) -> None:
    helper = _model(manifest, "int_cells_acts_in_scope")
    assert helper["config"]["materialized"] == "ephemeral"
    assert helper["path"].startswith("marts/")


def test_missing_manifest_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["disclosure-check", "--manifest", str(tmp_path / "absent.json")])
    assert result.exit_code == 2 and "absent.json" in result.output, result.output


def test_every_thesaurus_syndrome_hint_is_mapped_in_the_surveillance_seed() -> None:
    """The network's own hints and the reviewed seed agree: no thesaurus code is left out of its group."""
    with (PROJECT / "seeds/network/diagnosis_thesaurus.csv").open(encoding="utf-8") as f:
        hints = {(r["syndrome_hint"], r["thesaurus_code"]) for r in csv.DictReader(f) if r["syndrome_hint"]}
    with (PROJECT / "seeds/surveillance/syndromic_group_codes.csv").open(encoding="utf-8") as f:
        mapped = {
            (r["syndrome_group"], r["code"]) for r in csv.DictReader(f) if r["code_system"] == "thesaurus"
        }
    assert hints <= mapped
    with (PROJECT / "seeds/surveillance/syndromic_groups.csv").open(encoding="utf-8") as f:
        groups = {r["syndrome_group"] for r in csv.DictReader(f)}
    assert {"grippe", "bronchiolite", "gea", "covid19", "ira", "asthme", "icanicule"} <= groups
