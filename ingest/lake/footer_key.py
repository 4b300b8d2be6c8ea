"""The footer key material that lets Spark (parquet-java) open a landed file: docs/spark.md.

DuckDB and pyarrow are handed each file's data key directly; parquet-java's PropertiesDrivenCryptoFactory
finds it from the file alone, through the footer's key metadata: parquet-java's key material JSON
("PKMT1"). Ours names the data key by *reference* (`"wrappedDEK": "ref:raw/acts/2024-01"`, master key
id = the zone) instead of holding a wrapped copy, so that `keys rotate` (which re-wraps `_keys/...` only)
and the lake's KMS client (spark/kms-client, which unwraps `_keys/...` as ingest.lake.keys does) stay in
step. The metadata holds no secret: key ids are already in every manifest.

pyarrow writes the key metadata only through its KMS CryptoFactory (random per-file keys DuckDB cannot
read), not for the direct-key files the lake holds, so it is set afterwards in the file's tail: the
FileCryptoMetaData that precedes the encrypted footer is plaintext Thrift (compact protocol) whose field 2
is `key_metadata`. It is not covered by the footer's AES-GCM tag (the footer's AAD is the file's unique
AAD and the module type only), and every page offset lies before it, so the rest of the file is kept
byte for byte and every reader still opens it.
"""

from __future__ import annotations

import json

from ingest.lake.keys import parse_key_id

__all__ = [
    "KEY_REFERENCE_PREFIX",
    "footer_key_metadata",
    "read_footer_key_metadata",
    "with_footer_key_metadata",
]

KEY_REFERENCE_PREFIX = "ref:"
# parquet-java's defaults for a KMS that knows no instances: the lake's client is configured by Spark
# settings, never by what a file says.
_KMS_DEFAULT = "DEFAULT"
_ENCRYPTED_FOOTER_MAGIC = b"PARE"
# FileCryptoMetaData { 1: required EncryptionAlgorithm encryption_algorithm; 2: optional binary key_metadata }
_KEY_METADATA_FIELD = 2

# Thrift compact protocol type codes.
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(13)
# FileCryptoMetaData nests three deep (EncryptionAlgorithm > AesGcmV1 > fields); a tail nesting deeper
# is crafted, and would otherwise exhaust Python's stack.
_MAX_DEPTH = 16


def footer_key_metadata(key_id: str) -> bytes:
    """parquet-java key material (internal storage, single wrapping) referring to data key `key_id`."""
    zone = parse_key_id(key_id)[0]
    material = {
        "keyMaterialType": "PKMT1",
        "internalStorage": True,
        "isFooterKey": True,
        "kmsInstanceID": _KMS_DEFAULT,
        "kmsInstanceURL": _KMS_DEFAULT,
        "masterKeyID": zone,
        "wrappedDEK": KEY_REFERENCE_PREFIX + key_id,
        "doubleWrapping": False,
    }
    return json.dumps(material, separators=(",", ":")).encode("utf-8")


def read_footer_key_metadata(data: bytes) -> bytes | None:
    """The footer key metadata of an encrypted-footer Parquet file (None when it has none)."""
    _, fields, _ = _split_tail(data)
    return next((value for fid, _, value in fields if fid == _KEY_METADATA_FIELD), None)


def with_footer_key_metadata(data: bytes, metadata: bytes) -> bytes:
    """`data` with its footer key metadata set to `metadata`; `data` itself when it already is."""
    footer_start, fields, crypto_end = _split_tail(data)
    current = next((value for fid, _, value in fields if fid == _KEY_METADATA_FIELD), None)
    if current == metadata:
        return data
    kept = [field for field in fields if field[0] != _KEY_METADATA_FIELD]
    kept.append((_KEY_METADATA_FIELD, _BINARY, metadata))
    kept.sort(key=lambda field: field[0])
    view = memoryview(data)
    region = _encode_struct(kept) + bytes(view[crypto_end:-8])
    # One copy of the file's pages (they may be hundreds of MB), not one per concatenation.
    return b"".join((view[:footer_start], region, len(region).to_bytes(4, "little"), _ENCRYPTED_FOOTER_MAGIC))


def _split_tail(data: bytes) -> tuple[int, list[tuple[int, int, bytes]], int]:
    """(start of the footer region, FileCryptoMetaData's fields, where it ends) of `data`.

    Binary field values are returned decoded (without their length); others as raw encoded bytes."""
    if len(data) < 12 or data[-4:] != _ENCRYPTED_FOOTER_MAGIC:
        raise ValueError("not a Parquet file with an encrypted footer")
    length = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - length
    if length <= 0 or start < 4:
        raise ValueError("Parquet footer length out of range")
    fields, end = _read_struct(data, start, len(data) - 8, 0)
    return start, fields, end


def _read_struct(data: bytes, pos: int, limit: int, depth: int) -> tuple[list[tuple[int, int, bytes]], int]:
    if depth > _MAX_DEPTH:
        raise ValueError("Parquet footer: FileCryptoMetaData nested too deep")
    fields: list[tuple[int, int, bytes]] = []
    last = 0
    while True:
        header = _byte(data, pos, limit)
        pos += 1
        kind = header & 0x0F
        if kind == _STOP:
            return fields, pos
        delta = header >> 4
        if delta:
            fid = last + delta
        else:
            raw, pos = _read_varint(data, pos, limit)
            fid = (raw >> 1) ^ -(raw & 1)
        value_start = pos
        pos = _skip(data, pos, limit, kind, depth)
        if kind == _BINARY:
            size, body = _read_varint(data, value_start, limit)
            fields.append((fid, kind, data[body : body + size]))
        else:
            fields.append((fid, kind, data[value_start:pos]))
        last = fid


def _skip(data: bytes, pos: int, limit: int, kind: int, depth: int) -> int:
    """Position after one value of type `kind` starting at `pos` (a field's value, or an element's)."""
    end = _skip_value(data, pos, limit, kind, depth)
    if end > limit:
        raise ValueError("Parquet footer: truncated FileCryptoMetaData")
    return end


def _skip_value(data: bytes, pos: int, limit: int, kind: int, depth: int) -> int:
    if kind in (_TRUE, _FALSE):
        return pos
    if kind == _BYTE:
        return pos + 1
    if kind in (_I16, _I32, _I64):
        return _read_varint(data, pos, limit)[1]
    if kind == _DOUBLE:
        return pos + 8
    if kind == _BINARY:
        size, pos = _read_varint(data, pos, limit)
        if pos + size > limit:
            raise ValueError("Parquet footer: truncated binary field")
        return pos + size
    if kind == _STRUCT:
        return _read_struct(data, pos, limit, depth + 1)[1]
    if kind in (_LIST, _SET):
        header = _byte(data, pos, limit)
        pos += 1
        size, element = header >> 4, header & 0x0F
        if size == 15:
            size, pos = _read_varint(data, pos, limit)
        _check_count(size, pos, limit)
        for _ in range(size):
            # Booleans inside a list take one byte each.
            pos = pos + 1 if element in (_TRUE, _FALSE) else _skip(data, pos, limit, element, depth + 1)
        return pos
    if kind == _MAP:
        size, pos = _read_varint(data, pos, limit)
        if size:
            types = _byte(data, pos, limit)
            pos += 1
            _check_count(size, pos, limit)
            for _ in range(size):
                for element in (types >> 4, types & 0x0F):
                    boolean = element in (_TRUE, _FALSE)
                    pos = pos + 1 if boolean else _skip(data, pos, limit, element, depth + 1)
        return pos
    raise ValueError(f"Parquet footer: unknown Thrift type {kind}")


def _check_count(size: int, pos: int, limit: int) -> None:
    # Every element takes at least one byte: a count beyond the bytes left is crafted, and looping over
    # it (up to 2**63 times) would hang the reader.
    if size > limit - pos:
        raise ValueError("Parquet footer: collection size beyond the FileCryptoMetaData")


def _encode_struct(fields: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray()
    last = 0
    for fid, kind, value in fields:
        if 0 < fid - last <= 15:
            out.append(((fid - last) << 4) | kind)
        else:
            out.append(kind)
            out += _varint((fid << 1) ^ (fid >> 63))
        out += _varint(len(value)) + value if kind == _BINARY else value
        last = fid
    out.append(_STOP)
    return bytes(out)


def _byte(data: bytes, pos: int, limit: int) -> int:
    if pos >= limit:
        raise ValueError("Parquet footer: truncated FileCryptoMetaData")
    return data[pos]


def _read_varint(data: bytes, pos: int, limit: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = _byte(data, pos, limit)
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("Parquet footer: varint too long")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        if value < 0x80:
            out.append(value)
            return bytes(out)
        out.append((value & 0x7F) | 0x80)
        value >>= 7
