"""`dbt docs generate` runs for real (as CI does), with a throwaway key store, an empty lake and an empty
warehouse, as `./lakehouse test` runs sqlfluff; then the documentation it produced is checked: every model
and column described, the overview page is ours, the exposures (bulletin, export) hang off the right marts,
every layer has its colour."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.lake.keys import init_keystore

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
LAYER_COLOURS = {"staging", "intermediate", "omop", "marts", "build_state"}


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("docs")
    init_keystore(root / "keystore.json")
    env = {
        **os.environ,
        "LAKEHOUSE_KEYSTORE": str(root / "keystore.json"),
        "LAKEHOUSE_LAKE": str(root / "lake"),
        "LAKEHOUSE_WAREHOUSE": str(root / "warehouse.duckdb"),
        "LAKEHOUSE_HOME": str(root),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt = Path(sys.executable).parent / "dbt"
    command = [str(dbt), "docs", "generate", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)]
    command += ["--target-path", str(root / "target"), "--log-path", str(root)]
    result = subprocess.run(command, env=env, cwd=PROJECT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-4000:]
    target = root / "target"
    return {
        "target": target,
        "manifest": json.loads((target / "manifest.json").read_text(encoding="utf-8")),
        "catalog": json.loads((target / "catalog.json").read_text(encoding="utf-8")),
    }


def _own(manifest: dict, kind: str) -> list[dict]:
    return [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == kind and n["package_name"] == manifest["metadata"]["project_name"]
    ]


def test_site_is_generated(docs: dict) -> None:
    target = docs["target"]
    assert (target / "index.html").stat().st_size > 100_000  # the docs single-page application
    assert docs["catalog"]["metadata"]["dbt_version"]


def test_every_model_and_column_is_described(docs: dict) -> None:
    missing = []
    for node in _own(docs["manifest"], "model"):
        if not node["description"].strip():
            missing.append(node["name"])
        if not node["columns"]:
            missing.append(f"{node['name']} (no column documented)")
        missing += [f"{node['name']}.{c}" for c, v in node["columns"].items() if not v["description"].strip()]
    for source in docs["manifest"]["sources"].values():
        if not source["description"].strip():
            missing.append(f"source {source['source_name']}.{source['name']}")
    assert missing == []


def test_omop_columns_follow_the_specification(docs: dict) -> None:
    """The CDM tables keep the specification's column names, each with its description."""
    person = next(n for n in _own(docs["manifest"], "model") if n["name"] == "person")
    assert list(person["columns"])[:4] == [
        "person_id",
        "gender_concept_id",
        "year_of_birth",
        "month_of_birth",
    ]


def test_overview_page_is_the_projects(docs: dict) -> None:
    overview = [d for d in docs["manifest"]["docs"].values() if d["name"] == "__overview__"]
    ours = [d for d in overview if d["package_name"] == docs["manifest"]["metadata"]["project_name"]]
    assert len(ours) == 1 and "## Data flow" in ours[0]["block_contents"]


def test_exposures_for_the_bulletin_and_the_export(docs: dict) -> None:
    exposures = {e["name"]: e for e in docs["manifest"]["exposures"].values()}
    assert set(exposures) >= {"weekly_bulletin", "publication_export"}
    published = {
        n["unique_id"]
        for n in _own(docs["manifest"], "model")
        if ((n["config"].get("meta") or {}).get("disclosure") or {}).get("published") is True
    }
    # The export publishes exactly the models flagged published; the bulletin reads only published ones.
    assert set(exposures["publication_export"]["depends_on"]["nodes"]) == published
    assert set(exposures["weekly_bulletin"]["depends_on"]["nodes"]) <= published


def test_every_layer_has_its_colour(docs: dict) -> None:
    colours = {}
    for node in _own(docs["manifest"], "model"):
        layer = node["fqn"][1]
        colours.setdefault(layer, set()).add(node["config"]["docs"].get("node_color"))
    assert set(colours) == LAYER_COLOURS
    assert all(len(c) == 1 and None not in c for c in colours.values()), colours
    assert len({next(iter(c)) for c in colours.values()}) == len(LAYER_COLOURS)  # a distinct colour each
