"""Entry point: write the source extracts of a synthetic network for a range of days."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

from ingest.contract import default_contract
from ingest.synth import acts as acts_mod
from ingest.synth import records, writer
from ingest.synth.invalid import InvalidClass, inject
from ingest.synth.network import N_NETWORK, Association, network, rosters
from ingest.synth.population import build_pool

ENTITIES: tuple[str, ...] = ("actes", "diagnostics", "prescriptions", "constantes", "medecins", "structures")
_INVALID_TAG = 0x1BAD
# What one file covers: a day (the daily flow) or a calendar month (a backfill of history).
FilePeriod = Literal["day", "month"]
FILE_PERIODS: tuple[FilePeriod, ...] = ("day", "month")


@dataclass(frozen=True)
class FileSummary:
    path: Path
    association: str
    day: date  # the extract date: the last day the file covers
    entity: str
    rows: int  # data rows written (header excluded), invalid ones included
    invalid: dict[InvalidClass, int] = field(default_factory=dict)  # class -> records injected
    invalid_lines: dict[int, InvalidClass] = field(default_factory=dict)  # line (header = 1) -> class
    first_day: date | None = None  # the first day covered; None for a daily file (= `day`)


@dataclass
class GenerationSummary:
    out_dir: Path
    start: date
    end: date
    seed: int
    scale: float
    invalid_share: float
    encodings: dict[str, str]  # association -> utf-8 or cp1252
    files: list[FileSummary] = field(default_factory=list)

    def rows(self, entity: str | None = None) -> int:
        return sum(f.rows for f in self.files if entity is None or f.entity == entity)

    def invalid_counts(self, entity: str | None = None) -> Counter[str]:
        out: Counter[str] = Counter()
        for f in self.files:
            if entity is None or f.entity == entity:
                out.update(f.invalid)
        return out

    @property
    def bytes_written(self) -> int:
        return sum(f.path.stat().st_size for f in self.files)


def _rng(seed: int, assoc: int, day: int, entity: str) -> np.random.Generator:
    key = (_INVALID_TAG, assoc, day, ENTITIES.index(entity))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def generate_extracts(
    out_dir: Path,
    start: date,
    end: date,
    *,
    n_associations: int = N_NETWORK,
    scale: float = 1.0,
    seed: int = 42,
    invalid_share: float = 0.0,
    file_period: FilePeriod = "day",
    progress: Callable[[int, int], None] | None = None,
) -> GenerationSummary:
    """Write `<out_dir>/<ASSOCIATION>/<ASSOCIATION>_<YYYYMMDD>_<entity>.csv` for every day in [start, end],
    or with `file_period="month"` `<ASSOCIATION>_<first day>_<last day>_<entity>.csv` per calendar month
    (clipped to [start, end]), as an association's software exports its history when it joins.

    :param n_associations: the first N associations of the fixed 64-association network (largest first).
    :param scale: 1.0 is the national volume (~4 million acts a year over the 64 associations).
    :param seed: same arguments give byte-identical files; a range gives the same files as its sub-ranges.
    :param invalid_share: share of records made invalid (0 = none), recorded per file in the summary.
    :param file_period: the same rows either way: a month's file holds its days' files' rows in order
        (invalid ones included), but for `medecins`, which lists every doctor on the roster on any day of
        the month, and `structures`, the sites as on its last day.
    :param progress: called with (association-days done, association-days in total).
    """
    if end < start:
        raise ValueError(f"`end` ({end}) is before `start` ({start})")
    if not 1 <= n_associations <= N_NETWORK:
        raise ValueError(f"`n_associations` must be between 1 and {N_NETWORK}, not {n_associations}")
    if scale <= 0:
        raise ValueError(f"`scale` must be positive, not {scale}")
    if not 0.0 <= invalid_share <= 1.0:
        raise ValueError(f"`invalid_share` must be between 0 and 1, not {invalid_share}")
    if file_period not in FILE_PERIODS:
        raise ValueError(f"`file_period` must be one of {', '.join(FILE_PERIODS)}, not {file_period!r}")
    contract = default_contract()
    out_dir = Path(out_dir)
    assocs = network()[:n_associations]
    n_days = (end - start).days + 1
    summary = GenerationSummary(
        out_dir=out_dir, start=start, end=end, seed=seed, scale=scale, invalid_share=invalid_share,
        encodings={a.code: a.encoding for a in assocs},
    )  # fmt: skip
    days = [start + timedelta(days=i) for i in range(n_days)]
    ordinals = np.array([acts_mod.day_ordinal(d) for d in days])
    periods = _periods(days, file_period)
    for k, assoc in enumerate(assocs):
        folder = out_dir / assoc.code
        folder.mkdir(parents=True, exist_ok=True)
        roster = rosters(seed)[assoc.index]
        acts, pool = acts_mod.simulate(assoc, build_pool(assoc, seed, scale), roster, seed, scale, start, end)
        ids = records.act_ids(acts, assoc)
        act_day = acts.file_day
        diag, diag_act = records.diagnostics(acts, assoc, ids)
        rx, rx_act = records.prescriptions(acts_mod.prescriptions(acts, assoc), acts, ids)
        vit, vit_act = records.constantes(acts_mod.vitals(acts), ids)
        tables: dict[str, tuple[records.Columns, np.ndarray]] = {
            "actes": (records.actes(acts, assoc, pool, roster, ids), act_day),
            "diagnostics": (diag, act_day[diag_act]),
            "prescriptions": (rx, act_day[rx_act]),
            "constantes": (vit, act_day[vit_act]),
        }
        for entity, (cols, file_day) in tables.items():
            _write_entity(summary, contract.entities[entity].source_names, assoc, entity, cols, file_day,
                          ordinals, days, periods, folder, seed, invalid_share, acts.start_abs)  # fmt: skip
        roster_cols = records.Roster(roster)
        sites = records.structures(assoc)
        for lo, hi in periods:
            # A snapshot file is one record set for its whole period, drawn as the daily file of its last day.
            first, last = int(ordinals[lo]), int(ordinals[hi])
            doctors = roster_cols.period_snapshot(first, last)
            for entity, cols in (("medecins", doctors), ("structures", sites)):
                cols = {c: v.copy() for c, v in cols.items()}
                file_day = np.full(len(cols["code_site" if entity == "structures" else "rpps"]), last)
                sources = contract.entities[entity].source_names
                _write_entity(summary, sources, assoc, entity, cols, file_day, np.array([last]), [days[hi]],
                              [(0, 0)], folder, seed, invalid_share, None, first_day=days[lo])  # fmt: skip
        if progress is not None:
            progress((k + 1) * n_days, len(assocs) * n_days)
    return summary


def _periods(days: list[date], file_period: FilePeriod) -> list[tuple[int, int]]:
    """(first, last) indices into `days` of the days each file covers."""
    if file_period == "day":
        return [(i, i) for i in range(len(days))]
    out: list[tuple[int, int]] = []
    for i, day in enumerate(days):
        if out and (days[out[-1][0]].year, days[out[-1][0]].month) == (day.year, day.month):
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def _write_entity(
    summary: GenerationSummary,
    sources: tuple[str, ...],
    assoc: Association,
    entity: str,
    cols: records.Columns,
    file_day: np.ndarray,
    ordinals: np.ndarray,
    days: list[date],
    periods: list[tuple[int, int]],
    folder: Path,
    seed: int,
    invalid_share: float,
    start_abs: np.ndarray | None,
    first_day: date | None = None,
) -> None:
    """Split an entity's rows (sorted by file day) into one file per period of `days`, injecting invalid
    records if asked. Injection is drawn per day whatever the period, so a month's file holds exactly the
    rows (valid or not) of its days' files; `first_day` overrides the first day named (snapshots)."""
    code = assoc.code
    bounds = np.searchsorted(file_day, np.concatenate([ordinals, [ordinals[-1] + 1]]), side="left")
    injected: list[dict[int, InvalidClass]] = []
    shape: dict[int, int] = {}
    for i, ordinal in enumerate(ordinals.tolist()):
        lines: dict[int, InvalidClass] = {}
        if invalid_share > 0:
            rows = np.arange(bounds[i], bounds[i + 1])
            rng = _rng(seed, assoc.index, ordinal, entity)
            lines, sh = inject(entity, cols, rows, rng, invalid_share, start_abs)
            shape.update(sh)
        injected.append(lines)
    serialised = writer.lines(cols, sources, assoc.eol, shape)
    slicer = writer.Slicer(serialised)
    header = ";".join(sources) + assoc.eol
    for lo, hi in periods:
        first, last = first_day or days[lo], days[hi]
        stem = f"{code}_{last:%Y%m%d}" if first == last else f"{code}_{first:%Y%m%d}_{last:%Y%m%d}"
        path = folder / f"{stem}_{entity}.csv"
        row_lo, row_hi = int(bounds[lo]), int(bounds[hi + 1])
        writer.write_file(path, header, slicer.rows(row_lo, row_hi), assoc.encoding)
        # A day's lines move down by the rows of the period's earlier days.
        file_lines = {
            line + int(bounds[i]) - row_lo: cls
            for i in range(lo, hi + 1)
            for line, cls in injected[i].items()
        }
        summary.files.append(
            FileSummary(
                path=path,
                association=code,
                day=last,
                entity=entity,
                rows=row_hi - row_lo,
                invalid=dict(Counter(file_lines.values())),
                invalid_lines=file_lines,
                first_day=None if first == last else first,
            )
        )
