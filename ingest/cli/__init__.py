"""The `lakehouse` command."""

from ingest.cli.pipeline import main

__all__ = ["main"]
