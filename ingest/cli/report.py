"""`lakehouse report`: the weekly surveillance bulletin of a région. Registered in ingest/cli/__init__.py."""

from __future__ import annotations

from pathlib import Path

import click

from ingest.cli.common import handle_errors, out


@click.command("report")
@click.option("--region", required=True, help="INSEE code of the région, e.g. 11 (Île-de-France).")
@click.option("--week", help="ISO week, e.g. 2024-W03 [default: the latest complete week in the data].")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for index.html and its figures [default: $LAKEHOUSE_HOME/reports/bulletin-<région>-<week>].",
)
@click.option(
    "--lake", help="Lake root holding publication/: folder or s3://bucket/prefix [default: LAKEHOUSE_LAKE]."
)
@click.option(
    "--syndromes",
    help="Syndromic groups to lead with, comma-separated "
    "[default: grippe,bronchiolite,gea,covid19,ira,asthme].",
)
@handle_errors
def report(
    region: str, week: str | None, out_dir: Path | None, lake: str | None, syndromes: str | None
) -> None:
    """Write the weekly syndromic surveillance bulletin of a région (static HTML page and PNG figures),
    from the published marts only, and print the path of the page.

    Example: lakehouse report --region 11 --week 2024-W03
    """
    from ingest.publish.report import build_bulletin

    chosen = tuple(s.strip() for s in syndromes.split(",") if s.strip()) if syndromes else ()
    page = build_bulletin(region, week, out=out_dir, lake=lake, syndromes=chosen)
    out.print(str(page), highlight=False, soft_wrap=True)
