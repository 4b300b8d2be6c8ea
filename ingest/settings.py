"""Where things are and how they are tuned: the one module that reads the environment and holds the defaults,
shared by the CLI, the dbt plugin and tests. Every other module asks here.

LAKEHOUSE_HOME         working folder for local state (default ./.lakehouse)
LAKEHOUSE_LAKE         object store root, a folder or s3://bucket/prefix (default $LAKEHOUSE_HOME/lake)
LAKEHOUSE_WAREHOUSE    encrypted DuckDB file dbt builds (default $LAKEHOUSE_HOME/warehouse.duckdb)
LAKEHOUSE_KEYSTORE     key store file, outside the repo and the lake (default under ~/.config)
LAKEHOUSE_S3_ENDPOINT  S3-compatible endpoint URL, with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
                       AWS_DEFAULT_REGION (or AWS_REGION) (default: AWS)
LAKEHOUSE_MAX_EXTRACT_BYTES  largest extract file ingest reads (default 256 MiB)
LAKEHOUSE_ACTOR        who the audit trail names (default: the OS user)
LAKEHOUSE_QUERY_MEMORY_LIMIT  DuckDB memory limit of `lakehouse query` (default 1GB)
DBT_PROJECT_DIR, DBT_TARGET_PATH  where dbt's project and output are (default: this checkout, `target`)

profiles.yml reads LAKEHOUSE_DBT_TARGET and LAKEHOUSE_DUCKDB_MEMORY_LIMIT itself (dbt's own env_var).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

# The checkout: dbt's project, seeds and docs sit beside the package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

KEYSTORE_ENV = "LAKEHOUSE_KEYSTORE"
# Outside the repository and the lake, so that neither a commit nor a copy of the lake carries the keys.
DEFAULT_KEYSTORE_PATH = Path("~/.config/urgent-care-lakehouse/keystore.json")
ACTOR_ENV = "LAKEHOUSE_ACTOR"
QUERY_MEMORY_LIMIT_ENV = "LAKEHOUSE_QUERY_MEMORY_LIMIT"
DEFAULT_QUERY_MEMORY_LIMIT = "1GB"


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


def keystore_path(path: str | Path | None = None) -> Path:
    """Explicit path, else $LAKEHOUSE_KEYSTORE, else ~/.config/urgent-care-lakehouse/keystore.json."""
    chosen = path if path is not None else os.environ.get(KEYSTORE_ENV) or DEFAULT_KEYSTORE_PATH
    return Path(chosen).expanduser().absolute()


def s3_environment(environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """The S3 endpoint and credentials: LAKEHOUSE_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_DEFAULT_REGION (or AWS_REGION); None where unset, so that botocore decides."""
    env = os.environ if environ is None else environ
    return {
        "endpoint_url": env.get("LAKEHOUSE_S3_ENDPOINT") or None,
        "key": env.get("AWS_ACCESS_KEY_ID") or None,
        "secret": env.get("AWS_SECRET_ACCESS_KEY") or None,
        "region": env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or None,
    }


def audit_actor() -> str | None:
    """$LAKEHOUSE_ACTOR: a named operator behind a shared service account (None: the OS user)."""
    return os.environ.get(ACTOR_ENV) or None


def query_memory_limit() -> str:
    """$LAKEHOUSE_QUERY_MEMORY_LIMIT (a DuckDB size, e.g. 2GB), else 1GB."""
    return os.environ.get(QUERY_MEMORY_LIMIT_ENV) or DEFAULT_QUERY_MEMORY_LIMIT


def use_private_matplotlib_cache() -> None:
    """matplotlib caches fonts under MPLCONFIGDIR; a read-only or shared HOME must not break a figure.

    The folder's name in the shared temporary folder is predictable, so another local user could make it
    first and fill it (a matplotlibrc naming a backend module, a poisoned font cache): it is used only if
    it is a real folder of this user that nobody else can write; otherwise a fresh private one is made."""
    if os.environ.get("MPLCONFIGDIR"):
        return
    shared_name = Path(tempfile.gettempdir()) / f"lakehouse-mpl-{os.getuid()}"
    os.environ["MPLCONFIGDIR"] = str(_private_cache_dir(shared_name))


def _private_cache_dir(path: Path) -> Path:
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError:
        return Path(tempfile.mkdtemp(prefix="lakehouse-mpl-"))
    info = path.lstat()
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077:
        return path
    return Path(tempfile.mkdtemp(prefix="lakehouse-mpl-"))


def extracts_dir() -> Path:
    return home() / "extracts"


def dbt_project_dir() -> Path:
    """$DBT_PROJECT_DIR, else this checkout."""
    return Path(os.environ.get("DBT_PROJECT_DIR") or PROJECT_ROOT)


def dbt_environment() -> dict[str, str]:
    """The environment of a dbt child process: this one's, with the lake and warehouse resolved here, so
    that dbt's profile sees what the other commands see (this process's environment is left as it was)."""
    env = {**os.environ, "LAKEHOUSE_LAKE": lake_url()}
    env.setdefault("LAKEHOUSE_WAREHOUSE", str(warehouse_path()))
    # dbt's anonymous usage statistics: an event or two per node, posted to dbt Labs every 30 events
    # from the node's thread that fills the batch (a request that waits for the network, up to 5 s each
    # when it is slow). Off unless asked for: a health-data build has no business reporting out.
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


# dbt's file log level for the builds the lakehouse runs (see ingest/cli/pipeline.py `_dbt`).
DBT_FILE_LOG_LEVEL = "none"


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
