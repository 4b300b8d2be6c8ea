"""Where things are: one place that reads the environment, shared by the CLI, the dbt plugin and tests.

LAKEHOUSE_HOME         working folder for local state (default ./.lakehouse)
LAKEHOUSE_LAKE         object store root, a folder or s3://bucket/prefix (default $LAKEHOUSE_HOME/lake)
LAKEHOUSE_KEYSTORE     key store file, outside the repo and the lake (see ingest.keys.keystore_path)
LAKEHOUSE_S3_ENDPOINT  S3-compatible endpoint URL, with the AWS_* credentials (default: AWS)
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("LAKEHOUSE_HOME", ".lakehouse")).absolute()


def lake_url() -> str:
    return os.environ.get("LAKEHOUSE_LAKE") or str(home() / "lake")


def extracts_dir() -> Path:
    return home() / "extracts"


# dbt's file log level for the builds the lakehouse runs (see ingest/cli.py `_dbt`).
DBT_FILE_LOG_LEVEL = "info"
