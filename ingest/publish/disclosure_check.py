"""CI check: every model under `models/marts/` carries the disclosure tests its output requires.

Reads dbt's `manifest.json` (written by `dbt parse`, `dbt build`, ...) and fails, listing every offending
model, when a materialised marts model

- declares no `meta.disclosure.output` (`aggregate` or `record_level`) in its config;
- is `aggregate` and lacks `disclosure_min_cell_size`, or lacks `disclosure_no_recoverable_cell` without
  stating why it has no additive margin (`meta.disclosure.no_additive_margins: <reason>`);
- is `record_level` and lacks `disclosure_k_anonymity`;
- is published (`meta.disclosure.published: true`) and has a column without a known disclosure role
  (`config.meta.disclosure.role`), or a rate / statistic / flag naming a column that does not exist: the
  roles are what the dbt disclosure tests and the export's check are derived from, so a column without
  one would be published unchecked.

Ephemeral models are exempt: they are never materialised, so nothing can read them; they exist only
inside the queries of the aggregate models that are checked.

    lakehouse disclosure-check [--manifest target/manifest.json]   # exit 6 on any finding
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ingest.publish.export import ROLES, column_role

MARTS_PREFIX = "marts/"
MIN_CELL_SIZE = "disclosure_min_cell_size"
NO_RECOVERABLE = "disclosure_no_recoverable_cell"
K_ANONYMITY = "disclosure_k_anonymity"
OUTPUT_KINDS = ("aggregate", "record_level")


@dataclass(frozen=True)
class Finding:
    """One marts model missing part of its disclosure control."""

    model: str
    path: str
    problem: str

    def __str__(self) -> str:
        return f"`{self.model}` ({self.path}): {self.problem}"


def _tests_by_model(manifest: dict) -> dict[str, set[str]]:
    """Generic test names attached to each model (by unique_id), including tests with custom names."""
    tests: dict[str, set[str]] = defaultdict(set)
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "test":
            continue
        metadata = node.get("test_metadata") or {}
        name = metadata.get("name")
        if not name:
            continue
        attached = node.get("attached_node") or ""
        targets = {attached} if attached else set(node.get("depends_on", {}).get("nodes", []))
        for target in targets:
            tests[target].add(name)
    return tests


def _role_problems(node: dict) -> list[str]:
    """What is wrong with the declared disclosure roles of a published mart's columns."""
    columns = node.get("columns") or {}
    problems = []
    for name, column in columns.items():
        declared = column_role(column)
        role = declared.get("role")
        if role not in ROLES:
            problems.append(
                f"column `{name}` declares no known disclosure role (one of {', '.join(sorted(ROLES))})"
            )
            continue
        named = {
            "rate": [declared.get("numerator"), declared.get("denominator")],
            "statistic": list(declared.get("of") or []),
            "flag": [declared.get("count")],
        }.get(role, [])
        problems += [
            f"column `{name}` ({role}) names `{other}`, not a column"
            for other in named
            if other not in columns
        ]
    if not columns:
        problems.append("published without any documented column (no disclosure roles)")
    return problems


def check_manifest(manifest: dict) -> list[Finding]:
    """Every finding for the marts models of `manifest` (an empty list when all is well)."""
    tests = _tests_by_model(manifest)
    findings: list[Finding] = []
    for unique_id, node in sorted(manifest.get("nodes", {}).items()):
        if node.get("resource_type") != "model":
            continue
        path = node.get("path") or ""
        if not path.startswith(MARTS_PREFIX):
            continue
        config = node.get("config") or {}
        if config.get("materialized") == "ephemeral":
            continue
        name = node.get("name", unique_id)
        where = f"models/{path}"
        disclosure = (config.get("meta") or {}).get("disclosure") or {}
        output = disclosure.get("output")
        have = tests.get(unique_id, set())
        if output not in OUTPUT_KINDS:
            findings.append(
                Finding(name, where, f"declare `meta.disclosure.output` as one of {', '.join(OUTPUT_KINDS)}")
            )
            continue
        if output == "record_level":
            if K_ANONYMITY not in have:
                findings.append(Finding(name, where, f"record-level output without a `{K_ANONYMITY}` test"))
            continue
        if disclosure.get("published") is True:
            findings += [Finding(name, where, problem) for problem in _role_problems(node)]
        if MIN_CELL_SIZE not in have:
            findings.append(Finding(name, where, f"aggregate output without a `{MIN_CELL_SIZE}` test"))
        if NO_RECOVERABLE not in have and not disclosure.get("no_additive_margins"):
            findings.append(
                Finding(
                    name,
                    where,
                    f"aggregate output without a `{NO_RECOVERABLE}` test (or a "
                    "`meta.disclosure.no_additive_margins` reason)",
                )
            )
    return findings
