"""Feature extraction and the in-house baselines of a prediction task, timed on a warehouse already built
(LAKEHOUSE_* variables point at it): the cohort query, the whole `ai extract` (split, k-anonymity,
pseudonyms, encrypted files), then each baseline model's fit and prediction, and its evaluation. Prints the
figures as JSON (wall and CPU seconds, rows, peak resident memory of this process).

    .venv/bin/python benchmarks/ai_task.py --task tasks/ed_referral_after_act.yaml --project bench

`--reuse-extract` skips the cohort query and the extract and times the models on the files an earlier
`ai extract` of the project wrote under $LAKEHOUSE_HOME/ai; `--model NAME` (repeatable) times only those
models: one process per model puts the models side by side on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import pyarrow.compute as pc

from ingest import settings
from ingest.ai.baseline import MODELS, fit_predict
from ingest.ai.evaluate import evaluate_predictions
from ingest.ai.extract import handout_key, load_reference, make_extract, read_handout
from ingest.ai.features import build_cohort
from ingest.ai.task import load_task, with_periods
from ingest.lake.keys import open_keystore
from ingest.lake.storage import open_store
from ingest.publish.export import open_warehouse


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--task", type=Path, required=True)
    parser.add_argument("--project", default="bench")
    parser.add_argument("--development", help="FIRST:LAST, as `ai extract --development`")
    parser.add_argument("--test", help="FIRST:LAST, as `ai extract --test`")
    parser.add_argument("--reuse-extract", action="store_true")
    parser.add_argument("--model", action="append", choices=[m.name for m in MODELS])
    args = parser.parse_args()
    task = with_periods(load_task(args.task), args.development, args.test)
    keystore, store = open_keystore(), open_store(settings.lake_url())
    figures: dict[str, object] = {"machine": f"{platform.node()} {os.cpu_count()} CPUs", "task": task.task_id}
    folder = settings.home() / "ai" / args.project / task.task_id
    if not args.reuse_extract:
        con = open_warehouse(Path(os.environ["LAKEHOUSE_WAREHOUSE"]))
        con.execute("use warehouse")
        started, cpu = time.perf_counter(), _cpu()
        cohort = build_cohort(con, task)
        figures["cohort_query"] = {
            "seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": round(_cpu() - cpu, 2),
            "rows": cohort.num_rows,
            "peak_mb": round(_peak_mb()),
        }
        started, cpu = time.perf_counter(), _cpu()
        extract = make_extract(
            con, task, args.task.read_bytes(), args.project, keystore, store, settings.home() / "ai"
        )
        figures["extract"] = {
            "seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": round(_cpu() - cpu, 2),
            "development_rows": extract.development_rows,
            "test_rows": extract.test_rows,
            "peak_mb": round(_peak_mb()),
        }
    key = handout_key(keystore, args.project)
    development = read_handout(folder / "development.parquet", key)
    test = read_handout(folder / "test.parquet", key)
    reference = load_reference(store, keystore, args.project, task.task_id)
    position = pc.index_in(reference["row_id"], value_set=test["row_id"].combine_chunks()).to_numpy()
    y = reference["label"].to_numpy().astype(int)
    for spec in MODELS:
        if args.model and spec.name not in args.model:
            continue
        started, cpu = time.perf_counter(), _cpu()
        p = fit_predict(spec, task, development, test)[position]
        fitted, fitted_cpu = time.perf_counter() - started, _cpu() - cpu
        started, cpu = time.perf_counter(), _cpu()
        evaluation = evaluate_predictions(y, p, reference, task, spec.name)
        figures[spec.name] = {
            "training_rows": development.num_rows,
            "fit_predict_seconds": round(fitted, 2),
            "fit_predict_cpu_seconds": round(fitted_cpu, 2),
            "evaluate_seconds": round(time.perf_counter() - started, 2),
            "evaluate_cpu_seconds": round(_cpu() - cpu, 2),
            "auroc": round(evaluation.unrounded["auroc"], 4),
            "auroc_reported": evaluation.overall["auroc"],
            "peak_mb": round(_peak_mb()),
        }
        print(json.dumps({spec.name: figures[spec.name]}), flush=True)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
