"""Inputs of `ingest` that are not extract files at all, refused by name before anything is read.

`/dev/zero` is read until memory runs out, a FIFO blocks the run forever, and a file over the size cap
would be held whole in memory (extracts are read whole, then parsed): all are refused with one line, and
the run writes nothing. The cap is LAKEHOUSE_MAX_EXTRACT_BYTES (ingest.settings.max_extract_bytes).
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from pathlib import Path

from ingest import settings
from ingest.exceptions import LakehouseError

__all__ = ["InputFileError", "check_input_files"]


class InputFileError(LakehouseError):
    """An input that is not an extract file at all: refused, with its name, before anything is written."""

    exit_code = 2


_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}
_KINDS |= {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket"}


def check_input_files(paths: Iterable[Path], max_bytes: int) -> None:
    """Every input a regular file of at most `max_bytes`: `/dev/zero` or a FIFO would be read until memory
    runs out (or forever), and a file over the cap would be held whole in memory."""
    for path in paths:
        try:
            st = path.stat()  # follows links: a link to a device is a device
        except OSError as exc:
            raise InputFileError(f"`{path}` cannot be read ({exc.strerror}); nothing was ingested") from None
        if not stat.S_ISREG(st.st_mode):
            kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
            raise InputFileError(
                f"`{path}` is {kind}, not an extract file; nothing was ingested (give files or folders)"
            )
        if st.st_size > max_bytes:
            raise InputFileError(
                f"`{path}` is {st.st_size:,} bytes, over the {max_bytes:,}-byte cap on an extract file "
                f"({settings.MAX_EXTRACT_BYTES_ENV}); nothing was ingested"
            )
