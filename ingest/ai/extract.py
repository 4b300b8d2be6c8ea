"""A task's extract for one project: development set with labels, test set without, encrypted for it.

- The cohort comes from the warehouse (`features.build_cohort`), read-only.
- Split by time **and** patient: each patient is drawn once into the test or the development group
  (keyed hash of the lake pseudonym, share `split.test_patient_share`); the development set holds the
  development group's acts of the development period, the test set the test group's acts of the test
  period, which comes after it. No patient is in both.
- k-anonymity on the task's quasi-identifiers, counting distinct patients per class (as study extracts
  do): rows of a class below k are suppressed, and only their number is reported.
- Identifiers leave as pseudonyms of the project *and task*: with the task key = HMAC(project key,
  label + task id), `person_id` = HMAC(task key, lake pseudonym), `row_id` = HMAC(task key, "row:" +
  visit id). Scoped to the task because cohorts overlap: the return-visit cohort is the acts that did not
  end in a referral, so under shared ids a team holding both hand-outs would read referral test labels
  off the other task's files; and a study extract of the same project id does not link to them either.
  No date leaves: t = 0 is given as season and time of day.
- The two files are Parquet with modular encryption (AES-GCM-256, encrypted footer) under the project's
  hand-out key, HMAC(project key, label): a key the DPO hands to the team (`lakehouse ai key`) that
  opens nothing in the lake and cannot be turned back into the project key.
- The test labels and the subgroup columns stay in the lake (`_ai/<project>/<task>/`), encrypted under a
  key derived the same way with another label, for `lakehouse ai evaluate`.
- Every extract is recorded in the audit trail (counts and names only).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.ai.features import FEATURES, build_cohort, feature_columns
from ingest.ai.task import PredictionTask
from ingest.exceptions import LakehouseError
from ingest.governance.study_extract import k_anonymity_violations, project_pseudonyms
from ingest.lake import audit
from ingest.lake.crypto import decrypt_parquet, encrypt_parquet
from ingest.lake.keys import KeyStore
from ingest.lake.storage import ObjectStore
from ingest.records.pseudonymise import hmac_pseudonyms

__all__ = [
    "AI_PREFIX",
    "LABEL_COLUMN",
    "AiExtract",
    "ExtractEmpty",
    "handout_key",
    "load_reference",
    "make_extract",
    "read_handout",
    "split_by_time_and_patient",
    "suppress_small_classes",
]

AI_PREFIX = "_ai"
LABEL_COLUMN = "outcome"
_HANDOUT_LABEL = b"urgent-care-lakehouse/ai-handout-key/v1"
_REFERENCE_LABEL = b"urgent-care-lakehouse/ai-reference-key/v1:"
_PATIENT_SPLIT_LABEL = b"urgent-care-lakehouse/ai-patient-split/v1:"
_TASK_IDS_LABEL = b"urgent-care-lakehouse/ai-task-ids/v1:"
# Schema metadata of the test reference: the task file's SHA-256 at extract time.
_TASK_SHA256 = "task_sha256"


class ExtractEmpty(LakehouseError):
    """The task selects no row (or none survives k-anonymity) in one of its periods."""

    exit_code = 7


def handout_key(keystore: KeyStore, project_id: str) -> bytes:
    """The 32-byte key the project's files are encrypted with (one-way from the project key)."""
    return hmac.new(keystore.project_key(project_id), _HANDOUT_LABEL, hashlib.sha256).digest()


def _reference_key(keystore: KeyStore, project_id: str, task_id: str) -> bytes:
    label = _REFERENCE_LABEL + task_id.encode("ascii")
    return hmac.new(keystore.project_key(project_id), label, hashlib.sha256).digest()


def task_ids_key(keystore: KeyStore, project_id: str, task_id: str) -> bytes:
    """The key of the ids (row_id, person_id) of one task's files: one-way from the project key."""
    label = _TASK_IDS_LABEL + task_id.encode("ascii")
    return hmac.new(keystore.project_key(project_id), label, hashlib.sha256).digest()


def row_ids(ids_key: bytes, visit_ids: list[int]) -> list[str]:
    """The row ids of visits (inside view, for checks): what `_handout_table` writes."""
    return hmac_pseudonyms(ids_key, [f"row:{v}" for v in visit_ids]).to_pylist()


def task_prefix(project_id: str, task_id: str) -> str:
    return f"{AI_PREFIX}/{project_id}/{task_id}"


def reference_path(project_id: str, task_id: str) -> str:
    return f"{task_prefix(project_id, task_id)}/test_reference.parquet"


def summary_path(project_id: str, task_id: str) -> str:
    return f"{task_prefix(project_id, task_id)}/extract.json"


@dataclass(frozen=True)
class AiExtract:
    project_id: str
    task_id: str
    development_path: str
    test_path: str
    dictionary_path: str
    development_rows: int
    test_rows: int
    development_patients: int
    test_patients: int
    suppressed_rows: int


def _in_test_group(key: bytes, pseudonyms: pa.ChunkedArray, share: float) -> pa.Array:
    """Per patient, a keyed hash read as a number in [0, 1): below `share` is the test group."""
    # One HMAC and one comparison per distinct patient, then spread to their rows (not per row).
    encoded = pseudonyms.combine_chunks().dictionary_encode()
    digests = hmac_pseudonyms(key, encoded.dictionary).to_pylist()
    in_test = pa.array([int(d[:8], 16) / 2**32 < share for d in digests], pa.bool_())
    return in_test.take(encoded.indices)


def split_by_time_and_patient(
    cohort: pa.Table, task: PredictionTask, split_key: bytes
) -> tuple[pa.Table, pa.Table]:
    """(development, test): disjoint patients, test period after the development period. An act whose
    time at risk would end after its period's end is left out (its outcome is not fully observed within
    the period: OHDSI's "require full time at risk")."""
    day = pc.cast(cohort["index_datetime"], pa.date32())
    at_risk = timedelta(days=task.time_at_risk[1])
    test_group = _in_test_group(split_key, cohort["lake_pseudonym"], task.test_patient_share)
    in_dev = pc.and_(
        pc.greater_equal(day, pa.scalar(task.development_start)),
        pc.less_equal(day, pa.scalar(task.development_end - at_risk)),
    )
    in_test = pc.and_(
        pc.greater_equal(day, pa.scalar(task.test_start)),
        pc.less_equal(day, pa.scalar(task.test_end - at_risk)),
    )
    development = cohort.filter(pc.and_(in_dev, pc.invert(test_group)))
    test = cohort.filter(pc.and_(in_test, test_group))
    return development, test


def suppress_small_classes(
    table: pa.Table, quasi_identifiers: tuple[str, ...], k: int
) -> tuple[pa.Table, int]:
    """Drop the rows of quasi-identifier classes with fewer than k distinct patients; (kept, dropped)."""
    if table.num_rows == 0:
        return table, 0
    con = duckdb.connect()
    try:
        con.register(
            "rows_in", table.append_column("__row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
        )
        keys = ", ".join(f'"{c}"' for c in quasi_identifiers)
        keep = con.execute(
            "select __row from (select __row, count(distinct lake_pseudonym) "  # noqa: S608
            f"over (partition by {keys}) as n from rows_in) where n >= {int(k)} order by __row"
        ).to_arrow_table()["__row"]
    finally:
        con.close()
    kept = table.take(keep)
    # The study extracts' own check, on what is left: no class below k may remain.
    classes = kept.select(list(quasi_identifiers)).append_column("patient_pseudonym", kept["lake_pseudonym"])
    small, _ = k_anonymity_violations(classes, quasi_identifiers, k)
    if small:
        raise AssertionError(f"{small} quasi-identifier classes below k after suppression")
    return kept, table.num_rows - kept.num_rows


def _row_messages(table: pa.Table) -> pa.Array:
    """ "row:<visit id>", what a row id is the HMAC of (built in Arrow, not a Python string per row)."""
    visit = pc.cast(table["visit_occurrence_id"].combine_chunks(), pa.string())
    return pc.binary_join_element_wise("row:", visit, "")


def _handout_table(table: pa.Table, task: PredictionTask, ids_key: bytes, *, with_label: bool) -> pa.Table:
    columns: dict[str, pa.Array] = {
        "row_id": hmac_pseudonyms(ids_key, _row_messages(table)),
        "person_id": project_pseudonyms(ids_key, table["lake_pseudonym"]),
        "region": table["region"].combine_chunks(),
    }
    for name, kind in feature_columns(task):
        column = table[name].combine_chunks()
        columns[name] = pc.cast(column, pa.float64() if kind == "numeric" else pa.string())
    if with_label:
        columns[LABEL_COLUMN] = pc.cast(table["label"].combine_chunks(), pa.int8())
    out = pa.table(columns)
    # Rows in the order of their opaque id: the file order says nothing about dates.
    return out.take(pc.sort_indices(out["row_id"]))


def _reference_table(test: pa.Table, handed: pa.Table, ids_key: bytes) -> pa.Table:
    """Test labels and subgroups by row id (inside only)."""
    ids = hmac_pseudonyms(ids_key, _row_messages(test))
    ref = pa.table(
        {
            "row_id": ids,
            "label": pc.cast(test["label"].combine_chunks(), pa.int8()),
            **{c: test[c].combine_chunks() for c in ("age_class", "sex", "region", "season", "time_of_day")},
        }
    )
    ref = ref.take(pc.sort_indices(ref["row_id"]))
    if ref["row_id"] != handed["row_id"]:
        raise AssertionError("test reference and hand-out disagree on row ids")
    return ref


def _missing_shares(table: pa.Table, task: PredictionTask) -> dict[str, float]:
    n = max(table.num_rows, 1)
    return {name: round(table[name].null_count / n, 4) for name, _ in feature_columns(task)}


def _part_summary(table: pa.Table, task: PredictionTask, suppressed: int) -> dict[str, Any]:
    """Sizes, dates and missing shares of one part, kept in the lake for the reports (TRIPOD+AI 5, 9, 10)."""
    return {
        "rows": table.num_rows,
        "patients": len(pc.unique(table["lake_pseudonym"])),
        "regions": len(pc.unique(table["region"])),
        "outcomes": int(pc.sum(pc.cast(table["label"], pa.int64())).as_py() or 0),
        "dates": _dates(table),
        "missing": _missing_shares(table, task),
        "suppressed_rows": suppressed,
    }


def _dates(table: pa.Table) -> dict[str, str | None]:
    if table.num_rows == 0:
        return {"first": None, "last": None}
    lo, hi = pc.min_max(pc.cast(table["index_datetime"], pa.date32())).values()
    return {"first": lo.as_py().isoformat(), "last": hi.as_py().isoformat()}


def make_extract(
    con: duckdb.DuckDBPyConnection,
    task: PredictionTask,
    task_text: bytes,
    project_id: str,
    keystore: KeyStore,
    store: ObjectStore,
    out_dir: str | Path,
) -> AiExtract:
    """Build, split, check, write the project's two encrypted files and keep the test reference inside."""
    project_key = keystore.project_key(project_id)
    log: dict[str, Any] = {
        "project_id": project_id,
        "task_id": task.task_id,
        "task_version": task.version,
        "task_sha256": hashlib.sha256(task_text).hexdigest(),
        "split": {
            "development": [task.development_start.isoformat(), task.development_end.isoformat()],
            "test": [task.test_start.isoformat(), task.test_end.isoformat()],
        },
    }
    cohort = build_cohort(con, task)
    split_key = hmac.new(project_key, _PATIENT_SPLIT_LABEL + task.task_id.encode(), hashlib.sha256).digest()
    development, test = split_by_time_and_patient(cohort, task, split_key)
    development, dropped_dev = suppress_small_classes(development, task.quasi_identifiers, task.k)
    test, dropped_test = suppress_small_classes(test, task.quasi_identifiers, task.k)
    if development.num_rows == 0 or test.num_rows == 0:
        audit.record(store, keystore, "ai_extract", {**log, "reason": "empty_period"}, outcome="refused")
        raise ExtractEmpty(
            f"task `{task.source}`: no row left in the "
            f"{'development' if development.num_rows == 0 else 'test'} period after the split and "
            f"k-anonymity (k={task.k}); check the split dates against the warehouse"
        )
    ids_key = task_ids_key(keystore, project_id, task.task_id)
    dev_out = _handout_table(development, task, ids_key, with_label=True)
    test_out = _handout_table(test, task, ids_key, with_label=False)
    reference = _reference_table(test, test_out, ids_key)
    key = handout_key(keystore, project_id)
    folder = Path(out_dir) / project_id / task.task_id
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"development": folder / "development.parquet", "test": folder / "test.parquet"}
    for name, table in (("development", dev_out), ("test", test_out)):
        tmp = paths[name].with_suffix(".parquet.tmp")
        tmp.write_bytes(encrypt_parquet(table, key))
        tmp.replace(paths[name])  # never a half-written file under the final name
    dictionary = _dictionary(task, dev_out, test_out, key)
    dictionary_path = folder / "dictionary.json"
    dictionary_path.write_text(json.dumps(dictionary, indent=1, ensure_ascii=False), encoding="utf-8")
    store_reference(store, keystore, project_id, task.task_id, reference, task_sha256=log["task_sha256"])
    summary = {
        "task_id": task.task_id,
        "task_version": task.version,
        "task_sha256": log["task_sha256"],
        "split": log["split"],
        "extracted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "development": _part_summary(development, task, dropped_dev),
        "test": _part_summary(test, task, dropped_test),
        "cohort_rows_before_split": cohort.num_rows,
    }
    store.put(summary_path(project_id, task.task_id), json.dumps(summary, indent=1).encode())
    result = AiExtract(
        project_id=project_id,
        task_id=task.task_id,
        development_path=str(paths["development"]),
        test_path=str(paths["test"]),
        dictionary_path=str(dictionary_path),
        development_rows=dev_out.num_rows,
        test_rows=test_out.num_rows,
        development_patients=summary["development"]["patients"],
        test_patients=summary["test"]["patients"],
        suppressed_rows=dropped_dev + dropped_test,
    )
    audit.record(
        store,
        keystore,
        "ai_extract",
        {
            **log,
            "development_rows": result.development_rows,
            "test_rows": result.test_rows,
            "patients": result.development_patients + result.test_patients,
            "suppressed_rows": result.suppressed_rows,
            "k": task.k,
            "columns": list(dev_out.column_names),
        },
    )
    return result


def _dictionary(task: PredictionTask, dev: pa.Table, test: pa.Table, key: bytes) -> dict[str, Any]:
    """What the team receives in clear next to the files: columns, definitions, how to open them."""
    kinds = dict(feature_columns(task))
    columns = [
        {
            "name": "row_id",
            "definition": "Opaque id of the act for this project; submissions are keyed on it.",
        },
        {
            "name": "person_id",
            "definition": "Project pseudonym of the patient (links this project's rows only).",
        },
        {"name": "region", "definition": "INSEE région code of the patient's commune ('unknown' if none)."},
    ]
    for name in task.features:
        feature = FEATURES[name]
        for column, _kind in feature.columns:
            columns.append(
                {"name": column, "kind": kinds[column], "feature": name, "definition": feature.definition}
            )
    columns.append(
        {"name": LABEL_COLUMN, "definition": f"1 if {task.outcome_description} (development file only)."}
    )
    return {
        "task_id": task.task_id,
        "task_version": task.version,
        "title": task.title,
        "files": {"development.parquet": dev.num_rows, "test.parquet": test.num_rows},
        "columns": columns,
        "encryption": {
            "format": "Parquet modular encryption, AES_GCM_V1, encrypted footer, one footer key",
            "key_fingerprint": hashlib.sha256(key).hexdigest()[:16],
            "how_to_open": "docs/ai-evaluation.md, section 'Opening the files'",
        },
        "submission": "CSV or Parquet with columns row_id, probability: every test row_id exactly once, "
        "probabilities in [0, 1].",
    }


def read_handout(path: str | Path, key: bytes) -> pa.Table:
    """What the team does with the key (pyarrow); DuckDB works too (docs/ai-evaluation.md)."""
    path = Path(path)
    return decrypt_parquet(path.read_bytes(), key, path=str(path))


def store_reference(
    store: ObjectStore,
    keystore: KeyStore,
    project_id: str,
    task_id: str,
    reference: pa.Table,
    *,
    task_sha256: str,
) -> None:
    """Keep the test labels and subgroups in the lake, encrypted under the project's reference key, with
    the SHA-256 of the task file they were extracted for (authenticated by the encryption)."""
    reference = reference.replace_schema_metadata({_TASK_SHA256: task_sha256})
    store.put(
        reference_path(project_id, task_id),
        encrypt_parquet(reference, _reference_key(keystore, project_id, task_id)),
    )


class TaskChanged(LakehouseError):
    """The task file is not the one the project's test set was extracted with."""

    exit_code = 7


def reference_for(store: ObjectStore, keystore: KeyStore, project_id: str, task: PredictionTask) -> pa.Table:
    """The test reference, refused unless `task` is the very file it was extracted with. The budget, k,
    subgroups and bootstrap of an evaluation come from the task file given to it: an edited copy (budget
    1000, k 2) would otherwise lift every bound of the oracle. A new version goes through `ai extract`,
    which the audit trail records."""
    reference = load_reference(store, keystore, project_id, task.task_id)
    extracted = (reference.schema.metadata or {}).get(_TASK_SHA256.encode(), b"").decode()
    if task.sha256 is None or extracted != task.sha256:
        raise TaskChanged(
            f"task file `{task.source}` (SHA-256 {(task.sha256 or 'none')[:16]}) is not the one the test set "
            f"of project `{project_id}` was extracted with ({extracted[:16] or 'unknown'}): a new version of "
            "the task needs `lakehouse ai extract` again (docs/ai-evaluation.md)"
        )
    return reference


def load_reference(store: ObjectStore, keystore: KeyStore, project_id: str, task_id: str) -> pa.Table:
    path = reference_path(project_id, task_id)
    if not store.exists(path):
        raise ExtractEmpty(
            f"no test set for project `{project_id}` and task `{task_id}`: run `lakehouse ai extract`"
        )
    return decrypt_parquet(store.get(path), _reference_key(keystore, project_id, task_id), path=path)


def load_summary(store: ObjectStore, project_id: str, task_id: str) -> dict[str, Any]:
    return json.loads(store.get(summary_path(project_id, task_id)))


__all__ += [
    "TaskChanged",
    "load_summary",
    "reference_for",
    "reference_path",
    "row_ids",
    "store_reference",
    "summary_path",
    "task_ids_key",
    "task_prefix",
]
