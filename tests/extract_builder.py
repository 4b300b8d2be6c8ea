"""Hand-built extract files for precise bad-input tests (the generator covers realistic volume).

Identities here are invented; the test asserts none of them reaches any zone.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from ingest.contract import PROJECT_ROOT, default_contract
from ingest.governance.opposition import Identity

# Values that must never be found in the lake after ingest.
IDENTIFIERS = {
    "last_name": "Dupont-Lefèvre",
    "first_name": "Jeanne",
    "address": "12 rue des Lilas",
    "phone": "06 12 34 56 78",
    "note_name": "Marcel Tournesol",
    "doctor_last_name": "Haddock",
}


def with_nir_key(body13: str) -> str:
    number = int(body13.replace("2A", "19").replace("2B", "18"))
    return f"{body13}{97 - number % 97:02d}"


def with_luhn(body10: str) -> str:
    for check in "0123456789":
        digits = [int(c) for c in body10 + check]
        total = 0
        for i, d in enumerate(reversed(digits)):
            if i % 2 == 1:
                d = d * 2 - 9 if d * 2 > 9 else d * 2
            total += d
        if total % 10 == 0:
            return body10 + check
    raise AssertionError


NIR = with_nir_key("2500375111234")
# act_row's patient as an objection form names them by NIR (the NIR is keyed with birth date and sex).
NIR_PATIENT = Identity(nir=NIR, birth_date=date(1950, 3, 2), sex="F")
RPPS = with_luhn("1000123456")


def _first_code(seed: str, column: str) -> str:
    with (PROJECT_ROOT / seed).open(encoding="utf-8") as f:
        return next(csv.DictReader(f))[column]


def act_row(act_id: str = "1", **overrides: str) -> dict[str, str]:
    row = {
        "num_acte": act_id,
        "type_acte": "VAD",
        "code_site": "A75001-B",
        "date_appel": "15/01/2024",
        "heure_appel": "20:10",
        "date_debut": "15/01/2024",
        "heure_debut": "21:00",
        "date_fin": "15/01/2024",
        "heure_fin": "21:25",
        "appelant": "FAM",
        "motif_appel": _first_code("seeds/network/call_reasons.csv", "call_reason_code"),
        "note_appel": f"Appel de {IDENTIFIERS['note_name']} pour sa mère; {IDENTIFIERS['address']}; "
        f"rappeler au {IDENTIFIERS['phone']}",
        "rpps_medecin": RPPS,
        "patient_nom": IDENTIFIERS["last_name"],
        "patient_prenom": IDENTIFIERS["first_name"],
        "patient_date_naissance": "02/03/1950",
        "patient_sexe": "F",
        "patient_nir": NIR,
        "patient_adresse": IDENTIFIERS["address"],
        "patient_code_postal": "75011",
        "patient_commune_insee": "75111",
        "patient_telephone": IDENTIFIERS["phone"],
        "orientation": "DOM",
    }
    row.update(overrides)
    return row


def diagnosis_row(act_id: str = "1", rank: str = "1", **overrides: str) -> dict[str, str]:
    row = {
        "num_acte": act_id,
        "rang": rank,
        "code_thesaurus": _first_code("seeds/network/diagnosis_thesaurus.csv", "thesaurus_code"),
        "code_cim10": "J11.1",
    }
    row.update(overrides)
    return row


def write_extract(
    folder: Path,
    entity: str,
    rows: list[dict[str, str]],
    *,
    association: str = "A75001",
    day: str = "20240115",
    encoding: str = "utf-8",
    header: list[str] | None = None,
    name: str | None = None,
) -> Path:
    columns = header or list(default_contract().entities[entity].source_names)
    path = folder / (name or f"{association}_{day}_{entity}.csv")
    folder.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f, delimiter=";", lineterminator="\r\n" if encoding == "cp1252" else "\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([r.get(c, "") for c in columns])
    return path
