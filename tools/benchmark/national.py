"""End-to-end benchmark: generate → ingest → decrypt-and-scan floor → full dbt build → daily load → queries,
at one or more sizes of history (the scaling curve).

Run by `lakehouse benchmark` (tools/benchmark/__main__.py). Every phase that a user runs as a command runs
here as that same command in a child process (`python -m ingest.cli ...`, `dbt build`), so its wall time and
its peak resident memory (`os.wait4`, which covers the child and the processes it waited for: dbt, DuckDB)
are those of the real thing, and no phase inherits the memory of another. The in-process measurements are
the floor (DuckDB reading every landed dataset once) and the epidemiologist queries.

History grows forward from `start`, checkpoint after checkpoint (e.g. 1, 3 and 10 years): each checkpoint
generates and ingests the history it adds, then measures the floor, a full build (`--full-refresh`, what an
analyst runs after a change) and the daily load of the day after its history (daily files, as the
associations send them every morning: ingest, then an incremental `dbt build`). The next checkpoint's
history starts the day after that daily day, so at checkpoint k the lake holds exactly `years[k]` years
plus one day. History comes as the bulk extracts a network sends when it joins (one file per association ×
entity × month, `history_files="month"`) or as daily files.

Layout of the work folder (everything under it is scratch, deleted after a finished run unless `keep`):

    keystore.json  home/  extracts/history-<k>/  extracts/day-<k>/  lake/  warehouse.duckdb  dbt/  plain/
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow.parquet as pq

from ingest.contract import PROJECT_ROOT
from ingest.settings import DBT_FILE_LOG_LEVEL

DAYS_PER_YEAR = 365
# The landed datasets the floor reads, largest first (acts-linked ones are what scales).
DATASETS = ("acts", "diagnoses", "prescriptions", "vital_signs", "doctors", "care_sites")

# Typical questions of an epidemiologist, on the marts and on the OMOP CDM of the encrypted warehouse.
QUERIES: dict[str, str] = {
    # The analyses/ example: one syndrome, one région, week by week, with the baseline.
    "influenza_curve_region_week": """
        select i.iso_week, i.syndrome_act_count, i.syndrome_share_of_coded_pct, i.incidence_per_100k,
               b.epidemic_threshold, b.is_epidemic_week
        from warehouse.epidemiology.syndromic_indicators_by_week as i
        left join warehouse.epidemiology.epidemic_baseline_by_week as b
            using (syndrome_group, geo_level, geo_code, iso_week)
        where i.syndrome_group = 'grippe' and i.age_class = 'all' and i.geo_level = 'region'
            and i.geo_code = '11'
        order by i.week_start_date
    """,
    # Last 28 days, France, every syndrome by age class: the daily bulletin's table.
    "syndromes_by_age_last_28_days": """
        select syndrome_group, age_class, sum(syndrome_act_count) as acts,
               avg(syndrome_share_of_coded_pct) as share_pct
        from warehouse.epidemiology.syndromic_indicators_by_day
        where geo_level = 'france'
            and act_date > (select max(act_date) - 28 from warehouse.epidemiology.syndromic_indicators_by_day)
        group by all order by acts desc nulls last
    """,
    # Activity and hospital referrals by association and month.
    "referrals_by_association_month": """
        select association_id, date_trunc('month', act_date) as month, sum(act_count) as acts,
               sum(hospitalisation_count) as hospitalisations
        from warehouse.epidemiology.activity_by_association_day
        where hour_band = 'all'
        group by all order by all
    """,
    # Row-level CDM: the 20 most frequent diagnoses per year and sex (a full scan and a join).
    "cdm_top_conditions_by_year_sex": """
        select year(c.condition_start_date) as year, p.gender_source_value as sex,
               c.condition_source_value as code, count(*) as n
        from warehouse.cdm.condition_occurrence as c
        join warehouse.cdm.person as p using (person_id)
        group by 1, 2, 3
        qualify row_number() over (partition by year, sex order by n desc) <= 20
        order by year, sex, n desc
    """,
}


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    # User + system CPU of the child: steadier than wall time on a machine shared with other work.
    cpu_seconds: float = 0.0


HistoryFiles = Literal["month", "day"]


@dataclass
class BenchmarkConfig:
    workdir: Path
    years: tuple[float, ...] = (1.0,)  # checkpoints, increasing: the scaling curve
    start: date = date(2015, 1, 1)  # first day of history
    associations: int = 64
    scale: float = 1.0
    seed: int = 42
    repeats: int = 3  # floor and queries: median of this many runs
    plain_sample_files: int = 2_000  # per dataset, for the encrypted-vs-plain read ratio
    history_files: HistoryFiles = "month"
    generate_workers: int = 2  # generation children at once (generation is not what is measured)
    dbt_threads: int | None = None
    keep: bool = False
    daily: bool = True
    log: Callable[[str], None] = field(default=lambda _: None, repr=False)

    def __post_init__(self) -> None:
        if not self.years or any(b <= a for a, b in zip(self.years, self.years[1:], strict=False)):
            raise ValueError(f"checkpoints must be increasing, not {self.years}")

    def checkpoints(self) -> list[Checkpoint]:
        """History segments: checkpoint k adds the days up to `years[k]` years after `start`, then
        its daily day; the next segment starts after that day."""
        out: list[Checkpoint] = []
        seg_start = self.start
        for k, years in enumerate(self.years):
            daily_day = self.start + timedelta(days=max(1, round(years * DAYS_PER_YEAR)))
            if daily_day <= seg_start:
                raise ValueError(f"checkpoint {years} years adds no day after the previous one")
            out.append(Checkpoint(k, years, seg_start, daily_day - timedelta(days=1), daily_day))
            seg_start = daily_day + timedelta(days=1)
        return out


@dataclass(frozen=True)
class Checkpoint:
    index: int
    years: float
    segment_start: date  # history this checkpoint adds
    segment_end: date
    daily_day: date


class BenchmarkError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------- child processes


def run_measured(cmd: Sequence[str], env: dict[str, str], log_file: Path) -> Measured:
    """Run `cmd` to completion; wall time and peak RSS of the child and the processes it waited for."""
    with log_file.open("ab") as fh:
        fh.write(f"$ {' '.join(cmd)}\n".encode())
        fh.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=env, stdout=fh, stderr=subprocess.STDOUT)
        # wait4 rather than proc.wait(): its rusage is this child's alone (RUSAGE_CHILDREN would be the
        # maximum over every child this process ever had). But its ru_maxrss is at least this process's
        # own peak, freed or not (Linux carries it into the child): hence Bench.apart. KiB on Linux.
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise BenchmarkError(f"`{' '.join(cmd[:4])} ...` exited with {proc.returncode}; see {log_file}")
    return Measured(seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)


class Bench:
    def __init__(self, cfg: BenchmarkConfig) -> None:
        self.cfg = cfg
        w = cfg.workdir
        self.paths = {
            "keystore": w / "keystore.json",
            "home": w / "home",
            "extracts": w / "extracts",
            "lake": w / "lake",
            "warehouse": w / "warehouse.duckdb",
            "dbt": w / "dbt",
            "plain": w / "plain",
            "floor_out": w / "floor-out",
            "floor_copy": w / "floor-copy.duckdb",
            "log": w / "benchmark.log",
        }
        self.env = {
            **os.environ,
            "LAKEHOUSE_HOME": str(self.paths["home"]),
            "LAKEHOUSE_KEYSTORE": str(self.paths["keystore"]),
            "LAKEHOUSE_LAKE": str(self.paths["lake"]),
            "LAKEHOUSE_WAREHOUSE": str(self.paths["warehouse"]),
            "LAKEHOUSE_DBT_TARGET": "local",
            # dbt's own files (parse cache, logs) stay in the work folder, apart from the project's.
            "DBT_TARGET_PATH": str(self.paths["dbt"] / "target"),
            "DBT_LOG_PATH": str(self.paths["dbt"] / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            # As `lakehouse build` runs it.
            "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE", DBT_FILE_LOG_LEVEL),
        }

    def cli(self, *args: str) -> Measured:
        return run_measured([sys.executable, "-m", "ingest.cli", *args], self.env, self.paths["log"])

    def seal_manifests(self) -> Measured:
        """`keys seal-manifests` on a kept work folder landed before manifests were sealed (the build
        refuses such a lake); on a sealed lake it only checks each manifest's MAC."""
        measured = self.cli("keys", "seal-manifests")
        self.cfg.log(f"keys seal-manifests: {measured.seconds:.1f} s, peak {measured.peak_rss_mb:,.0f} MB")
        return measured

    def dbt_build(self, *, full_refresh: bool = False) -> Measured:
        # `lakehouse build` minus its audit record and manifest check (seconds, not build work); called
        # directly so that target/ and logs/ go to the work folder, not the shared project folder.
        dbt = str(Path(sys.executable).parent / "dbt")
        args = [dbt, "build", "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT)]
        if full_refresh:
            args.append("--full-refresh")
        if self.cfg.dbt_threads:
            args += ["--threads", str(self.cfg.dbt_threads)]
        return run_measured(args, self.env, self.paths["log"])

    def apart(self, phase: Literal["floor", "queries"]) -> dict[str, Any]:
        """An in-process phase run in a new process, so that this process's peak stays small: a
        child's peak RSS is at least its parent's peak, even after the parent freed that memory (see
        run_measured), and DuckDB scanning the lake here would raise the peak reported for every
        command measured after it, the daily load's among them."""
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            return pool.submit(_run_phase, replace(self.cfg, log=_no_log), phase).result()

    def history_dir(self, cp: Checkpoint) -> Path:
        return self.paths["extracts"] / f"history-{cp.index}"

    def day_dir(self, cp: Checkpoint) -> Path:
        return self.paths["extracts"] / f"day-{cp.index}"

    # ----------------------------------------------------------------------------------------- phases

    def generate(self, cp: Checkpoint) -> dict[str, Any]:
        """The segment's history (one child per year: the generator holds an association's whole range in
        memory; `generate_workers` children at once) and its daily day."""
        cfg = self.cfg
        jobs: list[tuple[Path, date, date, HistoryFiles]] = []
        chunk_start = cp.segment_start
        while chunk_start <= cp.segment_end:
            chunk_end = min(chunk_start + timedelta(days=DAYS_PER_YEAR - 1), cp.segment_end)
            jobs.append((self.history_dir(cp), chunk_start, chunk_end, cfg.history_files))
            chunk_start = chunk_end + timedelta(days=1)
        jobs.append((self.day_dir(cp), cp.daily_day, cp.daily_day, "day"))
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(1, cfg.generate_workers)) as pool:
            measured = list(pool.map(lambda job: self.generate_files(*job), jobs))
        history = list(self.history_dir(cp).rglob("*.csv"))
        return {
            "seconds": time.perf_counter() - start,
            "peak_rss_mb": max(m.peak_rss_mb for m in measured),
            "files": len(history),
            "bytes": sum(p.stat().st_size for p in history),
            "daily_files": sum(1 for _ in self.day_dir(cp).rglob("*.csv")),
        }

    def generate_files(self, out: Path, start: date, end: date, period: HistoryFiles) -> Measured:
        cfg = self.cfg
        args = [
            "generate", "--out", str(out), "--start", start.isoformat(), "--end", end.isoformat(),
            "--associations", str(cfg.associations), "--scale", str(cfg.scale), "--seed", str(cfg.seed),
        ]  # fmt: skip
        if period != "day":
            args += ["--file-period", period]
        return self.cli(*args)

    def ingest(self, folder: Path) -> dict[str, Any]:
        """`lakehouse ingest` of a folder; rows are counted from the manifests it committed."""
        before = self._landed_rows()
        m = self.cli("ingest", str(folder))
        after = self._landed_rows()
        rows = {ds: after.get(ds, 0) - before.get(ds, 0) for ds in DATASETS}
        files = sum(1 for _ in folder.rglob("*.csv"))
        total = sum(rows.values())
        return {
            "seconds": m.seconds,
            "peak_rss_mb": m.peak_rss_mb,
            "files": files,
            "rows": total,
            "acts": rows["acts"],
            "rows_per_second": total / m.seconds,
            "acts_per_second": rows["acts"] / m.seconds,
            "files_per_second": files / m.seconds,
        }

    def _landed_rows(self) -> dict[str, int]:
        from ingest.lake.manifest import all_manifests
        from ingest.lake.storage import open_store

        counts: dict[str, int] = {}
        for m in all_manifests(open_store(str(self.paths["lake"]))):
            if m.status == "committed" and m.dataset:
                counts[m.dataset] = counts.get(m.dataset, 0) + m.rows_accepted
        return counts

    def landed(self) -> tuple[duckdb.DuckDBPyConnection, dict[str, dict[str, list[str]]]]:
        """A DuckDB connection with the raw-zone keys registered, and the committed files per dataset."""
        from ingest.build.dbt_plugin import committed_raw_files
        from ingest.lake.crypto import connect_duckdb
        from ingest.lake.keys import DataKeyring, open_keystore, register_duckdb_keys
        from ingest.lake.storage import open_store

        store = open_store(str(self.paths["lake"]))
        keystore = open_keystore(self.paths["keystore"])
        keys = {k.key_id: k for k in DataKeyring(store, keystore).all(zone="raw")}
        con = connect_duckdb()
        register_duckdb_keys(con, keys.values())
        return con, committed_raw_files(store, keys, keystore=keystore)

    def floor(self) -> dict[str, Any]:
        """DuckDB decrypting and scanning every landed dataset once: the lower bound of any build."""
        from ingest.build.dbt_plugin import lake_view_sql

        con, files = self.landed()
        try:
            rows: dict[str, int] = {}
            runs: list[float] = []
            for _ in range(self.cfg.repeats):
                start = time.perf_counter()
                for ds in DATASETS:
                    rows[ds] = _scan(con, lake_view_sql(ds, files[ds]))
                runs.append(time.perf_counter() - start)
            ratio = self._encrypted_vs_plain(con, files)
            copy_seconds = self._copy_once(con, files)
        finally:
            con.close()
        return {
            "seconds": statistics.median(runs),
            "runs": runs,
            "rows": rows,
            "files": {ds: sum(len(v) for v in files[ds].values()) for ds in DATASETS},
            "copy_seconds": copy_seconds,
            **ratio,
        }

    def _copy_once(self, con: duckdb.DuckDBPyConnection, files: dict[str, dict[str, list[str]]]) -> float:
        """Every landed dataset copied once, as it is, into a new encrypted DuckDB file (what a build's
        first tables do before any transformation): what writing the data costs next to reading it."""
        from ingest.build.dbt_plugin import lake_view_sql

        target = self.paths["floor_copy"]
        target.unlink(missing_ok=True)
        # A throwaway key: the copy is deleted at once.
        con.execute(f"attach '{target}' as floor_copy (encryption_key '{secrets.token_hex(16)}')")
        try:
            start = time.perf_counter()
            for ds in DATASETS:
                con.execute(f"create table floor_copy.{ds} as {lake_view_sql(ds, files[ds])}")
            con.execute("checkpoint floor_copy")
            return time.perf_counter() - start
        finally:
            con.execute("detach floor_copy")
            target.unlink(missing_ok=True)

    def _encrypted_vs_plain(
        self, con: duckdb.DuckDBPyConnection, files: dict[str, dict[str, list[str]]]
    ) -> dict[str, Any]:
        """The same sample of landed files read encrypted and as plain copies (same writer settings, no
        encryption), in the same connection: what encryption itself costs DuckDB."""
        from ingest.lake.crypto import decrypt_parquet, duckdb_read_sql
        from ingest.lake.keys import DataKeyring, open_keystore
        from ingest.lake.storage import open_store

        keyring = DataKeyring(open_store(str(self.paths["lake"])), open_keystore(self.paths["keystore"]))
        key_bytes = {k.duckdb_name: k.key for k in keyring.all(zone="raw")}
        lake = self.paths["lake"]
        enc_sql, plain_sql, sampled = [], [], 0
        for ds in DATASETS:
            pairs = sorted((uri, name) for name, uris in files[ds].items() for uri in uris)
            step = max(1, len(pairs) // max(1, self.cfg.plain_sample_files))
            sample = pairs[::step]
            by_key: dict[str, list[str]] = {}
            plain: list[str] = []
            for uri, name in sample:
                by_key.setdefault(name, []).append(uri)
                target = self.paths["plain"] / Path(uri).relative_to(lake)
                if not target.exists():
                    table = decrypt_parquet(Path(uri).read_bytes(), key_bytes[name], path=uri)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    _write_plain(table, target)
                plain.append(str(target))
            sampled += len(sample)
            if sample:
                enc_sql.append(
                    " union all by name ".join(
                        f"select * from {duckdb_read_sql(u, n)}"  # noqa: S608
                        for n, u in sorted(by_key.items())
                    )
                )
                listed = ", ".join("'" + p.replace("'", "''") + "'" for p in plain)
                plain_sql.append(f"select * from read_parquet([{listed}])")  # noqa: S608
        enc_runs, plain_runs = [], []
        for _ in range(self.cfg.repeats):
            for sqls, runs in ((enc_sql, enc_runs), (plain_sql, plain_runs)):
                start = time.perf_counter()
                for sql in sqls:
                    _scan(con, sql)
                runs.append(time.perf_counter() - start)
        enc, plain_s = statistics.median(enc_runs), statistics.median(plain_runs)
        return {
            "sample_files": sampled,
            "sample_encrypted_seconds": enc,
            "sample_plain_seconds": plain_s,
            "encrypted_vs_plain": enc / plain_s if plain_s else None,
        }

    def build(self) -> dict[str, Any]:
        m = self.dbt_build(full_refresh=True)
        return {
            "seconds": m.seconds,
            "cpu_seconds": m.cpu_seconds,
            "peak_rss_mb": m.peak_rss_mb,
            **self._run_results(),
        }

    def _run_results(self) -> dict[str, Any]:
        path = self.paths["dbt"] / "target" / "run_results.json"
        results = json.loads(path.read_text())["results"]
        timed = sorted(results, key=lambda r: r.get("execution_time") or 0, reverse=True)
        return {
            "nodes": len(results),
            "slowest": [
                {"node": r["unique_id"].split(".", 2)[-1], "seconds": round(r["execution_time"], 2)}
                for r in timed[:8]
            ],
        }

    def daily(self, folder: Path, day: date) -> dict[str, Any]:
        """The daily load of `day`, whose files are in `folder`: ingest, then an incremental build."""
        load_before = os.getloadavg()[0]
        ing = self.ingest(folder)
        bld = self.dbt_build()
        return {
            "day": day.isoformat(),
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "ingest_seconds": ing["seconds"],
            "build_seconds": bld.seconds,
            "build_cpu_seconds": bld.cpu_seconds,
            "seconds": ing["seconds"] + bld.seconds,
            "peak_rss_mb": max(ing["peak_rss_mb"], bld.peak_rss_mb),
            "acts": ing["acts"],
            **self._run_results(),
        }

    def queries(self) -> dict[str, Any]:
        from ingest.publish.export import open_warehouse

        con = open_warehouse(self.paths["warehouse"], self.paths["keystore"])
        try:
            out: dict[str, Any] = {}
            for name, sql in QUERIES.items():
                runs, n = [], 0
                for _ in range(self.cfg.repeats):
                    start = time.perf_counter()
                    n = len(con.execute(sql).fetchall())
                    runs.append(time.perf_counter() - start)
                out[name] = {"seconds": statistics.median(runs), "rows": n}
            return out
        finally:
            con.close()


def _no_log(_: str) -> None:
    pass


def _run_phase(cfg: BenchmarkConfig, phase: Literal["floor", "queries"]) -> dict[str, Any]:
    return Bench(cfg).floor() if phase == "floor" else Bench(cfg).queries()


def _scan(con: duckdb.DuckDBPyConnection, body: str) -> int:
    """Decode every value of every column (a hash of each), as a full `select *` into a table would,
    without writing anything; returns the row count. count(*) alone would skip the column pages."""
    row = con.execute(f"select count(*), bit_xor(hash(columns(*))) from ({body})").fetchone()  # noqa: S608
    assert row is not None
    return int(row[0])


def _write_plain(table: Any, target: Path) -> None:
    from ingest.lake import crypto

    pq.write_table(
        table,
        target,
        row_group_size=crypto.ROW_GROUP_SIZE,
        data_page_size=crypto.DATA_PAGE_SIZE,
        max_rows_per_page=crypto.MAX_ROWS_PER_PAGE,
        dictionary_pagesize_limit=crypto.DICTIONARY_PAGESIZE_LIMIT,
        data_page_version=crypto.DATA_PAGE_VERSION,
        compression=crypto.PARQUET_COMPRESSION,
    )


# ------------------------------------------------------------------------------------------------- driver


def machine() -> dict[str, Any]:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(mem / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
    }


def _cpu_model() -> str | None:
    """The processor's name: figures from two machines with the same CPU count may differ twofold."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or None
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    mhz = [line.split(":", 1)[1].strip() for line in lines if line.startswith("cpu MHz")]
    return f"{names[0]} @ {mhz[0]} MHz" if names and mhz else (names[0] if names else None)


def run_benchmark(
    cfg: BenchmarkConfig, on_checkpoint: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Every phase of every checkpoint in order; returns the machine-readable result (see
    benchmarks/README.md). `on_checkpoint` gets the result so far after each checkpoint, so that a long
    run that is stopped keeps the checkpoints it finished."""
    from ingest.lake.keys import init_keystore

    cfg.workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(cfg)
    init_keystore(bench.paths["keystore"])
    checkpoints = cfg.checkpoints()
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "parameters": {
            "years": list(cfg.years),
            "start": cfg.start.isoformat(),
            "history_files": cfg.history_files,
            "associations": cfg.associations,
            "scale": cfg.scale,
            "seed": cfg.seed,
            "repeats": cfg.repeats,
        },
        "checkpoints": [],
    }
    finished = False
    try:
        for cp in checkpoints:
            measured: dict[str, Any] = {}
            result["checkpoints"].append(measured)
            try:
                run_checkpoint(bench, cp, measured)
            except BaseException as exc:
                # What was measured before the failure is kept, with the failure, then the run stops.
                measured["error"] = f"{type(exc).__name__}: {exc}"
                raise
            finally:
                if on_checkpoint is not None:
                    on_checkpoint(result)
        finished = True
    finally:
        result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        # A stopped run keeps its work folder: the log its error names, and the landed history that
        # benchmarks/continue_checkpoint.py goes on from (hours of generating and landing at scale).
        if finished and not cfg.keep:
            shutil.rmtree(cfg.workdir, ignore_errors=True)
    return result


def run_checkpoint(bench: Bench, cp: Checkpoint, out: dict[str, Any]) -> None:
    """Measures one checkpoint into `out`, phase after phase (a failure leaves the phases done). Phases
    already in `out` are not run again: a stopped checkpoint continues on its kept work folder
    (benchmarks/continue_checkpoint.py)."""
    cfg = bench.cfg
    log = lambda phase: cfg.log(f"{cp.years:g} year(s): {phase}")  # noqa: E731
    out.update(
        years=cp.years,
        history=[cfg.start.isoformat(), cp.segment_end.isoformat()],
        segment=[cp.segment_start.isoformat(), cp.segment_end.isoformat()],
    )
    out.pop("error", None)
    phases = out.setdefault("phases", {})
    if "generate" not in phases:
        log("generate")
        phases["generate"] = bench.generate(cp)
    if "ingest" not in phases:
        log("ingest the history added")
        phases["ingest"] = bench.ingest(bench.history_dir(cp))
    if "ingest_floor" not in phases:
        log("ingest floor (parse and write encrypted, no checks)")
        phases["ingest_floor"] = ingest_floor(bench.history_dir(cp), bench.paths["floor_out"])
        phases["ingest"]["vs_floor"] = phases["ingest"]["seconds"] / phases["ingest_floor"]["seconds"]
    # The history's extracts are landed and parsed twice: the build and its spill files get their disk.
    shutil.rmtree(bench.history_dir(cp), ignore_errors=True)
    if "floor" not in phases:
        log("floor (decrypt and scan every landed dataset)")
        phases["floor"] = bench.apart("floor")
    if "build" not in phases:
        log("full dbt build (--full-refresh)")
        phases["build"] = bench.build()
        phases["build"]["vs_floor"] = phases["build"]["seconds"] / phases["floor"]["seconds"]
    if cfg.daily and "daily" not in phases:
        log(f"daily load of {cp.daily_day} (all associations)")
        phases["daily"] = bench.daily(bench.day_dir(cp), cp.daily_day)
    if "queries" not in phases:
        log("queries")
        phases["queries"] = bench.apart("queries")
    out["lake_bytes"] = _du(bench.paths["lake"])
    out["warehouse_bytes"] = bench.paths["warehouse"].stat().st_size


def ingest_floor(folder: Path, scratch: Path) -> dict[str, Any]:
    """The least any ingest of `folder` costs on this machine: every extract read, decoded, parsed by
    Arrow's CSV reader into string columns (those the ingest reads) and written as encrypted Parquet, on
    one process per CPU as the ingest runs, with no checks, no pseudonyms, no manifests and no fsync.
    The ingest's time is quoted against it, as the build's is against the decrypt-and-scan floor."""
    from ingest.landing.land import find_extract_files

    paths = find_extract_files([folder])
    scratch.mkdir(parents=True, exist_ok=True)
    jobs = [(path, scratch / f"{i}.parquet") for i, path in enumerate(paths)]
    start = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1, mp_context=ctx) as pool:
        counted = list(pool.map(_parse_and_encrypt, jobs, chunksize=8))
    seconds = time.perf_counter() - start
    shutil.rmtree(scratch, ignore_errors=True)
    acts = sum(rows for name, rows in counted if name.endswith("_actes.csv"))
    return {
        "seconds": seconds,
        "files": len(paths),
        "rows": sum(rows for _, rows in counted),
        "acts": acts,
        "acts_per_second": acts / seconds,
    }


_FLOOR_KEY = secrets.token_bytes(32)  # a throwaway key: the floor's files are deleted at once


def _parse_and_encrypt(job: tuple[Path, Path]) -> tuple[str, int]:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from ingest.contract import default_contract
    from ingest.lake.crypto import encrypt_parquet

    path, target = job
    # The columns the ingest reads: free text it neither checks nor lands is skipped here too.
    entity = default_contract().entities[path.stem.rsplit("_", 1)[1]]
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    utf8 = text.encode("utf-8")
    names = text[: text.index("\n")].rstrip("\r").split(";")
    table = pa_csv.read_csv(
        pa.py_buffer(utf8),
        read_options=pa_csv.ReadOptions(use_threads=False, block_size=len(utf8) + 1),
        parse_options=pa_csv.ParseOptions(delimiter=";"),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), include_columns=list(entity.read_names)
        ),
    )
    target.write_bytes(encrypt_parquet(table, _FLOOR_KEY))
    return path.name, table.num_rows


def _du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def summary_rows(checkpoint: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(measure, value, note) rows of the printed table of one checkpoint."""
    p = checkpoint["phases"]
    rows: list[tuple[str, str, str]] = []
    if "generate" in p:
        g = p["generate"]
        rows.append(("generate", f"{g['seconds']:.1f} s", f"{g['files']:,} files, {g['bytes'] / 1e9:.2f} GB"))
    if "ingest" in p:
        i = p["ingest"]
        rows += [
            ("ingest", f"{i['seconds']:.1f} s", f"peak {i['peak_rss_mb']:,.0f} MB"),
            ("ingest acts/s", f"{i['acts_per_second']:,.0f}", f"{i['acts']:,} acts; target ≥ 200,000"),
            ("ingest rows/s", f"{i['rows_per_second']:,.0f}", f"{i['rows']:,} rows, all datasets"),
            ("ingest files/s", f"{i['files_per_second']:,.1f}", f"{i['files']:,} files"),
        ]
    if "ingest_floor" in p:
        f = p["ingest_floor"]
        rows.append(
            (
                "ingest floor: parse+encrypt",
                f"{f['seconds']:.1f} s",
                f"{f['acts_per_second']:,.0f} acts/s, no checks nor pseudonyms; "
                f"ingest / floor {p['ingest']['vs_floor']:.1f}x",
            )
        )
    if "floor" in p:
        f = p["floor"]
        rows += [
            ("floor: decrypt+scan all", f"{f['seconds']:.2f} s", f"median of {len(f['runs'])}"),
            (
                "copy the lake once",
                f"{f['copy_seconds']:.1f} s",
                f"{f['copy_seconds'] / f['seconds']:.1f}x the floor: every dataset into a new "
                "encrypted DuckDB file",
            ),
            (
                "encrypted / plain read",
                f"{f['encrypted_vs_plain']:.2f}x",
                f"{f['sample_files']:,} sampled files: {f['sample_encrypted_seconds']:.2f} s "
                f"vs {f['sample_plain_seconds']:.2f} s; target < 1.3x",
            ),
        ]
    if "build" in p:
        b = p["build"]
        rows += [
            (
                "full dbt build",
                f"{b['seconds']:.1f} s",
                f"peak {b['peak_rss_mb']:,.0f} MB, {b['nodes']} nodes; target < 16,000 MB",
            ),
            ("build / floor", f"{b['vs_floor']:.1f}x", "target < 5x"),
        ]
    if "daily" in p:
        d = p["daily"]
        rows.append(
            (
                "daily load",
                f"{d['seconds']:.1f} s",
                f"{d['day']}: ingest {d['ingest_seconds']:.1f} s + build {d['build_seconds']:.1f} s, "
                f"peak {d['peak_rss_mb']:,.0f} MB; target < 60 s",
            )
        )
    for name, q in p.get("queries", {}).items():
        rows.append((f"query {name}", f"{q['seconds'] * 1000:.0f} ms", f"{q['rows']:,} rows"))
    return rows


def scaling_rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row per checkpoint: the scaling curve. The daily-load ratio is to the first checkpoint's."""
    rows: list[tuple[str, ...]] = []
    first_daily: float | None = None
    for cp in result["checkpoints"]:
        p = cp["phases"]
        daily = p.get("daily", {}).get("seconds")
        if first_daily is None:
            first_daily = daily
        ratio = f"{daily / first_daily:.2f}" if daily and first_daily else "-"
        rows.append(
            (
                f"{cp['years']:g}",
                f"{p['floor']['rows']['acts']:,}",
                f"{p['ingest']['acts_per_second']:,.0f}",
                f"{p['ingest']['vs_floor']:.1f}x" if "vs_floor" in p["ingest"] else "-",
                f"{p['floor']['seconds']:.1f}",
                f"{p['build']['seconds']:.1f}",
                f"{p['build']['vs_floor']:.1f}x",
                f"{p['build']['peak_rss_mb']:,.0f}",
                f"{daily:.1f}" if daily else "-",
                ratio,
            )
        )
    return rows


SCALING_COLUMNS = (
    "years", "acts in lake", "ingest acts/s", "ingest/floor", "floor s", "full build s", "build/floor",
    "build peak MB", "daily load s", "daily vs first",
)  # fmt: skip


def result_path(results_dir: Path) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    return results_dir / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"


def write_result(result: dict[str, Any], path: Path) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
