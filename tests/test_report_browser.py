"""The bulletin in a real headless browser (Debian's chromium): the page loads from disk with no network,
every figure decodes (the page's own load check, read back with --dump-dom), and a screenshot shows a
rendered page, not a blank one.

Chromium is a test requirement, not an option: without it these tests FAIL with the install command
(`apt-get install -y chromium`, or set CHROMIUM to the browser's path), so CI cannot pass silently.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from PIL import Image

from ingest.publish.report import build_bulletin
from tests.test_report_publication import build_publication

# What keeps headless chromium from talking to anything: no background services, no QUIC, no sync, no
# component updates; root in a container needs --no-sandbox.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
]
TIMEOUT = 60


def _chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail(
            "chromium is required for the bulletin's browser tests: `apt-get update && apt-get install -y "
            "chromium` (Debian), or set CHROMIUM to a Chromium/Chrome binary"
        )
    return found


def _run(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def _figures_state(page: Path, profile: Path) -> dict[str, str]:
    """The <body> data attributes the page's load check wrote, as chromium's DOM has them after load."""
    result = _run(page, profile, "--virtual-time-budget=10000", "--dump-dom")
    body = re.search(r"<body([^>]*)>", result.stdout)
    assert body, f"chromium printed no DOM (exit {result.returncode}): {result.stderr[-2000:]}"
    return dict(re.findall(r'data-(figures[\w-]*)="([^"]*)"', body[1]))


@pytest.fixture(scope="module")
def bulletin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("lake")
    build_publication(lake)
    return build_bulletin("11", "2024-W05", lake=lake, out=tmp_path_factory.mktemp("bulletin"))


def test_every_figure_loads_in_the_browser(bulletin: Path, tmp_path: Path) -> None:
    state = _figures_state(bulletin, tmp_path / "profile")
    figures = len(list(bulletin.parent.glob("*.png")))
    assert figures == 6  # four curves, ages, map
    assert state == {"figures": "ok", "figures-total": str(figures), "figures-loaded": str(figures)}


def test_a_missing_figure_is_detected(bulletin: Path, tmp_path: Path) -> None:
    """The check above can fail: with one PNG gone, the page reports itself broken."""
    copy = tmp_path / "copy"
    shutil.copytree(bulletin.parent, copy)
    (copy / "curve-gea.png").unlink()
    state = _figures_state(copy / "index.html", tmp_path / "profile")
    assert state["figures"] == "broken" and state["figures-loaded"] == str(int(state["figures-total"]) - 1)


def test_what_the_rendered_page_shows(bulletin: Path, tmp_path: Path) -> None:
    """In the DOM chromium built: every figure has a caption and a link to its CSV (which exists), the
    caption of a curve with a threshold says so, heat syndromes are out of a winter page except in the
    list of what is not shown, the week has one notation, and a suppressed cell reads "s", never 0."""
    result = _run(bulletin, tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom")
    dom = result.stdout
    figures = re.findall(r"<figure>(.*?)</figure>", dom, flags=re.S)
    assert len(figures) == 6
    for figure in figures:
        link = re.search(r'<a href="([^"]+\.csv)">', figure)
        assert link and (bulletin.parent / link[1]).is_file() and "<figcaption>" in figure
    grippe = next(f for f in figures if 'src="curve-grippe.png"' in f)
    assert "seuil épidémique (pointillé)" in grippe
    shown = dom[: dom.index("Hors période de surveillance")]
    assert "chaleur" not in shown and not re.search(r"\d{4}-W\d{2}", dom)
    assert "semaine 5 de 2024 (S05)" in dom
    cells = re.findall(r'<td class="s" title="secret statistique">([^<]*)</td>', dom)
    assert cells and set(cells) == {"s"}


class _CountingHandler(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 that records every request: the place a leak would show."""
    handler = type("Handler", (_CountingHandler,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.requests
    finally:
        server.shutdown()
        server.server_close()


def test_network_resources_are_blocked(
    bulletin: Path, tmp_path: Path, http_server: tuple[str, list[str]]
) -> None:
    """Were someone to add a remote image, the page's Content-Security-Policy keeps the browser from even
    asking for it; the same page without the policy does ask (so the test can see a leak)."""
    url, requests = http_server
    html = bulletin.read_text(encoding="utf-8").replace("</h1>", f'</h1><img src="{url}/leak.png" alt="">')
    for name, text in (("with-csp", html), ("without-csp", re.sub(r"<meta http-equiv[^>]*>", "", html))):
        copy = tmp_path / name
        shutil.copytree(bulletin.parent, copy)
        (copy / "index.html").write_text(text, encoding="utf-8")
        state = _figures_state(copy / "index.html", tmp_path / f"profile-{name}")
        assert state["figures"] == "broken"  # the remote image never decodes (404 or blocked)
        if name == "with-csp":
            assert requests == []
    assert requests == ["/leak.png"]


def test_screenshot_is_a_rendered_page(bulletin: Path, tmp_path: Path) -> None:
    shot = tmp_path / "page.png"
    result = _run(bulletin, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,3000")
    assert shot.is_file(), result.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1200, 3000)
        pixels = image.convert("RGB")
        colours = pixels.getcolors(maxcolors=1 << 20) or []
        # A blank or error page is one or two colours; the bulletin has text, tables and curves.
        assert len(colours) > 200
        non_white = sum(count for count, rgb in colours if sum(rgb) < 720)
        assert non_white > 0.03 * 1200 * 3000
        # The curves' red (the current season) is on screen: figures were painted, not only laid out.
        reds = sum(count for count, (r, g, b) in colours if r > 150 and g < 90 and b < 80)
        assert reds > 500
