"""The extract's split and k-anonymity on a hand-made cohort (the end-to-end test runs them on the CDM)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from ingest.ai.extract import split_by_time_and_patient, suppress_small_classes
from tests.ai_fixtures import shipped_task


def test_classes_count_distinct_patients_not_rows() -> None:
    # Class a: 20 rows of 5 patients (too few patients); class b: 11 patients once each (kept).
    table = pa.table(
        {
            "age_class": ["a"] * 20 + ["b"] * 11,
            "sex": ["F"] * 31,
            "region": ["28"] * 31,
            "lake_pseudonym": [f"p{i % 5}" for i in range(20)] + [f"q{i}" for i in range(11)],
        }
    )
    kept, dropped = suppress_small_classes(table, ("age_class", "sex", "region"), 11)
    assert dropped == 20
    assert set(kept["age_class"].to_pylist()) == {"b"}


def test_the_split_keeps_each_patient_on_one_side_and_the_test_period_after() -> None:
    task = shipped_task()
    rng = np.random.default_rng(0)
    n = 6000
    start = datetime(2023, 1, 1)
    days = rng.integers(0, 547, n)  # 2023-01-01 to 2024-06-30
    cohort = pa.table(
        {
            "lake_pseudonym": [f"{i:032x}" for i in rng.integers(0, 1500, n)],
            "index_datetime": pa.array(
                [start + timedelta(days=int(d), hours=10) for d in days], pa.timestamp("us")
            ),
        }
    )
    development, test = split_by_time_and_patient(cohort, task, b"s" * 32)
    dev_people, test_people = (
        set(development["lake_pseudonym"].to_pylist()),
        set(test["lake_pseudonym"].to_pylist()),
    )
    assert dev_people and test_people and not dev_people & test_people
    assert max(d.date() for d in development["index_datetime"].to_pylist()) <= task.development_end
    assert min(d.date() for d in test["index_datetime"].to_pylist()) >= task.test_start
    share = len(test_people) / len(dev_people | test_people)
    assert abs(share - task.test_patient_share) < 0.05
    # Another key draws other patients (the draw is the project's and the task's).
    _, other = split_by_time_and_patient(cohort, task, b"t" * 32)
    assert set(other["lake_pseudonym"].to_pylist()) != test_people
