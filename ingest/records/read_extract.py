"""Reading one extract file: name, encoding, CSV structure. No value is interpreted here (see validate.py).

A file that cannot be read at all raises `UnusableFile` with a reason code; the pipeline quarantines it
whole. Rows whose shape is wrong (column count) are returned as `BadRow`s, not raised, so that the rest of
the file still lands.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from ingest.contract import Contract, Entity

FileReason = Literal[
    "file_name",
    "period",
    "unknown_association",
    "unknown_entity",
    "empty_file",
    "encoding",
    "double_encoded",
    "header",
    "csv_syntax",
    "truncated",
]
# A file whose name is not a valid extract name may carry anything in it (a patient's name, say): such a
# name is never stored, only a placeholder derived from the file's checksum.
NAME_REASONS = frozenset({"file_name", "unknown_association", "unknown_entity"})
_UTF8_BOM = b"\xef\xbb\xbf"

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
    extract_date: date | None  # the last day the file covers
    entity_name: str | None
    # First day covered: the extract date for a daily file, the named first day for a period file (which
    # may be nonsense, e.g. after the last day: check_name refuses such a file).
    period_start: date | None = None

    @property
    def batch_id(self) -> str:
        # The name is part of the identity: two associations may send byte-identical (e.g. header-only) files.
        return hashlib.sha256(self.name.encode() + b"\0" + self.sha256.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class BadRow:
    line: int
    rule: Literal["column_count", "quoting"]
    message: str


@dataclass
class ParsedFile:
    encoding: str
    # Source column name -> raw values (string), '' when missing; the contract's ignored columns (free
    # text that is neither checked nor landed) are not read.
    columns: dict[str, pa.Array]
    lines: np.ndarray  # int64: first physical line of each row (1 = header)
    bad_rows: list[BadRow] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.lines) + len(self.bad_rows)


def open_extract(path: Path, contract: Contract) -> ExtractFile:
    data = path.read_bytes()
    return extract_file(path, data, contract)


def extract_file(path: Path, data: bytes, contract: Contract) -> ExtractFile:
    """An extract's bytes with what its name says (also for a file read back from quarantine)."""
    m = contract.file_name_pattern.match(path.name)
    assoc = day = first = entity = None
    if m:
        assoc, entity = m["association"], m["entity"]
        try:
            day = datetime.strptime(m["date"], "%Y%m%d").date()
            named_first = m.groupdict().get("first")
            first = day if named_first is None else datetime.strptime(named_first, "%Y%m%d").date()
        except ValueError:
            day = first = None
    return ExtractFile(
        path=path,
        name=path.name,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        association_id=assoc,
        extract_date=day,
        entity_name=entity,
        period_start=first,
    )


def redacted_name(f: ExtractFile) -> str:
    return f"unrecognised-file-{f.sha256[:12]}"


def check_name(f: ExtractFile, contract: Contract) -> Entity:
    if f.association_id is None or f.extract_date is None or f.period_start is None:
        raise UnusableFile(
            "file_name",
            f"`{redacted_name(f)}`: name does not follow <ASSOCIATION>_<YYYYMMDD>_<entity>.csv "
            "(or <ASSOCIATION>_<YYYYMMDD>_<YYYYMMDD>_<entity>.csv for a period) with real dates",
        )
    # The name matched the contract's pattern (letters, digits, dates): safe to quote in the reason.
    days = (f.extract_date - f.period_start).days + 1
    if days < 1:
        raise UnusableFile(
            "period",
            f"`{f.name}`: the period ends ({f.extract_date:%d/%m/%Y}) before it starts "
            f"({f.period_start:%d/%m/%Y}); a period file is named "
            "<ASSOCIATION>_<first day>_<last day>_<entity>.csv",
        )
    if days > contract.max_period_days:
        raise UnusableFile(
            "period",
            f"`{f.name}`: the period covers {days} days, more than the {contract.max_period_days} "
            "a file may cover; split it",
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


def utf8_bytes(f: ExtractFile, encoding: str) -> bytes | None:
    """The file's text as UTF-8 bytes without a copy: its own bytes when it is UTF-8 (see `decode`)."""
    return f.data.removeprefix(_UTF8_BOM) if encoding == "utf-8" else None


def decode(f: ExtractFile) -> tuple[str, str]:
    """Return (text, encoding). UTF-8 is tried first because Windows-1252 decodes almost any byte string."""
    data = f.data
    if not data.strip():
        raise UnusableFile("empty_file", f"`{f.name}`: empty file (not even a header row)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise UnusableFile(
            "encoding", f"`{f.name}`: UTF-16 or binary content; expected UTF-8 or Windows-1252 text"
        )
    data = data.removeprefix(_UTF8_BOM)
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
    m = _MOJIBAKE.search(text) if "Ã" in text else None  # a plain substring search first: much faster
    if m:
        line = text.count("\n", 0, m.start()) + 1
        raise UnusableFile(
            "double_encoded",
            f"`{f.name}`: text converted twice between Windows-1252 and UTF-8 (first at line {line}); "
            "re-export the file in one encoding",
        )
    return text, encoding


def parse(
    f: ExtractFile, text: str, encoding: str, entity: Entity, delimiter: str, *, utf8: bytes | None = None
) -> ParsedFile:
    """The file's rows, by column. A regular file is read by Arrow's CSV reader (C++, ~20x the Python
    one); anything it could read differently from the exact parser goes to the exact parser, so every
    file gives the same rows, lines and findings either way. `utf8`: the text encoded as UTF-8, when
    the caller has it (a UTF-8 file's own bytes), so it is not encoded again."""
    _check_complete(f, text)
    fast = _parse_fast(f, text, encoding, entity, delimiter, utf8)
    return fast if fast is not None else parse_exact(f, text, encoding, entity, delimiter)


def _check_complete(f: ExtractFile, text: str) -> None:
    """The contract ends every row, the last included, with a line break: a file without one was cut
    off in transfer, and a cut row can still look complete ('...;J11' for 'J11.1'). Landing the rows
    before the cut would lose the rest of the day without a sign; the whole file waits for the re-send."""
    if not text.endswith(("\n", "\r")):
        raise UnusableFile(
            "truncated",
            f"`{f.name}`: the file ends in the middle of a row (no final line break): "
            "a transfer cut short; send the complete file again",
        )


def _header_order(f: ExtractFile, header: list[str], entity: Entity) -> list[int]:
    """Position in the file of each contract column, or UnusableFile naming what is wrong."""
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
    return [header.index(h) for h in expected]


def _strict_reader(lines: Iterable[str], delimiter: str) -> Iterator[list[str]]:
    return csv.reader(lines, delimiter=delimiter, quotechar='"', strict=True)


def _parse_fast(
    f: ExtractFile, text: str, encoding: str, entity: Entity, delimiter: str, utf8: bytes | None = None
) -> ParsedFile | None:
    """Arrow's reader on a file where one physical line is one record, or None (use the exact parser).

    Lines holding no quote cannot be split two ways, and those holding one must be plainly quoted (see
    `_regular_quoting`). Everything else the two readers could disagree on (lone CR line ends, a cut last
    row, blank lines before the header, over-long fields, rows Arrow cannot place on a line) sends the
    file to the exact one.
    """
    if not text.endswith("\n"):
        return None
    data = text.encode("utf-8") if utf8 is None else utf8
    buf = np.frombuffer(data, dtype=np.uint8)
    if b"\r" in data:
        carriage_returns = np.flatnonzero(buf == 13)
        if not (buf[np.minimum(carriage_returns + 1, len(buf) - 1)] == 10).all():
            return None  # a CR that does not end a line: Python's csv reads it as a line break
    ends = np.flatnonzero(buf == 10)  # one per line: the text ends with one
    starts = np.concatenate([np.zeros(1, dtype=np.int64), ends[:-1] + 1])
    lengths = ends - starts
    lengths[lengths > 0] -= buf[ends[lengths > 0] - 1] == 13  # CRLF: the CR is not content
    if lengths[0] == 0 or int(lengths.max()) >= csv.field_size_limit():
        return None
    header_text = data[: starts[0] + lengths[0]].decode("utf-8")
    if '"' in header_text:
        return None
    header = header_text.split(delimiter)
    order = _header_order(f, header, entity)
    width = len(header)
    record_lines = np.flatnonzero(lengths[1:] > 0) + 2  # physical line numbers (header = 1)

    bad: list[tuple[int, int]] = []  # (physical line, fields)

    def on_bad_row(row: pa_csv.InvalidRow) -> str:
        # Arrow numbers the non-empty lines, header included, from 1 (None only with threads, not used
        # here); the line's text must match too, or the file goes to the exact parser.
        k = (row.number or 0) - 2
        line = int(record_lines[k]) if 0 <= k < len(record_lines) else -1
        if (
            line < 0
            or data[starts[line - 1] : starts[line - 1] + lengths[line - 1]].decode("utf-8") != row.text
        ):
            line = -1
        bad.append((line, row.actual_columns))
        return "skip"

    names = [f"c{i}" for i in range(width)]
    position = dict(zip(entity.source_names, order, strict=True))
    read = {name: f"c{position[name]}" for name in entity.read_names}  # contract name -> Arrow's name
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data),
            # One block for the whole file: each column comes out as one chunk, used without a copy.
            read_options=pa_csv.ReadOptions(
                skip_rows=1, column_names=names, use_threads=False, block_size=max(len(data) + 1, 1 << 20)
            ),
            parse_options=pa_csv.ParseOptions(
                delimiter=delimiter,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=True,
                invalid_row_handler=on_bad_row,
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                include_columns=list(read.values()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, ValueError):
        return None
    bad_lines = np.array([line for line, _ in bad], dtype=np.int64)
    if table.num_rows + len(bad) != len(record_lines) or not np.isin(bad_lines, record_lines).all():
        return None
    good_lines = record_lines[~np.isin(record_lines, bad_lines)]
    quoted = np.unique(np.searchsorted(ends, np.flatnonzero(buf == 34)))  # 0-based lines holding a quote
    if len(quoted) and not _regular_quoting(data, starts, quoted, delimiter):
        return None
    bad_rows = [
        BadRow(line, "column_count", f"`{f.name}` line {line}: {n_fields} fields, expected {width}")
        for line, n_fields in sorted(bad)
    ]
    return ParsedFile(
        encoding=encoding,
        columns={name: table.column(arrow_name).combine_chunks() for name, arrow_name in read.items()},
        lines=good_lines.astype(np.int64),
        bad_rows=bad_rows,
    )


def _regular_quoting(data: bytes, starts: np.ndarray, quoted: np.ndarray, delimiter: str) -> bool:
    """True when every line holding a quote is plain RFC 4180: each field either has no quote or is
    wholly quoted with doubled inner quotes. Both readers split such a line the same way; anything else
    (text after a closing quote, an unclosed quote, a line that is only '""') is left to the exact parser."""
    offsets = np.append(starts, len(data)).astype(np.int64)
    lines = pa.Array.from_buffers(
        pa.large_string(), len(starts), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    ).take(pa.array(quoted))
    d = re.escape(delimiter)
    field = f'(?:[^"{d}\r\n]*|"(?:[^"]|"")*")'
    regular = pc.match_substring_regex(lines, f"^{field}(?:{d}{field})*\r?\n$")
    if not pc.all(regular).as_py():
        return False
    # A line that is only '""' is at most 4 bytes long: only such short lines are compared.
    lengths = np.diff(offsets)[quoted]
    short = [data[offsets[i] : offsets[i + 1]] for i in quoted[lengths <= 4]]
    return not any(line in (b'""\n', b'""\r\n') for line in short)


def parse_exact(f: ExtractFile, text: str, encoding: str, entity: Entity, delimiter: str) -> ParsedFile:
    """Python's csv reader, record by record: every irregularity becomes a finding on its line.

    A quoted field may hold a line break, so a record may span several lines. One that does and is
    malformed (a syntax error, or the wrong number of fields) is most likely an unclosed quote that ran
    into the next rows: its first line alone is the bad record, and reading starts again on the line
    after it, so the rows it swallowed land (or are quarantined) by themselves. Every physical data line
    ends up in exactly one row read."""
    _check_complete(f, text)
    # The reader's own line splitting (a lone CR ends a line too), kept to read again after a bad record.
    physical = io.StringIO(text, newline="").readlines()
    header_reader = _strict_reader(iter(physical), delimiter)
    try:
        header = next(header_reader)
    except (StopIteration, csv.Error) as e:
        raise UnusableFile("csv_syntax", f"`{f.name}`: header row cannot be read ({e})") from e
    positions = dict(zip(entity.source_names, _header_order(f, header, entity), strict=True))
    expected = list(entity.read_names)
    order = [positions[name] for name in expected]
    width = len(header)
    values: list[list[str]] = [[] for _ in expected]
    lines: list[int] = []
    bad: list[BadRow] = []

    def take(row: list[str] | csv.Error, line: int) -> None:
        if isinstance(row, csv.Error):
            bad.append(BadRow(line, "quoting", f"`{f.name}` line {line}: {row}"))
        elif len(row) == width:
            for out, idx in zip(values, order, strict=True):
                out.append(row[idx])
            lines.append(line)
        elif row and row != [""]:  # else a blank line
            bad.append(
                BadRow(line, "column_count", f"`{f.name}` line {line}: {len(row)} fields, expected {width}")
            )

    pos = header_reader.line_num  # physical lines read so far
    while pos < len(physical):
        reader = _strict_reader(itertools.islice(physical, pos, None), delimiter)
        consumed = 0
        while True:
            row: list[str] | csv.Error
            try:
                row = next(reader)
            except StopIteration:
                pos = len(physical)
                break
            except csv.Error as e:
                row = e  # the reader resumes after a syntax error, on the next physical line
            first_line, consumed = pos + consumed + 1, reader.line_num
            if not isinstance(row, csv.Error) and len(row) == width:  # the usual case, inline
                for out, idx in zip(values, order, strict=True):
                    out.append(row[idx])
                lines.append(first_line)
            elif pos + consumed > first_line:  # malformed, over several lines
                take(_read_alone(physical[first_line - 1], delimiter), first_line)
                pos = first_line
                break
            else:
                take(row, first_line)
    return ParsedFile(
        encoding=encoding,
        columns={name: pa.array(col, pa.string()) for name, col in zip(expected, values, strict=True)},
        lines=np.array(lines, dtype=np.int64),
        bad_rows=bad,
    )


def _read_alone(line: str, delimiter: str) -> list[str] | csv.Error:
    """One physical line read as a record by itself (an unclosed quote in it is a syntax error)."""
    try:
        return next(_strict_reader([line], delimiter), [])
    except csv.Error as e:
        return e
