"""The environment of a `lakehouse` run confined to one scratch folder (its own key store, lake and
warehouse), so that a benchmark never touches the user's."""

from __future__ import annotations

import os
from pathlib import Path


def scratch_env(root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LAKEHOUSE_HOME": str(root),
        "LAKEHOUSE_KEYSTORE": str(root / "keystore.json"),
        "LAKEHOUSE_LAKE": str(root / "lake"),
        "LAKEHOUSE_WAREHOUSE": str(root / "warehouse.duckdb"),
    }
