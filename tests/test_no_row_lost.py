"""For any extract, every physical data line is landed or quarantined, and the counts add up to the lines.

A property test (hypothesis): files of valid rows mixed with every malformed-row class the parsers know
(unclosed quote, stray quote, text after a closing quote, a field too many or too few, a line of spaces,
blank lines, a bad value, CRLF or LF line ends), read by the real Ingestor. Both parsers must agree on
each file. Few examples per run: each is a real ingest preparation (read, validate, pseudonymise).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.lake.keys import init_keystore, open_keystore
from ingest.lake.storage import open_store
from ingest.landing.land import Batch, Ingestor
from ingest.records.read_extract import decode, open_extract, parse, parse_exact
from tests.test_fast_parse import DIAG, HEADER, _same

CORRUPTIONS = (
    "none",
    "none",
    "unclosed-quote",
    "stray-quote",
    "text-after-closing-quote",
    "quoted",
    "field-too-many",
    "field-too-few",
    "spaces-only",
    "bad-rank",
    "blank-line-after",
    "line-break-in-quotes",  # not a corruption: a quoted field may hold a line break
)


@st.composite
def extract_text(draw: st.DrawFn) -> tuple[str, set[int]]:
    """The file's text, and the physical lines that continue a row begun on an earlier line."""
    n = draw(st.integers(min_value=1, max_value=40))
    line_end = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [HEADER]
    continued: set[int] = set()
    for i in range(1, n + 1):
        fields = [
            str(i),
            draw(st.sampled_from(["1", "2"])),
            "GRIPPE",
            draw(st.sampled_from(["J111", "J11", ""])),
        ]
        kind = draw(st.sampled_from(CORRUPTIONS))
        k = draw(st.integers(min_value=0, max_value=2))  # a non-empty field: not the optional last one
        if kind == "unclosed-quote":
            fields[k] = '"' + fields[k]
        elif kind == "stray-quote" and len(fields[2]) > 1:
            fields[2] = fields[2][:3] + '"' + fields[2][3:]
        elif kind == "text-after-closing-quote":
            fields[k] = f'"{fields[k]}"x'
        elif kind == "quoted":
            fields[k] = f'"{fields[k]}"'
        elif kind == "field-too-many":
            fields.append("extra")
        elif kind == "field-too-few":
            fields.pop()
        elif kind == "bad-rank":
            fields[1] = "12"
        elif kind == "line-break-in-quotes":
            fields[2] = '"GRI\nPPE"'  # one row over two lines (its code is then unknown: rejected)
            continued.add(sum(line.count("\n") + 1 for line in lines) + 2)
        lines.append("   " if kind == "spaces-only" else ";".join(fields))
        if kind == "blank-line-after":
            lines.append("")
    return line_end.join(lines) + line_end, continued


@pytest.fixture(scope="module")
def ingestor(tmp_path_factory: pytest.TempPathFactory) -> Ingestor:
    root = tmp_path_factory.mktemp("property")
    ks_path, _ = init_keystore(root / "keystore.json")
    return Ingestor(open_store(str(root / "lake")), open_keystore(ks_path))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extract=extract_text())
def test_every_data_line_is_landed_or_quarantined(ingestor: Ingestor, extract: tuple[str, set[int]]) -> None:
    text, continued = extract
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "A75001_20240115_diagnostics.csv"
        path.write_bytes(text.encode("utf-8"))
        p = ingestor.prepare(path)
        f = open_extract(path, ingestor.contract)
        decoded, encoding = decode(f)
        exact = parse_exact(f, decoded, encoding, DIAG, ";")
    assert isinstance(p, Batch), p
    physical = text.encode().split(b"\n")[:-1]
    # Each data line is a row of its own, but for those continuing a row begun above (its first line).
    data_lines = [
        n for n, line in enumerate(physical, start=1) if n > 1 and line.strip(b"\r") and n not in continued
    ]
    landed = p.landed.column("_source_line").to_pylist()
    quarantined = p.rejected.column("line").to_pylist()
    assert sorted(landed + quarantined) == data_lines
    assert p.rows_read == len(landed) + len(quarantined) == len(data_lines)
    # The fast path (when it takes the file) and the exact one read the same rows on the same lines.
    _same(parse(f, decoded, encoding, DIAG, ";"), exact)


def test_the_ingest_report_shows_counts_that_add_up(tmp_path: Path, keystore) -> None:
    """Read = accepted + quarantined + opposed, per file and in total, as `lakehouse ingest` prints
    them: an objector's rows are a column of their own, not a gap."""
    from click.testing import CliRunner

    from ingest.cli import main
    from ingest.governance.opposition import add_identities
    from tests.extract_builder import NIR_PATIENT, act_row, write_extract

    lake = tmp_path / "lake"
    add_identities(open_store(str(lake)), keystore, [NIR_PATIENT])
    other = {"patient_nir": "", "patient_nom": "Autre"}
    rows = [act_row("1"), act_row("2", **other), act_row("3", **other, type_acte="XYZ")]
    write_extract(tmp_path / "in", "actes", rows)
    result = CliRunner().invoke(
        main, ["ingest", str(tmp_path / "in"), "--lake", str(lake)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "quarantined" in line)
    assert "opposed" in header
    (row,) = [line for line in result.output.splitlines() if "A75001_20240115_actes.csv" in line]
    cells = [c.strip() for c in row.split("│") if c.strip()]
    assert cells[1:6] == ["landed", "3", "1", "1", "1"]
