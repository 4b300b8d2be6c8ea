"""Where things are: one place that reads the environment, shared by the CLI, the dbt plugin and tests.

LAKEHOUSE_HOME         working folder for local state (default ./.lakehouse)
LAKEHOUSE_LAKE         object store root, a folder or s3://bucket/prefix (default $LAKEHOUSE_HOME/lake)
LAKEHOUSE_KEYSTORE     key store file, outside the repo and the lake (see ingest.lake.keys.keystore_path)
LAKEHOUSE_S3_ENDPOINT  S3-compatible endpoint URL, with the AWS_* credentials (default: AWS)
LAKEHOUSE_MAX_EXTRACT_BYTES  largest extract file ingest reads (default 256 MiB)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import yaml


def home() -> Path:
    return Path(os.environ.get("LAKEHOUSE_HOME", ".lakehouse")).absolute()


def lake_url() -> str:
    return os.environ.get("LAKEHOUSE_LAKE") or str(home() / "lake")


MAX_EXTRACT_BYTES_ENV = "LAKEHOUSE_MAX_EXTRACT_BYTES"
# Far above a month of the largest association at national volume (the largest file a history backfill
# sends; figure in docs/configuration.md), while a file read whole and parsed fits a worker's memory.
DEFAULT_MAX_EXTRACT_BYTES = 256 * 1024 * 1024


def max_extract_bytes() -> int:
    """$LAKEHOUSE_MAX_EXTRACT_BYTES (a positive number of bytes), else 256 MiB."""
    from ingest.exceptions import ConfigError

    raw = os.environ.get(MAX_EXTRACT_BYTES_ENV)
    if not raw:
        return DEFAULT_MAX_EXTRACT_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{MAX_EXTRACT_BYTES_ENV} must be a positive number of bytes, e.g. 268435456")
    return value


def warehouse_path() -> Path:
    """LAKEHOUSE_WAREHOUSE, else $LAKEHOUSE_HOME/warehouse.duckdb: the encrypted DuckDB file dbt builds."""
    return Path(os.environ.get("LAKEHOUSE_WAREHOUSE") or home() / "warehouse.duckdb").absolute()


def extracts_dir() -> Path:
    return home() / "extracts"


# dbt's file log level for the builds the lakehouse runs (see ingest/cli/pipeline.py `_dbt`).
DBT_FILE_LOG_LEVEL = "info"


def dbt_target_dir(project_root: Path, dbt_args: Sequence[str] = ()) -> Path:
    """Where dbt writes manifest.json and run_results.json, resolved as dbt does: `--target-path`, else
    $DBT_TARGET_PATH, else `target-path` in dbt_project.yml, else `target`; relative to the project."""
    chosen: str | None = None
    for i, arg in enumerate(dbt_args):
        if arg == "--target-path" and i + 1 < len(dbt_args):
            chosen = dbt_args[i + 1]
        elif arg.startswith("--target-path="):
            chosen = arg.split("=", 1)[1]
    if not chosen:
        chosen = os.environ.get("DBT_TARGET_PATH") or None
    if not chosen:
        project = yaml.safe_load((project_root / "dbt_project.yml").read_text(encoding="utf-8")) or {}
        chosen = str(project.get("target-path") or "target")
    return project_root / Path(chosen).expanduser()
