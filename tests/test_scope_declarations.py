"""The incremental models' declarations (config `scope`, materialised by scoped_incremental) are the
one source of what a daily build rebuilds: every incremental model past the lake's base tables declares
one, each is built after the bookkeeping its scope is read from, and docs/architecture.md's scope table
is the graph's, row for row (a newcomer reads it there; it cannot drift)."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from ingest.lake.keys import init_keystore
from tests.test_dbt_build import PROJECT, dbt

GRAINS = {"act", "visit", "person", "act_week", "week"}
SOURCE = {"week": "int_surveillance_weeks_changed"}
TABLE = re.compile(r"<!-- scope-table -->\n(.*?)<!-- /scope-table -->", re.S)
# What each grain's tests read on a daily build (macros/incremental/test_scope.sql).
TESTS_READ = {
    "act": "the rows it inserted (`build_state.<model>__changed_rows`)",
    "visit": "the rows it inserted (`build_state.<model>__changed_rows`)",
    "person": "the rows it inserted (`build_state.<model>__changed_rows`)",
    "act_week": "its rows of the rebuilt weeks",
    "week": "its rows of the rebuilt weeks",
}
REBUILDS = {
    "act": "the changed acts' rows",
    "visit": "the changed acts' visits",
    "person": "every row of the changed acts' patients (every version's)",
    "act_week": "the ISO weeks of every version of the changed acts",
    "week": "the ISO weeks `int_surveillance_weeks_changed` lists",
}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("parse")
    path, _ = init_keystore(root / "keystore.json")
    env = {
        **os.environ,
        "LAKEHOUSE_KEYSTORE": str(path),
        "LAKEHOUSE_LAKE": str(root / "lake"),
        "LAKEHOUSE_WAREHOUSE": str(root / "warehouse.duckdb"),
    }
    result = dbt(["parse"], env, root)
    assert result.returncode == 0, result.stdout[-3000:]
    return json.loads((root / "target" / "manifest.json").read_text())


@pytest.fixture(scope="module")
def nodes(manifest: dict) -> dict[str, dict]:
    return manifest["nodes"]


def _models(nodes: dict[str, dict]) -> dict[str, dict]:
    return {n["name"]: n for n in nodes.values() if n["resource_type"] == "model"}


def _scoped(nodes: dict[str, dict]) -> dict[str, dict]:
    return {
        name: n for name, n in _models(nodes).items() if n["config"]["materialized"] == "scoped_incremental"
    }


def scope_table(nodes: dict[str, dict]) -> str:
    """The scope table of docs/architecture.md, from the graph."""
    tests = {}
    for n in nodes.values():
        if n["resource_type"] == "test":
            for parent in n["depends_on"]["nodes"]:
                tests.setdefault(parent.rsplit(".", 1)[1], 0)
                tests[parent.rsplit(".", 1)[1]] += 1
    lines = [
        "| model | grain (`scope`) | a daily build rebuilds | bounded by | its tests read |",
        "|---|---|---|---|---|",
    ]
    for name, n in sorted(_scoped(nodes).items(), key=lambda item: (item[1]["config"]["scope"], item[0])):
        config = n["config"]
        bound = (config.get("scope_bound") or {}).get("column") or config.get("scope_column") or ""
        if config["scope"] in ("act_week", "week") and not bound:
            bound = "week_start_date"
        lines.append(
            f"| `{name}` | {config['scope']} | {REBUILDS[config['scope']]} | "
            f"{f'`{bound}`' if bound else '(keys only)'} | "
            f"{TESTS_READ[config['scope']]} ({tests.get(name, 0)} tests) |"
        )
    return "\n".join(lines) + "\n"


def test_every_incremental_model_past_the_base_tables_declares_its_scope(nodes: dict[str, dict]) -> None:
    undeclared = {
        name
        for name, n in _models(nodes).items()
        if n["config"]["materialized"] == "incremental" and not name.startswith("base_lake__")
    }
    assert not undeclared
    scoped = _scoped(nodes)
    assert len(scoped) >= 25
    assert {n["config"]["scope"] for n in scoped.values()} <= GRAINS


def test_every_scoped_model_is_built_after_the_bookkeeping_of_its_scope(nodes: dict[str, dict]) -> None:
    parents = {uid: set(n.get("depends_on", {}).get("nodes", [])) for uid, n in nodes.items()}

    def ancestors(uid: str) -> set[str]:
        seen: set[str] = set()
        todo = [uid]
        while todo:
            for parent in parents.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return {p.rsplit(".", 1)[1] for p in seen}

    for name, n in _scoped(nodes).items():
        assert SOURCE.get(n["config"]["scope"], "base_lake__changed_acts") in ancestors(n["unique_id"]), name


def test_the_architecture_scope_table_is_the_graphs(nodes: dict[str, dict]) -> None:
    documented = TABLE.search((PROJECT / "docs" / "architecture.md").read_text())
    assert documented, "docs/architecture.md has no <!-- scope-table --> section"
    expected = scope_table(nodes)
    assert documented.group(1) == expected, "docs/architecture.md's scope table, from the graph:\n" + expected


# Words of the incremental build's prose that are neither the project's symbols nor its grains.
NOT_SYMBOLS = {"arg_max", "depends_on", "type", "timestamp", "timestamp_s", "_loaded_files"}


def test_the_architecture_names_only_symbols_of_the_project(manifest: dict) -> None:
    """docs/architecture.md's incremental build section names macros, models, columns, config keys and
    variables that exist: a macro removed or renamed cannot linger in the one page that describes the
    pattern."""
    text = (PROJECT / "docs" / "architecture.md").read_text()
    section = text[text.index("## Incremental build") :]
    section = section[: section.index("\n## ", 1)]
    named = set(re.findall(r"`([A-Za-z_]\w*)(?:\(\))?`", section))
    project = yaml.safe_load((PROJECT / "dbt_project.yml").read_text())
    known = (
        {m["name"] for m in manifest["macros"].values()}
        | {n["name"] for n in manifest["nodes"].values()}
        | {n["name"] for n in manifest["sources"].values()}
        | {n["schema"] for n in manifest["nodes"].values()}
        | {c for n in manifest["nodes"].values() for c in [*n.get("columns", {}), *n.get("config", {})]}
        | set(project.get("vars", {}))
        | {n["config"]["materialized"] for n in manifest["nodes"].values() if "materialized" in n["config"]}
        | GRAINS
        | NOT_SYMBOLS
    )
    unknown = sorted(n for n in named if n not in known and not n.isupper())
    assert not unknown, f"docs/architecture.md names what the project does not have: {unknown}"


def test_the_table_names_the_model_that_once_escaped_the_lists(nodes: dict[str, dict]) -> None:
    assert "`int_act_sites_and_doctors_by_week` | act_week" in scope_table(nodes)


# Keys, bounds or ranges of weeks spelt by hand in a model (the macros that once did so), instead of
# derived from the declarations.
HAND_WRITTEN = re.compile(
    r"in_incremental_scope|changed_period_bound|changed_\w+\(\)|surveillance_cells_in_scope|in_current_week_chunk"
)
READS_IN_SCOPE = re.compile(r"(?<!\w)in_scope\(")


def _owners(nodes: dict[str, dict], name: str) -> list[str]:
    """The tables an ephemeral model is compiled into: its consumers, down its chain of ephemeral ones."""
    models = _models(nodes)
    owners, todo, seen = set(), [models[name]["unique_id"]], set()
    while todo:
        uid = todo.pop()
        for m in models.values():
            if uid in m["depends_on"]["nodes"]:
                if m["config"]["materialized"] != "ephemeral":
                    owners.add(m["name"])
                elif m["unique_id"] not in seen:
                    seen.add(m["unique_id"])
                    todo.append(m["unique_id"])
    return sorted(owners)


def test_every_input_filter_is_derived_from_the_declarations(nodes: dict[str, dict]) -> None:
    """A model reads its inputs through in_scope (or an ephemeral model compiled into one scoped table
    does, however many ephemeral models lie between), never through keys, bounds or ranges of weeks
    spelt by hand, which can drift from the declaration."""
    spelt = {name for name, n in _models(nodes).items() if HAND_WRITTEN.search(n["raw_code"])}
    assert not spelt, f"filters written by hand instead of in_scope(ref(...)): {sorted(spelt)}"
    readers = {name for name, n in _models(nodes).items() if READS_IN_SCOPE.search(n["raw_code"])}
    for name in readers:
        n = _models(nodes)[name]
        if n["config"]["materialized"] == "ephemeral":
            owners = _owners(nodes, name)
            assert len(owners) == 1, (name, owners)
            assert _models(nodes)[owners[0]]["config"]["materialized"] == "scoped_incremental", name
        else:
            assert n["config"]["materialized"] == "scoped_incremental", name


def test_every_ephemeral_reader_is_compiled_after_its_owners_bookkeeping(nodes: dict[str, dict]) -> None:
    """An ephemeral model is compiled at its own place in the graph, and in_scope reads its literal
    bounds then: it must depend on its owner's scope bookkeeping itself, or it reads last build's."""
    models = _models(nodes)
    for name, n in models.items():
        if n["config"]["materialized"] == "ephemeral" and READS_IN_SCOPE.search(n["raw_code"]):
            owner = models[_owners(nodes, name)[0]]
            source = SOURCE.get(owner["config"]["scope"], "base_lake__changed_acts")
            assert models[source]["unique_id"] in n["depends_on"]["nodes"], name


def test_the_disclosure_cells_read_their_weeks_through_their_declaration(nodes: dict[str, dict]) -> None:
    """The cells' family models read the acts, syndromes and calendar of the weeks being rebuilt
    through in_scope, which follows the chain of ephemeral models to disclosure_controlled_cells'
    declaration (its scope and its weeks_per_statement)."""
    models = _models(nodes)
    for name in ("int_cells_acts_in_scope", "int_cells_periods", "int_cells_syndromes"):
        assert READS_IN_SCOPE.search(models[name]["raw_code"]), name
        assert _owners(nodes, name) == ["disclosure_controlled_cells"], name
    cells = models["disclosure_controlled_cells"]
    assert cells["config"]["scope"] == "week" and cells["config"]["weeks_per_statement"]
    assert "in_own_scope()" in cells["raw_code"]


def test_the_cdm_tables_select_their_columns_from_one_intermediate_model(nodes: dict[str, dict]) -> None:
    """The CDM's logic is in models/intermediate; a CDM table names the spec's columns (dbt-synthea's
    layout): one model read (besides its scope's bookkeeping, and the type concepts' seed), no join, no
    CTE."""
    models = _models(nodes)
    for name, n in models.items():
        if n["original_file_path"].startswith("models/omop/"):
            code = re.sub(r"\{#.*?#\}", "", n["raw_code"], flags=re.S).lower()
            read = [
                p
                for p in n["depends_on"]["nodes"]
                if p.startswith("model.")
                and not models[p.rsplit(".", 1)[1]]["original_file_path"].startswith("models/build_state/")
            ]
            assert len(read) == 1 and " join " not in code and " as (" not in code, name
