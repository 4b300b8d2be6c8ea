"""The build's audit and repair of the disclosure cells, week by week: where its time goes, what the
give-back pass publishes again.

The pass needs the true counts of the complementary cells, which a built warehouse no longer holds (the
post-hook nulls every hidden count). So this rebuilds `disclosure_controlled_cells` (dbt in this
process, that model only) with the audit function's parts wrapped in timers, and prints per ISO week the
cells, the cells the repair hides, the cells the pass tries, audits, publishes again, its LPs and the
CPU seconds (the thread's: DuckDB may run weeks in parallel) of reading the cells and relations, the
repair, the give-back and the certificate; then the node's wall time and the part of it spent outside
the attacker (the post-hook's SQL and the transfer of the cells to Python). It WRITES the warehouse:
run it on a copy. The lake, key store and warehouse come from the usual LAKEHOUSE_* variables.

    LAKEHOUSE_WAREHOUSE=copy.duckdb .venv/bin/python benchmarks/disclosure_giveback.py
        [--weeks 2016-01-04,2016-01-11]  only these ISO weeks (Mondays), as a daily build recomputes
                                         them (otherwise a full refresh: every week)
        [--dump FOLDER]                  keep each week's cells as the post-hook passed them (pickle)
    .venv/bin/python benchmarks/disclosure_giveback.py --replay FOLDER [--profile]
                                         the attacker alone on the kept weeks (no warehouse)
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pickle
import pstats
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

from ingest.disclosure import certificate as certificate_module
from ingest.disclosure import repair as repair_module

CALLS: list[dict[str, Any]] = []  # one per call of the DuckDB function, in call order
DUMP: list[Path] = []

_REPAIR, _GIVE_BACK = repair_module.repair, repair_module.give_back
_REPAIR_ROWS, _CERTIFICATE = repair_module.repair_rows, repair_module.certificate_of_rows
_READ_WEEK, _EVERY_RELATION = repair_module.read_week, repair_module.every_relation


def _timed(name: str, function):
    def timed(*args, **kwargs):
        started = time.thread_time()
        result = function(*args, **kwargs)
        _current()[name] = _current().get(name, 0.0) + time.thread_time() - started
        return result

    return timed


_THREAD = threading.local()  # DuckDB runs the weeks of one statement in parallel threads


def _current() -> dict[str, Any]:
    """The figures of the week this thread is auditing."""
    return _THREAD.__dict__.setdefault("week", {})


def _timed_repair(values, relations, k, where=None):
    started = time.thread_time()
    outcome = _REPAIR(values, relations, k, where)
    _current().update(
        cells=len(values),
        hidden=sum(1 for value in values.values() if value is None),
        added=len(outcome[0]),
        rounds=outcome[3],
        repair_lps=outcome[1].lps + outcome[2].lps,
        repair_cpu=time.thread_time() - started,
    )
    return outcome


def _timed_give_back(values, relations, k, true_values):
    started = time.thread_time()
    result = _GIVE_BACK(values, relations, k, true_values)
    _current().update(
        tried=result.tried,
        audits=result.audits,
        lps=result.lps,
        published=len(result.published),
        give_back_cpu=time.thread_time() - started,
    )
    return result


def _timed_repair_rows(k, rows):
    _THREAD.week = {}
    started = time.thread_time()
    if DUMP and rows:
        with (DUMP[0] / f"week-{rows[0]['iso_week']}.pickle").open("wb") as handle:
            pickle.dump((k, rows), handle)
    changed = _REPAIR_ROWS(k, rows)
    week = _current()
    week["function_cpu"] = time.thread_time() - started
    week["changed"] = len(changed)
    CALLS.append(week)
    return changed


def _timed_certificate(k, rows):
    started = time.thread_time()
    digest = _CERTIFICATE(k, rows)
    CALLS.append({"certificate_cpu": time.thread_time() - started})
    return digest


def _instrument() -> None:
    # register() and repair_rows look these up in their module when called: the build's own code, timed.
    repair_module.repair = _timed_repair
    repair_module.give_back = _timed_give_back
    repair_module.repair_rows = _timed_repair_rows
    repair_module.certificate_of_rows = _timed_certificate
    repair_module.read_week = _timed("read_cpu", _READ_WEEK)
    repair_module.every_relation = _timed("relations_cpu", _EVERY_RELATION)
    certificate_module.remember_certified = _timed("remember_cpu", certificate_module.remember_certified)
    repair_module.remember_certified = certificate_module.remember_certified


def _set_weeks(weeks: list[date]) -> None:
    """Make the build's bookkeeping say that exactly these weeks changed (on the copy)."""
    import duckdb

    from ingest import settings
    from ingest.lake.crypto import load_httpfs
    from ingest.lake.keys import open_keystore

    key = open_keystore(Path(os.environ["LAKEHOUSE_KEYSTORE"])).warehouse_db_key()
    con = duckdb.connect()
    load_httpfs(con)  # DuckDB writes an encrypted file only with httpfs's crypto
    con.execute(f"attach '{settings.warehouse_path()}' as warehouse (encryption_key '{key}')")
    schema = con.execute(
        "select schema_name from duckdb_tables() where database_name = 'warehouse' "
        "and table_name = 'int_surveillance_weeks_changed'"
    ).fetchone()[0]
    table = f"warehouse.{schema}.int_surveillance_weeks_changed"
    con.execute(f"delete from {table}")  # noqa: S608
    con.executemany(f"insert into {table} (week_start_date) values (?)", [[week] for week in weeks])  # noqa: S608
    con.close()


def _print_weeks(calls: list[dict[str, Any]]) -> None:
    weeks = [call for call in calls if "function_cpu" in call]
    columns = [
        ("cells", "cells", "d"),
        ("hidden", "hidden", "d"),
        ("added", "adds", "d"),
        ("rounds", "rnds", "d"),
        ("repair_lps", "rep LPs", "d"),
        ("tried", "tried", "d"),
        ("audits", "audits", "d"),
        ("lps", "gb LPs", "d"),
        ("published", "back", "d"),
        ("read_cpu", "read s", ".2f"),
        ("relations_cpu", "rels s", ".2f"),
        ("repair_cpu", "repair s", ".2f"),
        ("give_back_cpu", "giveb s", ".2f"),
        ("remember_cpu", "cert s", ".2f"),
        ("function_cpu", "total s", ".2f"),
    ]
    print("week " + " ".join(f"{title:>8}" for _, title, _ in columns))
    for number, week in enumerate(weeks, start=1):
        print(f"{number:>4} " + " ".join(f"{week.get(key, 0):>8{form}}" for key, _, form in columns))
    total = {key: sum(week.get(key, 0) for week in weeks) for key, _, _ in columns}
    print("all  " + " ".join(f"{total[key]:>8{form}}" for key, _, form in columns))
    certificates = sum(call.get("certificate_cpu", 0.0) for call in calls)
    print(f"{len(weeks)} weeks; the certificates' function {certificates:.2f} s CPU")


def build(weeks: list[date] | None, dump: Path | None) -> None:
    from dbt.cli.main import dbtRunner

    from ingest import settings
    from ingest.settings import PROJECT_ROOT

    if dump:
        dump.mkdir(parents=True, exist_ok=True)
        DUMP.append(dump)
    _instrument()
    os.environ.update(settings.dbt_environment())
    if weeks:
        _set_weeks(weeks)
        command = ["run", "--select", "disclosure_controlled_cells"]
    else:
        command = ["build", "--select", "disclosure_controlled_cells", "--full-refresh", "--quiet"]
    project = str(PROJECT_ROOT)
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    result = dbtRunner().invoke([*command, "--project-dir", project, "--profiles-dir", project])
    wall, cpu = time.perf_counter() - started_wall, time.process_time() - started_cpu
    if not result.success:
        raise SystemExit(f"dbt failed: {result.exception}")
    _print_weeks(CALLS)
    attacker = sum(call.get("function_cpu", 0.0) + call.get("certificate_cpu", 0.0) for call in CALLS)
    print(
        f"the model's dbt {command[0]}: {wall:.1f} s wall, {cpu:.1f} s CPU (process), of which the "
        f"attacker's functions {attacker:.1f} s CPU; load average {os.getloadavg()[0]:.1f}"
    )


def replay(folder: Path, profile: bool, out: Path | None) -> None:
    _instrument()
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    changed = {}
    for path in sorted(folder.glob("week-*.pickle")):
        with path.open("rb") as handle:
            k, rows = pickle.load(handle)  # noqa: S301 - our own dump
        if profiler:
            profiler.enable()
        changed[path.name] = repair_module.repair_rows(k, rows)
        if profiler:
            profiler.disable()
    if out:  # to compare two versions' picks, cell for cell
        out.write_text(json.dumps(changed, indent=1))
    _print_weeks(CALLS)
    print(f"replay: {time.process_time() - started:.1f} s CPU; load average {os.getloadavg()[0]:.1f}")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weeks", help="comma-separated ISO weeks' Mondays: an incremental run of these")
    parser.add_argument("--dump", type=Path, help="keep each week's cells (pickle) in this folder")
    parser.add_argument("--replay", type=Path, help="run the attacker alone on the weeks kept here")
    parser.add_argument("--profile", action="store_true", help="with --replay: cProfile's top functions")
    parser.add_argument("--out", type=Path, help="with --replay: write each week's changed cell ids (JSON)")
    args = parser.parse_args()
    if args.replay:
        replay(args.replay, args.profile, args.out)
        return
    weeks = [date.fromisoformat(week) for week in args.weeks.split(",")] if args.weeks else None
    build(weeks, args.dump)


if __name__ == "__main__":
    main()
