"""Injection of invalid records, each invalid for exactly one documented reason.

Classes are named after the rule of `ingest/records/validate.py` (or `ingest/records/read_extract.py` for the
row shape) that must quarantine them, so that ingest tests can match what was injected with what was rejected.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ingest.synth.records import Columns, fmt_date, fmt_time

InvalidClass = Literal[
    "bad_date",  # a date that does not exist or is not dd/mm/yyyy
    "bad_time",  # a time that is not HH:MM
    "unknown_code",  # a code outside the contract's list
    "missing_required",  # an empty mandatory field
    "column_count",  # one field too many or too few
    "out_of_range",  # an implausible vital sign
    "nir_key",  # a NIR whose key does not match
    "rpps_luhn",  # an RPPS whose Luhn digit does not match
    "act_times_ordered",  # the act starts before the call
    "cip13_key",  # a CIP13 whose EAN-13 digit does not match
]

CLASSES_BY_ENTITY: dict[str, tuple[InvalidClass, ...]] = {
    "actes": (
        "bad_date", "bad_time", "unknown_code", "missing_required", "column_count", "nir_key", "rpps_luhn",
        "act_times_ordered",
    ),
    "diagnostics": ("unknown_code", "missing_required", "column_count"),
    "prescriptions": ("missing_required", "column_count", "cip13_key"),
    "constantes": ("bad_date", "bad_time", "out_of_range", "column_count"),
    # Rosters and sites stay clean but for an occasional empty mandatory field.
    "medecins": ("missing_required",),
    "structures": ("missing_required",),
}  # fmt: skip

_REQUIRED_TO_BLANK = {
    "actes": ("patient_nom", "patient_prenom", "appelant", "orientation", "motif_appel"),
    "diagnostics": ("code_thesaurus",),
    "prescriptions": ("libelle",),
    "medecins": ("nom",),
    "structures": ("nom_site",),
}
_UNKNOWN = {
    "type_acte": ("VISITE", "CS", "TELECONS"),
    "motif_appel": ("FIEVRE_ENF", "RDV", "DOULEUR"),
    "code_thesaurus": ("GRIPPE_A", "ANGINE_VIRALE", "BRONCHO"),
}
_OUT_OF_RANGE = (
    ("temperature", ("45,3", "29,5")),
    ("fc", ("262", "12")),
    ("spo2", ("104",)),
    ("fr", ("95",)),
)
# A NIR for rows whose patient has none: any valid body, then a wrong key.
_FALLBACK_NIR_BODY = 1850375056123


def _bad_date(value: str, k: int) -> str:
    dd, mm, yyyy = value[:2], value[3:5], value[6:]
    return (f"31/02/{yyyy}", f"{yyyy}-{mm}-{dd}", f"{dd}/13/{yyyy}", f"{dd}.{mm}.{yyyy}")[k % 4]


def _bad_time(value: str, k: int) -> str:
    hh, mm = value[:2], value[3:]
    return (f"25:{mm}", f"{hh}h{mm}", f"{hh}{mm}", f"{hh}:{mm}:00")[k % 4]


def _wrong_key(nir: str | None) -> str:
    if nir is None:
        body = str(_FALLBACK_NIR_BODY)
        key = 97 - _FALLBACK_NIR_BODY % 97
    else:
        body, key = nir[:13], int(nir[13:])
    return f"{body}{key % 97 + 1:02d}"


def inject(
    entity: str,
    cols: Columns,
    rows: np.ndarray,
    rng: np.random.Generator,
    share: float,
    start_abs: np.ndarray | None = None,
) -> tuple[dict[int, InvalidClass], dict[int, int]]:
    """Corrupt about `share` of `rows` (global indices of one file's rows) in place.

    Returns the corrupted rows' line numbers in the file (header = line 1) with their class, and the
    rows whose field count must change (+1 one field too many, -1 one too few) when serialised.
    `start_abs` (minutes since epoch, per act row) is needed for `act_times_ordered`.
    """
    n = len(rows)
    k = int(rng.binomial(n, share)) if n else 0
    if k == 0:
        return {}, {}
    local = np.sort(rng.choice(n, size=k, replace=False))
    classes = CLASSES_BY_ENTITY[entity]
    picks = rng.integers(0, len(classes), size=k)
    variants = rng.integers(0, 1 << 30, size=k)
    lines: dict[int, InvalidClass] = {}
    shape: dict[int, int] = {}
    for li, ci, v in zip(local.tolist(), picks.tolist(), variants.tolist(), strict=True):
        row = int(rows[li])
        cls = classes[ci]
        if cls == "bad_date":
            col = "date_appel" if entity == "actes" else "date_mesure"
            cols[col][row] = _bad_date(cols[col][row], v)
        elif cls == "bad_time":
            col = "heure_appel" if entity == "actes" else "heure_mesure"
            cols[col][row] = _bad_time(cols[col][row], v)
        elif cls == "unknown_code":
            col = ("type_acte", "motif_appel")[v % 2] if entity == "actes" else "code_thesaurus"
            options = _UNKNOWN[col]
            cols[col][row] = options[v % len(options)]
        elif cls == "missing_required":
            options = _REQUIRED_TO_BLANK[entity]
            cols[options[v % len(options)]][row] = None
        elif cls == "column_count":
            shape[row] = 1 if v % 2 else -1
        elif cls == "out_of_range":
            col, values = _OUT_OF_RANGE[v % len(_OUT_OF_RANGE)]
            cols[col][row] = values[v % len(values)]
        elif cls == "nir_key":
            cols["patient_nir"][row] = _wrong_key(cols["patient_nir"][row])
        elif cls == "rpps_luhn":
            r = cols["rpps_medecin"][row]
            cols["rpps_medecin"][row] = r[:-1] + str((int(r[-1]) + 1 + v % 9) % 10)
        elif cls == "act_times_ordered":
            assert start_abs is not None
            call = np.array([start_abs[row] + 5 + v % 60])
            cols["date_appel"][row] = fmt_date(call // 1440)[0]
            cols["heure_appel"][row] = fmt_time(call % 1440)[0]
        elif cls == "cip13_key":
            c = cols["_cip13_full"][row]
            cols["code_cip13"][row] = c[:-1] + str((int(c[-1]) + 1 + v % 9) % 10)
        lines[li + 2] = cls
    return lines, shape
