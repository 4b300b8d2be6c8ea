"""The exact CSV parser on an irregular file: a diagnoses file of N rows with one unclosed quote near the
top (which sends the file to the exact parser, ingest/records/read_extract.py). Prints, as JSON, the best of
three timings, the peak memory (tracemalloc) and how many rows were read for how many data lines: before the
row-loss fix, the unclosed quote swallowed the rows after it up to the csv field size limit.

With --compare REV, the same for the parser of that git revision (read with `git show`), e.g. the
commit before the fix:

    .venv/bin/python benchmarks/exact_parser.py --rows 200000 [--compare 06f71ff]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import ModuleType

from ingest.contract import PROJECT_ROOT, default_contract
from ingest.records.read_extract import ExtractFile, parse_exact

NAME = "A75001_20240115_diagnostics.csv"


def _module_at(rev: str, folder: Path) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{rev}:ingest/records/read_extract.py"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    path = folder / f"read_extract_{rev}.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _measure(parse: Callable[..., object], text: str) -> dict[str, float | int]:
    entity = default_contract().entities["diagnostics"]
    f = ExtractFile(Path(NAME), NAME, b"", "0" * 64, "A75001", date(2024, 1, 15), "diagnostics")
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        parsed = parse(f, text, "utf-8", entity, ";")
        best = min(best, time.perf_counter() - started)
    tracemalloc.start()
    parse(f, text, "utf-8", entity, ";")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "seconds": round(best, 2),
        "peak_mb": round(peak / 1e6),
        "rows_read": parsed.rows_read,  # type: ignore[attr-defined]
        "bad_rows": len(parsed.bad_rows),  # type: ignore[attr-defined]
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--compare", help="a git revision whose parser to measure too")
    args = ap.parse_args()
    rows = [f"{i};1;GRIPPE;J111" for i in range(args.rows)]
    rows[min(100, args.rows - 1)] = '100;1;"GRIPPE;J111'
    text = "num_acte;rang;code_thesaurus;code_cim10\n" + "\n".join(rows) + "\n"
    result: dict[str, object] = {"data_lines": args.rows, "current": _measure(parse_exact, text)}
    if args.compare:
        with tempfile.TemporaryDirectory() as folder:
            result[args.compare] = _measure(_module_at(args.compare, Path(folder)).parse_exact, text)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
