"""The weekly bulletin (`lakehouse report`), built from the fixture publication/ of
tests/test_report_publication.py: what it shows, which week it picks, that suppressed counts stay hidden,
that it needs nothing but the publication, and the errors a user gets for the usual mistakes. The page
in a real browser: tests/test_report_browser.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.report import ReportError, build_bulletin, default_output
from ingest.report.data import load, season_slot, week_monday
from tests.test_report_publication import build_publication

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Only publication/ exists: no key store, no raw zone, no warehouse. The report must not need them.
    root = tmp_path_factory.mktemp("lake")
    build_publication(root)
    return root


@pytest.fixture(scope="module")
def page(lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bulletin("11", lake=lake, out=tmp_path_factory.mktemp("bulletin"))


def test_default_week_is_the_latest_complete_week(lake: Path) -> None:
    """The data stop on Wednesday 2024-03-27: W13 is partial, so the bulletin is W12's."""
    assert load("11", lake=lake).iso_week == "2024-W12"


def test_page_and_every_figure_are_written(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    images = re.findall(r'<img src="([^"]+)"', html)
    assert sorted(images) == sorted(p.name for p in page.parent.glob("*.png"))
    assert set(images) == {"ages.png", *(f"curve-{g}.png" for g in ("grippe", "bronchiolite", "gea", "ira"))}
    for name in images:
        data = (page.parent / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, name


def test_page_is_self_contained(page: Path) -> None:
    """No CDN, font or script from the network; a CSP forbids any other source."""
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html


def test_key_points_and_tables(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    assert "Île-de-France (11) — semaine 2024-W12" in html
    assert "du 18 mars 2024 au 24 mars 2024" in html
    assert "Données publiées le 28 mars 2024 à 06:00 UTC" in html
    points = html[html.index("Points clés") : html.index("Indicateurs de la semaine")]
    assert "<strong>Grippe / syndrome grippal</strong> : 84 actes, 3,8\u202f% de l'activité codée" in points
    assert "même semaine des 2 saisons précédentes" in points
    assert "<strong>Bronchiolite (moins de 2 ans)</strong> : effectif soumis au secret statistique" in points
    departements = html[html.index("<h2>Départements</h2>") :]
    assert "Paris (75)" in departements and "Hauts-de-Seine (92)" in departements
    assert "Non renseigné" in departements  # the XX row, so départements add up to the région
    assert "Rhône" not in departements  # another région's département


def test_suppressed_counts_are_never_shown(page: Path, lake: Path) -> None:
    """Every count of 1 to 10 was suppressed in the publication; none may appear in the tables."""
    html = page.read_text(encoding="utf-8")
    tables = "".join(re.findall(r"<table>.*?</table>", html, flags=re.S))
    counts = [
        int(n.replace("\u202f", "")) for n in re.findall(r"<td[^>]*>([\d\u202f]+)(?: \(|</td>)", tables)
    ]
    assert counts and not [n for n in counts if 1 <= n < 11]
    assert '<td class="s" title="secret statistique">s</td>' in tables


def test_epidemic_status_comes_from_the_baseline(lake: Path) -> None:
    """In week 2024-W05 influenza is above its threshold in the fixture: the page says epidemic."""
    data = load("11", "2024-W05", lake=lake)
    flu = next(s for s in data.summary if s.group == "grippe")
    assert flu.is_epidemic_week and flu.weeks_above_threshold >= 2
    assert flu.threshold is not None and flu.count is not None and flu.count > flu.threshold


def test_same_week_of_past_seasons_is_aligned_on_the_season(lake: Path) -> None:
    data = load("11", "2024-W05", lake=lake)
    flu = next(s for s in data.summary if s.group == "grippe")
    assert len(flu.past_same_week) == 2  # 2021-2022 and 2022-2023
    assert season_slot(week_monday("2024-W05")) == season_slot(week_monday("2023-W05"))


def test_a_partial_week_is_flagged(lake: Path, tmp_path: Path) -> None:
    html = build_bulletin("11", "2024-W13", lake=lake, out=tmp_path).read_text(encoding="utf-8")
    assert "Semaine incomplète" in html and "27 mars 2024" in html


def test_same_data_same_bulletin(lake: Path, tmp_path: Path) -> None:
    """Byte-identical page and figures from the same publication: a bulletin can be rebuilt and diffed."""
    first = build_bulletin("84", "2024-W10", lake=lake, out=tmp_path / "a").parent
    second = build_bulletin("84", "2024-W10", lake=lake, out=tmp_path / "b").parent
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


@pytest.mark.parametrize(
    ("region", "week", "message"),
    [
        ("93", None, r"Région `93` is not in the publication; régions published: 11 \(Île-de-France\), 84"),
        ("11", "2024-3", r"Week `2024-3` must look like 2024-W03"),
        ("11", "2024-W54", r"Week `2024-W54` does not exist"),
        (
            "11",
            "2019-W03",
            r"Week `2019-W03` is not in the publication for région `11` \(2021-W27 to 2024-W13\)",
        ),
    ],
)
def test_errors_name_what_to_change(
    lake: Path, tmp_path: Path, region: str, week: str | None, message: str
) -> None:
    with pytest.raises(ReportError, match=message):
        build_bulletin(region, week, lake=lake, out=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_missing_publication_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"lacks `syndromic_indicators_by_week`.*run `lakehouse run`"):
        build_bulletin("11", lake=tmp_path)


def test_cli_prints_the_page_path(lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_LAKE", str(lake))
    monkeypatch.setenv("LAKEHOUSE_KEYSTORE", str(tmp_path / "no-such-keystore.json"))
    result = CliRunner().invoke(main, ["report", "--region", "11", "--syndromes", "gea, grippe"])
    assert result.exit_code == 0, result.output
    expected = default_output("11", "2024-W12") / "index.html"
    assert result.output.strip() == str(expected)
    assert expected.parent == tmp_path / "reports" / "bulletin-11-2024-W12"
    assert {p.name for p in expected.parent.glob("curve-*.png")} == {"curve-gea.png", "curve-grippe.png"}


def test_cli_error_is_one_line_with_a_configuration_exit_code(lake: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["report", "--region", "11", "--lake", str(lake), "--syndromes", "flu", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert result.output.startswith("Error: Unknown syndrome group(s) flu; published: bronchiolite, gea")
