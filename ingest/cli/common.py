"""What every `lakehouse` command shares: the consoles, the error handling (one line and an exit code per
error class), the lake opened only once it is known to belong to the key store, date parsing."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from ingest import settings
from ingest.exceptions import LakehouseError

F = TypeVar("F", bound=Callable[..., Any])
# Logs and CI capture the output: without a terminal, rich would wrap tables at 80 columns.
_WIDTH = None if sys.stdout.isatty() else 200
out = Console(width=_WIDTH)
err = Console(stderr=True, width=_WIDTH)


def handle_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LakehouseError as e:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            # soft_wrap: one line whatever its length, so that logs and schedulers see the whole error.
            err.print(f"[red]Error:[/red] {escape(str(e))}", highlight=False, markup=True, soft_wrap=True)
            sys.exit(e.exit_code)

    return wrapper  # type: ignore[return-value]


def bound_lake(lake: str | None = None, keystore: Path | None = None) -> tuple[Any, Any]:
    """(store, key store) of a command, once the lake is known to belong to that key store: every
    command that reads or writes the lake's data goes through here before it touches anything."""
    from ingest.lake.keys import open_keystore
    from ingest.lake.keystore_binding import check_keystore
    from ingest.lake.storage import S3Settings, open_store

    store = open_store(lake or settings.lake_url(), S3Settings.from_env())
    opened = open_keystore(keystore)
    check_keystore(store, opened)
    return store, opened


def parse_date(value: str) -> date:
    return datetime.strptime(value, "%Y-%m-%d").date()
