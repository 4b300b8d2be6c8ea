"""The in-house reference models, trained inside on the same development set the project received and
evaluated through the same path, so that every report shows where an outside model stands.

- `logistic`: L2-regularised logistic regression (scikit-learn, C = 1), one-hot categories, numeric
  features imputed with the median plus a missing-value indicator, standardised;
- `gradient_boosting`: HistGradientBoostingClassifier with native categorical features and missing values;
- `gradient_boosting_no_vitals`: the same without the vital signs, to show what they are worth.
Deterministic (fixed random_state); no budget is spent (the models never leave the perimeter).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from ingest.ai.evaluate import Evaluation, baseline_path, evaluate_predictions, released
from ingest.ai.extract import LABEL_COLUMN, handout_key, read_handout, reference_for
from ingest.ai.features import FEATURES, feature_columns
from ingest.ai.task import PredictionTask
from ingest.lake import audit
from ingest.lake.keys import KeyStore
from ingest.lake.storage import ObjectStore

__all__ = ["MODELS", "BaselineResult", "fit_predict", "run_baselines"]

_VITAL_COLUMNS = {c for c, _ in FEATURES["vital_signs"].columns}


def _logistic(categorical: list[str], numeric: list[str]) -> Pipeline:
    encode = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=5), categorical),
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()),
                numeric,
            ),
        ]
    )
    return make_pipeline(encode, LogisticRegression(C=1.0, max_iter=2000))


def _boosting(categorical: list[str], numeric: list[str]) -> Pipeline:
    encode = ColumnTransformer(
        [
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
                ),
                categorical,
            ),
            ("num", "passthrough", numeric),
        ]
    )
    model = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=300,
        categorical_features=list(range(len(categorical))),
        early_stopping=True,
        validation_fraction=0.15,
        random_state=0,
    )
    return make_pipeline(encode, model)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    build: Callable[[list[str], list[str]], Pipeline]
    without: frozenset[str] = frozenset()


MODELS = (
    ModelSpec("logistic", "Logistic regression (L2)", _logistic),
    ModelSpec("gradient_boosting", "Gradient boosting", _boosting),
    ModelSpec(
        "gradient_boosting_no_vitals",
        "Gradient boosting without vital signs",
        _boosting,
        frozenset(_VITAL_COLUMNS),
    ),
)


def _frame(table: pa.Table, columns: list[tuple[str, str]]) -> pd.DataFrame:
    frame = table.select([c for c, _ in columns]).to_pandas()
    for name, kind in columns:
        frame[name] = frame[name].astype(float) if kind == "numeric" else frame[name].astype(object)
    return frame


def fit_predict(spec: ModelSpec, task: PredictionTask, development: pa.Table, test: pa.Table) -> np.ndarray:
    columns = [(c, k) for c, k in feature_columns(task) if c not in spec.without]
    categorical = [c for c, k in columns if k == "categorical"]
    numeric = [c for c, k in columns if k == "numeric"]
    model = spec.build(categorical, numeric)
    y = development[LABEL_COLUMN].to_numpy().astype(int)
    model.fit(_frame(development, columns), y)
    return model.predict_proba(_frame(test, columns))[:, 1]


@dataclass
class BaselineResult:
    evaluations: list[Evaluation]
    titles: dict[str, str]


def run_baselines(
    store: ObjectStore,
    keystore: KeyStore,
    task: PredictionTask,
    project_id: str,
    development_path: str,
    test_path: str,
) -> BaselineResult:
    """Train every reference model on the development file, evaluate on the test reference, keep the
    rounded results in the lake for every later report of the project."""
    key = handout_key(keystore, project_id)
    development = read_handout(development_path, key)
    test = read_handout(test_path, key)
    reference = reference_for(store, keystore, project_id, task)
    position = pc.index_in(reference["row_id"], value_set=test["row_id"].combine_chunks()).to_numpy()
    y = reference["label"].to_numpy().astype(int)
    evaluations = []
    for spec in MODELS:
        p = fit_predict(spec, task, development, test)[position]
        evaluations.append(evaluate_predictions(y, p, reference, task, spec.name))
    document: dict[str, Any] = {
        "task_id": task.task_id,
        "models": [{"title": s.title, **e.public()} for s, e in zip(MODELS, evaluations, strict=True)],
    }
    store.put(baseline_path(project_id, task.task_id), json.dumps(document, indent=1).encode())
    audit.record(
        store,
        keystore,
        "ai_baseline",
        {
            "project_id": project_id,
            "task_id": task.task_id,
            "task_version": task.version,
            "task_sha256": task.sha256,
            "models": [s.name for s in MODELS],
            "development_rows": development.num_rows,
            "rows": test.num_rows,
            "released": {e.label: released(e) for e in evaluations},
        },
    )
    return BaselineResult(evaluations, {s.name: s.title for s in MODELS})
