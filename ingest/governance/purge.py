"""Removing records from the lake after the fact: patients' objections and the retention period.

Both go through `rewrite_batch`, which also serves data key retirement (ingest.governance.rotation). One batch
(one manifest) is rewritten at a time, crash-safe and re-runnable:

  1. `_rewrites/<batch_id>.json` lists the batch's current files and the new ones about to be written;
  2. each new file is written whole under a *new* name (`<batch_id>.r<n>.parquet`);
  3. the manifest is replaced (one atomic PUT): it now names the new files, their row counts and key ids;
  4. the old files are deleted, then the intent record.

A kill before 3 leaves the old manifest naming the old, intact files; a kill after 3 leaves the new
manifest naming the new, complete files. Either way every file a manifest names is readable with the key
it names. `recover_rewrites` (run first by every purge and retirement) deletes whatever the intent lists
that the manifest does not name. Readers must therefore read the files the manifests name, not every
file a glob matches (see the report to the lead / docs/security.md).

A manifest's counts (`rows_read`, `rows_accepted`, `rows_quarantined`) keep describing the ingest;
`outputs[].rows` describe the files as they are now. What each purge removed is in the audit trail.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ingest.contract import default_contract
from ingest.governance.opposition import add_opposed_acts, load_opposition
from ingest.lake import audit
from ingest.lake.crypto import decrypt_blob, decrypt_parquet, encrypt_blob, encrypt_parquet
from ingest.lake.keys import DataKey, DataKeyring, KeyStore, parse_key_id
from ingest.lake.manifest import Manifest, Output, all_manifests, manifest_path, read_manifest, writer_lock
from ingest.lake.manifest_seal import check_object, file_digest, seal, verified_manifests
from ingest.lake.storage import ObjectStore
from ingest.records.objector_lines import Stripped, strip_objectors
from ingest.records.read_extract import extract_file

__all__ = [
    "ACT_CHILD_DATASETS",
    "DEFAULT_RETENTION_YEARS",
    "REWRITE_PREFIX",
    "PurgeReport",
    "Replacement",
    "committed_files",
    "next_path",
    "purge_opposition",
    "purge_pseudonyms",
    "purge_retention",
    "recover_rewrites",
    "retention_cutoff",
    "rewrite_batch",
]

REWRITE_PREFIX = "_rewrites"
# The retention period last applied by `purge --retention`: ingest refuses files older than it from
# then on, so a re-sent old file does not come back (see retention_cutoff).
RETENTION_PATH = "_governance/retention.json"
DEFAULT_RETENTION_YEARS = 20
# Datasets whose rows belong to an act, joined to it by association_id + act_id.
ACT_CHILD_DATASETS = ("diagnoses", "prescriptions", "vital_signs")
_REVISION = re.compile(r"^(?P<stem>.+?)(?:\.r(?P<rev>[0-9]+))?\.(?P<ext>parquet|bin)$")
_SEP = "\x1f"  # joins association_id and act_id into one comparable key; never occurs in either


def next_path(path: str) -> str:
    """`<dir>/<batch>.parquet` -> `<dir>/<batch>.r2.parquet` -> `.r3.parquet` ... (same for `.bin`)."""
    folder, name = path.rsplit("/", 1)
    match = _REVISION.match(name)
    if match is None:
        raise ValueError(f"`{path}` is not a lake data file name")
    rev = int(match["rev"] or 1) + 1
    return f"{folder}/{match['stem']}.r{rev}.{match['ext']}"


def _rewrite_intent(batch_id: str) -> str:
    return f"{REWRITE_PREFIX}/{batch_id}.json"


@dataclass(frozen=True)
class Replacement:
    """What becomes of one output: new content (a table, or blob plaintext) under `key`, or None: gone."""

    content: pa.Table | bytes | None
    key: DataKey | None = None
    rows: int | None = None  # rows a new blob holds (default: as before)


def read_output(
    store: ObjectStore, keyring: DataKeyring, manifest: Manifest, output: Output
) -> pa.Table | bytes:
    """Decrypted content of one output: a table (Parquet) or the original bytes (a quarantined file)."""
    key = keyring.get(output.key_id).key
    # Checked against the digest its authenticated manifest records: a file swapped for another of the
    # same key must not come out of a rewrite re-sealed as genuine.
    data = check_object(store, output)
    if output.path.endswith(".bin"):
        return decrypt_blob(data, key, aad=manifest.batch_id.encode(), path=store.uri(output.path))
    return decrypt_parquet(data, key, path=store.uri(output.path))


def rewrite_batch(
    store: ObjectStore, manifest: Manifest, replacements: dict[str, Replacement], *, keystore: KeyStore
) -> Manifest:
    """Replace some outputs of one batch (keyed by current path), crash-safe; returns the new manifest,
    sealed with each new file's digest (`manifest` must come from verified_manifests).

    An output replaced by an empty table or by None is removed from the manifest and deleted.
    """
    unknown = set(replacements) - {o.path for o in manifest.outputs}
    if unknown:
        raise ValueError(f"batch `{manifest.batch_id}`: rewrite of files it does not name")
    plan: list[tuple[Output, str | None, bytes | None, Output | None]] = []
    for out in manifest.outputs:
        rep = replacements.get(out.path)
        if rep is None:
            plan.append((out, None, None, out))
            continue
        content = rep.content
        if content is None or (isinstance(content, pa.Table) and content.num_rows == 0):
            plan.append((out, None, None, None))
            continue
        if rep.key is None:
            raise ValueError(f"batch `{manifest.batch_id}`: new content for `{out.path}` without a key")
        new_path = next_path(out.path)
        if isinstance(content, pa.Table):
            payload = encrypt_parquet(content, rep.key.key, key_id=rep.key.key_id)
            rows = content.num_rows
        else:
            # Blobs stay bound to their batch id, as ingest wrote them.
            payload = encrypt_blob(content, rep.key.key, aad=manifest.batch_id.encode())
            rows = out.rows if rep.rows is None else rep.rows
        new = Output(out.zone, new_path, rows, rep.key.key_id, file_digest(payload))
        plan.append((out, new_path, payload, new))

    old_paths = [out.path for out, _, _, new in plan if new is None or new.path != out.path]
    new_paths = [p for _, p, _, _ in plan if p is not None]
    store.put(
        _rewrite_intent(manifest.batch_id),
        json.dumps({"batch_id": manifest.batch_id, "paths": old_paths + new_paths}).encode(),
    )
    for _, new_path, payload, _ in plan:
        if new_path is not None and payload is not None:
            store.put(new_path, payload)
    updated = seal(replace(manifest, outputs=[new for _, _, _, new in plan if new is not None]), keystore)
    store.put(manifest_path(manifest.batch_id), updated.to_json())  # the commit point
    for path in old_paths:
        store.delete(path)
    store.delete(_rewrite_intent(manifest.batch_id))
    return updated


def recover_rewrites(store: ObjectStore) -> list[str]:
    """Finish or roll back rewrites a crash interrupted; returns their batch ids."""
    done = []
    for path in store.list(REWRITE_PREFIX):
        intent = json.loads(store.get(path))
        batch_id = intent["batch_id"]
        manifest = read_manifest(store, batch_id)
        named = {o.path for o in manifest.outputs} if manifest else set()
        for obj in intent["paths"]:
            if obj not in named:
                store.delete(obj)
        store.delete(path)
        done.append(batch_id)
    return done


def committed_files(store: ObjectStore, zone: str, dataset: str) -> dict[str, list[str]]:
    """{key id: [paths]} of the files committed manifests name for zone x dataset: what readers read.

    Unlike a glob over `raw/<dataset>/`, this never sees a file written by an interrupted rewrite, and
    groups files by the key that really encrypts them (a month may span two key generations mid-way).
    """
    by_key: dict[str, list[str]] = {}
    for m in all_manifests(store):
        if m.dataset != dataset:
            continue
        for o in m.outputs:
            if o.zone == zone and o.path.endswith(".parquet"):
                by_key.setdefault(o.key_id, []).append(o.path)
    return {k: sorted(v) for k, v in sorted(by_key.items())}


@dataclass
class PurgeReport:
    batches_rewritten: int = 0
    files_deleted: int = 0
    rows_removed: Counter[str] = field(default_factory=Counter)  # "<zone>/<dataset>" -> rows
    recovered: list[str] = field(default_factory=list)
    keys_deleted: list[str] = field(default_factory=list)


def _act_keys(association: pa.Array | pa.ChunkedArray, act_id: pa.Array | pa.ChunkedArray) -> pa.Array:
    joined = pc.binary_join_element_wise(pc.cast(association, pa.string()), act_id, _SEP)
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def quarantine_act_ids(table: pa.Table) -> pa.Array:
    """num_acte kept in each quarantined row's non-identifying `record` (None when not kept)."""
    ids: list[str | None] = []
    for text in table.column("record").to_pylist():
        value = None
        if text:
            try:
                record = json.loads(text)
            except json.JSONDecodeError:
                record = None
            if isinstance(record, dict) and isinstance(record.get("num_acte"), str):
                value = record["num_acte"]
        ids.append(value)
    return pa.array(ids, pa.string())


def _key_for(keyring: DataKeyring, output: Output) -> DataKey:
    """Rewritten files use the current generation of their zone x dataset x month (never a retired one)."""
    zone, dataset, period = parse_key_id(output.key_id)
    return keyring.get_or_create(zone, dataset, period)


def _filter_batches(
    store: ObjectStore,
    keyring: DataKeyring,
    manifests: Iterable[Manifest],
    drop_mask: Callable[[Manifest, Output, pa.Table], pa.Array | None],
    report: PurgeReport,
) -> None:
    for m in manifests:
        replacements: dict[str, Replacement] = {}
        for o in m.outputs:
            if not o.path.endswith(".parquet"):
                continue
            table = read_output(store, keyring, m, o)
            assert isinstance(table, pa.Table)
            mask = drop_mask(m, o, table)
            if mask is None:
                continue
            removed = pc.sum(pc.cast(mask, pa.int64())).as_py() or 0
            if removed == 0:
                continue
            kept = table.filter(pc.invert(mask))
            replacements[o.path] = Replacement(kept, _key_for(keyring, o))
            report.rows_removed[f"{o.zone}/{m.dataset}"] += removed
            report.files_deleted += kept.num_rows == 0
        if replacements:
            rewrite_batch(store, m, replacements, keystore=keyring.keystore)
            report.batches_rewritten += 1


def purge_pseudonyms(
    store: ObjectStore,
    keystore: KeyStore,
    pseudonyms: Iterable[str],
    known_acts: Iterable[tuple[str, str]] = (),
) -> PurgeReport:
    """Remove every landed record of these patients: their acts, the diagnoses, prescriptions and vital
    signs of those acts, and quarantined rows of those acts (matched by association + act number).

    `known_acts`: acts of these patients recorded earlier (removed by an earlier purge or dropped at
    ingest), whose children may have arrived since; the acts found now are recorded for the next time."""
    opposed = pa.array(sorted(set(pseudonyms)), pa.string())
    earlier = sorted(set(known_acts))
    report = PurgeReport()
    with writer_lock(store):
        report.recovered = recover_rewrites(store)
        if len(opposed) == 0 and not earlier:
            return report
        keyring = DataKeyring(store, keystore)
        manifests = [m for m in verified_manifests(store, keystore) if m.outputs]

        # Pass 1: which acts are theirs (association_id + act_id), from every landed version of the act.
        acts: list[pa.Array] = []
        found: list[tuple[str, str]] = []
        for m in manifests:
            if m.dataset != "acts":
                continue
            for o in m.outputs:
                if o.zone == "raw" and o.path.endswith(".parquet"):
                    t = read_output(store, keyring, m, o)
                    assert isinstance(t, pa.Table)
                    theirs = t.filter(
                        pc.fill_null(pc.is_in(t["patient_pseudonym"], value_set=opposed), False)
                    )
                    acts.append(_act_keys(theirs["association_id"], theirs["act_id"]))
                    found += zip(
                        theirs["association_id"].to_pylist(), theirs["act_id"].to_pylist(), strict=True
                    )
        # Files kept whole in quarantine: their objectors' lines (acts files first: the acts they
        # remove are the objector's too).
        _, secret = keystore.pseudonym_secret()
        contract = default_contract()
        blobs = [(m, o) for m in manifests for o in m.outputs if o.path.endswith(".bin")]

        def strip(m: Manifest, o: Output, acts_known: set[tuple[str, str]]) -> Stripped:
            blob = read_output(store, keyring, m, o)
            assert isinstance(blob, bytes)
            f = extract_file(Path(m.source_file), blob, contract)
            return strip_objectors(f, contract, secret, frozenset(opposed.to_pylist()), acts_known)

        earlier_set = set(earlier)
        act_blobs = [(m, o, strip(m, o, earlier_set)) for m, o in blobs if m.dataset == "acts"]
        for _, _, stripped in act_blobs:
            found += stripped.acts
        # Recorded before anything is removed: the children of an act removed now and sent again
        # later are still recognised (see ingest.governance.opposition).
        add_opposed_acts(store, keystore, found)
        if earlier:
            assoc, act = zip(*earlier, strict=True)
            acts.append(_act_keys(pa.array(assoc, pa.string()), pa.array(act, pa.string())))
        act_keys = pa.concat_arrays(acts).unique() if acts else pa.array([], pa.string())

        def drop(m: Manifest, o: Output, t: pa.Table) -> pa.Array | None:
            if o.zone == "raw" and m.dataset == "acts":
                return pc.fill_null(pc.is_in(t["patient_pseudonym"], value_set=opposed), False)
            if len(act_keys) == 0:
                return None
            if o.zone == "raw" and m.dataset in ACT_CHILD_DATASETS:
                return pc.fill_null(
                    pc.is_in(_act_keys(t["association_id"], t["act_id"]), value_set=act_keys), False
                )
            if o.zone == "quarantine" and m.dataset in ("acts", *ACT_CHILD_DATASETS):
                keys = _act_keys(t["association_id"], quarantine_act_ids(t))
                return pc.fill_null(pc.is_in(keys, value_set=act_keys), False)
            return None

        _filter_batches(store, keyring, manifests, drop, report)
        every_act = earlier_set | set(found)
        child_blobs = [(m, o, strip(m, o, every_act)) for m, o in blobs if m.dataset in ACT_CHILD_DATASETS]
        for m, o, stripped in act_blobs + child_blobs:
            if stripped.rows_removed:
                rows = max(o.rows - stripped.rows_removed, 0)
                replacement = Replacement(stripped.data, _key_for(keyring, o), rows)
                rewrite_batch(store, m, {o.path: replacement}, keystore=keystore)
                report.rows_removed[f"quarantine/{m.dataset}"] += stripped.rows_removed
                report.batches_rewritten += 1
        audit.record(
            store,
            keystore,
            "purge_opposition",
            {
                "patients": len(opposed),
                "acts": len(act_keys),
                "batches_rewritten": report.batches_rewritten,
                "files_deleted": report.files_deleted,
                "rows_removed": dict(sorted(report.rows_removed.items())),
            },
        )
    return report


def purge_opposition(store: ObjectStore, keystore: KeyStore) -> PurgeReport:
    """Apply the whole opposition list retroactively (idempotent: a second run rewrites nothing)."""
    opposition = load_opposition(store, keystore)
    if opposition.stale_entries:
        opposition.is_opposed(pa.array([], pa.string()))  # raises OppositionStaleError, with the why
    return purge_pseudonyms(store, keystore, opposition.pseudonyms, opposition.acts)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def retention_cutoff(store: ObjectStore, today: date | None = None) -> date | None:
    """First extract date still within the retention period last applied to this lake (None: never
    applied). It moves with time: a file that was recent enough when the purge ran may not be later."""
    if not store.exists(RETENTION_PATH):
        return None
    years = json.loads(store.get(RETENTION_PATH))["years"]
    if not isinstance(years, int) or years < 1:
        raise ValueError(f"`{store.uri(RETENTION_PATH)}`: field `years` must be a whole number of years")
    return _years_before(today or datetime.now(UTC).date(), years)


def purge_retention(
    store: ObjectStore,
    keystore: KeyStore,
    *,
    years: int = DEFAULT_RETENTION_YEARS,
    today: date | None = None,
) -> PurgeReport:
    """Delete every batch whose extract date (else ingest date) is older than `years`, whole.

    The manifests stay, with no outputs, as tombstones: re-sending an old file is recognised and not
    landed again. Data keys of months before the cutoff that no manifest names any more are deleted
    (crypto-shredding: copies of the deleted files in backups become unreadable too).
    """
    if years < 1:
        raise ValueError("retention period must be at least one year")
    cutoff = _years_before(today or datetime.now(UTC).date(), years)
    report = PurgeReport()
    with writer_lock(store):
        report.recovered = recover_rewrites(store)
        # Recorded first: from now on ingest refuses what this purge is about to delete.
        store.put(RETENTION_PATH, json.dumps({"years": years, "cutoff": cutoff.isoformat()}).encode())
        keyring = DataKeyring(store, keystore)
        manifests = verified_manifests(store, keystore)
        partitions: set[str] = set()
        for m in manifests:
            day = date.fromisoformat(m.extract_date or m.ingested_at[:10])
            if day >= cutoff or not m.outputs:
                continue
            for o in m.outputs:
                report.rows_removed[f"{o.zone}/{m.dataset or 'files'}"] += o.rows
                partitions.add(o.path.rsplit("/", 1)[0])
            report.files_deleted += len(m.outputs)
            rewrite_batch(store, m, {o.path: Replacement(None) for o in m.outputs}, keystore=keystore)
            report.batches_rewritten += 1
        named = {o.key_id for m in all_manifests(store) for o in m.outputs}
        cutoff_month = cutoff.strftime("%Y-%m")
        for key in keyring.all():
            if key.dataset == "opposition" or key.key_id in named:
                continue
            if key.period < cutoff_month:
                keyring.delete(key.key_id)
                report.keys_deleted.append(key.key_id)
        audit.record(
            store,
            keystore,
            "purge_retention",
            {
                "years": years,
                "cutoff": cutoff.isoformat(),
                "batches": report.batches_rewritten,
                "partitions": len(partitions),
                "files_deleted": report.files_deleted,
                "rows_removed": dict(sorted(report.rows_removed.items())),
                "keys_deleted": report.keys_deleted,
            },
        )
    return report
