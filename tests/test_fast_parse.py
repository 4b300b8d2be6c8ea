"""The fast per-row path (Arrow CSV reader, vectorised checks, one HMAC per distinct value) gives exactly
what the exact Python parser and the plain loops gave: same rows, lines, findings and landed tables."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import ingest.landing.land
import ingest.records.validate
from ingest.contract import default_contract
from ingest.lake.keys import LocalKeyStore
from ingest.lake.storage import ObjectStore
from ingest.landing.land import Batch, Ingestor
from ingest.records.pseudonymise import PSEUDONYM_HEX_CHARS, hmac_pseudonyms
from ingest.records.read_extract import ExtractFile, ParsedFile, UnusableFile, _parse_fast, parse, parse_exact
from ingest.records.validate import nir_ok, timestamp, validate
from ingest.synth import GenerationSummary, generate_extracts
from tests.extract_builder import NIR, with_nir_key

CONTRACT = default_contract()
DIAG = CONTRACT.entities["diagnostics"]
HEADER = ";".join(DIAG.source_names)


def _file(name: str = "A75001_20240115_diagnostics.csv") -> ExtractFile:
    return ExtractFile(Path(name), name, b"", "0" * 64, "A75001", date(2024, 1, 15), "diagnostics")


def _same(a: ParsedFile, b: ParsedFile) -> None:
    assert a.bad_rows == b.bad_rows
    assert a.lines.tolist() == b.lines.tolist()
    assert {k: v.to_pylist() for k, v in a.columns.items()} == {
        k: v.to_pylist() for k, v in b.columns.items()
    }


# Each body follows the header line; `fast` says whether Arrow may read it (else the exact parser must).
CASES = [
    pytest.param("1;1;GRIPPE;J11.1\n2;1;GRIPPE;\n", True, id="plain"),
    pytest.param("1;1;GRIPPE;J11.1\r\n2;1;GRIPPE;J10\r\n", True, id="crlf"),
    pytest.param('1;1;"GRI;PPE";J11\n2;1;"a ""b"" c";\n', True, id="quoted-delimiter-and-quotes"),
    pytest.param("1;1;GRIPPE;J11\n\n\n2;1;GRIPPE;J10\n", True, id="blank-lines"),
    pytest.param("1;1;GRIPPE;J11\r\n\r\n2;1;GRIPPE;J10\r\n", True, id="blank-crlf-lines"),
    pytest.param("1;1;GRIPPE;J11;x\n2;1\n\n3;1;GRIPPE;J10\n", True, id="column-counts"),
    pytest.param('1;1;"a;b";J11;x\n2;1;GRIPPE;J10\n', True, id="quoted-field-in-a-long-row"),
    pytest.param("1;1;GRIPPE;J11\n   \n2;1;GRIPPE;J10\n", True, id="whitespace-line"),
    pytest.param('1;1;"GRI\nPPE";J11\n2;1;GRIPPE;J10\n', False, id="newline-in-quotes"),
    pytest.param('1;1;"GRIPPE"x;J11\n2;1;GRIPPE;J10\n', False, id="text-after-closing-quote"),
    pytest.param('1;1;"GRIPPE;J11\n2;1;GRIPPE;J10\n', False, id="unclosed-quote"),
    pytest.param('1;1;GRIPPE;J11\n""\n2;1;GRIPPE;J10\n', False, id="empty-quoted-line"),
    pytest.param("1;1;GRIPPE;J11\r2;1;GRIPPE;J10\r", False, id="cr-line-ends"),
    pytest.param('1;1;"GRIPPE;J11\n2;1;GRIPPE;J10\n3;1;GRIPPE;J10\n', False, id="unclosed-quote-mid-file"),
    pytest.param(
        '1;1;"GRIPPE;J11\n2;1;"GRI\nPPE";J10\n3;1;GRIPPE;J10\n', False, id="unclosed-then-multi-line"
    ),
    pytest.param("1;1;GRIPPE;J11\n2;1;GRIPPE;" + "J" * 200_000 + "\n", False, id="over-long-field"),
]


@pytest.mark.parametrize(("body", "fast"), CASES)
def test_both_parsers_agree_and_irregular_files_go_to_the_exact_one(body: str, fast: bool) -> None:
    text = HEADER + ("\r\n" if "\r\n" in body else "\n") + body
    exact = parse_exact(_file(), text, "utf-8", DIAG, ";")
    quick = _parse_fast(_file(), text, "utf-8", DIAG, ";")
    assert (quick is not None) == fast
    if quick is not None:
        _same(quick, exact)
    _same(parse(_file(), text, "utf-8", DIAG, ";"), exact)


def test_a_file_cut_mid_row_is_refused_whole_by_both_parsers() -> None:
    text = HEADER + "\n1;1;GRIPPE;J11\n2;1;GRIPPE;J1"
    for reader in (parse, parse_exact):
        with pytest.raises(UnusableFile) as e:
            reader(_file(), text, "utf-8", DIAG, ";")
        assert e.value.reason == "truncated"


def test_an_unclosed_quote_costs_its_own_line_only() -> None:
    """The swallowed rows come back, a real multi-line field after them included."""
    text = HEADER + '\n1;1;"GRIPPE;J11\n2;1;GRIPPE;J10\n\n3;1;"GRI\nPPE";J10\n4;1;GRIPPE;\n'
    parsed = parse(_file(), text, "utf-8", DIAG, ";")
    assert [(b.line, b.rule) for b in parsed.bad_rows] == [(2, "quoting")]
    assert parsed.lines.tolist() == [3, 5, 7]
    assert parsed.columns["code_thesaurus"].to_pylist() == ["GRIPPE", "GRI\nPPE", "GRIPPE"]


def test_ignored_free_text_is_not_read_by_either_parser() -> None:
    """A dosage note is neither checked nor landed: neither parser copies it out of the file, while a
    row with a field too many or too few is still found wherever the note sits (here: first)."""
    rx = CONTRACT.entities["prescriptions"]
    names = ["posologie", *(n for n in rx.source_names if n != "posologie")]
    rows = [
        '"1 cp ; matin";7;1;3400930000001;;DOLIPRANE 1000MG;1000;mg;3;5',
        "Mme Dupont 06 12 34 56 78;7;2;;N02BE01;PARACETAMOL;1;g;3;5;extra",
        ";8;1;;N02BE01;PARACETAMOL;1;g;3",
    ]
    text = ";".join(names) + "\n" + "\n".join(rows) + "\n"
    f = replace(_file("A75001_20240115_prescriptions.csv"), entity_name="prescriptions")
    quick = _parse_fast(f, text, "utf-8", rx, ";")
    exact = parse_exact(f, text, "utf-8", rx, ";")
    assert quick is not None
    _same(quick, exact)
    assert set(quick.columns) == set(rx.read_names) == set(rx.source_names) - {"posologie"}
    assert quick.columns["libelle"].to_pylist() == ["DOLIPRANE 1000MG"]
    assert [(b.line, b.rule) for b in quick.bad_rows] == [(3, "column_count"), (4, "column_count")]


def test_columns_in_another_order_and_a_bad_header() -> None:
    text = "code_cim10;rang;num_acte;code_thesaurus\nJ11;1;7;GRIPPE\n"
    quick = _parse_fast(_file(), text, "utf-8", DIAG, ";")
    assert quick is not None
    _same(quick, parse_exact(_file(), text, "utf-8", DIAG, ";"))
    assert quick.columns["num_acte"].to_pylist() == ["7"]
    for header in ("num_acte;rang;code_thesaurus\n", "\n" + HEADER + "\n"):
        with pytest.raises(Exception) as fast_error:
            parse(_file(), header + "1;1;GRIPPE\n", "utf-8", DIAG, ";")
        with pytest.raises(Exception) as exact_error:
            parse_exact(_file(), header + "1;1;GRIPPE\n", "utf-8", DIAG, ";")
        assert str(fast_error.value) == str(exact_error.value)


# ------------------------------------------------------------------------------- generated files


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> GenerationSummary:
    out = tmp_path_factory.mktemp("month")
    return generate_extracts(
        out, date(2024, 1, 1), date(2024, 1, 31), n_associations=2, scale=0.1, seed=9, file_period="month"
    )


def _prepared(ingestor: Ingestor, path: Path) -> dict[str, pa.Table]:
    p = ingestor.prepare(path)
    assert isinstance(p, Batch), p
    # The ingest time is the only column that may differ between two runs.
    return {
        "landed": p.landed.drop_columns(["_ingested_at"]),
        "rejected": p.rejected.drop_columns(["_ingested_at"]),
    }


def test_fast_and_exact_paths_land_identical_tables(
    month: GenerationSummary, local_store: ObjectStore, keystore: LocalKeyStore, monkeypatch
) -> None:
    ingestor = Ingestor(local_store, keystore)
    fast = {f.path.name: _prepared(ingestor, f.path) for f in month.files}
    for f in month.files:  # the generated files are regular: every one is read by Arrow
        text = f.path.read_bytes().decode(month.encodings[f.association])
        assert _parse_fast(_file(f.path.name), text, "-", CONTRACT.entities[f.entity], ";") is not None
    # The exact parser has no use for the file's UTF-8 bytes that the fast one reads without a copy.
    monkeypatch.setattr(ingest.landing.land, "parse", lambda *args, utf8=None: parse_exact(*args))
    exact = {f.path.name: _prepared(ingestor, f.path) for f in month.files}
    assert sum(t["landed"].num_rows for t in fast.values()) > 1000
    for name, tables in fast.items():
        assert tables["landed"].equals(exact[name]["landed"]), name
        assert tables["rejected"].equals(exact[name]["rejected"]), name


def test_monthly_invalid_file_gives_the_same_findings_either_way(tmp_path: Path) -> None:
    summary = generate_extracts(
        tmp_path, date(2024, 1, 1), date(2024, 1, 31), n_associations=1, scale=0.1, seed=4, invalid_share=0.05
    )
    for f in summary.files:
        if not f.invalid_lines:
            continue
        entity = CONTRACT.entities[f.entity]
        text = f.path.read_bytes().decode(summary.encodings[f.association])
        ef = replace(_file(f.path.name), entity_name=f.entity)
        quick = _parse_fast(ef, text, "utf-8", entity, ";")
        exact = parse_exact(ef, text, "utf-8", entity, ";")
        assert quick is not None
        _same(quick, exact)
        findings = [
            validate(p.columns, entity, extract_date=f.day, file_name=f.path.name, lines=p.lines).findings
            for p in (quick, exact)
        ]
        assert findings[0] == findings[1]


def test_checks_on_distinct_values_find_what_row_by_row_checks_find(tmp_path: Path, monkeypatch) -> None:
    """Repeated values are cleaned, typed and checked once each; the findings (rows, order, messages)
    and the typed columns must be those of checking every row."""
    summary = generate_extracts(
        tmp_path, date(2024, 1, 1), date(2024, 1, 31), n_associations=1, scale=0.2, seed=5,
        invalid_share=0.05, file_period="month",
    )  # fmt: skip
    inputs = []
    for f in summary.files:
        entity = CONTRACT.entities[f.entity]
        text = f.path.read_bytes().decode(summary.encodings[f.association])
        parsed = parse_exact(replace(_file(f.path.name), entity_name=f.entity), text, "utf-8", entity, ";")
        inputs.append((f, entity, parsed))

    def run() -> list:
        return [
            validate(
                p.columns,
                e,
                extract_date=f.day,
                period_start=f.first_day,
                file_name=f.path.name,
                lines=p.lines,
            )
            for f, e, p in inputs
        ]

    by_value = run()
    with monkeypatch.context() as m:
        m.setattr(ingest.records.validate, "_distinct", lambda values: None)
        by_row = run()
    grouped = 0
    for (f, _, parsed), a, b in zip(inputs, by_value, by_row, strict=True):
        assert a.findings == b.findings, f.path.name
        assert (a.ok == b.ok).all()
        for name, typed in a.typed.items():
            assert typed.equals(b.typed[name]), (f.path.name, name)
        grouped += sum(ingest.records.validate._distinct(c) is not None for c in parsed.columns.values())
    assert sum(len(v.findings) for v in by_value) > 50
    assert grouped > 10  # the distinct path was taken


# ----------------------------------------------------------------------------- vectorised checks


def _nir_reference(v: str | None) -> bool:
    """The rule as written in the contract, one value at a time."""
    if v is None or len(v) != 15:
        return True
    body = v[:13].replace("2A", "19", 1) if v[5:7] == "2A" else v[:13]
    body = body.replace("2B", "18", 1) if v[5:7] == "2B" else body
    if not (body.isascii() and body.isdigit() and v[13:].isascii() and v[13:].isdigit()):
        return True
    return 97 - int(body) % 97 == int(v[13:])


def test_nir_key_check_matches_the_rule_value_by_value() -> None:
    rng = np.random.default_rng(1)
    values: list[str | None] = [
        NIR,
        with_nir_key("185052A123456"),
        with_nir_key("185052B123456"),
        None,
        "",
        "x",
    ]
    values += ["1850520A1234500", "18505" + "2A" + "12345678", "12345678901234"]
    for _ in range(300):
        body = "".join(rng.choice(list("0123456789"), 13))
        values += [with_nir_key(body), body + f"{int(rng.integers(0, 100)):02d}"]
    got = nir_ok(pa.array(values, pa.string())).tolist()
    assert got == [_nir_reference(v) for v in values]
    assert got[:3] == [True, True, True] and not all(got)


def test_duplicate_keys_are_every_repeat_after_the_first_nulls_included() -> None:
    entity = CONTRACT.entities["diagnostics"]
    acts = ["1", "1", "2", "1", "", "", "2"]
    ranks = ["1", "2", "1", "1", "1", "1", "1"]
    columns = {"num_acte": acts, "rang": ranks, "code_thesaurus": ["GRIPPE"] * 7, "code_cim10": [""] * 7}
    checked = validate(columns, entity, extract_date=date(2024, 1, 15), file_name="f.csv", lines=range(2, 9))
    dups = sorted(f.row for f in checked.findings if f.rule == "duplicate_key")
    assert dups == [3, 5, 6]


def test_one_hmac_per_distinct_value_gives_the_plain_hmac_of_each() -> None:
    secret = b"k" * 32
    messages = ["nir:1", None, "traits:DUPONT|JEANNE|1950-03-02|F", "nir:1", "", "é"]
    expected = [
        None if m is None else hmac.new(secret, m.encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_CHARS]
        for m in messages
    ]
    assert hmac_pseudonyms(secret, messages).to_pylist() == expected
    long_secret = bytes(range(100))  # longer than a SHA-256 block: hashed first, as HMAC says
    assert hmac_pseudonyms(long_secret, ["nir:1"]).to_pylist() == [
        hmac.new(long_secret, b"nir:1", hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_CHARS]
    ]
    assert hmac_pseudonyms(secret, pa.array(messages)).to_pylist() == expected
    assert hmac_pseudonyms(secret, pa.chunked_array([messages[:2], messages[2:]])).to_pylist() == expected


def test_timestamps_by_arithmetic_equal_the_text_round_trip() -> None:
    days = pa.array([date(2024, 1, 15), None, date(1900, 2, 28), date(2024, 12, 31), date(2024, 3, 31)])
    for times in (
        ["21:00", "10:00", None, "23:59", "00:00"],  # validated: the arithmetic path
        ["24:00", "10:00", "1:00", "+1:00", "x"],  # unchecked: the text path, null where invalid
    ):
        hhmm = pa.array(times, pa.string())
        text = pc.binary_join_element_wise(pc.cast(days, pa.string()), hhmm, " ")
        expected = pc.strptime(text, format="%Y-%m-%d %H:%M", unit="s", error_is_null=True)
        assert timestamp(days, hhmm).equals(expected)
