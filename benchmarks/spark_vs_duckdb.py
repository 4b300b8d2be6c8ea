"""DuckDB against Spark `local[2]` on the same encrypted lake: the full build of staging and the CDM (the
selection tests/test_spark_build.py compares row for row, with its tests), each engine as `lakehouse
build` runs it (a child process: wall time, CPU and peak resident memory). Spark's JVM is started by
pyspark and never waited for by dbt's process, so its CPU and memory are not in the Spark figures:
compare wall times. Prints the figures as JSON (docs/scale-out.md, benchmarks/README.md).

    .venv/bin/python -m benchmarks.spark_vs_duckdb --workdir /tmp/svd --associations 4 --start 2024-01-01 \
        --end 2024-01-31 [--scale 1.0] [--keep]

A kept work folder is built again without generating or landing anything (`--workdir` of a kept run).
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

from tools.benchmark.national import Bench, BenchmarkConfig, Measured, machine

CDM = [
    "person", "visit_occurrence", "condition_occurrence", "measurement", "drug_exposure", "observation",
    "death", "location", "care_site", "provider",
]  # fmt: skip
SELECT = [
    "--select", *(f"+{table}" for table in CDM), "+concept",
    "--exclude", "int_surveillance_weeks_changed", "path:models/intermediate/surveillance",
    "--indirect-selection", "buildable", "--exclude-resource-type", "unit_test",
]  # fmt: skip


def _figures(measured: Measured) -> dict[str, float]:
    """Wall time, and the CPU and peak memory of the processes the build waited for (not Spark's JVM)."""
    return {
        "seconds": round(measured.seconds, 1),
        "cpu_seconds": round(measured.cpu_seconds, 1),
        "peak_rss_mb": round(measured.peak_rss_mb),
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
    args = parser.parse_args()
    from ingest.lake.keys import init_keystore

    cfg = BenchmarkConfig(workdir=args.workdir, associations=args.associations, scale=args.scale, keep=True)
    bench = Bench(cfg)
    result: dict[str, Any] = {"machine": machine(), "parameters": {k: str(v) for k, v in vars(args).items()}}
    if not bench.paths["lake"].is_dir():
        args.workdir.mkdir(parents=True, exist_ok=True)
        init_keystore(bench.paths["keystore"])
        folder = bench.paths["extracts"] / "history"
        bench.generate_files(folder, args.start, args.end, "month")
        result["ingest"] = bench.ingest(folder)
    bench.env["LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS"] = "2"
    # Full builds on both (every Spark build is one: docs/spark.md).
    result["duckdb"] = _figures(bench.cli("build", "--full-refresh", *SELECT))
    result["spark"] = _figures(bench.cli("build", "--target", "spark", *SELECT))
    result["spark_over_duckdb"] = round(result["spark"]["seconds"] / result["duckdb"]["seconds"], 1)
    print(json.dumps(result, indent=2))
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
