"""The weekly bulletin: a static HTML page and its PNG figures for one région and one ISO week, built
only from the published (disclosure-controlled) marts in publication/.

    from ingest.publish.report import build_bulletin
    page = build_bulletin("11", "2024-W03", out=Path("bulletin"))   # -> bulletin/index.html

or `lakehouse report --region 11 [--week 2024-W03] [--out DIR]`. See docs/report.md.
"""

from __future__ import annotations

from pathlib import Path

from ingest import settings
from ingest.publish.report.data import DEFAULT_SYNDROMES, BulletinData, ReportError, load

__all__ = ["DEFAULT_SYNDROMES", "BulletinData", "ReportError", "build_bulletin", "default_output"]


def default_output(region: str, iso_week: str) -> Path:
    return settings.home() / "reports" / f"bulletin-{region}-{iso_week}"


def build_bulletin(
    region: str,
    week: str | None = None,
    *,
    out: Path | None = None,
    lake: str | Path | None = None,
    syndromes: tuple[str, ...] = (),
) -> Path:
    """Write the bulletin (index.html + PNGs) into `out` (default $LAKEHOUSE_HOME/reports/bulletin-<région>-
    <week>) and return the path of index.html. `week` defaults to the latest complete ISO week."""
    # matplotlib is imported here, not at module level: `lakehouse --help` stays fast.
    from ingest.publish.report.figures import draw_all
    from ingest.publish.report.html import render

    data = load(region, week, lake=lake, syndromes=syndromes)
    folder = out or default_output(region, data.iso_week)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"Cannot create the bulletin folder `{folder}` ({type(exc).__name__})") from exc
    settings.use_private_matplotlib_cache()
    figures = draw_all(data, folder)
    page = folder / "index.html"
    # Written last, through a temporary name: a reader never sees a page whose figures are missing.
    partial = folder / ".index.html.tmp"
    partial.write_text(render(data, figures), encoding="utf-8")
    partial.replace(page)
    return page
