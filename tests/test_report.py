"""The weekly bulletin (`lakehouse report`), built from the fixture publication/ of
tests/test_report_publication.py: what it shows, which week it picks, that suppressed counts stay hidden,
that it needs nothing but the publication, and the errors a user gets for the usual mistakes. The page
in a real browser: tests/test_report_browser.py."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from matplotlib.patches import Rectangle

from ingest.cli import main
from ingest.publish.epi import read_mart
from ingest.publish.report import ReportError, build_bulletin, default_output
from ingest.publish.report.data import load, season_slot, syndromes_without_age_breakdown, week_monday
from ingest.publish.report.figures import AGE_LABELS, HATCH, age_breakdown, epidemic_curve
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
    assert set(images) == {
        "ages.png",
        "map.png",
        *(f"curve-{g}.png" for g in ("grippe", "bronchiolite", "gea", "ira")),
    }
    for name in images:
        data = (page.parent / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, name


def test_every_figure_links_the_csv_of_what_it_plots(page: Path, lake: Path) -> None:
    """A link to its data under every figure, the CSV beside the PNG; suppressed weeks stay empty."""
    html = page.read_text(encoding="utf-8")
    figures = re.findall(r'<figure><img src="([^"]+)\.png".*?<a href="([^"]+)">', html, flags=re.S)
    assert len(figures) == 6 and all(f"{png}.csv" == csv for png, csv in figures)
    curve = pd.read_csv(page.parent / "curve-bronchiolite.csv", dtype={"iso_week": str})
    published = read_mart(
        "syndromic_indicators_by_week",
        lake=lake,
        filters={
            "syndrome_group": "bronchiolite",
            "geo_level": "region",
            "geo_code": "11",
            "age_class": "all",
        },
    ).set_index("iso_week")
    assert len(curve) == len(published) - 1  # every week up to the bulletin's: all but 2024-W13
    for row in curve.itertuples():
        expected = published.loc[row.iso_week, "syndrome_act_count"]
        assert (pd.isna(row.region_syndrome_act_count) and pd.isna(expected)) or (
            row.region_syndrome_act_count == expected
        )
    assert curve["region_syndrome_act_count"].isna().any()  # bronchiolitis out of its season


def test_page_is_self_contained(page: Path) -> None:
    """No CDN, font or script from the network; a CSP forbids any other source."""
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html


def test_key_points_and_tables(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    assert "Île-de-France (11) — semaine 12 de 2024 (S12)" in html
    assert "du 18 mars 2024 au 24 mars 2024" in html
    # One week notation on the page: no ISO "2024-W12" beside the French "S12".
    assert not re.search(r"\d{4}-W\d{2}", html)
    assert "Actes S11" in html and "Part de l'activité codée S12" in html
    assert "Données publiées le 28 mars 2024 à 06:00 UTC" in html
    points = html[html.index("Points clés") : html.index("Indicateurs de la semaine")]
    assert "<strong>Grippe / syndrome grippal</strong> : 3,8\u202f% de l'activité codée (84 actes" in points
    assert "même semaine des 2 saisons précédentes" in points
    assert "<strong>Bronchiolite (moins de 2 ans)</strong> : effectif soumis au secret statistique" in points
    departements = html[html.index("<h2>Départements</h2>") :]
    assert "Paris (75)" in departements and "Hauts-de-Seine (92)" in departements
    assert "Non renseigné" in departements  # the XX row, so départements add up to the région
    assert "Rhône" not in departements  # another région's département


def test_suppressed_counts_are_never_shown(page: Path, lake: Path) -> None:
    """Every count of 1 to 10 was suppressed in the publication; none may appear in the tables."""
    html = page.read_text(encoding="utf-8")
    tables = "".join(re.findall(r"<table[^>]*>.*?</table>", html, flags=re.S))
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
    assert len(flu.past_same_week) == len(flu.past_same_week_share) == 2  # 2021-2022 and 2022-2023
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


# ------------------------------------------------------------------------------------ what the figures draw


def _copy_publication(lake: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    return copy


def _add_column(publication: Path, mart: str, name: str, values: object) -> None:
    """A mart as a later build publishes it (one more column), for the report's use-when-present paths."""
    path = publication / "publication" / f"{mart}.parquet"
    table = pq.read_table(path)
    column = values(table) if callable(values) else pa.array([values] * table.num_rows)
    if name in table.column_names:
        table = table.drop_columns([name])
    pq.write_table(table.append_column(name, column), path)


def _without_columns(lake: Path, tmp_path: Path, *names: str) -> Path:
    """A copy of the publication as an earlier build published it (without `names` in any mart), for
    the report's not-available paths."""
    copy = _copy_publication(lake, tmp_path / "without")
    for path in (copy / "publication").glob("*.parquet"):
        table = pq.read_table(path)
        if dropped := [name for name in names if name in table.column_names]:
            pq.write_table(table.drop_columns(dropped), path)
    return copy


def test_curves_have_axis_titles_and_the_threshold_when_history_allows(lake: Path) -> None:
    """The last season has a threshold in the fixture: drawn (counts panel), named in the legend and the
    caption; a week of 2022-2023 has none: nothing drawn, the caption says so."""
    from ingest.publish.report.html import curve_caption

    data = load("11", "2024-W05", lake=lake)
    drawn = epidemic_curve(data, "grippe")
    plotted = [ax for ax in drawn.figure.axes if ax.axison]
    assert len(plotted) == 3
    for ax in plotted:
        assert ax.get_xlabel().startswith("Semaine") and ax.get_ylabel(), ax.get_title()
        assert ax.get_xticklabels()[0].get_text() == "S27" and ax.get_xticklabels()[-1].get_text() != "S27"
    lines = {line.get_label() for ax in plotted for line in ax.get_lines()}
    assert {"Seuil épidémique", "Ligne de base (actes attendus)"} <= lines
    assert {"threshold_count", "baseline", "epidemic_weeks"} <= drawn.shows
    caption = curve_caption(data, "grippe", drawn.shows)
    assert "seuil épidémique (pointillé)" in caption and "semaines épidémiques en rose" in caption
    # The legend has a cell of its own: it covers no curve.
    legend_axes = [ax for ax in drawn.figure.axes if not ax.axison]
    assert len(legend_axes) == 1 and legend_axes[0].get_legend() is not None

    earlier = load("11", "2023-W05", lake=lake)
    drawn = epidemic_curve(earlier, "grippe")
    lines = {line.get_label() for ax in drawn.figure.axes for line in ax.get_lines()}
    assert "Seuil épidémique" not in lines and not {"threshold_count", "epidemic_weeks"} & drawn.shows
    caption = curve_caption(earlier, "grippe", drawn.shows)
    assert "pas de seuil épidémique" in caption and "rose" not in caption


def test_threshold_as_a_share_is_drawn_when_published(lake: Path, tmp_path: Path) -> None:
    copy = _copy_publication(lake, tmp_path)

    def threshold_share(table: pa.Table) -> pa.Array:
        return pa.array([None if v is None else 7.5 for v in table.column("epidemic_threshold").to_pylist()])

    def baseline_share(table: pa.Table) -> pa.Array:
        return pa.array([None if v is None else 3.0 for v in table.column("baseline_count").to_pylist()])

    _add_column(copy, "epidemic_baseline_by_week", "epidemic_threshold_share_pct", threshold_share)
    _add_column(copy, "epidemic_baseline_by_week", "baseline_share_pct", baseline_share)
    data = load("11", "2024-W05", lake=copy)
    drawn = epidemic_curve(data, "grippe")
    share_axis = drawn.figure.axes[0]
    drawn_lines = {line.get_label(): line for line in share_axis.get_lines()}
    assert {"Seuil épidémique", "Ligne de base (actes attendus)"} <= set(drawn_lines)
    assert set(drawn_lines["Seuil épidémique"].get_ydata()[-5:]) == {7.5}
    assert {"threshold_share", "baseline_share"} <= drawn.shows
    assert set(drawn.table["epidemic_threshold_share_pct"].dropna()) == {7.5}
    assert "epidemic_threshold_share_pct" not in data.missing_columns
    html = build_bulletin("11", "2024-W05", lake=copy, out=tmp_path / "page").read_text(encoding="utf-8")
    assert "seuil épidémique en pointillé orange sur la part" in html
    assert "Le seuil est\ntracé sur la part de l'activité codée" in html


def test_a_suppressed_age_class_is_never_drawn_as_zero(lake: Path) -> None:
    """Hatched full bar marked "s", not a bar of height 0; only the classes of a syndrome's definition."""
    data = load("11", "2024-W12", lake=lake)
    hidden = data.ages[
        data.ages["syndrome_act_count"].isna() & (data.ages["syndrome_group"] != "bronchiolite")
    ]
    assert len(hidden)  # the fixture has some
    drawn = age_breakdown(data)
    panels = {
        ax.get_title(loc="left").removesuffix(" (définition)"): ax
        for ax in drawn.figure.axes
        if ax.get_visible()
    }
    for row in hidden.itertuples():
        ax = panels[data.label(row.syndrome_group)]
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        bar = [p for p in ax.patches if isinstance(p, Rectangle)][ticks.index(AGE_LABELS[row.age_class])]
        assert bar.get_hatch() == HATCH and bar.get_height() > 0
        assert "s" in [t.get_text() for t in ax.texts]
    csv = drawn.table.set_index(["syndrome_group", "age_class"])
    for row in hidden.itertuples():
        assert pd.isna(csv.loc[(row.syndrome_group, row.age_class), "syndrome_act_count"])
    bronchiolitis = panels[data.label("bronchiolite")]
    assert [t.get_text() for t in bronchiolitis.get_xticklabels()] == ["< 2"]  # zero by definition above
    # Influenza is published with its under-15s as one class (seeds/surveillance/age_class_schemes.csv).
    influenza = panels[data.label("grippe")]
    assert [t.get_text() for t in influenza.get_xticklabels()] == ["< 15", "15-74", "75 +"]
    for ax in panels.values():
        assert ax.get_xlabel() == "Classe d'âge (ans)" and ax.get_ylabel() == "% des actes codés"


def test_a_group_published_for_all_ages_only_has_no_age_panel(lake: Path) -> None:
    """iCanicule is published weekly for all ages only (seeds/surveillance, `is_published_in_detail`):
    a summer bulletin features it, but draws no age panel of hatched "s" bars for classes that the marts
    do not publish (this fixture has them; the marts do not)."""
    assert "icanicule" in syndromes_without_age_breakdown()
    data = load("11", "2023-W30", lake=lake, syndromes=("icanicule",))
    assert data.syndromes == ["icanicule"]
    drawn = age_breakdown(data)
    assert [ax for ax in drawn.figure.axes if ax.get_visible()] == []
    assert "icanicule" not in set(drawn.table["syndrome_group"]) if len(drawn.table) else True


def test_heat_syndromes_only_in_their_surveillance_period(lake: Path, tmp_path: Path) -> None:
    """Without a published period, the bulletin's own (1 June - 15 September): out of a March page,
    listed as not shown; in a July page."""
    lake = _without_columns(lake, tmp_path, "is_in_surveillance_period")
    march = load("11", "2024-W12", lake=lake, syndromes=("grippe", "icanicule"))
    assert "icanicule" not in [s.group for s in march.summary] and march.syndromes == ["grippe"]
    assert [s.group for s in march.out_of_period] == ["icanicule"]
    assert "is_in_surveillance_period" in march.missing_columns
    july = load("11", "2023-W30", lake=lake, syndromes=("grippe", "icanicule"))
    assert july.syndromes == ["grippe", "icanicule"]


def test_heat_syndromes_absent_from_a_winter_page(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    shown = html[: html.index("Hors période de surveillance")]
    assert "chaleur" not in shown
    assert "Hors période de surveillance cette semaine, non montrés :\nPathologies liées à la chaleur" in html


def test_published_surveillance_period_wins_over_the_fallback(lake: Path, tmp_path: Path) -> None:
    copy = _copy_publication(lake, tmp_path)

    def period(table: pa.Table) -> pa.Array:
        return pa.array([g != "gea" for g in table.column("syndrome_group").to_pylist()])

    _add_column(copy, "syndromic_indicators_by_week", "is_in_surveillance_period", period)
    data = load("11", "2024-W12", lake=copy)
    assert "gea" not in data.syndromes and "gea" in [s.group for s in data.out_of_period]
    assert "icanicule" in [s.group for s in data.summary]  # the published flag wins over the fallback
    assert "is_in_surveillance_period" not in data.missing_columns


def test_coverage_is_stated(lake: Path, tmp_path: Path) -> None:
    earlier = _without_columns(lake, tmp_path, "population_coverage_pct")
    html = build_bulletin("11", lake=earlier, out=tmp_path / "earlier").read_text(encoding="utf-8")
    coverage = html[html.index('id="couverture"') : html.index("Points clés")]
    assert "(2 sur 8)" in coverage and "Paris (75), Hauts-de-Seine (92)" in coverage
    assert "Seine-et-Marne (77)" in coverage  # a silent département is named
    assert "Part de la population couverte : non disponible" in coverage
    header = html[: html.index("</header>")]  # the head of the page, printed or not
    assert "<strong>Couverture</strong> : 2 départements\nsur 8, population couverte non disponible" in header

    copy = _copy_publication(lake, tmp_path)
    _add_column(copy, "syndromic_indicators_by_week", "population_coverage_pct", 30.1)
    html = build_bulletin("11", lake=copy, out=tmp_path / "page").read_text(encoding="utf-8")
    assert "Population couverte : 30,1\u202f% de la\npopulation de la région" in html
    assert "population couverte 30,1\u202f%" in html[: html.index("</header>")]


def test_an_always_suppressed_column_is_dropped_and_said(lake: Path, tmp_path: Path) -> None:
    html = build_bulletin("11", lake=lake, out=tmp_path / "a").read_text(encoding="utf-8")
    assert "<th>Hospitalisations</th>" in html
    copy = _copy_publication(lake, tmp_path)
    path = copy / "publication" / "care_pathway_by_syndrome_week.parquet"
    table = pq.read_table(path)
    index = table.schema.get_field_index("hospitalisation_share_pct")
    table = table.set_column(index, "hospitalisation_share_pct", pa.nulls(table.num_rows, pa.float64()))
    pq.write_table(table, path)
    html = build_bulletin("11", lake=copy, out=tmp_path / "b").read_text(encoding="utf-8")
    assert "<th>Hospitalisations</th>" not in html and "Hospitalisations : colonne omise" in html


def test_phase_per_area_says_where_it_comes_from(lake: Path, tmp_path: Path) -> None:
    earlier = _without_columns(lake, tmp_path, "epidemic_phase", "intensity_level")
    html = build_bulletin("11", lake=earlier, out=tmp_path / "earlier").read_text(encoding="utf-8")
    phases = html[html.index("<h2>Phase épidémique</h2>") : html.index("<h2>Courbes épidémiques</h2>")]
    assert "<th>Île-de-France</th><th>France</th>" in phases
    assert "colonne <code>epidemic_phase</code>, n'est pas disponible" in phases
    assert "Niveau d'intensité : non disponible" in phases


def test_a_suppressed_week_is_a_gap_marked_s_not_a_zero(lake: Path) -> None:
    data = load("11", "2024-W12", lake=lake)
    current = data.weekly[(data.weekly["syndrome_group"] == "bronchiolite")]
    current = current[current["week_start_date"] >= pd.Timestamp("2023-07-03")]
    hidden = {
        season_slot(d.date()) for d in current.loc[current["syndrome_act_count"].isna(), "week_start_date"]
    }
    assert hidden  # bronchiolitis is suppressed out of its season in the fixture
    drawn = epidemic_curve(data, "bronchiolite")
    assert "suppressed" in drawn.shows
    for ax in (drawn.figure.axes[0], drawn.figure.axes[2]):  # région share, région counts
        line = next(line for line in ax.get_lines() if line.get_color() == "#c0392b")
        values = dict(zip(line.get_xdata(), line.get_ydata(), strict=True))
        assert all(pd.isna(values[slot]) for slot in hidden)  # a gap, not a 0
        strips = [p for p in ax.patches if p.get_hatch() == HATCH]
        covered = {s for p in strips for s in hidden if p.get_x() <= s <= p.get_x() + p.get_width()}
        assert covered == hidden
        assert "s" in [t.get_text() for t in ax.texts]
