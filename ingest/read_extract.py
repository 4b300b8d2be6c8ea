"""Reading one extract file: name, encoding, CSV structure. No value is interpreted here (see validate.py).

A file that cannot be read at all raises `UnusableFile` with a reason code; the pipeline quarantines it
whole. Rows whose shape is wrong (column count) are returned as `BadRow`s, not raised, so that the rest of
the file still lands.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from ingest.contract import Contract, Entity

FileReason = Literal[
    "file_name",
    "unknown_association",
    "unknown_entity",
    "empty_file",
    "encoding",
    "double_encoded",
    "header",
    "csv_syntax",
]
# A file whose name is not a valid extract name may carry anything in it (a patient's name, say): such a
# name is never stored, only a placeholder derived from the file's checksum.
NAME_REASONS = frozenset({"file_name", "unknown_association", "unknown_entity"})

# 'é' written as UTF-8, read back as Windows-1252 and saved again as UTF-8 gives 'Ã©': the signature of
# an extract that went through one encoding conversion too many. Accepting it would land garbled text.
_MOJIBAKE = re.compile("Ã[\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u2013-\u203a\u20ac\u2122]")


class UnusableFile(Exception):
    """The whole file is quarantined. `message` names the file and what to fix, never a value."""

    def __init__(self, reason: FileReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ExtractFile:
    path: Path
    name: str
    data: bytes
    sha256: str
    association_id: str | None
    extract_date: date | None
    entity_name: str | None

    @property
    def batch_id(self) -> str:
        # The name is part of the identity: two associations may send byte-identical (e.g. header-only) files.
        return hashlib.sha256(self.name.encode() + b"\0" + self.sha256.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class BadRow:
    line: int
    rule: Literal["column_count", "truncated", "quoting"]
    message: str


@dataclass
class ParsedFile:
    encoding: str
    columns: dict[str, list[str]]  # source column name -> raw values, '' when missing
    lines: list[int]  # first physical line of each row (1 = header)
    bad_rows: list[BadRow] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.lines) + len(self.bad_rows)


def open_extract(path: Path, contract: Contract) -> ExtractFile:
    data = path.read_bytes()
    m = contract.file_name_pattern.match(path.name)
    assoc = day = entity = None
    if m:
        assoc, entity = m["association"], m["entity"]
        try:
            day = datetime.strptime(m["date"], "%Y%m%d").date()
        except ValueError:
            day = None
    return ExtractFile(
        path=path,
        name=path.name,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        association_id=assoc,
        extract_date=day,
        entity_name=entity,
    )


def redacted_name(f: ExtractFile) -> str:
    return f"unrecognised-file-{f.sha256[:12]}"


def check_name(f: ExtractFile, contract: Contract) -> Entity:
    if f.association_id is None or f.extract_date is None:
        raise UnusableFile(
            "file_name",
            f"`{redacted_name(f)}`: name does not follow <ASSOCIATION>_<YYYYMMDD>_<entity>.csv "
            "with a real date",
        )
    if contract.associations is not None and f.association_id not in contract.associations:
        raise UnusableFile(
            "unknown_association",
            f"`{redacted_name(f)}`: the association code is not in the network's registry "
            "(seeds/network/associations.csv)",
        )
    entity = contract.entities.get(f.entity_name or "")
    if entity is None:
        known = ", ".join(sorted(contract.entities))
        raise UnusableFile(
            "unknown_entity", f"`{redacted_name(f)}`: unknown entity (expected one of {known})"
        )
    return entity


def decode(f: ExtractFile) -> tuple[str, str]:
    """Return (text, encoding). UTF-8 is tried first because Windows-1252 decodes almost any byte string."""
    data = f.data
    if not data.strip():
        raise UnusableFile("empty_file", f"`{f.name}`: empty file (not even a header row)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise UnusableFile(
            "encoding", f"`{f.name}`: UTF-16 or binary content; expected UTF-8 or Windows-1252 text"
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            text = data.decode("cp1252")
            encoding = "cp1252"
        except UnicodeDecodeError as e:
            raise UnusableFile(
                "encoding",
                f"`{f.name}`: neither valid UTF-8 (byte {utf8_error.start}) "
                f"nor Windows-1252 (byte {e.start})",
            ) from e
    if "\x00" in text:
        raise UnusableFile("encoding", f"`{f.name}`: NUL characters in text; expected UTF-8 or Windows-1252")
    m = _MOJIBAKE.search(text)
    if m:
        line = text.count("\n", 0, m.start()) + 1
        raise UnusableFile(
            "double_encoded",
            f"`{f.name}`: text converted twice between Windows-1252 and UTF-8 (first at line {line}); "
            "re-export the file in one encoding",
        )
    return text, encoding


def parse(f: ExtractFile, text: str, encoding: str, entity: Entity, delimiter: str) -> ParsedFile:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as e:
        raise UnusableFile("csv_syntax", f"`{f.name}`: header row cannot be read ({e})") from e
    header = [h.strip() for h in header]
    expected = list(entity.source_names)
    missing = [h for h in expected if h not in header]
    unexpected = [h for h in header if h not in expected]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if missing or unexpected or duplicated:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(f"`{h}`" for h in missing))
        if unexpected:
            parts.append("unexpected " + ", ".join(f"`{h}`" for h in unexpected))
        if duplicated:
            parts.append("duplicated " + ", ".join(f"`{h}`" for h in duplicated))
        raise UnusableFile(
            "header",
            f"`{f.name}`: header does not match contract entity `{entity.name}` ({'; '.join(parts)})",
        )
    # Columns may come in any order; they are mapped by name.
    order = [header.index(h) for h in expected]
    width = len(header)
    values: list[list[str]] = [[] for _ in expected]
    lines: list[int] = []
    bad: list[BadRow] = []
    next_line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            # The reader resumes after a syntax error, so one bad quote costs one record, not the file.
            rule: Literal["truncated", "quoting"] = "truncated" if "end of data" in str(e) else "quoting"
            bad.append(BadRow(next_line, rule, f"`{f.name}` line {next_line}: {e}"))
            next_line = reader.line_num + 1
            continue
        first_line, next_line = next_line, reader.line_num + 1
        if not row or row == [""]:
            continue  # blank line
        if len(row) != width:
            bad.append(
                BadRow(
                    first_line,
                    "column_count",
                    f"`{f.name}` line {first_line}: {len(row)} fields, expected {width}",
                )
            )
            continue
        for out, idx in zip(values, order, strict=True):
            out.append(row[idx])
        lines.append(first_line)
    if not text.endswith(("\n", "\r")):
        # The contract ends every row with a line break: without one the file was cut off, and a cut row
        # can still look complete ('...;J11' for 'J11.1'). The last record is rejected, whatever it holds.
        if lines and (not bad or bad[-1].line < lines[-1]):
            last = lines.pop()
            for col in values:
                col.pop()
            bad.append(BadRow(last, "truncated", f"`{f.name}` line {last}: file ends in the middle of a row"))
        elif bad:
            bad[-1] = BadRow(
                bad[-1].line, "truncated", f"`{f.name}` line {bad[-1].line}: file ends in the middle of a row"
            )
    return ParsedFile(
        encoding=encoding, columns=dict(zip(expected, values, strict=True)), lines=lines, bad_rows=bad
    )
