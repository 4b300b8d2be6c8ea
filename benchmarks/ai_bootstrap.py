"""The evaluation's bootstrap timed on one set of labels and predictions: the metrics module of this tree,
or another file of it (an older version, for a before/after), on the same data and resamples.

    .venv/bin/python benchmarks/ai_task.py --task ... --save-predictions /scratch/preds.npz
    git show <old>:ingest/ai/metrics.py > /tmp/old_metrics.py
    .venv/bin/python benchmarks/ai_bootstrap.py --data /scratch/preds.npz --metrics-file /tmp/old_metrics.py

The .npz holds test labels (`y`) and predictions (`p`): keep it inside the perimeter (a scratch folder).
Prints JSON: rows, resamples, wall seconds, peak resident memory.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np


def _module(path: Path | None) -> ModuleType:
    if path is None:
        from ingest.ai import metrics

        return metrics
    spec = importlib.util.spec_from_file_location("metrics_under_test", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help=".npz with arrays y and p")
    parser.add_argument("--metrics-file", type=Path, help="another metrics.py [default: this tree's]")
    parser.add_argument("--resamples", type=int, default=200)
    args = parser.parse_args()
    data = np.load(args.data)
    y, p = data["y"].astype(int), data["p"].astype(float)
    metrics = _module(args.metrics_file)
    started = time.perf_counter()
    intervals = metrics.bootstrap_intervals(y, p, args.resamples, 12345)
    seconds = time.perf_counter() - started
    figures = {
        "metrics": str(args.metrics_file or "ingest/ai/metrics.py"),
        "rows": len(y),
        "outcomes": int(y.sum()),
        "resamples": args.resamples,
        "seconds": round(seconds, 2),
        "seconds_per_resample": round(seconds / args.resamples, 4),
        "auroc_interval": [round(v, 4) for v in intervals["auroc"]],
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
