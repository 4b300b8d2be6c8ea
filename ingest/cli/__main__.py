"""`python -m ingest.cli`: the `lakehouse` command."""

from ingest.cli import main

main()
