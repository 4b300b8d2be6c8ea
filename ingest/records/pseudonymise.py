"""Keyed, deterministic pseudonyms for patients and doctors.

pseudonym = HMAC-SHA256(secret, "<domain>:<normalised identity>"), first 128 bits, hex.
- patient, NIR known:  "nir:<15 characters>|<YYYY-MM-DD birth date>|<sex>"
- patient, no NIR:     "traits:<LAST>|<FIRST>|<YYYY-MM-DD birth date>|<sex>" with names upper-cased, accents
                        removed and every run of non-letters collapsed to one space, so that 'Lefèvre' and
                        'LEFEVRE ' give the same pseudonym.
- doctor:              "rpps:<11 digits>"
The domain prefix keeps an RPPS from ever colliding with a NIR. Takes key bytes, never paths; logs nothing.
A person seen once with and once without a NIR gets two pseudonyms (documented limitation, as in SNDS).

Why the NIR is keyed with the birth date and sex (identity scheme 2, as the SNDS does): the NIR read from
a carte Vitale is often the insured parent's (ouvrant droit) for a child, and NIRs hold the birth year in
two digits, so a NIR alone can name several people; keyed alone it merged a parent with their children, or
two people born a century apart, into one patient. Same-sex twins on one parent's NIR stay merged (the
SNDS's known limitation). Scheme 1 keyed the NIR alone: changing the scheme changes every NIR-based
pseudonym, like a rotation of the secret (manifests and objections record the scheme they used).
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.compute as pc

PSEUDONYM_SCHEME = 2  # identity strings as above; 1 was the NIR alone
PSEUDONYM_HEX_CHARS = 32  # 128 bits: collision-free for any realistic number of patients
_SHA256_BLOCK = 64  # bytes


def normalise_name(values: pa.Array) -> pa.Array:
    # Names repeat (a file holds far fewer surnames than acts): each distinct one is normalised once.
    encoded = values.dictionary_encode()
    return _normalise_distinct(encoded.dictionary).take(encoded.indices)


def _normalise_distinct(values: pa.Array) -> pa.Array:
    decomposed = pc.utf8_normalize(values, "NFKD")
    no_marks = pc.replace_substring_regex(decomposed, r"\p{Mn}", "")
    upper = pc.utf8_upper(no_marks)
    spaced = pc.replace_substring_regex(upper, r"[^A-Z]+", " ")
    return pc.utf8_trim_whitespace(spaced)


def hmac_pseudonyms(secret: bytes, messages: pa.Array | pa.ChunkedArray | list[str | None]) -> pa.Array:
    """HMAC-SHA256 of each message, first 128 bits in hex; nulls stay null (one HMAC per distinct value)."""
    if isinstance(messages, pa.ChunkedArray):
        values = messages.combine_chunks()
    else:
        values = messages if isinstance(messages, pa.Array) else pa.array(messages, pa.string())
    encoded = values.dictionary_encode()  # distinct values once each; nulls become null indices
    # HMAC as RFC 2104 defines it, sha256(key ^ opad || sha256(key ^ ipad || m)), with both padded-key
    # states hashed once and copied per value: the same digest as hmac.new(secret, m, sha256), at about
    # half its cost per call.
    block = (hashlib.sha256(secret).digest() if len(secret) > _SHA256_BLOCK else secret).ljust(
        _SHA256_BLOCK, b"\0"
    )
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    digests = []
    for m in encoded.dictionary.to_pylist():
        i = inner.copy()
        i.update(m.encode("utf-8"))
        o = outer.copy()
        o.update(i.digest())
        digests.append(o.hexdigest()[:PSEUDONYM_HEX_CHARS])
    return pa.array(digests, pa.string()).take(encoded.indices)


def patient_identity(
    nir: pa.Array, last_name: pa.Array, first_name: pa.Array, birth_date: pa.Array, sex: pa.Array
) -> tuple[pa.Array, pa.Array]:
    """The normalised identity string of each patient and its basis ('nir' or 'traits')."""
    nir_norm = pc.utf8_upper(pc.replace_substring_regex(nir, r"[\s.]", ""))
    born = pc.cast(birth_date, pa.string())
    traits = pc.binary_join_element_wise(
        normalise_name(last_name), normalise_name(first_name), born, sex, "|"
    )
    has_nir = pc.is_valid(nir_norm)
    identity = pc.if_else(
        has_nir,
        pc.binary_join_element_wise(
            pa.scalar("nir"), pc.binary_join_element_wise(nir_norm, born, sex, "|"), ":"
        ),
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
    return hmac_pseudonyms(secret, identity), basis


def pseudonymise_doctors(secret: bytes, rpps: pa.Array) -> pa.Array:
    msgs = pc.binary_join_element_wise(pa.scalar("rpps"), rpps, ":")
    return hmac_pseudonyms(secret, msgs)
