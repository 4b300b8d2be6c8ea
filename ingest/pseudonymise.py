"""Keyed, deterministic pseudonyms for patients and doctors.

pseudonym = HMAC-SHA256(secret, "<domain>:<normalised identity>"), first 128 bits, hex.
- patient, NIR known:  "nir:<15 characters>"
- patient, no NIR:     "traits:<LAST>|<FIRST>|<YYYY-MM-DD birth date>|<sex>" with names upper-cased, accents
                        removed and every run of non-letters collapsed to one space, so that 'Lefèvre' and
                        'LEFEVRE ' give the same pseudonym.
- doctor:              "rpps:<11 digits>"
The domain prefix keeps an RPPS from ever colliding with a NIR. Takes key bytes, never paths; logs nothing.
A person seen once with and once without a NIR gets two pseudonyms (documented limitation, as in SNDS).
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc

PSEUDONYM_HEX_CHARS = 32  # 128 bits: collision-free for any realistic number of patients


def normalise_name(values: pa.Array) -> pa.Array:
    decomposed = pc.utf8_normalize(values, "NFKD")
    no_marks = pc.replace_substring_regex(decomposed, r"\p{Mn}", "")
    upper = pc.utf8_upper(no_marks)
    spaced = pc.replace_substring_regex(upper, r"[^A-Z]+", " ")
    return pc.utf8_trim_whitespace(spaced)


def hmac_pseudonyms(secret: bytes, messages: list[str | None]) -> pa.Array:
    """HMAC-SHA256 of each message, first 128 bits in hex; nulls stay null (one HMAC per distinct value)."""
    cache: dict[str, str] = {}
    out: list[str | None] = []
    for m in messages:
        if m is None:
            out.append(None)
            continue
        p = cache.get(m)
        if p is None:
            p = hmac.new(secret, m.encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_CHARS]
            cache[m] = p
        out.append(p)
    return pa.array(out, pa.string())


def patient_identity(
    nir: pa.Array, last_name: pa.Array, first_name: pa.Array, birth_date: pa.Array, sex: pa.Array
) -> tuple[pa.Array, pa.Array]:
    """The normalised identity string of each patient and its basis ('nir' or 'traits')."""
    nir_norm = pc.utf8_upper(pc.replace_substring_regex(nir, r"[\s.]", ""))
    traits = pc.binary_join_element_wise(
        normalise_name(last_name),
        normalise_name(first_name),
        pc.cast(birth_date, pa.string()),
        sex,
        "|",
    )
    has_nir = pc.is_valid(nir_norm)
    identity = pc.if_else(
        has_nir,
        pc.binary_join_element_wise(pa.scalar("nir"), nir_norm, ":"),
        pc.binary_join_element_wise(pa.scalar("traits"), traits, ":"),
    )
    basis = pc.if_else(has_nir, pa.scalar("nir"), pa.scalar("traits"))
    return identity, basis


def pseudonymise_patients(
    secret: bytes,
    nir: pa.Array,
    last_name: pa.Array,
    first_name: pa.Array,
    birth_date: pa.Array,
    sex: pa.Array,
) -> tuple[pa.Array, pa.Array]:
    identity, basis = patient_identity(nir, last_name, first_name, birth_date, sex)
    return hmac_pseudonyms(secret, identity.to_pylist()), basis


def pseudonymise_doctors(secret: bytes, rpps: pa.Array) -> pa.Array:
    msgs = pc.binary_join_element_wise(pa.scalar("rpps"), rpps, ":")
    return hmac_pseudonyms(secret, msgs.to_pylist())
