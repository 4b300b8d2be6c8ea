"""The evaluation path without a warehouse: a synthetic test reference stored in the lake as
`lakehouse ai extract` stores it. Submissions must cover the test set exactly; subgroups below k are not
reported; the budget is counted in the lake, put-if-absent; and the label oracle attack of Whitehill
(2016) no longer learns labels."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from ingest.ai import metrics
from ingest.ai.evaluate import (
    BudgetExhausted,
    SubmissionRefused,
    _claim_slot,
    budget_used,
    evaluate_predictions,
    evaluate_submission,
    read_submission,
)
from ingest.ai.report import write_report
from ingest.ai.task import load_task
from ingest.exceptions import LakehouseError
from ingest.lake import audit
from ingest.lake.keys import LocalKeyStore
from ingest.lake.storage import ObjectStore
from tests.ai_fixtures import informative_predictions, shipped_task, stored_reference, submission

PROJECT = "startup-a"


@pytest.fixture
def task():
    return shipped_task(budget=5, bootstrap=50)


def _evaluate(store, keystore, task, reference, p, source="predictions.csv"):
    return evaluate_submission(store, keystore, task, PROJECT, submission(reference, p), source=source)


# ------------------------------------------------------------------------------------------ submissions


@pytest.mark.parametrize(
    ("damage", "field"),
    [
        (lambda t: t.slice(1), "row_id"),  # a row missing
        (lambda t: pa.concat_tables([t, t.slice(0, 1)]), "row_id"),  # a duplicate
        (lambda t: t.set_column(1, "probability", pa.array([1.5] + [0.1] * (t.num_rows - 1))), "probability"),
        (
            lambda t: t.set_column(1, "probability", pa.array([float("nan")] + [0.1] * (t.num_rows - 1))),
            "probability",
        ),
        (lambda t: t.set_column(0, "row_id", pa.array(["f" * 32, *t["row_id"].to_pylist()[1:]])), "row_id"),
    ],
)
def test_a_submission_must_cover_the_test_set_exactly(
    local_store: ObjectStore, keystore: LocalKeyStore, task, damage, field: str
) -> None:
    reference = stored_reference(local_store, keystore, task, PROJECT)
    bad = damage(submission(reference, informative_predictions(reference)))
    with pytest.raises(SubmissionRefused) as caught:
        evaluate_submission(local_store, keystore, task, PROJECT, bad, source="team/predictions.csv")
    assert "team/predictions.csv" in str(caught.value) and f"field `{field}`" in str(caught.value)
    assert budget_used(local_store, PROJECT, task.task_id) == 0  # nothing computed, nothing spent
    assert audit.entries(local_store)[-1].outcome == "refused"


def test_a_csv_without_a_probability_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("row_id,score\nab,0.1\n", encoding="utf-8")
    with pytest.raises(SubmissionRefused, match=r"p.csv`: field `probability` is missing"):
        read_submission(path)


# ---------------------------------------------------------------------------------------------- results


def test_subgroups_below_k_outcomes_are_not_reported(
    local_store: ObjectStore, keystore, task, tmp_path
) -> None:
    reference = stored_reference(local_store, keystore, task, PROJECT)
    result = _evaluate(local_store, keystore, task, reference, informative_predictions(reference))
    region = {g["value"]: g for g in result.subgroups["region"]}
    assert region["93"] == {"value": "93", "reported": False}  # 5 outcomes: no metric, no count
    assert region["28"]["reported"] and set(metrics.METRICS) <= set(region["28"])
    page = write_report(
        tmp_path / "report",
        task,
        PROJECT,
        _summary(),
        result,
        [],
        budget_used=budget_used(local_store, PROJECT, task.task_id),
    )
    document = json.loads((page.parent / "report.json").read_text(encoding="utf-8"))
    small = [g for g in document["models"][0]["subgroups"]["region"] if g["value"] == "93"]
    assert small == [{"value": "93", "reported": False}]
    assert "not reported (fewer than 11 outcomes or non-outcomes)" in page.read_text(encoding="utf-8")


def test_reported_metrics_carry_no_digit_finer_than_their_interval(local_store, keystore, task) -> None:
    reference = stored_reference(local_store, keystore, task, PROJECT)
    result = _evaluate(local_store, keystore, task, reference, informative_predictions(reference))
    for name, m in result.overall.items():
        assert m["ci_low"] <= m["value"] <= m["ci_high"], name
        assert round(m["value"], m["decimals"]) == m["value"]
        assert m["decimals"] <= max(1, int(np.ceil(-np.log10(max(m["ci_high"] - m["ci_low"], 1e-3)))))
    assert result.overall["auroc"]["value"] != result.unrounded["auroc"]


# ----------------------------------------------------------------------------------------------- budget


@pytest.mark.s3
def test_the_budget_is_counted_in_the_lake_and_cannot_be_overspent_concurrently(
    store: ObjectStore, task
) -> None:
    one = shipped_task(budget=1)
    won, lost = [], []

    def claim() -> None:
        try:
            won.append(_claim_slot(store, one, PROJECT, "0" * 64))
        except BudgetExhausted:
            lost.append(1)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert won == [1] and len(lost) == 3
    assert budget_used(store, PROJECT, one.task_id) == 1


def test_an_edited_copy_of_the_task_file_lifts_no_bound(local_store, keystore, tmp_path: Path) -> None:
    """Budget, k, subgroups and bootstrap come from the task file handed to the evaluation: a copy with
    budget 1000 and k 2 gave slot 2 "of 1000" and 13 of 14 subgroups (4 under k 11). Only the file the
    test set was extracted with is accepted, and nothing is spent."""
    task = shipped_task()
    reference = stored_reference(local_store, keystore, task, PROJECT)
    text = Path(task.source).read_text(encoding="utf-8")
    assert "budget: 10\n" in text and "\nk: 11\n" in text
    edited = tmp_path / "task.yaml"
    edited.write_text(text.replace("budget: 10\n", "budget: 1000\n").replace("\nk: 11\n", "\nk: 2\n"))
    with pytest.raises(LakehouseError, match="is not the one the test set"):
        _evaluate(local_store, keystore, load_task(edited), reference, informative_predictions(reference))
    assert budget_used(local_store, PROJECT, task.task_id) == 0
    refused = [e for e in audit.entries(local_store) if e.action == "ai_evaluate"]
    assert [(e.outcome, e.data["reason"]) for e in refused] == [("refused", "task_changed")]
    # The file itself is still accepted.
    assert _evaluate(local_store, keystore, task, reference, informative_predictions(reference)).slot == 1


def test_an_exhausted_budget_refuses_even_a_new_model(local_store, keystore, task) -> None:
    reference = stored_reference(local_store, keystore, task, PROJECT)
    for seed in range(task.budget):
        _evaluate(local_store, keystore, task, reference, informative_predictions(reference, seed=seed))
    with pytest.raises(BudgetExhausted, match="used its 5 evaluations"):
        _evaluate(local_store, keystore, task, reference, informative_predictions(reference, seed=99))
    assert budget_used(local_store, PROJECT, task.task_id) == 5
    last = audit.entries(local_store)[-1]
    assert (last.outcome, last.data["reason"]) == ("refused", "budget_exhausted")


# ---------------------------------------------------------------------------------- the oracle attack


def _single_row_probe(oracle, base: np.ndarray, targets: np.ndarray) -> dict[int, int | None]:
    """Whitehill (2016): submit the base with one row at the top, then at the bottom; the AUC is higher
    with the row at the top exactly when it is an outcome."""
    guesses: dict[int, int | None] = {}
    for i in targets:
        top, bottom = base.copy(), base.copy()
        top[i], bottom[i] = 1.0, 0.0
        high, low = oracle(top), oracle(bottom)
        if high is None or low is None or high == low:
            guesses[int(i)] = None  # refused, or nothing visible
        else:
            guesses[int(i)] = int(high > low)
    return guesses


def _learned(guesses: dict[int, int | None], y: np.ndarray) -> int:
    """Labels the attacker got right from the oracle (a guess it could not make counts for nothing)."""
    return sum(1 for i, g in guesses.items() if g is not None and g == y[i])


def test_the_label_oracle_attack_learns_nothing_through_the_evaluation(local_store, keystore, task) -> None:
    reference = stored_reference(local_store, keystore, task, PROJECT)
    y = reference["label"].to_numpy()
    rng = np.random.default_rng(5)
    base = rng.uniform(0.0, 0.9, len(y))
    targets = rng.choice(len(y), 30, replace=False)

    # Against an exact oracle (what a naive evaluation service returns), every probed label leaks.
    exact = _single_row_probe(lambda p: metrics.auroc(y, p), base, targets)
    assert _learned(exact, y) == len(targets)

    # Rounding alone (unlimited budget) hides single-row moves of the AUROC (at most 1/P), not a tuned
    # attacker's: why the other bounds exist.
    no_subgroups = shipped_task(bootstrap=50, subgroups=("sex",))
    rounded = _single_row_probe(
        lambda p: evaluate_predictions(y, p, reference, no_subgroups, "probe").overall["auroc"]["value"],
        base,
        targets,
    )
    assert _learned(rounded, y) < len(targets) // 2

    # Through the real path: the base is evaluated, each probe is refused as a near-duplicate (and spends
    # a slot), then the budget is gone. Not one label is learned.
    def protected(p: np.ndarray) -> float | None:
        try:
            return _evaluate(local_store, keystore, task, reference, p).overall["auroc"]["value"]
        except (SubmissionRefused, BudgetExhausted):
            return None

    assert _learned(_single_row_probe(protected, base, targets), y) == 0
    assert budget_used(local_store, PROJECT, task.task_id) == task.budget
    reasons = [e.data.get("reason") for e in audit.entries(local_store) if e.action == "ai_evaluate"]
    # The first probe is evaluated (it is the first submission), every later one is a near-duplicate of it.
    assert reasons.count("near_duplicate") == task.budget - 1
    assert reasons.count("budget_exhausted") == 2 * len(targets) - task.budget


def _summary() -> dict:
    part = {
        "rows": 1000,
        "patients": 900,
        "outcomes": 100,
        "dates": {"first": "2024-01-01", "last": "2024-01-31"},
        "missing": {},
        "suppressed_rows": 0,
    }
    return {"task_sha256": "0" * 64, "development": part, "test": part}


# ---------------------------------------------------------------------------------------- audit trail


def test_evaluations_are_audited_as_their_own_action_with_what_was_released(
    local_store: ObjectStore, keystore, task, tmp_path: Path
) -> None:
    reference = stored_reference(local_store, keystore, task, PROJECT)
    # The fixture stored a test set as an extract would, without its extract entry: verify names it.
    assert any(
        "test_reference.parquet`: a test set with no ai_extract entry" in p
        for p in audit.verify(local_store, keystore).problems
    )
    result = _evaluate(local_store, keystore, task, reference, informative_predictions(reference))
    entry = audit.entries(local_store)[-1]
    assert (entry.action, entry.outcome) == ("ai_evaluate", "success")
    assert (entry.data["project_id"], entry.data["task_id"]) == (PROJECT, task.task_id)
    assert (entry.data["budget_used"], entry.data["budget_left"]) == (1, task.budget - 1)
    assert len(entry.data["submission_sha256"]) == 64 and entry.data["task_sha256"] == task.sha256
    auroc = result.overall["auroc"]
    assert entry.data["metrics"]["auroc"] == [auroc["value"], auroc["ci_low"], auroc["ci_high"]]
    assert entry.data["subgroups_withheld"] >= 1  # region 93
    # A refusal says how much budget is left too.
    with pytest.raises(SubmissionRefused):
        bad = submission(reference, informative_predictions(reference)).slice(1)  # a row missing
        evaluate_submission(local_store, keystore, task, PROJECT, bad, source="p.csv")
    refused = audit.entries(local_store)[-1]
    assert (refused.action, refused.outcome, refused.data["reason"]) == (
        "ai_evaluate",
        "refused",
        "invalid_submission",
    )
    assert refused.data["budget_left"] == task.budget - 1
    # A slot spent with no entry (the entry removed, or the evaluation killed before it): verify says so.
    _claim_slot(local_store, task, PROJECT, "0" * 64)
    problems = audit.verify(local_store, keystore).problems
    slot_two = "evaluations/000002.json`: an evaluation slot with no ai_evaluate entry"
    assert any(slot_two in p for p in problems)
    assert not any("evaluations/000001.json" in p for p in problems)


# ------------------------------------------------------------------------------------------------ report


def test_the_report_sections_are_generated_from_the_data(
    local_store: ObjectStore, keystore, task, tmp_path: Path
) -> None:
    """TRIPOD+AI 5a, 9 and 12 say what this extract, evaluation and these baselines were, not a fixed text."""
    reference = stored_reference(local_store, keystore, task, PROJECT)
    result = _evaluate(local_store, keystore, task, reference, informative_predictions(reference))
    summary = _summary()
    summary["development"] = {**summary["development"], "outcomes": 330, "regions": 4}
    summary["test"] = {**summary["test"], "regions": 3}
    alone = write_report(tmp_path / "a", task, PROJECT, summary, result, [], budget_used=1)
    page = alone.read_text(encoding="utf-8")
    columns = 15  # the shipped task's feature columns (5 of them vital signs)
    assert f"Development: 330 outcomes for {columns} candidate predictor columns (22 events per" in page
    outcomes = int(reference["label"].to_numpy().sum())
    assert f"Test: {outcomes} outcomes and {reference.num_rows - outcomes} non-outcomes" in page
    assert "4 régions in the development set, 3 in the test set" in page
    assert "581476, 9202" in page
    assert f"every one of the {reference.num_rows} test rows (evaluation 1 of {task.budget})" in page
    assert f"with {task.bootstrap} bootstrap resamples" in page
    assert "No in-house baseline was run" in page and "histogram gradient boosting" not in page
    baseline = {"title": "A baseline named here", **result.public()}
    page = write_report(tmp_path / "b", task, PROJECT, summary, None, [baseline], budget_used=1).read_text(
        encoding="utf-8"
    )
    assert "trained on the same development file: A baseline named here." in page
    assert "The team received" not in page  # no submission in a baseline-only report


@pytest.mark.parametrize("command", ["extract", "key", "baseline", "evaluate", "budget"])
def test_a_malformed_project_id_is_a_one_line_usage_error(tmp_path: Path, command: str) -> None:
    """`ai extract --project P1` ended in a ValueError traceback from the key store."""
    from click.testing import CliRunner

    from ingest.cli import main
    from tests.ai_fixtures import TASK_FILE

    predictions = tmp_path / "p.csv"
    predictions.write_text("row_id,probability\n")
    args = ["ai", command, "--project", "P1"]
    args += [] if command == "key" else ["--task", str(TASK_FILE)]
    args += ["--predictions", str(predictions)] if command == "evaluate" else []
    env = {"LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE_KEYSTORE": str(tmp_path / "ks.json")}
    run = CliRunner().invoke(main, args, env={**env, "LAKEHOUSE_LAKE": str(tmp_path / "lake")})
    assert run.exit_code == 2, run.output
    assert "Invalid value for '--project'" in run.output and "Traceback" not in run.output
    assert not isinstance(run.exception, ValueError)
