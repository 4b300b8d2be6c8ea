"""One writer of the warehouse file at a time, said in one line when another holds it.

DuckDB itself refuses a second read-write opening of a database file (a POSIX lock on the file), but
the refusal surfaces inside dbt as a Python traceback. `hold_warehouse` is taken by `lakehouse build` and
by the warehouse key rotation before DuckDB opens the file:

- `<warehouse>.lock` (flock, held for the whole build) names the build holding it, so a second
  `lakehouse build` started at the same moment is refused with its pid;
- a probe of DuckDB's own lock catches any other holder (a `dbt` run by hand, a query session).

Both locks belong to the process: a killed build releases them, nothing to clean up.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ingest.exceptions import LakehouseError

__all__ = ["WarehouseBusyError", "hold_warehouse", "wrong_key_reason"]


class WarehouseBusyError(LakehouseError):
    """Another build (or session) holds the warehouse file."""

    exit_code = 5


def _duckdb_lock_held(path: Path) -> bool:
    """True if some process holds DuckDB's lock on the database file (read-only sessions included)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:  # no warehouse yet, or not writable here: DuckDB says so itself when it opens it
        return False
    try:
        # lockf is the same kind of lock DuckDB takes (fcntl F_SETLK); closing the descriptor drops ours.
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


@contextmanager
def hold_warehouse(path: Path, purpose: str) -> Iterator[None]:
    """Hold the warehouse for `purpose` ("build", "key rotation"); WarehouseBusyError if another does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace")
            try:
                who = json.loads(holder)
                detail = f" ({who['purpose']}, pid {who['pid']} since {who['since']})"
            except (ValueError, KeyError, TypeError):
                detail = ""
            raise WarehouseBusyError(
                f"Another build holds the warehouse `{path}`{detail}: wait for it to finish, then run again"
            ) from None
        if _duckdb_lock_held(path):
            raise WarehouseBusyError(
                f"Another process holds the warehouse `{path}` (a dbt run or a query session): "
                "wait for it to finish, then run again"
            )
        me = {
            "purpose": purpose,
            "pid": os.getpid(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock


def wrong_key_reason(path: Path, keystore: object) -> str:
    """Why the key store's warehouse key does not open `path`, in one line for the operator."""
    pending = getattr(keystore, "pending_warehouse_db_key", lambda: None)()
    why = (
        "a warehouse key rotation was interrupted: run `lakehouse keys rotate --zone warehouse --resume`"
        if pending
        else "it was built with another key store"
    )
    return (
        f"The warehouse `{path}` does not open with the warehouse key of key store "
        f"`{getattr(keystore, 'path', keystore)}`: {why}"
    )
