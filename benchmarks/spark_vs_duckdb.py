"""DuckDB against Spark `local[2]` on the same encrypted lake: the full build of staging and the CDM (the
selection tests/test_spark_build.py compares row for row, with its tests; `--whole`: the whole project),
each engine as `lakehouse build` runs it (a child process: wall time, CPU and peak resident memory).
Spark's JVM is started by pyspark and never waited for by dbt's process, so `wait4` does not see it: the
child's process tree is also sampled from /proc every second (CPU of every process seen in it, peak of
the tree's summed resident memory) along with the load average. Prints the figures as JSON and writes
them, phase after phase, to `<workdir>/spark_vs_duckdb.json` (docs/scale-out.md, benchmarks/README.md).

    .venv/bin/python -m benchmarks.spark_vs_duckdb --workdir /tmp/svd --associations 4 --start 2024-01-01 \
        --end 2024-01-31 [--scale 1.0] [--keep] [--spark-only] [--models-only] [--whole]

A kept work folder is built again without generating or landing anything (`--workdir` of a kept run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

from tools.benchmark.national import Bench, BenchmarkConfig, BenchmarkError, machine

CDM = [
    "person", "visit_occurrence", "condition_occurrence", "measurement", "drug_exposure", "observation",
    "death", "location", "care_site", "provider",
]  # fmt: skip
SELECT = [
    "--select", *(f"+{table}" for table in CDM), "+concept",
    "--exclude", "int_surveillance_weeks_changed", "path:models/intermediate/surveillance",
    "--indirect-selection", "buildable", "--exclude-resource-type", "unit_test",
]  # fmt: skip
# What the Spark tests' fixture builds (tests/spark_builds.py): everything the CDM and the marts need.
WHOLE = [
    "--select", "+path:models/omop", "+path:models/marts", "--exclude-resource-type", "unit_test",
]  # fmt: skip


_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _proc_table() -> dict[int, tuple[int, str, float, int, int]]:
    """pid -> (parent pid, name, own CPU seconds, resident bytes, start time) of every live process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:  # exited between the listing and the read
            continue
        # The name is in parentheses and may hold spaces: split after its closing one.
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2 :].split()
        cpu = (int(rest[11]) + int(rest[12])) / _TICKS
        table[int(entry.name)] = (int(rest[1]), name, cpu, int(rest[21]) * _PAGE, int(rest[19]))
    return table


class TreeSampler(threading.Thread):
    """Follows every process descended from `root` (kept once seen, even if re-parented when its parent
    exits, as Spark's JVM is): CPU as last seen, the peak of the tree's summed RSS, the load average."""

    def __init__(self, root: int, period: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.root, self.period = root, period
        self.seen: dict[tuple[int, int], tuple[str, float]] = {}  # (pid, start) -> (name, CPU seconds)
        self.peak_rss = 0
        self.loads: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            table = self._sample()
            self.peak_rss = max(self.peak_rss, sum(table[pid][3] for pid, _ in self._live(table)))
            self.loads.append(os.getloadavg()[0])
            self.done.wait(self.period)

    def _live(self, table: dict[int, tuple[int, str, float, int, int]]) -> list[tuple[int, int]]:
        return [key for key in self.seen if key[0] in table and table[key[0]][4] == key[1]]

    def _sample(self) -> dict[int, tuple[int, str, float, int, int]]:
        table = _proc_table()
        tracked = {pid for pid, _ in self._live(table)} | {self.root}
        grew = True
        while grew:
            new = {pid for pid, row in table.items() if row[0] in tracked and pid not in tracked}
            tracked |= new
            grew = bool(new)
        for pid in tracked & table.keys():
            _, name, cpu, _, start = table[pid]
            self.seen[(pid, start)] = (name, cpu)
        return table

    def figures(self) -> dict[str, Any]:
        by_name: dict[str, float] = {}
        for name, cpu in self.seen.values():
            by_name[name] = by_name.get(name, 0.0) + cpu
        return {
            "tree_cpu_seconds": round(sum(by_name.values()), 1),
            "tree_cpu_seconds_by_process": {k: round(v, 1) for k, v in sorted(by_name.items()) if v >= 0.5},
            "tree_peak_rss_mb": round(self.peak_rss / 2**20),
            "load_average_1min": {
                "min": min(self.loads, default=0.0),
                "mean": round(sum(self.loads) / max(1, len(self.loads)), 1),
                "max": max(self.loads, default=0.0),
            },
        }


def run_sampled(bench: Bench, *args: str) -> dict[str, Any]:
    """`lakehouse <args>` as a child process: wall time, the child's own rusage (`wait4`: the processes it
    waited for) and the sampled process tree (Spark's JVM included)."""
    cmd = [sys.executable, "-m", "ingest.cli", *args]
    with bench.paths["log"].open("ab") as fh:
        fh.write(f"$ {' '.join(cmd)}\n".encode())
        fh.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=bench.env, stdout=fh, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        # The JVM outlives dbt's process by its shutdown: follow the tree until it is gone (bounded).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sampler._live(_proc_table()):
            time.sleep(sampler.period)
        sampler.done.set()
        sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        raise BenchmarkError(f"`lakehouse {' '.join(args[:3])} ...` failed; see {bench.paths['log']}")
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        **sampler.figures(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--associations", type=int, default=4)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2024, 1, 31))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (lake and both builds)")
    parser.add_argument("--spark-only", action="store_true", help="skip DuckDB's build (a kept work folder)")
    parser.add_argument(
        "--models-only",
        action="store_true",
        help="build the models without their tests (on Spark each test is a job: docs/scale-out.md)",
    )
    parser.add_argument(
        "--whole",
        action="store_true",
        help="the whole project (staging, the CDM, the marts, the disclosure control), not the CDM selection",
    )
    args = parser.parse_args()
    from ingest.lake.keys import init_keystore

    cfg = BenchmarkConfig(workdir=args.workdir, associations=args.associations, scale=args.scale, keep=True)
    bench = Bench(cfg)
    result: dict[str, Any] = {"machine": machine(), "parameters": {k: str(v) for k, v in vars(args).items()}}
    out = args.workdir / "spark_vs_duckdb.json"

    def record(phase: str, figures: dict[str, Any]) -> None:
        result[phase] = figures
        out.write_text(json.dumps(result, indent=2))  # a run stopped in Spark's build keeps the rest

    if not bench.paths["lake"].is_dir():
        args.workdir.mkdir(parents=True, exist_ok=True)
        init_keystore(bench.paths["keystore"])
        folder = bench.paths["extracts"] / "history"
        generated = bench.generate_files(folder, args.start, args.end, "month")
        record("generate", {"seconds": round(generated.seconds, 1)})
        record("ingest", bench.ingest(folder))
    bench.env["LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS"] = "2"
    # Both end with `--exclude-resource-type unit_test`, an option taking several values.
    select = WHOLE if args.whole else SELECT
    select = [*select, "test"] if args.models_only else select
    record("builds_started", {"utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    # Full builds on both (every Spark build is one: docs/spark.md).
    if not args.spark_only:
        record("duckdb", run_sampled(bench, "build", "--full-refresh", *select))
    record("spark", run_sampled(bench, "build", "--target", "spark", *select))
    if "duckdb" in result:
        result["spark_over_duckdb"] = round(result["spark"]["seconds"] / result["duckdb"]["seconds"], 1)
    print(json.dumps(result, indent=2))
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
