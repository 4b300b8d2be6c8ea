"""The AI team's whole path on a small fixture: synthetic extracts -> ingest -> real `dbt build` of the CDM
-> `lakehouse ai extract` (real encrypted files) -> the team opens them with the key -> `ai baseline` ->
the team's predictions -> `ai evaluate` -> report. Checks the split (time and patient), that no feature
comes from after t = 0, and that no test label is in anything handed out."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from ingest.ai.extract import LABEL_COLUMN, handout_key, load_reference, read_handout, row_ids, task_ids_key
from ingest.ai.task import load_task
from ingest.cli import main
from ingest.exceptions import DecryptionError
from ingest.lake import audit
from ingest.lake.keys import init_keystore, open_keystore
from ingest.lake.storage import open_store
from ingest.landing.land import Ingestor, find_extract_files
from ingest.publish.export import open_warehouse
from ingest.synth import generate_extracts
from tests.ai_fixtures import TASK_FILE

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROJECT = "startup-a"
_INTERVAL = ("value", "ci_low", "ci_high")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("ai")
    keystore_path = root / "keys" / "keystore.json"
    init_keystore(keystore_path)
    keystore = open_keystore(keystore_path)
    generate_extracts(
        root / "extracts",
        date(2023, 11, 1),
        date(2024, 2, 29),
        n_associations=2,
        scale=0.1,
        file_period="month",
    )
    store = open_store(root / "lake")
    Ingestor(store, keystore).run(find_extract_files([root / "extracts"]))
    env = {
        "LAKEHOUSE_HOME": str(root / "home"),
        "LAKEHOUSE_KEYSTORE": str(keystore_path),
        "LAKEHOUSE_LAKE": str(root / "lake"),
        "LAKEHOUSE_WAREHOUSE": str(root / "warehouse.duckdb"),
    }
    command = [str(Path(sys.executable).parent / "dbt"), "build", "--select", "+path:models/omop"]
    command += ["--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(PROJECT_ROOT)]
    command += ["--target-path", str(root / "target"), "--log-path", str(root)]
    dbt = subprocess.run(command, env={**os.environ, **env}, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert dbt.returncode == 0, dbt.stdout[-3000:]
    document = yaml.safe_load(TASK_FILE.read_text(encoding="utf-8"))
    document["split"].update(
        development_start="2023-11-01",
        development_end="2024-01-31",
        test_start="2024-02-01",
        test_end="2024-02-29",
    )
    document["evaluation"] = {"budget": 3, "bootstrap": 50}
    task_file = root / "task.yaml"
    task_file.write_text(yaml.safe_dump(document), encoding="utf-8")
    runner = CliRunner()
    extract = runner.invoke(
        main,
        ["ai", "extract", "--task", str(task_file), "--project", PROJECT, "--out", str(root / "out")],
        env=env,
    )
    assert extract.exit_code == 0, extract.output
    key_run = runner.invoke(main, ["ai", "key", "--project", PROJECT], env=env)
    assert key_run.exit_code == 0, key_run.output
    folder = root / "out" / PROJECT / "ed-referral-after-act"
    key = base64.b64decode(key_run.output.strip())
    return {
        "root": root,
        "env": env,
        "store": store,
        "keystore": keystore,
        "task_file": task_file,
        "task": load_task(task_file),
        "folder": folder,
        "key": key,
        "stdout": extract.output,
        "development": read_handout(folder / "development.parquet", key),
        "test": read_handout(folder / "test.parquet", key),
    }


def _visits_by_row_id(built: dict) -> dict[str, dict]:
    """Inside view: each handed-out row id -> its visit (dates, person), recomputed from the warehouse."""
    con = open_warehouse(Path(built["env"]["LAKEHOUSE_WAREHOUSE"]), Path(built["env"]["LAKEHOUSE_KEYSTORE"]))
    con.execute("use warehouse")
    rows = con.execute(
        "select v.visit_occurrence_id, coalesce(v.visit_end_datetime, v.visit_start_datetime) as t0, "
        "v.visit_start_datetime, p.person_source_value "
        "from cdm.visit_occurrence v join cdm.person p using (person_id)"
    ).fetchall()
    con.close()
    ids = row_ids(task_ids_key(built["keystore"], PROJECT, built["task"].task_id), [r[0] for r in rows])
    return {
        i: {"visit": r[0], "t0": r[1], "start": r[2], "person": r[3]} for i, r in zip(ids, rows, strict=True)
    }


def test_the_split_is_by_time_and_by_patient(built: dict) -> None:
    dev, test, task = built["development"], built["test"], built["task"]
    assert dev.num_rows > 2000 and test.num_rows > 500
    assert not set(dev["person_id"].to_pylist()) & set(test["person_id"].to_pylist())
    visits = _visits_by_row_id(built)
    dev_days = {visits[r]["t0"].date() for r in dev["row_id"].to_pylist()}
    test_days = {visits[r]["t0"].date() for r in test["row_id"].to_pylist()}
    assert task.development_start <= min(dev_days) and max(dev_days) <= task.development_end
    assert task.test_start <= min(test_days) and max(test_days) <= task.test_end
    # Lake pseudonyms behind the project pseudonyms: disjoint too (the project ids are a faithful image).
    dev_people = {visits[r]["person"] for r in dev["row_id"].to_pylist()}
    test_people = {visits[r]["person"] for r in test["row_id"].to_pylist()}
    assert not dev_people & test_people


def test_no_feature_comes_from_after_t0(built: dict) -> None:
    """Vital signs re-measured after the end of the act (after treatment) are not used; prior acts are
    only earlier ones."""
    con = open_warehouse(Path(built["env"]["LAKEHOUSE_WAREHOUSE"]), Path(built["env"]["LAKEHOUSE_KEYSTORE"]))
    con.execute("use warehouse")
    late = con.execute(
        """select m.visit_occurrence_id, m.value_as_number,
               (select first(m2.value_as_number order by m2.measurement_datetime) from cdm.measurement m2
                where m2.visit_occurrence_id = m.visit_occurrence_id
                  and m2.measurement_source_value = 'heart_rate_bpm'
                  and m2.measurement_datetime <= coalesce(v.visit_end_datetime, v.visit_start_datetime)
               ) as before_t0
           from cdm.measurement m join cdm.visit_occurrence v using (visit_occurrence_id)
           where m.measurement_source_value = 'heart_rate_bpm'
             and m.measurement_datetime > coalesce(v.visit_end_datetime, v.visit_start_datetime)"""
    ).fetchall()
    con.close()
    ids_key = task_ids_key(built["keystore"], PROJECT, built["task"].task_id)
    handed = {}
    for table in (built["development"], built["test"]):
        handed.update(zip(table["row_id"].to_pylist(), table["heart_rate_bpm"].to_pylist(), strict=True))
    checked = 0
    for visit, after, before in late:
        (row,) = row_ids(ids_key, [visit])
        if row in handed:
            assert handed[row] == before, (after, before)  # the value measured at or before t = 0, or none
            checked += 1
    assert checked >= 5  # the fixture has acts re-measured after their end
    # Prior acts, recounted here from every visit of the warehouse: only acts that started before.
    visits = _visits_by_row_id(built)
    starts: dict[str, list] = {}
    for v in visits.values():
        starts.setdefault(v["person"], []).append(v["start"])
    later_acts = 0
    for table in (built["development"], built["test"]):
        for row, prior in zip(table["row_id"].to_pylist(), table["prior_acts_365d"].to_pylist(), strict=True):
            v = visits[row]
            own = starts[v["person"]]
            assert prior == sum(1 for s in own if v["start"] - timedelta(days=365) <= s < v["start"])
            later_acts += sum(1 for s in own if s > v["start"])
    assert later_acts > 0  # patients do come back after an act: those acts were not counted


def test_test_labels_are_in_nothing_handed_out(built: dict) -> None:
    test, folder = built["test"], built["folder"]
    assert LABEL_COLUMN in built["development"].column_names
    assert LABEL_COLUMN not in test.column_names and "label" not in test.column_names
    # Every byte the team receives, the test file as decrypted: no label column, no outcome code.
    plain = io.BytesIO()
    pacsv.write_csv(test, plain)
    sink = pa.BufferOutputStream()
    pq.write_table(test, sink)
    handed = [plain.getvalue(), sink.getvalue().to_pybytes(), built["stdout"].encode()]
    handed += [p.read_bytes() for p in folder.iterdir() if p.suffix == ".parquet"]
    for blob in handed:
        for word in (b"URG", b"HOSP", b"discharged_to", b'"label"'):
            assert word not in blob
    # Nor any column that equals the labels (or their complement).
    reference = load_reference(built["store"], built["keystore"], PROJECT, built["task"].task_id)
    assert reference["row_id"] == test["row_id"]
    y = reference["label"].to_numpy().astype(float)
    for name in test.column_names:
        values = test[name].to_pylist()
        for candidate in {str(v) for v in values if v is not None}:
            flag = np.array([str(v) == candidate for v in values], dtype=float)
            assert not (np.array_equal(flag, y) or np.array_equal(flag, 1 - y)), name
    # The dictionary describes the columns, and says nothing about the test labels.
    text = (folder / "dictionary.json").read_text(encoding="utf-8")

    def numbers(node: object) -> list[float]:
        # JSON numbers only: digits inside strings (the key's hex fingerprint) are not counts.
        if isinstance(node, dict):
            return [n for value in node.values() for n in numbers(value)]
        if isinstance(node, list):
            return [n for value in node for n in numbers(value)]
        return [node] if isinstance(node, int | float) and not isinstance(node, bool) else []

    assert int(y.sum()) not in numbers(json.loads(text))
    assert not set(test["row_id"].to_pylist()) & set(re.findall(r"[0-9a-f]{32}", text))


def test_the_files_open_with_the_project_key_only(built: dict) -> None:
    path = built["folder"] / "test.parquet"
    with pytest.raises(DecryptionError):
        read_handout(path, handout_key(built["keystore"], "another-project"))
    with pytest.raises(Exception, match=r"(?i)encrypt|parquet|magic"):
        pq.read_table(path)  # without a key
    # The DuckDB route of docs/ai-evaluation.md.
    con = duckdb.connect()
    con.execute(f"PRAGMA add_parquet_key('team', '{base64.b64encode(built['key']).decode()}')")
    rows = con.execute(
        f"select count(*) from read_parquet('{path}', encryption_config={{footer_key: 'team'}})"
    )
    assert rows.fetchone()[0] == built["test"].num_rows


def test_the_whole_path_baseline_then_an_outside_model(built: dict) -> None:
    env, runner, task_file = built["env"], CliRunner(), str(built["task_file"])
    baseline = runner.invoke(
        main,
        [
            "ai",
            "baseline",
            "--task",
            task_file,
            "--project",
            PROJECT,
            "--extract-dir",
            str(built["root"] / "out"),
        ],
        env=env,
    )
    assert baseline.exit_code == 0, baseline.output
    # Printed with the decimals the interval supports: "0.90 (0.88 to 0.91)", never "0.9 (0.88-0.91)".
    printed = re.findall(r"AUROC (\d\.(\d+)) \(\d\.(\d+) to \d\.(\d+)\)", baseline.output)
    assert len(printed) == 3 and all(len(a) == len(b) == len(c) for _, a, b, c in printed), baseline.output
    models = json.loads(built["store"].get(f"_ai/{PROJECT}/ed-referral-after-act/baseline.json"))["models"]
    auroc = {m["label"]: tuple(m["overall"]["auroc"][k] for k in _INTERVAL) for m in models}
    assert 0.7 <= auroc["gradient_boosting"][0] <= 0.97
    # Vital signs carry signal: without them the model is never better at the precision reported. Both
    # intervals, rounded to one decimal on this small test set, can be equal (0.8 (0.8 to 0.9) twice, as
    # the row order of the files moves the fit a little); the two models must still differ, which they
    # would not if the vital signs reached neither or both (the same pipeline, the same random state).
    assert auroc["gradient_boosting_no_vitals"] <= auroc["gradient_boosting"]
    by_label = {m["label"]: m for m in models}
    results = ("overall", "subgroups", "calibration_curve")
    assert [by_label["gradient_boosting"][r] for r in results] != [
        by_label["gradient_boosting_no_vitals"][r] for r in results
    ]
    # The outside team: decrypt, fit something simple on the development set, predict every test row.
    dev, test = built["development"].to_pandas(), built["test"].to_pandas()
    rate = dev.groupby(["diagnosis_group", "age_class"])[LABEL_COLUMN].mean().rename("probability")
    p = test.join(rate, on=["diagnosis_group", "age_class"])["probability"].fillna(dev[LABEL_COLUMN].mean())
    predictions = built["root"] / "predictions.csv"
    test.assign(probability=p)[["row_id", "probability"]].to_csv(predictions, index=False)
    evaluation = runner.invoke(
        main,
        [
            "ai",
            "evaluate",
            "--task",
            task_file,
            "--project",
            PROJECT,
            "--predictions",
            str(predictions),
            "--out",
            str(built["root"] / "report"),
        ],
        env=env,
    )
    assert evaluation.exit_code == 0, evaluation.output
    assert "Evaluation 1 of 3" in evaluation.output
    report = built["root"] / "report"
    page = (report / "index.html").read_text(encoding="utf-8")
    for section in (
        "TRIPOD+AI 23a",
        "23b",
        "Source of data",
        "Participants and eligibility",
        "Outcome",
        "missing data",
        "Sample size",
    ):
        assert section in page
    assert "Where the submitted model stands" in page and "Gradient boosting without vital signs" in page
    assert (report / "figures" / "calibration.png").stat().st_size > 5000
    document = json.loads((report / "report.json").read_text(encoding="utf-8"))
    assert document["models"][0]["title"] == "Submitted model" and len(document["models"]) == 4
    # What goes out holds no test row id (no record-level output).
    ids = set(built["test"]["row_id"].to_pylist())
    for path in report.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json"):
            assert not ids & set(re.findall(r"[0-9a-f]{32}", path.read_text(encoding="utf-8")))
    # The audit trail has an action of its own for each step, with what the DPO needs to know.
    entries = {e.action: e for e in audit.entries(built["store"])}
    assert {"ai_extract", "ai_key_release", "ai_baseline", "ai_evaluate"} <= set(entries)
    evaluated = entries["ai_evaluate"].data
    assert evaluated["project_id"] == PROJECT and evaluated["task_id"] == "ed-referral-after-act"
    assert evaluated["task_sha256"] == hashlib.sha256(built["task_file"].read_bytes()).hexdigest()
    assert (evaluated["budget_used"], evaluated["budget_left"], evaluated["slot"]) == (1, 2, 1)
    assert evaluated["metrics"]["auroc"] == [document["models"][0]["overall"]["auroc"][k] for k in _INTERVAL]
    assert evaluated["subgroups_reported"] + evaluated["subgroups_withheld"] == sum(
        len(v) for v in document["models"][0]["subgroups"].values()
    )
    listing = runner.invoke(main, ["audit", "log", "--action", "ai_evaluate"], env=env)
    assert listing.exit_code == 0 and "ai_evaluate" in listing.output and "ai_extract" not in listing.output
    assert "metrics.auroc" in listing.output and "budget_left" in listing.output
    assert audit.verify(built["store"], built["keystore"]).ok


def test_the_second_task_labels_from_its_time_at_risk_only(built: dict) -> None:
    """Return within 1-7 days: each label recomputed here from every visit of the warehouse; later acts on
    the day of t = 0 or after day 7 do not count; features are still from before t = 0; an act whose
    window ends after its period's end is left out."""
    document = yaml.safe_load((PROJECT_ROOT / "tasks" / "return_visit_within_7_days.yaml").read_text())
    document["split"].update(
        development_start="2023-11-01",
        development_end="2024-01-31",
        test_start="2024-02-01",
        test_end="2024-02-29",
    )
    task_file = built["root"] / "return_task.yaml"
    task_file.write_text(yaml.safe_dump(document), encoding="utf-8")
    project = "lab-b"
    out = built["root"] / "out-return"
    run = CliRunner().invoke(
        main,
        ["ai", "extract", "--task", str(task_file), "--project", project, "--out", str(out)],
        env=built["env"],
    )
    assert run.exit_code == 0, run.output
    task = load_task(task_file)
    key = handout_key(built["keystore"], project)
    folder = out / project / task.task_id
    dev, test = read_handout(folder / "development.parquet", key), read_handout(folder / "test.parquet", key)
    reference = load_reference(built["store"], built["keystore"], project, task.task_id)
    labels = dict(zip(dev["row_id"].to_pylist(), dev[LABEL_COLUMN].to_pylist(), strict=True))
    labels.update(zip(reference["row_id"].to_pylist(), reference["label"].to_pylist(), strict=True))
    # The inside view, with this project's row ids.
    con = open_warehouse(Path(built["env"]["LAKEHOUSE_WAREHOUSE"]), Path(built["env"]["LAKEHOUSE_KEYSTORE"]))
    con.execute("use warehouse")
    rows = con.execute(
        "select v.visit_occurrence_id, coalesce(v.visit_end_datetime, v.visit_start_datetime), "
        "v.visit_start_datetime, v.visit_start_date, v.person_id from cdm.visit_occurrence v"
    ).fetchall()
    con.close()
    ids = row_ids(task_ids_key(built["keystore"], project, task.task_id), [r[0] for r in rows])
    visits = dict(zip(ids, rows, strict=True))
    days: dict[int, list[date]] = {}
    for r in rows:
        days.setdefault(r[4], []).append(r[3])
    outside_only = 0
    for row, label in labels.items():
        _, t0, _, _, person = visits[row]
        offsets = [(d - t0.date()).days for d in days[person]]
        assert label == any(1 <= o <= 7 for o in offsets), row
        if not label and any(o == 0 or 8 <= o <= 14 for o in offsets if o >= 0):
            outside_only += 1  # a later act, but outside the window: not an outcome
    assert sum(labels.values()) >= 20 and outside_only >= 5
    # Full time at risk inside each period.
    for table, end in ((dev, task.development_end), (test, task.test_end)):
        assert max(visits[r][1].date() for r in table["row_id"].to_pylist()) <= end - timedelta(days=7)
    # Features still from before t = 0: prior acts recounted as for the first task.
    starts: dict[int, list] = {}
    for r in rows:
        starts.setdefault(r[4], []).append(r[2])
    for table in (dev, test):
        for row, prior in zip(table["row_id"].to_pylist(), table["prior_acts_365d"].to_pylist(), strict=True):
            _, _, start, _, person = visits[row]
            assert prior == sum(1 for s in starts[person] if start - timedelta(days=365) <= s < start)


def test_a_second_task_of_the_project_does_not_give_away_the_first_ones_test_labels(built: dict) -> None:
    """The return-visit cohort is the acts that ended at home (not URG/HOSP): were its rows and persons
    under the same ids as the referral task's, a team holding both hand-outs would read a referral test
    label (0) off every test row that also appears in the return-visit files, without any evaluation.
    Ids are scoped to the task."""
    document = yaml.safe_load((PROJECT_ROOT / "tasks" / "return_visit_within_7_days.yaml").read_text())
    document["split"].update(
        development_start="2023-11-01",
        development_end="2024-01-31",
        test_start="2024-02-01",
        test_end="2024-02-29",
    )
    task_file = built["root"] / "return_task_same_project.yaml"
    task_file.write_text(yaml.safe_dump(document), encoding="utf-8")
    out = built["root"] / "out-same-project"
    run = CliRunner().invoke(
        main,
        ["ai", "extract", "--task", str(task_file), "--project", PROJECT, "--out", str(out)],
        env=built["env"],
    )
    assert run.exit_code == 0, run.output
    folder = out / PROJECT / load_task(task_file).task_id
    other = [read_handout(folder / f"{part}.parquet", built["key"]) for part in ("development", "test")]
    # The same acts are in both cohorts (inside view): the overlap the ids must not reveal.
    reference = load_reference(built["store"], built["keystore"], PROJECT, "ed-referral-after-act")
    assert reference.num_rows and other[0].num_rows and other[1].num_rows
    test = built["test"]
    for column in ("row_id", "person_id"):
        theirs = {v for table in other for v in table[column].to_pylist()}
        assert not set(test[column].to_pylist()) & theirs, column
