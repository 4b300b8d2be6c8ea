"""Compare the checks of two dbt manifests, one check per (test, model, column, arguments): the per-table
tests that replaced one test per column (not_null_columns, omop_max_lengths, omop_foreign_keys,
omop_concept_conformances, omop_plausible_values, omop_after_births, omop_before_deaths) are counted as
the single-column tests they stand for.
Proves that a change of test definitions kept every check (e.g. after regenerating the CDM's YAML).

    .venv/bin/python -m tools.dbt_checks.compare BEFORE/manifest.json AFTER/manifest.json

Prints the checks and test nodes of each, then the checks only one of them has; exits 1 if any.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

Check = tuple[str, ...]

# Per-table test -> (the single-column test it stands for, its arguments for one column).
_PER_TABLE = {
    "not_null_columns": "not_null",
    "omop_max_lengths": "omop_max_length",
    "omop_foreign_keys": "relationships",
    "omop_concept_conformances": "omop_concept_conformance",
    "omop_plausible_values": "omop_plausible_value",
    "omop_after_births": "omop_after_birth",
    "omop_before_deaths": "omop_before_death",
}


def _arguments(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    args = {k: v for k, v in kwargs.items() if k not in ("model", "column_name")}
    if name == "relationships":  # `to` as written in YAML (ref('x')) or as the per-table test takes it
        args["to"] = args["to"].split("'")[1] if "'" in args["to"] else args["to"]
    if name == "omop_max_length":
        args = {"length": args["length"]}
    return args


def checks(manifest_path: Path) -> tuple[Counter[Check], int]:
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    found: Counter[Check] = Counter()
    nodes = 0
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test":
            continue
        nodes += 1
        metadata = node.get("test_metadata") or {}
        name = metadata.get("name") or f"singular:{node['name']}"
        kwargs = metadata.get("kwargs", {})
        model = (node.get("attached_node") or "").split(".")[-1]
        config = json.dumps([node["config"].get("where"), node["config"].get("severity")])
        if name in _PER_TABLE:
            single = _PER_TABLE[name]
            if name == "not_null_columns":
                per_column = {column: {} for column in kwargs["columns"]}
            elif name == "omop_max_lengths":
                per_column = {column: {"length": n} for column, n in kwargs["lengths"].items()}
            else:
                per_column = kwargs["columns"]
            for column, args in per_column.items():
                arguments = json.dumps(_arguments(single, args), sort_keys=True)
                found[(single, model, column, arguments, config)] += 1
        else:
            column = kwargs.get("column_name") or ""
            found[(name, model, column, json.dumps(_arguments(name, kwargs), sort_keys=True), config)] += 1
    return found, nodes


def main(argv: list[str] | None = None) -> int:
    before_path, after_path = (Path(a) for a in (argv or sys.argv[1:]))
    (before, before_nodes), (after, after_nodes) = checks(before_path), checks(after_path)
    print(f"before: {sum(before.values())} checks in {before_nodes} test nodes")
    print(f"after:  {sum(after.values())} checks in {after_nodes} test nodes")
    lost = sorted(before - after)
    gained = sorted(after - before)
    for title, listed in (("only before", lost), ("only after", gained)):
        for check in listed:
            print(f"{title}: {' | '.join(check)}")
    return 1 if lost or gained else 0


if __name__ == "__main__":
    sys.exit(main())
