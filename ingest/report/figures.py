"""The bulletin's figures, drawn with matplotlib (object API, Agg canvas: no display, no global pyplot state).

Conventions of the regional bulletins of Santé publique France: the current season in a strong colour,
past seasons in grey on the same week-of-season axis, the Serfling baseline dashed and the epidemic
threshold dotted, epidemic weeks shaded. A suppressed count is a gap in the curve with an "s" mark on the
axis, never a zero.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ingest.report.data import (
    AGE_CLASSES,
    PAST_SEASONS,
    BulletinData,
    season_first_monday,
    season_label,
    season_slot,
    season_start_year,
)

CURRENT = "#c0392b"
BASELINE = "#2c3e50"
THRESHOLD = "#e67e22"
EPIDEMIC = "#f5b7b1"
PAST = ("#4d4d4d", "#737373", "#969696", "#b3b3b3", "#cccccc")  # newest to oldest
AGE_COLOUR = "#2f6f8f"
SUPPRESSED = "#7f7f7f"
DPI = 110
AGE_LABELS = {"00-01": "< 2", "02-14": "2-14", "15-74": "15-74", "75+": "75 +"}


def _save(fig: Figure, path: Path) -> Path:
    # No software/version metadata: the same data gives byte-identical PNGs across machines.
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    return path


def _week_ticks(season: int) -> tuple[list[int], list[str]]:
    """Every 4th week of the season, labelled with its ISO week number as French bulletins do (S40)."""
    first = season_first_monday(season)
    slots = list(range(0, 53, 4))
    labels = [f"S{(first + timedelta(weeks=s)).isocalendar()[1]:02d}" for s in slots]
    return slots, labels


def epidemic_curve(data: BulletinData, group: str, path: Path) -> Path:
    """Weekly acts of one syndrome in the région: this season, past seasons, baseline and threshold."""
    weekly = data.weekly[data.weekly["syndrome_group"] == group].copy()
    weekly["season"] = [season_start_year(d.date()) for d in weekly["week_start_date"]]
    weekly["slot"] = [season_slot(d.date()) for d in weekly["week_start_date"]]
    label = next((s.label for s in data.summary if s.group == group), group)

    fig = Figure(figsize=(8.2, 3.6), layout="constrained")
    ax = fig.add_subplot()
    past_seasons = [s for s in sorted(weekly["season"].unique(), reverse=True) if s < data.season]
    for colour, season in zip(PAST, past_seasons[:PAST_SEASONS], strict=False):
        past = weekly[weekly["season"] == season].sort_values("slot")
        ax.plot(
            past["slot"], past["syndrome_act_count"].astype("Float64").to_numpy(na_value=float("nan")),
            color=colour, linewidth=1.0, label=season_label(season),
        )  # fmt: skip

    current = weekly[weekly["season"] == data.season].sort_values("slot")
    counts = current["syndrome_act_count"].astype("Float64").to_numpy(na_value=float("nan"))
    baseline = data.baseline[data.baseline["syndrome_group"] == group].copy()
    baseline = baseline[[season_start_year(d.date()) == data.season for d in baseline["week_start_date"]]]
    if len(baseline):
        baseline["slot"] = [season_slot(d.date()) for d in baseline["week_start_date"]]
        for slot in baseline.loc[baseline["is_epidemic_week"].fillna(False).astype(bool), "slot"]:
            ax.axvspan(slot - 0.5, slot + 0.5, color=EPIDEMIC, alpha=0.6, linewidth=0)
        # Without enough history the model publishes no baseline: no empty legend entries then.
        if baseline["baseline_count"].notna().any():
            ax.plot(
                baseline["slot"], baseline["baseline_count"].to_numpy(na_value=float("nan")),
                color=BASELINE, linestyle="--", linewidth=1.2, label="Ligne de base",
            )  # fmt: skip
        if baseline["epidemic_threshold"].notna().any():
            ax.plot(
                baseline["slot"], baseline["epidemic_threshold"].to_numpy(na_value=float("nan")),
                color=THRESHOLD, linestyle=":", linewidth=1.8, label="Seuil épidémique",
            )  # fmt: skip
    ax.plot(
        current["slot"], counts, color=CURRENT, linewidth=2.2, marker="o", markersize=3,
        label=f"Saison {season_label(data.season)}",
    )  # fmt: skip
    hidden = current.loc[current["syndrome_act_count"].isna(), "slot"]
    if len(hidden):
        ax.plot(
            hidden, [0] * len(hidden), linestyle="none", marker="$s$", markersize=7, color=SUPPRESSED,
            label="Secret statistique", clip_on=False,
        )  # fmt: skip
    this_slot = season_slot(data.week_start)
    ax.axvline(this_slot, color="#555555", linewidth=0.8)
    ax.annotate(data.iso_week, (this_slot, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -10),
                textcoords="offset points", fontsize=8, color="#555555")  # fmt: skip
    slots, labels = _week_ticks(data.season)
    ax.set_xticks(slots, labels, fontsize=8)
    ax.set_xlim(-0.5, 52.5)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("Actes par semaine")
    ax.set_title(f"{label} — {data.region_name}", loc="left", fontsize=11, fontweight="bold")
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7.5, frameon=False, loc="upper left", ncol=2)
    return _save(fig, path)


def age_breakdown(data: BulletinData, path: Path) -> Path:
    """This week's acts of each featured syndrome by age class, one small panel per syndrome."""
    groups = data.syndromes
    columns = 3
    rows = max(1, -(-len(groups) // columns))
    fig = Figure(figsize=(8.2, 2.2 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    labels = {s.group: s.label for s in data.summary}
    for index, ax in enumerate(axes.flat):
        if index >= len(groups):
            ax.set_visible(False)
            continue
        group = groups[index]
        cells = data.ages[data.ages["syndrome_group"] == group].set_index("age_class")
        values = [cells["syndrome_act_count"].get(a, pd.NA) for a in AGE_CLASSES]
        heights = [0 if pd.isna(v) else int(v) for v in values]
        bars = ax.bar([AGE_LABELS[a] for a in AGE_CLASSES], heights, color=AGE_COLOUR, width=0.65)
        top = max([*heights, 1])
        for bar, value in zip(bars, values, strict=True):
            text = "s" if pd.isna(value) else f"{int(value):,}".replace(",", "\u202f")
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                        textcoords="offset points", ha="center", fontsize=7.5,
                        color=SUPPRESSED if pd.isna(value) else "#222222")  # fmt: skip
        ax.set_ylim(0, top * 1.2)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        ax.set_xlabel("âge (ans)", fontsize=7)
        ax.set_title(labels.get(group, group), fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(f"Actes par classe d'âge, {data.iso_week}", fontsize=10, x=0.01, ha="left")
    return _save(fig, path)


def draw_all(data: BulletinData, folder: Path) -> dict[str, Path]:
    """Every figure of the bulletin into `folder`: {key: path}; keys are `curve-<group>` and `ages`."""
    figures = {f"curve-{g}": epidemic_curve(data, g, folder / f"curve-{g}.png") for g in data.syndromes}
    figures["ages"] = age_breakdown(data, folder / "ages.png")
    return figures
