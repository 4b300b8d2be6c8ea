"""Shared helpers of the AI-evaluation tests: the shipped task with test-sized settings, and a synthetic
test reference stored in the lake as `lakehouse ai extract` stores it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow as pa

from ingest.ai.extract import store_reference
from ingest.ai.task import PredictionTask, load_task
from ingest.lake.keys import KeyStore
from ingest.lake.storage import ObjectStore
from ingest.records.pseudonymise import hmac_pseudonyms

TASK_FILE = Path(__file__).resolve().parent.parent / "tasks" / "ed_referral_after_act.yaml"


def shipped_task(**changes: object) -> PredictionTask:
    return dataclasses.replace(load_task(TASK_FILE), **changes)


def synthetic_reference(n: int = 1000, prevalence: float = 0.1, seed: int = 0) -> pa.Table:
    """Labels and subgroup columns; region '93' has exactly 5 outcomes (below k = 11)."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < prevalence).astype(np.int8)
    region = np.where(rng.random(n) < 0.5, "28", "32").astype(object)
    small = np.concatenate([np.flatnonzero(labels == 1)[:5], np.flatnonzero(labels == 0)[:40]])
    region[small] = "93"
    ids = hmac_pseudonyms(b"k" * 32, [f"row:{i}" for i in range(n)])
    table = pa.table(
        {
            "row_id": ids,
            "label": pa.array(labels),
            "age_class": pa.array(rng.choice(["15-44", "45-64", "80+"], n)),
            "sex": pa.array(rng.choice(["F", "M"], n)),
            "region": pa.array(region.tolist()),
            "season": pa.array(rng.choice(["winter", "spring"], n)),
            "time_of_day": pa.array(rng.choice(["day", "night"], n)),
        }
    )
    return table.take(pa.compute.sort_indices(table["row_id"]))


def stored_reference(
    store: ObjectStore, keystore: KeyStore, task: PredictionTask, project: str, **kwargs: object
) -> pa.Table:
    reference = synthetic_reference(**kwargs)  # type: ignore[arg-type]
    store_reference(store, keystore, project, task.task_id, reference, task_sha256=task.sha256 or "")
    return reference


def informative_predictions(reference: pa.Table, seed: int = 1, signal: float = 1.5) -> np.ndarray:
    """Probabilities with real signal on the reference's labels (for checks that need a fair model)."""
    rng = np.random.default_rng(seed)
    y = reference["label"].to_numpy()
    score = signal * y + rng.standard_normal(len(y)) - 2.5
    return 1 / (1 + np.exp(-score))


def submission(reference: pa.Table, p: np.ndarray) -> pa.Table:
    return pa.table({"row_id": reference["row_id"], "probability": pa.array(p, pa.float64())})
