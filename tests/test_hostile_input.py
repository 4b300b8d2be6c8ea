"""Hostile extract files through the real Ingestor: each is quarantined with a reason (or its hostile part
dropped), and a scan of every zone after decryption finds no identifier and no source name.

Cases marked xfail(strict=True) get through today; the reason names the proposed fix (contract or
validation, owned elsewhere). When the fix lands, the test starts passing and strict xfail fails:
remove the mark then.
"""

from __future__ import annotations

import re
import time
import unicodedata
from pathlib import Path

import pytest

from ingest.lake.crypto import decrypt_parquet
from ingest.lake.keys import DataKeyring, LocalKeyStore
from ingest.lake.manifest import all_manifests
from ingest.lake.storage import ObjectStore
from ingest.landing.land import FileReport, Ingestor
from tests.extract_builder import NIR
from tests.hostile.corpus import CASES, SOURCE_NAMES

_EDGE = r"(?<![0-9A-Za-z])"
_END = r"(?![0-9A-Za-z])"
NIR_RE = re.compile(_EDGE + r"([12378]\s?\d{2}\s?\d{2}\s?(?:2A|2B|\d{2})\s?\d{3}\s?\d{3}\s?(\d{2}))" + _END)
PHONE_RE = re.compile(_EDGE + r"(?:\+33\s?|0)[1-9](?:[\s.-]?\d{2}){4}" + _END)
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
ADDRESS_RE = re.compile(r"\d+,? (?:rue|avenue|av|boulevard|bd|chemin|place|impasse|allée)\b", re.IGNORECASE)


def _valid_nir(match: re.Match[str]) -> bool:
    digits = re.sub(r"\s", "", match.group(1))
    number = int(digits[:13].replace("2A", "19").replace("2B", "18"))
    return 97 - number % 97 == int(digits[13:])


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def findings(text: str) -> list[str]:
    """What kind of identifier the text holds (kinds only: the test output must not quote them either)."""
    found = []
    if any(_valid_nir(m) for m in NIR_RE.finditer(text)):
        found.append("NIR")
    if PHONE_RE.search(text):
        found.append("phone")
    if EMAIL_RE.search(text):
        found.append("e-mail")
    if ADDRESS_RE.search(text):
        found.append("street address")
    folded = _fold(text)
    found += [f"name #{i}" for i, name in enumerate(SOURCE_NAMES) if _fold(name) in folded]
    return found


def lake_text(store: ObjectStore, keystore: LocalKeyStore, reports: list[FileReport]) -> str:
    """Every zone after decryption (raw, quarantine rows, manifests, audit), object names and the report."""
    keyring = DataKeyring(store, keystore)
    parts = list(store.list(""))
    for m in all_manifests(store):
        parts.append(m.to_json().decode())
        for o in m.outputs:
            if o.path.endswith(".parquet"):
                table = decrypt_parquet(store.get(o.path), keyring.get(o.key_id).key, path=o.path)
                parts.append(str(table.to_pylist()))
    parts += [store.get(p).decode() for p in store.list("_audit")]
    parts += [f"{r.file} {r.message} {dict(r.reasons)}" for r in reports]
    return "\n".join(parts)


def test_the_scanner_finds_what_it_looks_for() -> None:
    assert findings(f"x {NIR} y") == ["NIR"]
    assert findings(f"x {NIR[:-2]}00 y") == []  # wrong key: not a NIR
    assert findings("tel 06 12 34 56 78.") == ["phone"] and findings("+33 6 12 34 56 78") == ["phone"]
    assert findings("a3f0612345678bc") == []  # inside a hex id
    assert findings("ecrire a j.d@example.fr") == ["e-mail"]
    assert findings("12 RUE des Lilas") == ["street address"]
    assert findings("Mme LEFEVRE") == ["name #1", "name #2"]


def _cases() -> list[object]:
    params = []
    for case_id, case in CASES.items():
        marks = [pytest.mark.xfail(strict=True, reason=case.leaks)] if case.leaks else []
        params.append(pytest.param(case_id, marks=marks, id=case_id))
    return params


@pytest.mark.parametrize("case_id", _cases())
def test_hostile_file_is_quarantined_and_leaks_nothing(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path, case_id: str
) -> None:
    case = CASES[case_id]
    paths = case.write(tmp_path / "in")
    started = time.monotonic()
    report = Ingestor(local_store, keystore).run(paths)
    assert time.monotonic() - started < 20, "hostile input must not make ingest crawl"
    (f,) = report.files
    assert f.rows_accepted + f.rows_quarantined == f.rows_read
    # No row lost in silence: every physical data line (not blank, after the header) is one row read.
    data_lines = [ln for ln in paths[0].read_bytes().splitlines()[1:] if ln.strip()]
    assert f.rows_read == len(data_lines)
    kind, _, reason = case.expect.partition(":")
    if kind == "file":
        assert (f.status, f.reasons) == ("quarantined", {f"file:{reason}": f.rows_read})
    elif kind == "row":
        assert f.status == "landed" and f.reasons.get(reason, 0) >= 1, dict(f.reasons)
    else:
        assert f.status == "landed" and f.rows_quarantined == 0
    leaks = findings(lake_text(local_store, keystore, report.files))
    assert leaks == [], f"found in the lake after decryption: {', '.join(leaks)}"


def test_scan_of_a_clean_lake_is_clean_even_with_nir_spacing(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    """The identifiers of a normal extract (name, NIR, phone, address, note) are all dropped."""
    from tests.extract_builder import act_row, write_extract

    spaced = f"{NIR[0]} {NIR[1:3]} {NIR[3:5]} {NIR[5:7]} {NIR[7:10]} {NIR[10:13]} {NIR[13:]}"
    rows = [act_row("1"), act_row("2", patient_nir=spaced)]
    report = Ingestor(local_store, keystore).run([write_extract(tmp_path / "in", "actes", rows)])
    text = lake_text(local_store, keystore, report.files)
    assert report.files[0].rows_accepted >= 1
    assert findings(text) == []
