"""The bulletin page: one self-contained HTML file (inline CSS, no CDN, no font or script from the network)
with its PNG figures and their CSV beside it, readable offline, printable on A4, safe to e-mail as a
folder. Rendered from the Jinja2 template templates/bulletin.html.j2 (autoescaped).

A Content-Security-Policy forbids any network load, so a later edit that adds a CDN link breaks the page
visibly instead of leaking the reader's IP address. The one inline script only records, once the page is
loaded, whether every figure decoded (`data-figures` on <body>): what the browser test reads.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date, datetime
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ingest.publish.report.data import BulletinData, SyndromeWeek, season_label
from ingest.publish.report.figures import MAP_CREDIT, Written

TEMPLATES = Path(__file__).resolve().parent / "templates"
_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip
NNBSP = "\u202f"  # French thousands separator and space before %
INTENSITY_FR = {
    "baseline": "niveau de base",
    "low": "faible",
    "medium": "modérée",
    "high": "élevée",
    "very_high": "très élevée",
}

LOAD_CHECK = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var decoded = images.filter(function (img) { return img.complete && img.naturalWidth > 0; });
  document.body.setAttribute("data-figures-total", String(images.length));
  document.body.setAttribute("data-figures-loaded", String(decoded.length));
  document.body.setAttribute("data-figures", decoded.length === images.length ? "ok" : "broken");
});
""".strip()

CSS = """
:root { --ink: #1f2933; --muted: #52606d; --rule: #d9dee3; --accent: #2f6f8f; --alert: #c0392b; }
* { box-sizing: border-box; }
body { font: 15px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: var(--ink);
       max-width: 980px; margin: 0 auto; padding: 24px; background: #fff; }
header { border-bottom: 4px solid var(--accent); padding-bottom: 12px; margin-bottom: 18px; }
header .kicker { color: var(--accent); font-weight: bold; text-transform: uppercase; font-size: 12px;
                 letter-spacing: .08em; }
h1 { margin: 4px 0; font-size: 26px; } h2 { font-size: 19px; border-bottom: 1px solid var(--rule);
     padding-bottom: 4px; margin-top: 30px; }
.meta { color: var(--muted); font-size: 13px; }
.keypoints { background: #eef4f7; border-left: 5px solid var(--accent); padding: 10px 18px; }
.keypoints li { margin: 6px 0; }
.warning { background: #fdecea; border-left: 5px solid var(--alert); padding: 8px 14px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0; }
th, td { border-bottom: 1px solid var(--rule); padding: 4px 6px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f4f6f8; }
td.s { color: var(--ink); font-weight: bold; font-style: italic; background: repeating-linear-gradient(
       45deg, #fff, #fff 3px, #eceff1 3px, #eceff1 6px); }
.status-epi { color: var(--alert); font-weight: bold; } .status-up { color: #b9770e; font-weight: bold; }
figure { margin: 14px 0; } figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { color: var(--muted); font-size: 12px; }
.grid { display: grid; grid-template-columns: 1fr; gap: 6px; }
.methods { background: #f7f9fa; border: 1px solid var(--rule); padding: 4px 16px 10px; margin-top: 30px; }
.methods dt { font-weight: bold; margin-top: 8px; } .methods dd { margin: 2px 0 0 0; font-size: 13px; }
footer { margin-top: 30px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--rule); }
@media print { body { padding: 0; font-size: 11px; } figure { break-inside: avoid; }
               h2 { break-after: avoid; } }
""".strip()


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(LOAD_CHECK.encode()).digest()).decode()
    return (
        "default-src 'none'; img-src 'self' file:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


def french_date(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _french_timestamp(iso: str) -> str:
    """`2024-03-31T14:33:04+00:00` as `31 mars 2024 à 14:33 UTC` (the export records UTC)."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{french_date(moment.date())} à {moment:%H:%M} UTC"


def fmt_int(value: int | None) -> str:
    return "s" if value is None else f"{value:,}".replace(",", NNBSP)


def fmt_pct(value: float | None, digits: int = 1) -> str:
    return "s" if value is None else f"{value:.{digits}f}".replace(".", ",") + f"{NNBSP}%"


def fmt_change(value: float | None) -> str:
    if value is None:
        return "–"
    if round(value) == 0:  # no "−0 %"
        return f"0{NNBSP}%"
    return f"{value:+.0f}".replace("-", "−") + f"{NNBSP}%"


def _millions(value: float | None) -> str:
    return "non disponible" if value is None else f"{value / 1e6:.2f}".replace(".", ",") + f"{NNBSP}M"


def _cell(text: str) -> Markup:
    if text == "s":
        return Markup('<td class="s" title="secret statistique">s</td>')
    return Markup("<td>{}</td>").format(text)


def status(s: SyndromeWeek) -> tuple[str, str]:
    """(text, css class) of a syndrome's position against its epidemic threshold in the région."""
    if s.threshold is None:
        return "pas de seuil publié", ""
    if s.count is None:
        return "non calculable (secret statistique)", ""
    if s.is_epidemic_week:
        return f"épidémique ({s.weeks_above_threshold} sem. au-dessus du seuil)", "status-epi"
    if s.is_above_threshold:
        return "au-dessus du seuil", "status-up"
    return "sous le seuil", ""


_PHASES_FR = {
    "pre_epidemic": "pré-épidémique",
    "epidemic": "épidémique",
    "post_epidemic": "post-épidémique",
    "no_epidemic": "pas d'épidémie",
    "out_of_season": "hors période de surveillance",
}


def phase(s: SyndromeWeek, area: str) -> str:
    """Epidemic phase of a syndrome in the région or France: the mart's own when published, else read
    from the threshold flags."""
    published = s.phase if area == "region" else s.france_phase
    if published is not None:
        return _PHASES_FR.get(published, published.replace("_", " "))
    threshold = s.threshold if area == "region" else s.france_threshold
    epidemic = s.is_epidemic_week if area == "region" else s.france_is_epidemic_week
    above = s.is_above_threshold if area == "region" else s.france_is_above_threshold
    if threshold is None:
        return "pas de seuil"
    if epidemic:
        return "épidémique"
    if above:
        return "au-dessus du seuil"
    if above is None:
        return "non calculable (secret statistique)"
    return "hors épidémie"


def past_comparison(s: SyndromeWeek) -> str | None:
    """This week's share of coded activity against the same week of past seasons (the SurSaUD way: a
    share does not move with the number of associations that report)."""
    if s.share_pct is None or not s.past_same_week_share:
        return None
    mean = sum(s.past_same_week_share) / len(s.past_same_week_share)
    n = len(s.past_same_week_share)
    seasons = f"des {n} saisons précédentes" if n > 1 else "de la saison précédente"
    if s.share_pct > 1.2 * mean:
        level = "supérieur"
    elif s.share_pct < 0.8 * mean:
        level = "inférieur"
    else:
        level = "comparable"
    return f"niveau {level} à la même semaine {seasons} (moyenne {fmt_pct(mean)})"


def _img(path: Path, alt: str) -> Markup:
    """An <img> with the PNG's own pixel size (read from its header), so the layout does not jump."""
    header = path.read_bytes()[:24]
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    return Markup('<img src="{}" width="{}" height="{}" alt="{}">').format(path.name, width, height, alt)


def curve_caption(data: BulletinData, group: str, shows: set[str]) -> str:
    """What the curve figure draws, and only that."""
    parts = [
        f"{data.label(group)} : part de l'activité codée dans la région (en haut à gauche) et en France "
        f"(en haut à droite), saison {season_label(data.season)} en couleur"
    ]
    parts[0] += ", saisons précédentes en gris" if "past" in shows else " (aucune saison précédente publiée)"
    if "baseline_share" in shows:
        parts.append("ligne de base en tirets sur la part")
    if "threshold_share" in shows:
        parts.append("seuil épidémique en pointillé orange sur la part")
    parts.append("en bas : nombre hebdomadaire d'actes dans la région")
    if "baseline" in shows and "threshold_count" in shows:
        parts.append("ligne de base (tirets) et seuil épidémique (pointillé) en nombre d'actes")
    elif "threshold_count" in shows:
        parts.append("seuil épidémique (pointillé) en nombre d'actes")
    else:
        parts.append("pas de seuil épidémique publié pour cette saison")
    if "epidemic_weeks" in shows:
        parts.append("semaines épidémiques en rose")
    if "suppressed" in shows:
        parts.append(
            "bande hachurée « s » sur l'axe : semaines soumises au secret statistique (pas de valeur)"
        )
    return " ; ".join(parts) + f". Trait vertical : semaine du bulletin ({data.week_short})."


def ages_caption(shows: set[str]) -> str:
    text = "Part de l'activité codée de chaque classe d'âge (nombre d'actes au-dessus de chaque barre)"
    if "restricted_ages" in shows:
        text += " ; seules les classes d'âge couvertes par la définition du regroupement"
    if "merged_ages" in shows:
        text += (
            " ; moins de 15 ans en une seule classe pour les regroupements dont les classes fines sont"
            " souvent sous le seuil du secret statistique"
        )
    if "suppressed" in shows:
        text += " ; barre hachurée « s » : effectif soumis au secret statistique (ce n'est pas un zéro)"
    return text + "."


def map_caption(shows: set[str]) -> str:
    text = "Part de l'activité codée par département de la région (valeur sous le code)"
    if "suppressed" in shows:
        text += " ; hachuré « s » : secret statistique"
    if "no_acts" in shows:
        text += " ; gris clair : aucun acte du réseau"
    return text + f". {MAP_CREDIT}."


def _departement_rows(data: BulletinData) -> list[dict[str, object]]:
    frame = data.departements
    if frame.empty:
        return []
    # The highest published share of each syndrome among the départements: the shade of its column.
    tops = {
        g: frame.loc[frame["syndrome_group"] == g, "syndrome_share_of_coded_pct"].max(skipna=True)
        for g in data.syndromes
    }
    rows = []
    for code, cells in sorted(frame.groupby("geo_code"), key=lambda item: str(item[0])):
        by_group = cells.set_index("syndrome_group")
        name = "Non renseigné" if code == "XX" else f"{cells['geo_name'].iloc[0]} ({code})"
        out = []
        for g in data.syndromes:
            count = _opt(by_group["syndrome_act_count"].get(g))
            share = _opt(by_group["syndrome_share_of_coded_pct"].get(g))
            if count is None:
                out.append({"text": "s", "shade": None})
                continue
            top = tops[g]
            shade = 0.0 if share is None or pd.isna(top) or not top else min(1.0, share / float(top))
            text = fmt_int(int(count)) + (f" ({fmt_pct(share)})" if share is not None else "")
            out.append({"text": text, "shade": f"{0.35 * shade:.2f}" if shade else None})
        acts = _opt(cells["act_count"].iloc[0])
        rows.append({"name": name, "acts": fmt_int(None if acts is None else int(acts)), "cells": out})
    return rows


def _opt(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters.update(
        int_fr=fmt_int,
        pct=fmt_pct,
        change=fmt_change,
        millions=_millions,
        french_date=french_date,
        french_timestamp=_french_timestamp,
        intensity=lambda level: INTENSITY_FR.get(level, level),
    )
    return env


def render(data: BulletinData, figures: dict[str, Written]) -> str:
    """The page; `figures` maps figure keys (`curve-<group>`, `ages`, `map`) to what draw_all wrote."""

    def figure(key: str, alt: str, caption: str) -> dict[str, object] | None:
        if key not in figures:
            return None
        written = figures[key]
        return {"img": _img(written.png, alt), "csv": written.csv.name, "caption": caption}

    total_change = None
    if data.act_count is not None and data.previous_act_count:
        total_change = 100.0 * (data.act_count - data.previous_act_count) / data.previous_act_count
    curves = [
        figure(
            f"curve-{g}",
            f"Courbes hebdomadaires {data.label(g)}, {data.region_name} et France",
            curve_caption(data, g, figures[f"curve-{g}"].shows),
        )
        for g in data.syndromes
    ]
    template = _environment().get_template("bulletin.html.j2")
    return template.render(
        d=data,
        cov=data.coverage,
        # Constants of this module, not data: safe to insert unescaped.
        csp=Markup(_csp()),  # noqa: S704
        css=Markup(CSS),  # noqa: S704
        load_check=Markup(LOAD_CHECK),  # noqa: S704
        featured=data.summary[: len(data.syndromes)],
        past_seasons=[s for s in data.available_seasons if s < data.season],
        total_change=total_change,
        curves=curves,
        ages=figure(
            "ages",
            f"Part de l'activité codée par classe d'âge, {data.week_label}",
            ages_caption(figures["ages"].shows) if "ages" in figures else "",
        ),
        map=figure(
            "map",
            f"Carte des départements, {data.week_label}",
            map_caption(figures["map"].shows) if "map" in figures else "",
        ),
        map_credit=MAP_CREDIT,
        departement_rows=_departement_rows(data),
        status=status,
        phase=phase,
        past_comparison=past_comparison,
        cell=_cell,
    )
