"""A patient's pseudonym is a law of their identity as the contract defines it, not of how a file wrote it:
the same names in a UTF-8 and in a Windows-1252 file, in any case, with or without accents, with any run
of spaces, hyphens or apostrophes between words, land with one pseudonym; a name that differs once
normalised lands with another. Property-based (hypothesis), through the real ingest (read, decode,
validate, pseudonymise), nothing written.
"""

from __future__ import annotations

import tempfile
import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.lake.keys import LocalKeyStore
from ingest.lake.storage import ObjectStore
from ingest.landing.land import Batch, Ingestor
from tests.extract_builder import act_row, write_extract

# Letters of French names that Windows-1252 encodes outside its 0x80-0x9F block. (A name made only of
# letters of that block after an accented capital, such as 'Éœ', can be read as valid UTF-8: a known
# limit of encoding detection by trial, which the checks against double encoding only partly cover.)
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZàâäçéèêëîïôöùûüÀÂÄÇÉÈÊËÎÏÔÖÙÛÜ"
_SEPARATORS = [" ", "-", "'", "  ", " - ", "--", "."]
_WORDS = st.lists(st.text(alphabet=_LETTERS, min_size=1, max_size=8), min_size=1, max_size=3)


def _normalised_form(words: list[str]) -> str:
    """The contract's normalisation, written independently: no accents, upper case, one space."""
    plain = [
        "".join(c for c in unicodedata.normalize("NFKD", w) if not unicodedata.combining(c)) for w in words
    ]
    return " ".join(w.upper() for w in plain)


@st.composite
def _written(draw: st.DrawFn, words: list[str]) -> str:
    """One way a file may write these words: case, accents, separators and surrounding spaces vary."""
    out = []
    for word in words:
        if draw(st.booleans()):
            word = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
            word = unicodedata.normalize("NFC", word)
        word = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in word)
        out.append(word)
    joined = out[0]
    for word in out[1:]:
        joined += draw(st.sampled_from(_SEPARATORS)) + word
    return draw(st.sampled_from(["", " "])) + joined + draw(st.sampled_from(["", "  "]))


def _landed_pseudonyms(
    ingestor: Ingestor, folder: Path, names: list[tuple[str, str]], encoding: str
) -> list[str]:
    rows = [
        act_row(str(i), patient_nir="", patient_nom=last, patient_prenom=first)
        for i, (last, first) in enumerate(names)
    ]
    path = write_extract(folder, "actes", rows, encoding=encoding)
    prepared = ingestor.prepare(path)
    assert isinstance(prepared, Batch), prepared
    assert prepared.encoding in (encoding, "utf-8")
    assert prepared.landed.num_rows == len(rows), prepared.rejected
    return prepared.landed.column("patient_pseudonym").to_pylist()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), last=_WORDS, first=_WORDS, other_last=_WORDS)
def test_pseudonyms_are_stable_under_encoding_case_accents_and_spacing(
    local_store: ObjectStore, keystore: LocalKeyStore, data: st.DataObject, last, first, other_last
) -> None:
    ingestor = Ingestor(local_store, keystore)
    variants = [(data.draw(_written(last)), data.draw(_written(first))) for _ in range(3)]
    other = (data.draw(_written(other_last)), variants[0][1])
    with tempfile.TemporaryDirectory() as tmp:
        utf8 = _landed_pseudonyms(ingestor, Path(tmp) / "utf8", [*variants, other], "utf-8")
        cp1252 = _landed_pseudonyms(ingestor, Path(tmp) / "cp1252", [*variants, other], "cp1252")
    assert utf8 == cp1252
    assert len(set(utf8[:-1])) == 1, variants
    same_person = _normalised_form(other_last) == _normalised_form(last)
    assert (utf8[-1] == utf8[0]) == same_person, (last, other_last)
