"""Feature extraction and the in-house baselines of a prediction task, timed on a warehouse already built
(LAKEHOUSE_* variables point at it): the cohort query, the whole `ai extract` (split, k-anonymity,
pseudonyms, encrypted files), then each baseline model's fit and prediction, and the evaluation. Prints the
figures as JSON (wall seconds, rows, rows per second, peak resident memory of this process).

    .venv/bin/python benchmarks/ai_task.py --task tasks/ed_referral_after_act.yaml --project bench
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

from ingest import settings
from ingest.ai.baseline import MODELS, fit_predict
from ingest.ai.evaluate import evaluate_predictions
from ingest.ai.extract import handout_key, load_reference, make_extract, read_handout
from ingest.ai.features import build_cohort
from ingest.ai.task import load_task
from ingest.lake.keys import open_keystore
from ingest.lake.storage import open_store
from ingest.publish.export import open_warehouse


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--task", type=Path, required=True)
    parser.add_argument("--project", default="bench")
    args = parser.parse_args()
    task = load_task(args.task)
    keystore, store = open_keystore(), open_store(settings.lake_url())
    con = open_warehouse(Path(os.environ["LAKEHOUSE_WAREHOUSE"]))
    con.execute("use warehouse")
    figures: dict[str, object] = {"machine": f"{platform.node()} {os.cpu_count()} CPUs", "task": task.task_id}
    started = time.perf_counter()
    cohort = build_cohort(con, task)
    seconds = time.perf_counter() - started
    figures["cohort_query"] = {
        "seconds": round(seconds, 2),
        "rows": cohort.num_rows,
        "peak_mb": round(_peak_mb()),
    }
    started = time.perf_counter()
    out = settings.home() / "ai-bench"
    extract = make_extract(con, task, args.task.read_bytes(), args.project, keystore, store, out)
    figures["extract"] = {
        "seconds": round(time.perf_counter() - started, 2),
        "development_rows": extract.development_rows,
        "test_rows": extract.test_rows,
        "peak_mb": round(_peak_mb()),
    }
    key = handout_key(keystore, args.project)
    development, test = read_handout(extract.development_path, key), read_handout(extract.test_path, key)
    reference = load_reference(store, keystore, args.project, task.task_id)
    order = {r: i for i, r in enumerate(test["row_id"].to_pylist())}
    position = [order[r] for r in reference["row_id"].to_pylist()]
    y = reference["label"].to_numpy().astype(int)
    for spec in MODELS:
        started = time.perf_counter()
        p = fit_predict(spec, task, development, test)[position]
        fitted = time.perf_counter() - started
        started = time.perf_counter()
        evaluation = evaluate_predictions(y, p, reference, task, spec.name)
        figures[spec.name] = {
            "fit_predict_seconds": round(fitted, 2),
            "train_rows_per_second": round(development.num_rows / fitted),
            "evaluate_seconds": round(time.perf_counter() - started, 2),
            "auroc": round(evaluation.unrounded["auroc"], 3),
            "peak_mb": round(_peak_mb()),
        }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
