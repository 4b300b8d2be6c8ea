"""The contract: loads, is documented, and agrees with the landed schemas."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.contract import PROJECT_ROOT, default_contract, load_contract
from ingest.contract_docs import render_markdown
from ingest.exceptions import ContractError
from ingest.lake.landed_schema import LANDED_SCHEMAS, LINEAGE_FIELDS, PARTITION_FIELDS


def test_human_readable_contract_is_generated_from_the_yaml() -> None:
    doc = (PROJECT_ROOT / "docs" / "extract-contract.md").read_text(encoding="utf-8")
    assert doc == render_markdown(default_contract()), "run `lakehouse contract-docs`"


def test_every_non_identifying_column_lands_and_nothing_else_does() -> None:
    contract = default_contract()
    assert {e.dataset for e in contract.entities.values()} == set(LANDED_SCHEMAS)
    derived = {
        "patient_pseudonym",
        "patient_identity_basis",
        "patient_birth_year",
        "patient_birth_month",
        "patient_age_years",
        "patient_department_code",
        "doctor_pseudonym",
    }
    frame = {f.name for f in PARTITION_FIELDS + LINEAGE_FIELDS}
    for entity in contract.entities.values():
        landed = set(LANDED_SCHEMAS[entity.dataset].names) - frame - derived
        expected = {c.name for c in entity.columns if c.identifying is None}
        assert landed == expected, entity.name
        for c in entity.columns:
            if c.identifying is not None:
                assert c.name not in LANDED_SCHEMAS[entity.dataset].names, c.source


def test_direct_identifiers_are_marked_identifying() -> None:
    acts = default_contract().entities["actes"]
    for source in (
        "patient_nom",
        "patient_prenom",
        "patient_nir",
        "patient_adresse",
        "patient_telephone",
        "note_appel",
        "rpps_medecin",
        "patient_date_naissance",
        "patient_code_postal",
    ):
        assert acts.column(source).identifying is not None, source


def test_a_broken_contract_is_reported_with_where_it_breaks(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text(
        "contract: c\nversion: '9'\nfile_name_pattern: 'x'\ndelimiter: ';'\nencodings: [utf-8]\n"
        "entities:\n  e:\n    dataset: d\n    description: x\n    key: [a]\n"
        "    columns:\n      - {source: a, name: a, type: code, description: x}\n"
    )
    with pytest.raises(ContractError, match=r"c v9 `e`\.a: a code column needs `codes`"):
        load_contract(bad)
