"""Validation of parsed rows against the contract, vectorised with pyarrow.compute.

Pure: (raw string columns, entity) -> typed columns + findings. Data problems are findings, never exceptions.
A row with any finding is rejected as a whole; every finding of that row is kept, the first one (in
contract column order, then cross-field rules) is its headline reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.contract import Column, Entity

# Acts are exported on the day they start; an act begun late in the evening may end after midnight, and an
# association may re-send a week of corrections. Anything else in a day's file is a dating error.
ACT_DAYS_BEFORE_EXTRACT = 7
ACT_DAYS_AFTER_EXTRACT = 1

_DATE_RE = r"^\d{2}/\d{2}/\d{4}$"
_TIME_RE = r"^([01]\d|2[0-3]):[0-5]\d$"
_INT_RE = r"^[+-]?\d{1,9}$"
_DEC_RE = r"^[+-]?\d{1,9}([.,]\d{1,6})?$"

# Shapes of direct identifiers, searched in every landed text column (RE2 syntax: no look-behind, hence
# the explicit non-digit boundaries). A NIR candidate is confirmed by its key before it counts.
_NIR_CANDIDATE = r"[12378][0-9]{4}(?:2A|2B|[0-9]{2})[0-9]{8}"
_IDENTIFIER_SHAPES = {
    "phone": r"(?:^|[^0-9])(?:\+33 ?|0033 ?|0)[1-9](?:[ .-]?[0-9]{2}){4}(?:[^0-9]|$)",
    "e-mail": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]+",
    "street address": (
        r"(?i)(?:^|[^0-9])[0-9]{1,4}(?: ?(?:bis|ter))?,? +(?:rue|avenue|av\.?|boulevard|bd|chemin|place"
        r"|impasse|all[ée]e|route|quai|cours|square|r[ée]sidence)\b"
    ),
}


@dataclass(frozen=True)
class Finding:
    row: int  # index among parsed rows
    field: str  # source column name, or the rule's columns joined by '+'
    rule: str
    message: str


@dataclass
class Validated:
    typed: dict[str, pa.Array]  # source column name -> typed array (null where missing or invalid)
    ok: np.ndarray  # bool per row
    findings: list[Finding] = field(default_factory=list)


def _mask(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


class _Collector:
    def __init__(self, n: int, file_name: str, lines: list[int]) -> None:
        self.n = n
        self.file_name = file_name
        self.lines = lines
        self.findings: list[Finding] = []

    def add(self, bad: np.ndarray, fld: str, rule: str, expected: str) -> None:
        for i in np.flatnonzero(bad):
            msg = f"`{self.file_name}` line {self.lines[i]}: column `{fld}` failed `{rule}` ({expected})"
            self.findings.append(Finding(int(i), fld, rule, msg))


def _type_column(col: Column, raw: pa.Array, out: _Collector) -> pa.Array:
    present = _mask(pc.is_valid(raw))
    if col.required:
        out.add(~present, col.source, "missing_required", "a value is required")
    if col.pattern is not None:
        ok = _mask(pc.match_substring_regex(raw, f"^(?:{col.pattern})$"))
        out.add(present & ~ok, col.source, "pattern", f"expected the form {col.pattern!r}")
        raw = pc.if_else(pa.array(ok), raw, pa.nulls(len(raw), pa.string()))
    if col.type == "string":
        if col.identifying is None:
            _no_identifier(col, raw, out)
        return raw
    if col.type == "code":
        assert col.codes is not None
        ok = _mask(pc.is_in(raw, value_set=pa.array(sorted(col.codes))))
        out.add(present & ~ok, col.source, "unknown_code", "value not in the contract's code list")
        return pc.if_else(pa.array(ok), raw, pa.nulls(len(raw), pa.string()))
    if col.type == "date":
        shaped = _mask(pc.match_substring_regex(raw, _DATE_RE))
        parsed = pc.strptime(raw, format="%d/%m/%Y", unit="s", error_is_null=True)
        # strptime rolls 31/02 over to 02/03: a date is valid only if it prints back as written.
        roundtrip = _mask(pc.equal(pc.strftime(parsed, format="%d/%m/%Y"), raw))
        ok = shaped & roundtrip
        out.add(present & ~ok, col.source, "bad_date", "expected a real date as dd/mm/yyyy")
        return pc.if_else(pa.array(ok), pc.cast(parsed, pa.date32()), pa.nulls(len(raw), pa.date32()))
    if col.type == "time":
        ok = _mask(pc.match_substring_regex(raw, _TIME_RE))
        out.add(present & ~ok, col.source, "bad_time", "expected HH:MM")
        return pc.if_else(pa.array(ok), raw, pa.nulls(len(raw), pa.string()))
    if col.type in ("integer", "decimal"):
        is_int = col.type == "integer"
        ok = _mask(pc.match_substring_regex(raw, _INT_RE if is_int else _DEC_RE))
        rule = "not_integer" if is_int else "not_decimal"
        out.add(
            present & ~ok,
            col.source,
            rule,
            "expected a whole number" if is_int else "expected a number like 38,5",
        )
        cleaned = pc.if_else(
            pa.array(ok), pc.replace_substring(raw, ",", "."), pa.nulls(len(raw), pa.string())
        )
        num = pc.cast(cleaned, pa.int64() if is_int else pa.float64())
        in_range = np.ones(len(raw), dtype=bool)
        if col.min is not None:
            in_range &= _mask(pc.greater_equal(num, col.min)) | ~ok
        if col.max is not None:
            in_range &= _mask(pc.less_equal(num, col.max)) | ~ok
        out.add(ok & ~in_range, col.source, "out_of_range", f"expected between {col.min} and {col.max}")
        return pc.if_else(pa.array(ok & in_range), num, pa.nulls(len(raw), num.type))
    raise AssertionError(col.type)


def _no_identifier(col: Column, raw: pa.Array, out: _Collector) -> None:
    """Refuse a landed text value shaped like a direct identifier: it would reach the lake otherwise."""
    for what, shape in _IDENTIFIER_SHAPES.items():
        out.add(
            _mask(pc.match_substring_regex(raw, shape)), col.source, "no_identifier", f"looks like a {what}"
        )
    candidates = _mask(pc.match_substring_regex(raw, _NIR_CANDIDATE))
    if candidates.any():
        found = pc.fill_null(pc.extract_regex(raw, f"(?P<nir>{_NIR_CANDIDATE})").field("nir"), "")
        # Every candidate has 15 characters, so nir_ok is True exactly when its key is right.
        out.add(candidates & nir_ok(found), col.source, "no_identifier", "looks like a NIR")


# ---------------------------------------------------------------------------------------------- checksums


def _digits(values: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Digit matrix (n, width) of the values that are exactly `width` ASCII digits, and that mask."""
    filled = pc.fill_null(values, "")
    ok = _mask(pc.match_substring_regex(filled, rf"^\d{{{width}}}$"))
    text = "".join(v if good else "0" * width for v, good in zip(filled.to_pylist(), ok, strict=True))
    mat = np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(-1, width).astype(np.int64) - 48
    return mat, ok


def luhn_ok(values: pa.Array, width: int = 11) -> np.ndarray:
    """True where the value has a valid Luhn check digit (RPPS); null or malformed -> True (other rules)."""
    if len(values) == 0:
        return np.ones(0, dtype=bool)
    mat, ok = _digits(values, width)
    # Double every second digit from the right, excluding the check digit itself.
    doubled = mat.copy()
    idx = np.arange(width - 2, -1, -2)
    doubled[:, idx] = mat[:, idx] * 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    return ~ok | (doubled.sum(axis=1) % 10 == 0)


def ean13_ok(values: pa.Array) -> np.ndarray:
    """True where a 13-digit code has a valid EAN-13 check digit (CIP13); null/malformed -> True."""
    if len(values) == 0:
        return np.ones(0, dtype=bool)
    mat, ok = _digits(values, 13)
    weights = np.array([1, 3] * 6, dtype=np.int64)
    check = (10 - (mat[:, :12] @ weights) % 10) % 10
    return ~ok | (check == mat[:, 12])


def nir_ok(values: pa.Array) -> np.ndarray:
    """True where a NIR's 2-digit key equals 97 - (number mod 97); Corsica's 2A/2B count as 19/18."""
    filled = pc.fill_null(values, "")
    result = np.ones(len(values), dtype=bool)
    for i, v in enumerate(filled.to_pylist()):
        if len(v) != 15:
            continue
        body = v[:13]
        if body[5:7] == "2A":
            body = body[:5] + "19" + body[7:]
        elif body[5:7] == "2B":
            body = body[:5] + "18" + body[7:]
        if not (body.isdigit() and v[13:].isdigit()):
            continue
        result[i] = 97 - int(body) % 97 == int(v[13:])
    return result


# ---------------------------------------------------------------------------------------- cross-field rules


def timestamp(day: pa.Array, hhmm: pa.Array) -> pa.Array:
    text = pc.binary_join_element_wise(pc.cast(day, pa.string()), hhmm, " ")
    return pc.strptime(text, format="%Y-%m-%d %H:%M", unit="s", error_is_null=True)


def _cross_field_acts(t: dict[str, pa.Array], extract_date: date, out: _Collector) -> None:
    call = timestamp(t["date_appel"], t["heure_appel"])
    start = timestamp(t["date_debut"], t["heure_debut"])
    end = timestamp(t["date_fin"], t["heure_fin"])
    out.add(
        _mask(pc.less(start, call)), "date_debut+heure_debut", "act_times_ordered", "start before the call"
    )
    out.add(_mask(pc.less(end, start)), "date_fin+heure_fin", "act_times_ordered", "end before the start")
    has_end_date = _mask(pc.is_valid(t["date_fin"]))
    has_end_time = _mask(pc.is_valid(t["heure_fin"]))
    out.add(
        has_end_date ^ has_end_time,
        "date_fin+heure_fin",
        "act_times_ordered",
        "end date and time go together",
    )
    out.add(
        _mask(pc.greater(t["patient_date_naissance"], t["date_debut"])),
        "patient_date_naissance",
        "birth_before_act",
        "birth date after the act",
    )
    lo = pa.scalar(extract_date - timedelta(days=ACT_DAYS_BEFORE_EXTRACT), pa.date32())
    hi = pa.scalar(extract_date + timedelta(days=ACT_DAYS_AFTER_EXTRACT), pa.date32())
    outside = _mask(pc.or_(pc.less(t["date_debut"], lo), pc.greater(t["date_debut"], hi)))
    out.add(outside, "date_debut", "act_on_extract_day", "act start too far from the extract date")
    out.add(~nir_ok(t["patient_nir"]), "patient_nir", "nir_key", "NIR key does not match")
    out.add(~luhn_ok(t["rpps_medecin"]), "rpps_medecin", "rpps_luhn", "RPPS check digit does not match")


def _cross_field_prescriptions(t: dict[str, pa.Array], extract_date: date, out: _Collector) -> None:
    out.add(~ean13_ok(t["code_cip13"]), "code_cip13", "cip13_key", "CIP13 check digit does not match")
    neither = _mask(pc.and_(pc.is_null(t["code_cip13"]), pc.is_null(t["code_atc"])))
    out.add(neither, "code_cip13+code_atc", "drug_code_present", "a CIP13 or an ATC code is required")


def _cross_field_vitals(t: dict[str, pa.Array], extract_date: date, out: _Collector) -> None:
    out.add(
        _mask(pc.greater_equal(t["pad"], t["pas"])),
        "pad",
        "diastolic_below_systolic",
        "diastolic pressure not below systolic",
    )


def _cross_field_doctors(t: dict[str, pa.Array], extract_date: date, out: _Collector) -> None:
    out.add(~luhn_ok(t["rpps"]), "rpps", "rpps_luhn", "RPPS check digit does not match")


CrossFieldRule = Callable[[dict[str, pa.Array], date, _Collector], None]
CROSS_FIELD: dict[str, CrossFieldRule] = {
    "actes": _cross_field_acts,
    "prescriptions": _cross_field_prescriptions,
    "constantes": _cross_field_vitals,
    "medecins": _cross_field_doctors,
}


def _duplicate_keys(raw: dict[str, pa.Array], entity: Entity, out: _Collector) -> None:
    """Every occurrence of a key after the first is rejected: the file contradicts itself."""
    seen: set[tuple[str | None, ...]] = set()
    dup = np.zeros(out.n, dtype=bool)
    cols = [raw[k].to_pylist() for k in entity.key]
    for i, key in enumerate(zip(*cols, strict=True)):
        if key in seen:
            dup[i] = True
        seen.add(key)
    out.add(dup, "+".join(entity.key), "duplicate_key", "the same key appears earlier in the file")


def validate(
    columns: dict[str, list[str]], entity: Entity, *, extract_date: date, file_name: str, lines: list[int]
) -> Validated:
    n = len(lines)
    out = _Collector(n, file_name, lines)
    raw: dict[str, pa.Array] = {}
    typed: dict[str, pa.Array] = {}
    for col in entity.columns:
        arr = pc.utf8_trim_whitespace(pa.array(columns[col.source], pa.string()))
        # An empty field is a missing value.
        arr = pc.if_else(pc.equal(arr, ""), pa.nulls(n, pa.string()), arr)
        raw[col.source] = arr
        typed[col.source] = _type_column(col, arr, out)
    _duplicate_keys(raw, entity, out)
    rule = CROSS_FIELD.get(entity.name)
    if rule is not None:
        rule(typed, extract_date, out)
    ok = np.ones(n, dtype=bool)
    for fnd in out.findings:
        ok[fnd.row] = False
    findings = sorted(out.findings, key=lambda x: x.row)
    return Validated(typed=typed, ok=ok, findings=findings)
