"""French CSV conventions: ';' separator, '"' quoting only where needed, CRLF for Windows-1252 exports."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.synth.records import Columns

_NEEDS_QUOTES = r'[;"\r\n]'


def _quoted(values: np.ndarray) -> pa.Array:
    arr = pa.array(values, type=pa.large_string())
    need = pc.fill_null(pc.match_substring_regex(arr, _NEEDS_QUOTES), False)
    if not pc.any(need).as_py():
        return arr
    quote = pa.scalar('"', pa.large_string())
    escaped = pc.binary_join_element_wise(
        quote, pc.replace_substring(arr, '"', '""'), quote, pa.scalar("", pa.large_string())
    )
    return pc.if_else(need, escaped, arr)


def lines(cols: Columns, sources: tuple[str, ...], eol: str, shape: dict[int, int] | None = None) -> pa.Array:
    """One serialised line per row, end-of-line included (a large_string array).

    `shape` maps rows to +1 (append an empty field) or -1 (drop the last field): the wrong-column-count
    records of the invalid injection.
    """
    arrays = [_quoted(cols[s]) for s in sources]
    sep = pa.scalar(";", pa.large_string())
    joined = pc.binary_join_element_wise(*arrays, sep, null_handling="replace", null_replacement="")
    if shape:
        text = joined.to_numpy(zero_copy_only=False).copy()
        for row, delta in shape.items():
            text[row] = text[row] + ";" if delta > 0 else text[row].rsplit(";", 1)[0]
        joined = pa.array(text, type=pa.large_string())
    return pc.binary_join_element_wise(
        joined, pa.scalar(eol, pa.large_string()), pa.scalar("", pa.large_string())
    )


def encode(text_bytes: bytes, encoding: str) -> bytes:
    return text_bytes if encoding == "utf-8" else text_bytes.decode("utf-8").encode(encoding)


class Slicer:
    """Byte ranges of consecutive rows of a serialised array, without copying row by row."""

    def __init__(self, serialised: pa.Array) -> None:
        arr = serialised.cast(pa.large_string())
        bufs = arr.buffers()
        self.offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
        self.data = bufs[2]

    def rows(self, lo: int, hi: int) -> bytes:
        if hi <= lo:
            return b""
        start, end = int(self.offsets[lo]), int(self.offsets[hi])
        return self.data[start:end].to_pybytes()


def write_file(path: Path, header: str, body: bytes, encoding: str) -> int:
    """Write header + body (UTF-8 bytes) in the association's encoding, atomically; returns bytes written."""
    data = encode(header.encode("utf-8") + body, encoding)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return len(data)
