"""Content already landed, recognised by its checksum whatever the file is called.

The batch id is the file's name and checksum together (two associations may send byte-identical
header-only files, and each is a batch of its own). A file holding rows that is byte-identical to one
already landed under another name (renamed, re-sent under the wrong date or association) would land
its rows a second time, under the wrong day or association: ingest looks its checksum up here first.
One small object per landed file holding rows, `_content/<sha256>.json`, naming the batch and file
(no health data: a checksum of a whole file reveals nothing of its rows). Written after the batch's
manifest: a crash in between leaves a landed batch without its marker, which only means that one
copy of it would not be recognised (and the build still deduplicates rows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ingest.lake.storage import ObjectStore

CONTENT_PREFIX = "_content"


@dataclass(frozen=True)
class LandedContent:
    batch_id: str
    source_file: str
    ingested_at: str


def _path(sha256: str) -> str:
    return f"{CONTENT_PREFIX}/{sha256}.json"


def landed_content(store: ObjectStore, sha256: str) -> LandedContent | None:
    path = _path(sha256)
    if not store.exists(path):
        return None
    raw = json.loads(store.get(path))
    return LandedContent(raw["batch_id"], raw["source_file"], raw["at"])


def record_landed_content(store: ObjectStore, sha256: str, content: LandedContent) -> None:
    body = {"batch_id": content.batch_id, "source_file": content.source_file, "at": content.ingested_at}
    store.put(_path(sha256), json.dumps(body, sort_keys=True).encode("utf-8"))
