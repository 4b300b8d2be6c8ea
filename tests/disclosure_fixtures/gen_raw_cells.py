"""Write a random raw_cells.csv: `tables` independent age x geography tables with skewed counts.

Used by tests/test_disclosure_fixtures.py (and runnable by hand: python gen_raw_cells.py SEED TABLES).
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

AGES = ["00-01", "02-14", "15-74", "75+", "unknown"]
REGIONS = {"11": ["75", "92", "93"], "28": ["14", "76"], "XX": ["XX"]}


def write_raw_cells(path: Path, seed: int, tables: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for table in range(tables):
        family = f"table_{table:03d}"
        leaf: dict[tuple[str, str], int] = {}
        for deps in REGIONS.values():
            for dep in deps:
                for age in AGES:
                    # Mostly small counts, some zeros, a few large: many primary suppressions.
                    leaf[(dep, age)] = rng.choice([0, 0, 1, 2, 3, 5, 8, 10, 12, 15, 25, 40, 90])
        for age in [*AGES, "all"]:
            ages = AGES if age == "all" else [age]
            total = 0
            for region, deps in REGIONS.items():
                region_total = 0
                for dep in deps:
                    count = sum(leaf[(dep, a)] for a in ages)
                    region_total += count
                    rows.append(_row(family, age, "departement", dep, "region", region, count))
                total += region_total
                rows.append(_row(family, age, "region", region, "france", "FR", region_total))
            rows.append(_row(family, age, "france", "FR", None, None, total))
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def _row(
    family: str, age: str, level: str, code: str, parent_level: str | None, parent: str | None, count: int
) -> dict[str, object]:
    return {
        "cell_id": f"{family}|{age}|{level}|{code}",
        "family": family,
        "age_class": age,
        "geo_level": level,
        "geo_code": code,
        "parent_geo_level": parent_level or "",
        "parent_geo_code": parent or "",
        "cell_count": count,
        "contributor_count": 5,
    }


if __name__ == "__main__":
    write_raw_cells(Path(__file__).parent / "seeds" / "raw_cells.csv", int(sys.argv[1]), int(sys.argv[2]))
