"""The `no_identifier` rule on every landed text column of the contract: each written form of a French
phone number, a NIR and an e-mail address is refused, in a UTF-8 and in a Windows-1252 file, read by the
Arrow parser and by the exact one; dates, durations, blood pressures and dosages are not.

The columns come from the contract YAML itself (type string, no `identifying` mode), so a column added
there is tested here without a change. Each column is checked as the contract has it (its own pattern may
refuse a form first: the row is rejected either way) and without its pattern, as a permissive free-text
column would be: then only the identifier shapes stand between the value and the lake.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import yaml

from ingest.contract import PROJECT_ROOT, Entity, default_contract
from ingest.records.read_extract import _parse_fast, decode, open_extract, parse_exact
from ingest.records.validate import validate
from tests.extract_builder import with_nir_key, write_extract

CONTRACT = default_contract()


def _no_identifier_columns() -> dict[str, list[str]]:
    """{entity: [source column]} of the landed text columns, read from the contract YAML."""
    raw = yaml.safe_load((PROJECT_ROOT / "ingest" / "contract" / "extract_contract_v1.yaml").read_text())
    found: dict[str, list[str]] = {}
    for entity, spec in raw["entities"].items():
        columns = [c["source"] for c in spec["columns"] if c["type"] == "string" and "identifying" not in c]
        if columns:
            found[entity] = columns
    return found


COLUMNS = _no_identifier_columns()

_NIR_PLAIN = with_nir_key("1850578006084")
_NIR_2A = with_nir_key("185052A006084")
_NIR_2B = with_nir_key("185052B006084")


def _grouped(nir: str) -> str:
    return " ".join([nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:]])


IDENTIFIERS = {
    "phone": [
        "06 12 34 56 78",
        "0612345678",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "+33 6 12 34 56 78",
        "+33 (0)6 12 34 56 78",
        "+33612345678",
        "0033612345678",
        "0033 6 12 34 56 78",
        "01 45 67 89 10",
        "06\u00a012\u00a034\u00a056\u00a078",
    ],
    "NIR": [
        _NIR_PLAIN,
        _grouped(_NIR_PLAIN),
        _grouped(_NIR_PLAIN).replace(" ", "\u00a0"),
        _NIR_2A,
        _grouped(_NIR_2A),
        _NIR_2B,
        _grouped(_NIR_2B),
    ],
    "e-mail": [
        "jean.dupont@example.fr",
        "JEAN.DUPONT@EXAMPLE.FR",
        "j-d+soins@mail.example.co.uk",
        "élodie.mörk@laposte.net",
    ],
}
# Each form alone and inside text, as it is typed in a label or a name.
POSITIVES = [v for values in IDENTIFIERS.values() for form in values for v in (form, f"TEL {form} SVP")]

_WRONG_KEY = _NIR_PLAIN[:13] + f"{(int(_NIR_PLAIN[13:]) + 1) % 100:02d}"
NEGATIVES = [
    "12/03/2024",
    "15.01.2024",
    "2024-01-15",
    "08:30-09:45",
    "120/80",
    "TA 120/80 FC 88",
    "2 H 30",
    "45 MIN",
    "PARACETAMOL 1000 MG 3 X/J",
    "1 000 MG",
    "AMOXICILLINE 500 MG 3 FOIS/J 7 JOURS",
    "0,5 MG/KG",
    "38,5",
    "SPO2 98 %",
    "J11.1",
    "3400930000001",
    "06 12 34",
    "10 12 14 16 18",
    _WRONG_KEY,
    _grouped(_WRONG_KEY),
    "Centre de soins (Montreuil-sous-Bois)",
]


def test_the_contract_has_landed_text_columns_and_the_identifier_forms_have_valid_keys() -> None:
    assert sum(len(c) for c in COLUMNS.values()) >= 5, COLUMNS
    assert "libelle" in COLUMNS["prescriptions"] and "nom_site" in COLUMNS["structures"]
    nir_check = [n.replace(" ", "").replace("\u00a0", "") for n in IDENTIFIERS["NIR"]]
    assert all(len(n) == 15 for n in nir_check) and _WRONG_KEY not in nir_check


def _permissive(entity: Entity) -> Entity:
    cols = tuple(replace(c, pattern=None) if c.source in COLUMNS[entity.name] else c for c in entity.columns)
    return replace(entity, columns=cols)


def _rows(entity: str, copies: int) -> list[tuple[str, str, bool]]:
    """(column, value, is an identifier) per row, every column in turn; `copies` repeats them so a file of
    repeated values is checked per distinct value (validate's other path)."""
    cases = [(col, v, True) for col in COLUMNS[entity] for v in POSITIVES]
    cases += [(col, v, False) for col in COLUMNS[entity] for v in NEGATIVES]
    return cases * copies


@pytest.mark.parametrize("copies", [1, 4], ids=["row-by-row", "per-distinct-value"])
@pytest.mark.parametrize("permissive", [False, True], ids=["contract", "no-pattern"])
@pytest.mark.parametrize("parser", ["arrow", "exact"])
@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_every_identifier_form_is_refused_in_every_landed_text_column(
    tmp_path: Path, encoding: str, parser: str, permissive: bool, copies: int
) -> None:
    for name in COLUMNS:
        entity = CONTRACT.entities[name]
        cases = _rows(name, copies)
        rows = [{col: value} for col, value, _ in cases]
        path = write_extract(tmp_path, name, rows, encoding=encoding)
        f = open_extract(path, CONTRACT)
        text, detected = decode(f)
        assert detected == encoding
        read = _parse_fast if parser == "arrow" else parse_exact
        parsed = read(f, text, detected, entity, ";")
        assert parsed is not None, "the Arrow parser refused a regular file"
        checked_entity = _permissive(entity) if permissive else entity
        for col, value, _ in cases[:3]:
            assert value in parsed.columns[col].to_pylist()
        assert f.extract_date is not None
        result = validate(
            parsed.columns, checked_entity, extract_date=f.extract_date, file_name=f.name, lines=parsed.lines
        )
        rules: dict[int, set[tuple[str, str]]] = {}
        for finding in result.findings:
            rules.setdefault(finding.row, set()).add((finding.field, finding.rule))
        patterns = {c.source: c.pattern for c in checked_entity.columns}
        for i, (col, value, is_identifier) in enumerate(cases):
            fits = patterns[col] is None or re.fullmatch(patterns[col], value) is not None
            if is_identifier:
                expected = "no_identifier" if fits else "pattern"
                assert (col, expected) in rules.get(i, set()), (name, col, value, rules.get(i))
            elif fits:
                assert (col, "no_identifier") not in rules.get(i, set()), (name, col, value)


def test_the_negatives_fit_the_drug_label_and_are_not_refused_there() -> None:
    """The negatives (all but two) fit the contract's drug label column, so the contract-pattern runs above
    really check them there, not only the pattern-free ones."""
    label = next(c for c in CONTRACT.entities["prescriptions"].columns if c.source == "libelle")
    assert label.pattern is not None
    fitting = [v for v in NEGATIVES if re.fullmatch(label.pattern, v)]
    assert len(fitting) >= len(NEGATIVES) - 2
    result = validate(
        {c.source: [""] * len(fitting) for c in CONTRACT.entities["prescriptions"].columns}
        | {"libelle": fitting},
        CONTRACT.entities["prescriptions"],
        extract_date=date(2024, 1, 15),
        file_name="A75001_20240115_prescriptions.csv",
        lines=list(range(2, 2 + len(fitting))),
    )
    assert [f for f in result.findings if f.rule == "no_identifier"] == []
