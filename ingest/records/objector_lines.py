"""Objectors' lines taken out of a file kept whole in quarantine (`quarantine/files/`).

A file quarantined whole is kept as sent, identities included, for the data manager to see what was wrong.
An objection must hold there too: when the file can still be read row by row (a transfer cut short, a
nonsense period, text converted twice, ...), the lines of objectors' acts, and of the diagnoses,
prescriptions and vital signs of those acts, are removed from the kept bytes, the rest left exactly as
sent. Used by ingest before it quarantines such a file, and by the purge on files already quarantined. A
file that cannot be read row by row (wrong encoding, wrong header, an unreadable name) cannot be
attributed: it is kept as it is (docs/security.md says so).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.contract import Contract
from ingest.records.pseudonymise import pseudonymise_patients
from ingest.records.read_extract import ExtractFile, UnusableFile, decode, parse_exact
from ingest.records.validate import validate

_BOM = b"\xef\xbb\xbf"
IDENTITY_COLUMNS = ("patient_nir", "patient_nom", "patient_prenom", "patient_date_naissance", "patient_sexe")
# Datasets whose rows belong to an act (association_id + num_acte).
_ACT_DATASETS = frozenset({"acts", "diagnoses", "prescriptions", "vital_signs"})


@dataclass(frozen=True)
class Stripped:
    data: bytes  # the file without the objectors' lines (the same bytes when nothing was removed)
    rows_removed: int
    acts: list[tuple[str, str]]  # (association, act number) of the objectors' acts removed (acts files)


def patients_opposed(
    typed: Mapping[str, pa.Array], secret: bytes, opposed: frozenset[str] | set[str]
) -> np.ndarray:
    """Per row of validated acts columns (IDENTITY_COLUMNS, typed, null where invalid): does its patient
    object? Whatever identity fields a rejected row has give its pseudonym, as ingest computes it."""
    pseudonyms, _ = pseudonymise_patients(secret, *(typed[c] for c in IDENTITY_COLUMNS))
    theirs = pc.fill_null(pc.is_in(pseudonyms, value_set=pa.array(sorted(opposed), pa.string())), False)
    return np.asarray(theirs.to_numpy(zero_copy_only=False), dtype=bool)


def strip_objectors(
    f: ExtractFile,
    contract: Contract,
    secret: bytes,
    opposed: frozenset[str] | set[str],
    opposed_acts: frozenset[tuple[str, str]] | set[tuple[str, str]],
) -> Stripped:
    """`f` without the lines of objectors' rows: acts of the pseudonyms in `opposed` or numbered in
    `opposed_acts`, and child rows of those acts (same association)."""
    unchanged = Stripped(f.data, 0, [])
    entity = contract.entities.get(f.entity_name or "")
    if entity is None or entity.dataset not in _ACT_DATASETS or f.association_id is None:
        return unchanged
    if f.extract_date is None or (not opposed and not opposed_acts):
        return unchanged
    try:
        text, encoding = decode(f)
        # A cut file: its last, partial line is read as a row too (it may hold an identity).
        complete = text if text.endswith(("\n", "\r")) else text + "\n"
        parsed = parse_exact(f, complete, encoding, entity, contract.delimiter)
    except UnusableFile:
        return unchanged
    n = len(parsed.lines)
    if n == 0:
        return unchanged
    act_ids = parsed.columns["num_acte"].to_pylist()
    mask = np.fromiter(((f.association_id, a) in opposed_acts for a in act_ids), dtype=bool, count=n)
    if entity.dataset == "acts" and opposed:
        checked = validate(
            parsed.columns,
            entity,
            extract_date=f.extract_date,
            period_start=f.period_start,
            file_name=f.name,
            lines=parsed.lines,
        )
        mask |= patients_opposed(checked.typed, secret, opposed)
    if not mask.any():
        return unchanged
    # A record spans from its first line to the line before the next record (a quoted field may hold a
    # line break); mis-shaped rows cannot be attributed and stay.
    physical = io.StringIO(text, newline="").readlines()
    starts = sorted([int(x) for x in parsed.lines] + [b.line for b in parsed.bad_rows])
    next_start = dict(zip(starts, [*starts[1:], len(physical) + 1], strict=True))
    drop: set[int] = set()
    for line in parsed.lines[mask]:
        drop.update(range(int(line), next_start[int(line)]))
    kept = "".join(text_line for i, text_line in enumerate(physical, start=1) if i not in drop)
    data = kept.encode(encoding)
    if f.data.startswith(_BOM):
        data = _BOM + data
    removed_acts = [(f.association_id, a) for a, m in zip(act_ids, mask, strict=True) if m and a]
    return Stripped(data, int(mask.sum()), removed_acts if entity.dataset == "acts" else [])
