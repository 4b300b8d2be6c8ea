"""Validation of parsed rows against the contract, vectorised with pyarrow.compute.

Pure: (raw string columns, entity) -> typed columns + findings. Data problems are findings, never exceptions.
A row with any finding is rejected as a whole; every finding of that row is kept, the first one (in
contract column order, then cross-field rules) is its headline reason. A column whose values repeat is
cleaned, typed and checked once per distinct value, its findings and types then taken back to its rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.contract import Column, Entity

# Acts are exported on the day they start; an act begun late in the evening may end after midnight, and an
# association may re-send a week of corrections. Anything else in a day's file is a dating error. A period
# file (a backfill) covers its first to its last day: the same margins apply around that period.
ACT_DAYS_BEFORE_EXTRACT = 7
ACT_DAYS_AFTER_EXTRACT = 1

_DATE_RE = r"^\d{2}/\d{2}/\d{4}$"
_TIME_RE = r"^([01]\d|2[0-3]):[0-5]\d$"
_INT_RE = r"^[+-]?\d{1,9}$"
_DEC_RE = r"^[+-]?\d{1,9}([.,]\d{1,6})?$"

# Shapes of direct identifiers, searched in every landed text column (RE2 syntax: no look-behind, hence
# the explicit non-digit boundaries). A NIR candidate is confirmed by its key before it counts; it may be
# written grouped as on the carte Vitale (1 85 05 2A 006 084 36). A phone may be national (06 12 34 56 78,
# dotted or dashed too) or international (+33 6 .., 0033 6 .., and the +33 (0)6 .. people write). Groups
# may be split by a no-break space too: what a spreadsheet or a word processor puts between them.
_GROUP = r"[ \x{00A0}]"
_NIR_CANDIDATE = (
    rf"[12378]{_GROUP}?[0-9]{{2}}{_GROUP}?[0-9]{{2}}{_GROUP}?(?:2A|2B|[0-9]{{2}}){_GROUP}?[0-9]{{3}}"
    rf"{_GROUP}?[0-9]{{3}}{_GROUP}?[0-9]{{2}}"
)
_PHONE_SEP = r"[ \x{00A0}.-]"
_IDENTIFIER_SHAPES = {
    "phone": (
        rf"(?:^|[^0-9])(?:(?:\+|00)33{_PHONE_SEP}?(?:\(0\){_PHONE_SEP}?)?|0)[1-9](?:{_PHONE_SEP}?[0-9]{{2}}){{4}}"
        r"(?:[^0-9]|$)"
    ),
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


_DISTINCT_MIN_ROWS = 256  # below, one more Arrow call per column costs more than it saves
_DISTINCT_SAMPLE_ROWS = 1024


@dataclass(frozen=True)
class _Distinct:
    """A column as its distinct values and, per row, the position of its value among them."""

    values: pa.Array
    rows: pa.Array  # int32, no nulls (a null is a distinct value too)

    def expand(self, per_value: pa.Array) -> pa.Array:
        return per_value.take(self.rows)

    def expand_mask(self, per_value: np.ndarray) -> np.ndarray:
        return per_value[self.rows.to_numpy()]


def _distinct(values: pa.Array) -> _Distinct | None:
    """The column's distinct values, when they repeat enough for working on them alone to pay: dates,
    times, codes, measures and the act numbers of child rows mostly do, and a regular expression or a
    date parse costs far more per value than hashing it. None for columns of (nearly) distinct values."""
    if len(values) < _DISTINCT_MIN_ROWS:
        return None
    # A column of distinct values (act numbers, NIRs) would be hashed for nothing: a sample tells.
    sample = values.slice(0, _DISTINCT_SAMPLE_ROWS).dictionary_encode()
    if 4 * len(sample.dictionary) > 3 * len(sample):
        return None
    encoded = values.dictionary_encode(null_encoding="encode")
    if 2 * len(encoded.dictionary) > len(values):
        return None
    return _Distinct(encoded.dictionary, encoded.indices)


def _on_distinct(values: pa.Array, fn: Callable[[pa.Array], list[pa.Array]]) -> list[pa.Array]:
    """`fn` (element-wise Arrow functions of a string array) applied to each distinct value once."""
    distinct = _distinct(values)
    if distinct is None:
        return fn(values)
    return [distinct.expand(result) for result in fn(distinct.values)]


def _matches(values: pa.Array, pattern: str) -> np.ndarray:
    """Where `values` match the regular expression (RE2); null -> False."""
    (found,) = _on_distinct(values, lambda v: [pc.match_substring_regex(v, pattern)])
    return _mask(found)


def _real_dates(values: pa.Array) -> list[pa.Array]:
    """(is a real dd/mm/yyyy date, the date32) per value."""
    shaped = pc.match_substring_regex(values, _DATE_RE)
    parsed = pc.strptime(values, format="%d/%m/%Y", unit="s", error_is_null=True)
    # strptime rolls 31/02 over to 02/03: a date is valid only if its day, month and year are those
    # written (what printing it back would show, at a fraction of strftime's cost).
    digits = pc.if_else(shaped, values, pa.nulls(len(values), pa.string()))
    ok = pc.fill_null(shaped, False)
    for part, (lo, hi) in ((pc.day, (0, 2)), (pc.month, (3, 5)), (pc.year, (6, 10))):
        written = pc.cast(pc.utf8_slice_codeunits(digits, lo, hi), pa.int64())
        ok = pc.and_(ok, pc.fill_null(pc.equal(part(parsed), written), False))
    return [ok, pc.cast(parsed, pa.date32())]


class _Collector:
    def __init__(self, n: int, file_name: str, lines: Sequence[int] | np.ndarray) -> None:
        self.n = n
        self.file_name = file_name
        self.lines = lines
        self.findings: list[Finding] = []

    def add(self, bad: np.ndarray, fld: str, rule: str, expected: str) -> None:
        for i in np.flatnonzero(bad):
            msg = f"`{self.file_name}` line {self.lines[i]}: column `{fld}` failed `{rule}` ({expected})"
            self.findings.append(Finding(int(i), fld, rule, msg))


class _ValueFindings:
    """Findings on a column's distinct values, recorded on every row holding each value."""

    def __init__(self, out: _Collector, distinct: _Distinct) -> None:
        self.out = out
        self.distinct = distinct

    def add(self, bad: np.ndarray, fld: str, rule: str, expected: str) -> None:
        if bad.any():
            self.out.add(self.distinct.expand_mask(bad), fld, rule, expected)


Findings = _Collector | _ValueFindings


def _clean(values: pa.Array) -> pa.Array:
    """Surrounding spaces removed; an empty field is a missing value."""
    trimmed = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(trimmed, ""), pa.nulls(len(trimmed), pa.string()), trimmed)


def _type_column(col: Column, raw: pa.Array, out: Findings) -> pa.Array:
    """The typed values of one cleaned column (null where missing or invalid); findings go to `out`."""
    present = _mask(pc.is_valid(raw))
    if col.required:
        out.add(~present, col.source, "missing_required", "a value is required")
    if col.pattern is not None:
        ok = _matches(raw, f"^(?:{col.pattern})$")
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
        real, dates = _on_distinct(raw, _real_dates)
        ok = _mask(real)
        out.add(present & ~ok, col.source, "bad_date", "expected a real date as dd/mm/yyyy")
        return pc.if_else(pa.array(ok), dates, pa.nulls(len(raw), pa.date32()))
    if col.type == "time":
        ok = _matches(raw, _TIME_RE)
        out.add(present & ~ok, col.source, "bad_time", "expected HH:MM")
        return pc.if_else(pa.array(ok), raw, pa.nulls(len(raw), pa.string()))
    if col.type in ("integer", "decimal"):
        is_int = col.type == "integer"
        ok = _matches(raw, _INT_RE if is_int else _DEC_RE)
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


# All the shapes at once: one pass over a column finds whether any value needs the per-shape passes.
_ANY_IDENTIFIER_SHAPE = "|".join(f"(?:{shape})" for shape in [*_IDENTIFIER_SHAPES.values(), _NIR_CANDIDATE])


def _no_identifier(col: Column, raw: pa.Array, out: Findings) -> None:
    """Refuse a landed text value shaped like a direct identifier: it would reach the lake otherwise."""
    if not _matches(raw, _ANY_IDENTIFIER_SHAPE).any():
        return
    for what, shape in _IDENTIFIER_SHAPES.items():
        out.add(_matches(raw, shape), col.source, "no_identifier", f"looks like a {what}")
    candidates = _matches(raw, _NIR_CANDIDATE)
    if candidates.any():
        found = pc.fill_null(pc.extract_regex(raw, f"(?P<nir>{_NIR_CANDIDATE})").field("nir"), "")
        # Every candidate has 15 characters once ungrouped, so nir_ok is True exactly when its key is right.
        found = pc.replace_substring_regex(found, _GROUP, "")
        out.add(candidates & nir_ok(found), col.source, "no_identifier", "looks like a NIR")


# ---------------------------------------------------------------------------------------------- checksums


def _digits(values: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Digit matrix (n, width) of the values that are exactly `width` ASCII digits, and that mask."""
    filled = pc.fill_null(values, "")
    ok = _mask(pc.match_substring_regex(filled, rf"^[0-9]{{{width}}}$"))
    # Every value is `width` ASCII characters once the others are zeroed: the string data buffer is then
    # the digit matrix itself, read without a Python loop.
    fixed = pc.if_else(pa.array(ok), filled, pa.scalar("0" * width)).cast(pa.string())
    offsets = np.frombuffer(fixed.buffers()[1], dtype=np.int32)[fixed.offset : fixed.offset + len(fixed) + 1]
    raw = np.frombuffer(fixed.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    mat = raw.reshape(-1, width).astype(np.int64) - 48
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
    """True where a NIR's 2-digit key equals 97 - (number mod 97); Corsica's 2A/2B count as 19/18.
    Anything but 13 digits (2A/2B allowed) and a 2-digit key -> True (other rules)."""
    if len(values) == 0:
        return np.ones(0, dtype=bool)
    filled = pc.fill_null(values, "")
    corsica = pc.utf8_slice_codeunits(filled, 5, 7)
    body = pc.if_else(
        pc.equal(corsica, "2A"),
        pc.utf8_replace_slice(filled, 5, 7, "19"),
        pc.if_else(pc.equal(corsica, "2B"), pc.utf8_replace_slice(filled, 5, 7, "18"), filled),
    )
    # 13 body digits then the 2-digit key: a 15-digit number, which int64 holds exactly.
    mat, ok = _digits(body, 15)
    number = mat[:, :13] @ (10 ** np.arange(12, -1, -1, dtype=np.int64))
    key = mat[:, 13] * 10 + mat[:, 14]
    return ~ok | (97 - number % 97 == key)


# ---------------------------------------------------------------------------------------- cross-field rules


def timestamp(day: pa.Array, hhmm: pa.Array, *, checked: bool = False) -> pa.Array:
    """Date + HH:MM as a timestamp[s]; null where either is null (or, from unchecked input, invalid).
    `checked`: every time is already a valid HH:MM or null (a typed column), so none is parsed as text."""
    if not checked:
        (malformed,) = _on_distinct(hhmm, lambda v: [pc.invert(pc.match_substring_regex(v, _TIME_RE))])
    if checked or not pc.any(malformed).as_py():
        # Every time is a valid HH:MM (the usual case: typed columns): arithmetic, no text round trip.
        hours = pc.cast(pc.utf8_slice_codeunits(hhmm, 0, 2), pa.int64())
        minutes = pc.cast(pc.utf8_slice_codeunits(hhmm, 3, 5), pa.int64())
        days = pc.cast(pc.cast(day, pa.int32()), pa.int64())
        seconds = pc.add(pc.multiply(days, 86400), pc.add(pc.multiply(hours, 3600), pc.multiply(minutes, 60)))
        return pc.cast(seconds, pa.timestamp("s"))
    text = pc.binary_join_element_wise(pc.cast(day, pa.string()), hhmm, " ")
    return pc.strptime(text, format="%Y-%m-%d %H:%M", unit="s", error_is_null=True)


def _cross_field_acts(t: dict[str, pa.Array], period: Period, out: _Collector) -> None:
    call = timestamp(t["date_appel"], t["heure_appel"], checked=True)
    start = timestamp(t["date_debut"], t["heure_debut"], checked=True)
    end = timestamp(t["date_fin"], t["heure_fin"], checked=True)
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
    first, last = period
    lo = pa.scalar(first - timedelta(days=ACT_DAYS_BEFORE_EXTRACT), pa.date32())
    hi = pa.scalar(last + timedelta(days=ACT_DAYS_AFTER_EXTRACT), pa.date32())
    outside = _mask(pc.or_(pc.less(t["date_debut"], lo), pc.greater(t["date_debut"], hi)))
    out.add(outside, "date_debut", "act_on_extract_day", "act start too far from the extract date")
    out.add(~nir_ok(t["patient_nir"]), "patient_nir", "nir_key", "NIR key does not match")
    out.add(~luhn_ok(t["rpps_medecin"]), "rpps_medecin", "rpps_luhn", "RPPS check digit does not match")


def _cross_field_prescriptions(t: dict[str, pa.Array], period: Period, out: _Collector) -> None:
    out.add(~ean13_ok(t["code_cip13"]), "code_cip13", "cip13_key", "CIP13 check digit does not match")
    neither = _mask(pc.and_(pc.is_null(t["code_cip13"]), pc.is_null(t["code_atc"])))
    out.add(neither, "code_cip13+code_atc", "drug_code_present", "a CIP13 or an ATC code is required")


def _cross_field_vitals(t: dict[str, pa.Array], period: Period, out: _Collector) -> None:
    out.add(
        _mask(pc.greater_equal(t["pad"], t["pas"])),
        "pad",
        "diastolic_below_systolic",
        "diastolic pressure not below systolic",
    )


def _cross_field_doctors(t: dict[str, pa.Array], period: Period, out: _Collector) -> None:
    out.add(~luhn_ok(t["rpps"]), "rpps", "rpps_luhn", "RPPS check digit does not match")


Period = tuple[date, date]  # first and last day a file covers (the same day for a daily file)
CrossFieldRule = Callable[[dict[str, pa.Array], Period, _Collector], None]
CROSS_FIELD: dict[str, CrossFieldRule] = {
    "actes": _cross_field_acts,
    "prescriptions": _cross_field_prescriptions,
    "constantes": _cross_field_vitals,
    "medecins": _cross_field_doctors,
}


def _duplicate_keys(raw: dict[str, pa.Array], entity: Entity, out: _Collector) -> None:
    """Every occurrence of a key after the first is rejected: the file contradicts itself."""
    # Each key as one integer (its values' positions among the distinct ones, nulls equal to each other,
    # as in a set of tuples); the first row of each integer is kept, every other one is a repeat.
    code = np.zeros(out.n, dtype=np.int64)
    for k in entity.key:
        encoded = raw[k].dictionary_encode()
        distinct = len(encoded.dictionary) + 1
        positions = encoded.indices.fill_null(distinct - 1).to_numpy(zero_copy_only=False)
        # Renumbered densely after each column, so that any number of key columns fits in int64.
        code = np.unique(code * distinct + positions, return_inverse=True)[1].astype(np.int64)
    _, first = np.unique(code, return_index=True)
    dup = np.ones(out.n, dtype=bool)
    dup[first] = False
    out.add(dup, "+".join(entity.key), "duplicate_key", "the same key appears earlier in the file")


def validate(
    columns: Mapping[str, pa.Array | Sequence[str]],
    entity: Entity,
    *,
    extract_date: date,
    file_name: str,
    lines: Sequence[int] | np.ndarray,
    period_start: date | None = None,
) -> Validated:
    """`extract_date` is the last day the file covers, `period_start` its first (a daily file: None)."""
    n = len(lines)
    out = _Collector(n, file_name, lines)
    keys: dict[str, pa.Array] = {}  # the key columns, cleaned
    typed: dict[str, pa.Array] = {}
    for col in entity.columns:
        if col.ignored:
            continue  # free text that no rule checks and nothing lands: not even read
        values = columns[col.source]
        arr = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
        distinct = _distinct(arr)
        if distinct is None:
            cleaned = _clean(arr)
            typed[col.source] = _type_column(col, cleaned, out)
            if col.source in entity.key:
                keys[col.source] = cleaned
        else:
            # Cleaned, typed and checked once per distinct value; findings and types go back to the rows.
            cleaned = _clean(distinct.values)
            typed[col.source] = distinct.expand(_type_column(col, cleaned, _ValueFindings(out, distinct)))
            if col.source in entity.key:
                keys[col.source] = distinct.expand(cleaned)
    _duplicate_keys(keys, entity, out)
    rule = CROSS_FIELD.get(entity.name)
    if rule is not None:
        rule(typed, (period_start or extract_date, extract_date), out)
    ok = np.ones(n, dtype=bool)
    for fnd in out.findings:
        ok[fnd.row] = False
    findings = sorted(out.findings, key=lambda x: x.row)
    return Validated(typed=typed, ok=ok, findings=findings)
