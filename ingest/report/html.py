"""The bulletin page: one self-contained HTML file (inline CSS, no CDN, no font or script from the network)
with its PNG figures beside it, readable offline, printable on A4, safe to e-mail as a folder.

A Content-Security-Policy forbids any network load, so a later edit that adds a CDN link breaks the page
visibly instead of leaking the reader's IP address. The one inline script only records, once the page is
loaded, whether every figure decoded (`data-figures` on <body>): what the browser test reads.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date, datetime
from html import escape
from pathlib import Path

from ingest.report.data import BulletinData, SyndromeWeek, season_label

_MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip
NNBSP = "\u202f"  # French thousands separator and space before %

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
td.s { color: var(--muted); font-style: italic; }
.status-epi { color: var(--alert); font-weight: bold; } .status-up { color: #b9770e; font-weight: bold; }
figure { margin: 14px 0; } figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { color: var(--muted); font-size: 12px; }
.grid { display: grid; grid-template-columns: 1fr; gap: 6px; }
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
        return escape(iso)
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


def _cell(text: str) -> str:
    return f'<td class="s" title="secret statistique">{text}</td>' if text == "s" else f"<td>{text}</td>"


def _status(s: SyndromeWeek) -> tuple[str, str]:
    """(text, css class) of a syndrome's position against its epidemic threshold."""
    if s.threshold is None:
        return "pas de seuil", ""
    if s.count is None:
        return "non calculable (secret statistique)", ""
    if s.is_epidemic_week:
        return f"épidémique ({s.weeks_above_threshold} sem. au-dessus du seuil)", "status-epi"
    if s.is_above_threshold:
        return "au-dessus du seuil", "status-up"
    return "sous le seuil", ""


def _past_comparison(s: SyndromeWeek) -> str | None:
    if s.count is None or not s.past_same_week:
        return None
    mean = sum(s.past_same_week) / len(s.past_same_week)
    n = len(s.past_same_week)
    seasons = f"{n} saison{'s' if n > 1 else ''} précédente{'s' if n > 1 else ''}"
    if s.count > 1.2 * mean:
        level = "supérieur"
    elif s.count < 0.8 * mean:
        level = "inférieur"
    else:
        level = "comparable"
    return f"niveau {level} à la même semaine des {seasons} (moyenne {fmt_int(round(mean))})"


def key_points(data: BulletinData) -> list[str]:
    """The bulletin's opening sentences, in French, computed only from published figures."""
    points = []
    total = f"<strong>Activité totale</strong> : {fmt_int(data.act_count)} actes en {data.iso_week}"
    if data.previous_act_count is not None:
        change = None
        if data.act_count is not None and data.previous_act_count:
            change = 100.0 * (data.act_count - data.previous_act_count) / data.previous_act_count
        total += f" (semaine précédente : {fmt_int(data.previous_act_count)}, {fmt_change(change)})"
    if data.coding_rate_pct is not None:
        total += f" ; {fmt_pct(data.coding_rate_pct)} des actes ont un diagnostic codé"
    # Only formatted numbers go into this line: nothing to escape.
    points.append(total)
    for s in data.summary[: len(data.syndromes)]:
        name = f"<strong>{escape(s.label)}</strong>"
        if s.count is None:
            points.append(f"{name} : effectif soumis au secret statistique cette semaine.")
            continue
        text = f"{name} : {fmt_int(s.count)} actes, {fmt_pct(s.share_pct)} de l'activité codée"
        if s.previous_count is not None:
            text += f" ({fmt_change(s.change_pct)} par rapport à la semaine précédente)"
        status, css = _status(s)
        text += f' ; <span class="{css}">{escape(status)}</span>' if css else f" ; {escape(status)}"
        comparison = _past_comparison(s)
        if comparison:
            text += f" ; {escape(comparison)}"
        points.append(text + ".")
    return points


def _summary_table(data: BulletinData) -> str:
    rows = []
    for s in data.summary:
        status, css = _status(s)
        rows.append(
            "<tr>"
            f"<td>{escape(s.label)}</td>"
            + _cell(fmt_int(s.count))
            + _cell(fmt_pct(s.share_pct))
            + _cell(fmt_int(s.previous_count))
            + f"<td>{fmt_change(s.change_pct)}</td>"
            + _cell(fmt_pct(s.france_share_pct))
            + f'<td class="{css}">{escape(status)}</td>'
            + _cell(fmt_pct(s.hospitalisation_share_pct))
            + "</tr>"
        )
    return (
        "<table><thead><tr><th>Regroupement syndromique</th>"
        f"<th>Actes {escape(data.iso_week)}</th><th>Part de l'activité codée</th><th>Actes S−1</th>"
        "<th>Évolution</th><th>Part France</th><th>Seuil épidémique</th><th>Hospitalisations</th>"
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _departement_table(data: BulletinData) -> str:
    frame = data.departements
    if frame.empty:
        return "<p>Aucun département publié pour cette région cette semaine.</p>"
    groups = data.syndromes
    labels = {s.group: s.label for s in data.summary}
    head = "".join(f"<th>{escape(labels.get(g, g))}</th>" for g in groups)
    # The highest published share of each syndrome among the départements: the shade of its column.
    tops = {
        g: frame.loc[frame["syndrome_group"] == g, "syndrome_share_of_coded_pct"].max(skipna=True)
        for g in groups
    }
    rows = []
    for code, cells in sorted(frame.groupby("geo_code"), key=lambda item: str(item[0])):
        by_group = cells.set_index("syndrome_group")
        name = "Non renseigné" if code == "XX" else f"{cells['geo_name'].iloc[0]} ({code})"
        first = cells.iloc[0]
        row = f"<tr><td>{escape(str(name))}</td>" + _cell(fmt_int(_opt_int(first["act_count"])))
        for g in groups:
            count = _opt_int(by_group["syndrome_act_count"].get(g))
            share = _opt_float(by_group["syndrome_share_of_coded_pct"].get(g))
            if count is None:
                row += '<td class="s" title="secret statistique">s</td>'
                continue
            text = fmt_int(count) + (f" ({fmt_pct(share)})" if share is not None else "")
            top = tops[g]
            shade = 0.0 if share is None or _isna(top) or not top else min(1.0, share / float(top))
            style = f' style="background: rgba(192, 57, 43, {0.35 * shade:.2f})"' if shade else ""
            row += f"<td{style}>{text}</td>"
        rows.append(row + "</tr>")
    return (
        f"<table><thead><tr><th>Département</th><th>Actes</th>{head}</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _isna(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))  # type: ignore[arg-type]


def _opt_int(value: object) -> int | None:
    return None if value is None or _isna(value) else int(value)  # type: ignore[call-overload]


def _opt_float(value: object) -> float | None:
    return None if value is None or _isna(value) else float(value)  # type: ignore[arg-type]


def _img(path: Path, alt: str) -> str:
    """An <img> with the PNG's own pixel size (read from its header), so the layout does not jump."""
    header = path.read_bytes()[:24]
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    return f'<img src="{escape(path.name)}" width="{width}" height="{height}" alt="{escape(alt)}">'


def render(data: BulletinData, figures: dict[str, Path]) -> str:
    """The page; `figures` maps figure keys (`curve-<group>`, `ages`) to PNGs in the page's folder."""
    labels = {s.group: s.label for s in data.summary}
    title = f"Surveillance syndromique — {data.region_name} — semaine {data.iso_week}"
    period = f"du {french_date(data.week_start)} au {french_date(data.week_end)}"
    warning = ""
    if not data.is_complete_week:
        warning = (
            '<p class="warning">Semaine incomplète : les données s\'arrêtent le '
            f"{french_date(data.data_end)}. Les effectifs de cette semaine sont provisoires.</p>"  # type: ignore[arg-type]
        )
    history = ""
    past = [s for s in data.available_seasons if s < data.season]
    if not past:
        history = (
            '<p class="warning">Aucune saison antérieure dans la publication : pas de comparaison '
            "historique ni de seuil épidémique (il faut au moins 80 semaines d'historique).</p>"
        )
    curves = "".join(
        "<figure>"
        + _img(figures[f"curve-{g}"], f"Courbe hebdomadaire {labels.get(g, g)}, {data.region_name}")
        + f"<figcaption>{escape(labels.get(g, g))} : nombre hebdomadaire d'actes dans la région, saison "
        f"{season_label(data.season)} et saisons précédentes ; ligne de base et seuil épidémique "
        + "(régression périodique), semaines épidémiques en rose.</figcaption></figure>"
        for g in data.syndromes
    )
    points = "".join(f"<li>{p}</li>" for p in key_points(data))
    exported = f"Données publiées le {_french_timestamp(data.exported_at)}. " if data.exported_at else ""
    return f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_csp()}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>
{CSS}
</style>
</head>
<body data-figures="pending">
<header>
<div class="kicker">Bulletin hebdomadaire de surveillance syndromique ·
réseau de médecine d'urgence de ville</div>
<h1>{escape(data.region_name)} ({escape(data.region_code)}) — semaine {escape(data.iso_week)}</h1>
<div class="meta">Semaine {period}. {exported}Source : actes des associations du réseau, agrégats
publiés sous contrôle du secret statistique (« s » : effectif masqué).</div>
</header>
{warning}{history}
<section>
<h2>Points clés</h2>
<ul class="keypoints">{points}</ul>
</section>
<section>
<h2>Indicateurs de la semaine</h2>
{_summary_table(data)}
<p class="meta">Part de l'activité codée : actes du regroupement pour 100 actes avec au moins un diagnostic
codé (indicateur SurSaUD). Hospitalisations : part des actes du regroupement suivis d'une hospitalisation
directe. Seuil épidémique : limite supérieure à 95 % d'une régression périodique ajustée sur les cinq
saisons précédentes ; une semaine est épidémique à partir de deux semaines consécutives au-dessus du
seuil.</p>
</section>
<section>
<h2>Courbes épidémiques</h2>
<div class="grid">{curves}</div>
</section>
<section>
<h2>Classes d'âge</h2>
<figure>{_img(figures["ages"], f"Actes par classe d'âge, {data.iso_week}")}
<figcaption>Actes de la semaine par classe d'âge et regroupement syndromique ; « s » : secret statistique.
</figcaption></figure>
</section>
<section>
<h2>Départements</h2>
{_departement_table(data)}
<p class="meta">Actes de la semaine (tous âges) et, par regroupement, actes et part de l'activité codée ;
la teinte croît avec la part. Département de résidence du patient, à défaut celui du site de l'acte.</p>
</section>
<footer>
<p>Méthodes : regroupements syndromiques définis par des codes CIM-10 et du thésaurus du réseau (les
regroupements se recouvrent : ne pas additionner). Secret statistique : tout effectif de 1 à 10 actes, ou
de moins de 3 médecins, est masqué, ainsi que les effectifs qui permettraient de le retrouver par
différence (suppression complémentaire). Ce bulletin est construit uniquement à partir des tables
publiées (publication/) ; données synthétiques.</p>
</footer>
<script>{LOAD_CHECK}</script>
</body>
</html>
"""
