"""One more daily load on a work folder kept by `lakehouse benchmark --keep`, with the current checkout's
code: generate one day (daily files, all associations), ingest it, `dbt build` (incremental), print the
figures as JSON. Used to measure a change of the daily build on a warehouse already built at scale,
without rebuilding it.

    .venv/bin/python -m benchmarks.daily_load --workdir /tmp/bench1 --day 2016-01-02 [--associations 64] \
        [--scale 1.0]

`--associations` and `--scale` must be the kept run's: the day is generated with them.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from tools.benchmark.national import Bench, BenchmarkConfig


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--day", type=date.fromisoformat, required=True, help="a day not landed yet")
    parser.add_argument("--associations", type=int, default=64)
    parser.add_argument("--scale", type=float, default=1.0, help="volume, as the kept run's --scale")
    parser.add_argument(
        "--dbt-folder",
        type=Path,
        help="dbt's target and log folders [default: WORKDIR/dbt]: one per code version when versions "
        "alternate on one work folder, so that each keeps its partial parse",
    )
    args = parser.parse_args()
    bench = Bench(
        BenchmarkConfig(workdir=args.workdir, associations=args.associations, scale=args.scale, keep=True)
    )
    if args.dbt_folder:
        bench.env["DBT_TARGET_PATH"] = str(args.dbt_folder / "target")
        bench.env["DBT_LOG_PATH"] = str(args.dbt_folder / "logs")
        bench.paths["dbt"] = args.dbt_folder  # where the figures read run_results.json
    bench.seal_manifests()  # a work folder landed before seals: once, then only MACs are checked
    folder = args.workdir / "extracts" / f"day-{args.day}"
    bench.generate_files(folder, args.day, args.day, "day")
    print(json.dumps(bench.daily(folder, args.day), indent=2))


if __name__ == "__main__":
    main()
