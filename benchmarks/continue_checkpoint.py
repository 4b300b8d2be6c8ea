"""Continue the last checkpoint of a stopped `lakehouse benchmark --keep` run on its kept work folder: the
phases it measured stay as they are, the others run (the same `Bench` code), and the results file is
rewritten in place. A ten-year national run spends half an hour generating and landing its history; a
failure in a later phase should not cost that again.

    .venv/bin/python -m benchmarks.continue_checkpoint --workdir /tmp/nat10 \\
        --results benchmarks/results/<timestamp>.json [--plain-sample-files 500] [--redo build,queries]

`--redo` measures those phases again after a change of the code (delete the warehouse file first: a full
refresh into an existing one doubles it).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from tools.benchmark.national import Bench, BenchmarkConfig, run_checkpoint, summary_rows, write_result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--results", type=Path, required=True, help="the stopped run's results file")
    parser.add_argument("--plain-sample-files", type=int, default=2_000)
    parser.add_argument(
        "--redo", default="", help="comma-separated phases to measure again (e.g. build,queries)"
    )
    args = parser.parse_args()
    result = json.loads(args.results.read_text(encoding="utf-8"))
    p = result["parameters"]
    cfg = BenchmarkConfig(
        workdir=args.workdir, years=tuple(p["years"]), start=date.fromisoformat(p["start"]),
        associations=p["associations"], scale=p["scale"], seed=p["seed"], repeats=p["repeats"],
        plain_sample_files=args.plain_sample_files, history_files=p["history_files"], keep=True,
        log=lambda phase: print(f"… {phase}", flush=True),
    )  # fmt: skip
    measured = result["checkpoints"][-1]
    for phase in filter(None, args.redo.split(",")):
        measured["phases"].pop(phase, None)
    (cp,) = [c for c in cfg.checkpoints() if c.years == measured["years"]]
    try:
        bench = Bench(cfg)
        bench.seal_manifests()  # a work folder landed before seals: once, then only MACs are checked
        run_checkpoint(bench, cp, measured)
    except BaseException as exc:
        measured["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        result.setdefault("continued_by", []).append(
            " ".join(["benchmarks/continue_checkpoint.py", *sys.argv[1:]])
        )
        write_result(result, args.results)
    for row in summary_rows(measured):
        print(" | ".join(row))


if __name__ == "__main__":
    main()
