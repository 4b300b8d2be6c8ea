"""The ingest pipeline: read → validate → quarantine → pseudonymise → encrypt → store → manifest.

One source file is one batch. For every file, rows_accepted + rows_quarantined + rows_opposed == rows_read,
and every physical data line is in exactly one of those rows; a file that cannot be read at all (or was cut
short in transfer) is quarantined whole (encrypted) and counted as such. Rows of patients on the opposition
list, and the diagnoses, prescriptions and vital signs of their acts (dropped in this run or recorded by an
earlier run or purge), are counted as opposed and kept nowhere, neither landed nor quarantined. A file older
than the retention period last applied (`purge --retention`) is refused whole, and a file of acts or their
children byte-identical to one already landed under another name is a duplicate.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import pyarrow as pa

from ingest import settings
from ingest.contract import Contract, Entity, default_contract
from ingest.exceptions import LakehouseError
from ingest.governance.opposition import OppositionList, add_opposed_acts, load_opposition
from ingest.governance.purge import quarantine_act_ids, recover_rewrites, retention_cutoff
from ingest.lake import audit
from ingest.lake.crypto import encrypt_blob, encrypt_parquet
from ingest.lake.keys import DataKeyring, KeyStore
from ingest.lake.keystore_binding import check_keystore
from ingest.lake.landed_schema import QUARANTINE_SCHEMA
from ingest.lake.manifest import Manifest, Output, begin, commit, read_manifest, recover, writer_lock
from ingest.lake.manifest_seal import file_digest, seal
from ingest.lake.storage import ObjectStore
from ingest.landing.content_index import LandedContent, landed_content, record_landed_content
from ingest.landing.input_files import check_input_files
from ingest.processes import die_with_parent
from ingest.records.objector_lines import IDENTITY_COLUMNS, Stripped, patients_opposed, strip_objectors
from ingest.records.pseudonymise import PSEUDONYM_SCHEME
from ingest.records.read_extract import (
    NAME_REASONS,
    ExtractFile,
    ParsedFile,
    UnusableFile,
    check_name,
    decode,
    open_extract,
    parse,
    redacted_name,
    utf8_bytes,
)
from ingest.records.transform import Lineage, to_landed
from ingest.records.validate import Validated, validate

FileStatus = Literal["landed", "duplicate", "quarantined", "expired"]
# Datasets whose rows belong to an act: dropped with it when its patient objects.
ACT_CHILDREN = frozenset({"diagnoses", "prescriptions", "vital_signs"})


@dataclass
class FileReport:
    file: str
    status: FileStatus
    entity: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    rows_opposed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    message: str | None = None


@dataclass
class IngestReport:
    files: list[FileReport]
    rolled_back: list[str]

    @property
    def totals(self) -> tuple[int, int, int]:
        return (
            sum(f.rows_read for f in self.files),
            sum(f.rows_accepted for f in self.files),
            sum(f.rows_quarantined for f in self.files),
        )

    @property
    def rows_opposed(self) -> int:
        return sum(f.rows_opposed for f in self.files)


def find_extract_files(inputs: Iterable[Path]) -> list[Path]:
    """Files given, and every non-hidden file under folders given, sorted so runs are reproducible.
    Entries of a folder that are neither files nor folders (a FIFO, a link to a device) are listed too,
    so that the run refuses them by name instead of skipping them in silence."""
    found: list[Path] = []
    for p in inputs:
        if p.is_dir():
            found.extend(
                f
                for f in p.rglob("*")
                if not f.is_dir() and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        else:
            found.append(p)
    return sorted(set(found))


def raw_path(dataset: str, association_id: str, day: date, batch_id: str) -> str:
    return f"raw/{dataset}/association_id={association_id}/extract_date={day.isoformat()}/{batch_id}.parquet"


def quarantine_rows_path(dataset: str, association_id: str, day: date, batch_id: str) -> str:
    return (
        f"quarantine/rows/{dataset}/association_id={association_id}/"
        f"extract_date={day.isoformat()}/{batch_id}.parquet"
    )


def quarantine_file_path(batch_id: str) -> str:
    return f"quarantine/files/{batch_id}.bin"


# What preparing a file found (in a worker process, CPU only): one of the five outcomes below, which the
# writer then decides on in input order (`Ingestor._decide`).


@dataclass(frozen=True)
class AlreadyLanded:
    """A batch an earlier run committed: a duplicate."""

    f: ExtractFile
    entity_name: str | None
    ingested_on: str


@dataclass(frozen=True)
class SameContent:
    """The same bytes as a file landed under another name: a duplicate."""

    f: ExtractFile
    entity_name: str | None
    earlier: LandedContent


@dataclass(frozen=True)
class Expired:
    """A file older than the retention period: nothing of it is kept."""

    f: ExtractFile
    entity_name: str | None
    why: str


@dataclass(frozen=True)
class Unusable:
    """A file that cannot be read row by row: quarantined whole."""

    f: ExtractFile
    error: UnusableFile

    @property
    def entity_name(self) -> None:
        """Unknown: a name that failed its checks may hold anything."""
        return None


@dataclass(frozen=True)
class Batch:
    """A file read, validated and pseudonymised, its objectors' rows dropped: what the writer lands."""

    f: ExtractFile
    entity_name: str
    dataset: str
    encoding: str
    rows_read: int
    landed: pa.Table  # accepted rows, patients on the opposition list already dropped
    rejected: pa.Table
    n_opposed: int
    opposed_acts: list[tuple[str, str]]  # (association, act) dropped


Prepared = AlreadyLanded | SameContent | Expired | Unusable | Batch


class _Objectors(NamedTuple):
    """The rows of an acts file whose patient is on the opposition list."""

    landed: pa.Table  # the accepted rows without theirs
    n_rows: int
    acts: list[tuple[str, str]]  # (association, act) dropped: their children are the objectors' too
    rejected_rows: set[int]  # rows rejected by validation: not kept in quarantine either


# Paths handed to the worker pool at a time (bounds the prepared tables held in memory), and per task.
_WINDOW = 512
_CHUNK = 8
# A worker process's ingestor, given by the pool's initializer: inherited through the fork (contract,
# secret, opposition list), never pickled; only paths go in and prepared files come out.
_worker_ingestor: Ingestor | None = None


def _start_worker(parent_pid: int, ingestor: Ingestor) -> None:
    global _worker_ingestor
    die_with_parent(parent_pid)
    _worker_ingestor = ingestor


def _prepare_in_worker(path: Path) -> Prepared:
    assert _worker_ingestor is not None
    return _worker_ingestor.prepare(path)


def _worker_count(store: ObjectStore, workers: int | None, n_paths: int) -> int:
    """Worker processes for a run: one per CPU by default on a local lake; none for a handful of files
    (process start-up costs more) nor on S3, whose client keeps an event-loop thread that a fork
    would copy in an unusable state."""
    if workers is None:
        workers = (os.cpu_count() or 1) if store.is_local and n_paths >= _MIN_PARALLEL_FILES else 1
    return max(1, workers)


_MIN_PARALLEL_FILES = 64
# Batches written at once by the single writer process (fsync-bound, so more than the CPUs).
_WRITER_THREADS = 4


class Ingestor:
    def __init__(
        self,
        store: ObjectStore,
        keystore: KeyStore,
        contract: Contract | None = None,
        *,
        max_file_bytes: int | None = None,
    ) -> None:
        self.max_file_bytes = max_file_bytes or settings.max_extract_bytes()
        self.store = store
        self.keystore = keystore
        self.keyring = DataKeyring(store, keystore)
        self.contract = contract or default_contract()
        self.secret_version, self.secret = keystore.pseudonym_secret()
        self.ingest_version = version("urgent-care-lakehouse")
        self.opposition: OppositionList | None = None
        self._opposed_acts: set[tuple[str, str]] = set()
        self._seen_batches: set[str] = set()  # batches written by this run
        self._seen_content: dict[str, LandedContent] = {}  # checksum -> file with rows landed by this run
        self.retention_cutoff: date | None = None

    def run(
        self, paths: list[Path], progress: Callable[[str], None] | None = None, *, workers: int | None = None
    ) -> IngestReport:
        """Ingest `paths` in order. With `workers` > 1 (default: one per CPU on a local lake), files are
        read, validated and transformed in that many processes while this process, the only writer,
        encrypts and commits them in the original order (the opposition rule for acts' children depends
        on it), a few batches at a time on threads, since a commit mostly waits on fsync."""
        # Before the lock and the recovery, which write: a lake of another key store is left untouched,
        # and so is any lake when an input is not an extract file.
        check_input_files(paths, self.max_file_bytes)
        check_keystore(self.store, self.keystore)
        with writer_lock(self.store):
            recovery = recover(self.store)
            recover_rewrites(self.store)
            # Loaded once per run; a list left stale by a secret rotation stops the run.
            self.opposition = load_opposition(self.store, self.keystore)
            self.retention_cutoff = retention_cutoff(self.store)
            # Acts dropped or purged earlier: their children may come now, alone.
            self._opposed_acts = set(self.opposition.acts)
            self._seen_batches = set()
            self._seen_content = {}
            reports: list[FileReport] = []
            n_workers = _worker_count(self.store, workers, len(paths))
            in_flight: deque[tuple[str, Future[FileReport]]] = deque()

            def collect(limit: int) -> None:
                while len(in_flight) > limit:
                    name, done = in_flight.popleft()
                    reports.append(done.result())
                    if progress is not None:
                        progress(name)

            failed = True
            try:
                # Writers are threads: encryption releases the GIL and a commit mostly waits on fsync.
                # Each batch is written whole by one thread, in the protocol's order (intent, data,
                # manifest); batches are independent, and every decision is taken here, in input order.
                with ThreadPoolExecutor(max_workers=_WRITER_THREADS if n_workers > 1 else 1) as writers:
                    try:
                        for prepared in self._prepared(paths, n_workers):
                            in_flight.append((prepared.f.name, writers.submit(self._decide(prepared))))
                            collect(2 * _WRITER_THREADS)
                    except BaseException:
                        # The writes in flight end; their errors (the same dead endpoint, say) must not
                        # replace the first one, which is what the operator needs to read.
                        reports.extend(d.result() for _, d in in_flight if d.exception() is None)
                        raise
                    collect(0)
                failed = False
            finally:
                report = IngestReport(files=reports, rolled_back=recovery.rolled_back)
                try:
                    audit.record(
                        self.store,
                        self.keystore,
                        "ingest",
                        {
                            "files": len(reports),
                            "files_landed": sum(r.status == "landed" for r in reports),
                            "files_quarantined": sum(r.status == "quarantined" for r in reports),
                            "files_duplicate": sum(r.status == "duplicate" for r in reports),
                            "files_expired": sum(r.status == "expired" for r in reports),
                            "rows_read": report.totals[0],
                            "rows_accepted": report.totals[1],
                            "rows_quarantined": report.totals[2],
                            "rows_opposed": report.rows_opposed,
                        },
                        outcome="success" if len(reports) == len(paths) else "failure",
                    )
                except LakehouseError:
                    # After a failure (the lake unreachable, say) the entry may not be writable either:
                    # the run's own error is the one to report, not the audit's.
                    if not failed:
                        raise
        return report

    def _prepared(self, paths: list[Path], workers: int) -> Iterator[Prepared]:
        """The files prepared, in input order: here, or in forked worker processes. Windows bound the
        tables waiting for the writer."""
        if workers <= 1:
            yield from map(self.prepare, paths)
            return
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_start_worker, initargs=(os.getpid(), self)
        ) as pool:
            for lo in range(0, len(paths), _WINDOW):
                yield from pool.map(_prepare_in_worker, paths[lo : lo + _WINDOW], chunksize=_CHUNK)

    # ------------------------------------------------------------------------------------------ one file

    def ingest_file(self, path: Path) -> FileReport:
        return self._decide(self.prepare(path))()

    def prepare(self, path: Path) -> Prepared:
        """Everything but writing (CPU only; reads the store): whether the file is to be landed at all,
        then its rows read, validated, pseudonymised and cleared of objectors."""
        f = open_extract(path, self.contract)
        return self._not_to_land(f) or self._read_batch(f)

    def _not_to_land(self, f: ExtractFile) -> AlreadyLanded | SameContent | Expired | None:
        existing = read_manifest(self.store, f.batch_id)
        if existing is not None:
            return AlreadyLanded(f, existing.entity, existing.ingested_at[:10])
        same = landed_content(self.store, f.sha256) if self._dated_records(f.entity_name) else None
        # The marker is written after its batch's manifest; a batch rolled back since has none.
        if same is not None and read_manifest(self.store, same.batch_id) is not None:
            return SameContent(f, f.entity_name, same)
        if f.extract_date is not None and self.retention_cutoff and f.extract_date < self.retention_cutoff:
            # Nothing of it is kept, not even in quarantine: the retention period applies to every zone.
            why = (
                f"extract date {f.extract_date.isoformat()} is older than the retention period "
                f"(nothing before {self.retention_cutoff.isoformat()} is kept): not landed"
            )
            return Expired(f, f.entity_name, why)
        return None

    def _read_batch(self, f: ExtractFile) -> Unusable | Batch:
        try:
            entity = check_name(f, self.contract)
            text, encoding = decode(f)
            parsed = parse(f, text, encoding, entity, self.contract.delimiter, utf8=utf8_bytes(f, encoding))
        except UnusableFile as e:
            return Unusable(f, e)
        assert f.extract_date is not None and f.association_id is not None
        checked = validate(
            parsed.columns,
            entity,
            extract_date=f.extract_date,
            period_start=f.period_start,
            file_name=f.name,
            lines=parsed.lines,
        )
        lineage = Lineage(
            association_id=f.association_id,
            extract_date=f.extract_date,
            batch_id=f.batch_id,
            source_file=f.name,
            ingested_at=datetime.now(UTC),
            contract_version=self.contract.version,
        )
        if checked.ok.all():  # the usual case: no copy of every column
            accepted, accepted_lines = checked.typed, parsed.lines
        else:
            ok_idx = np.flatnonzero(checked.ok)
            accepted = {k: v.take(pa.array(ok_idx)) for k, v in checked.typed.items()}
            accepted_lines = parsed.lines[ok_idx]
        landed = to_landed(entity.dataset, accepted, accepted_lines, self.secret, lineage)
        objectors = self._drop_objectors(f, entity, parsed, checked, landed)
        rejected = self._rejected_rows(f, entity, parsed, checked, lineage, skip=objectors.rejected_rows)
        return Batch(
            f,
            entity_name=entity.name,
            dataset=entity.dataset,
            encoding=parsed.encoding,
            rows_read=parsed.rows_read,
            landed=objectors.landed,
            rejected=rejected,
            n_opposed=objectors.n_rows,
            opposed_acts=objectors.acts,
        )

    def _drop_objectors(
        self, f: ExtractFile, entity: Entity, parsed: ParsedFile, checked: Validated, landed: pa.Table
    ) -> _Objectors:
        """Rows of an acts file whose patient objects, accepted or rejected: kept nowhere."""
        if entity.dataset != "acts" or self.opposition is None:
            return _Objectors(landed, 0, [], set())
        assert f.association_id is not None
        rejected_opposed = self._rejected_objectors(checked)
        # Their act numbers are remembered too: the act's children are the objector's.
        act_ids = parsed.columns["num_acte"].take(pa.array(sorted(rejected_opposed), pa.int64()))
        opposed_acts = [(f.association_id, a) for a in act_ids.to_pylist() if a]
        n_opposed = len(rejected_opposed)
        opposed = self.opposition.is_opposed(landed.column("patient_pseudonym"))
        if opposed.any():
            dropped = landed.filter(pa.array(opposed))
            opposed_acts += list(
                zip(
                    dropped.column("association_id").to_pylist(),
                    dropped.column("act_id").to_pylist(),
                    strict=True,
                )
            )
            landed, n_opposed = landed.filter(pa.array(~opposed)), n_opposed + int(opposed.sum())
        return _Objectors(landed, n_opposed, opposed_acts, rejected_opposed)

    def _decide(self, p: Prepared) -> Callable[[], FileReport]:
        """Decide, in input order, what to do with one prepared file; returns the writing itself (safe to
        run on another thread). A batch seen earlier in this run (the same file under two paths) is a
        duplicate, as it would have been had the first one been written first."""
        f = p.f
        ingested_on = p.ingested_on if isinstance(p, AlreadyLanded) else None
        if ingested_on is None and f.batch_id in self._seen_batches:
            ingested_on = datetime.now(UTC).date().isoformat()
        earlier = p.earlier if isinstance(p, SameContent) else None
        if earlier is None and ingested_on is None and not isinstance(p, Unusable):
            earlier = self._seen_content.get(f.sha256) if self._dated_records(p.entity_name) else None
        if earlier is not None:
            return _reported(
                FileReport(
                    file=f.name,
                    status="duplicate",
                    entity=p.entity_name,
                    message=f"same content as `{earlier.source_file}`, already landed on "
                    f"{earlier.ingested_at[:10]} (batch {earlier.batch_id[:12]}): not landed again under "
                    "another name",
                )
            )
        if isinstance(p, Expired):
            return _reported(FileReport(file=f.name, status="expired", entity=p.entity_name, message=p.why))
        if ingested_on is not None:
            return _reported(
                FileReport(
                    file=f.name,
                    status="duplicate",
                    entity=p.entity_name,
                    message=f"already ingested on {ingested_on} (batch {f.batch_id[:12]})",
                )
            )
        assert isinstance(p, Unusable | Batch)
        self._seen_batches.add(f.batch_id)
        if isinstance(p, Unusable):
            stripped = self._strip_objectors(f)
            return lambda: self._quarantine_file(f, p.error, stripped)
        if p.rows_read and self._dated_records(p.entity_name):
            now = datetime.now(UTC).isoformat(timespec="seconds")
            self._seen_content[f.sha256] = LandedContent(f.batch_id, f.name, now)
        return self._land(p)

    def _strip_objectors(self, f: ExtractFile) -> Stripped:
        """A file about to be kept whole in quarantine, without its objectors' lines (when it can still
        be read row by row). Order-dependent like the children: decided here, in input order."""
        assert self.opposition is not None
        stripped = strip_objectors(
            f, self.contract, self.secret, self.opposition.pseudonyms, self._opposed_acts
        )
        new_acts = set(stripped.acts) - self._opposed_acts
        if new_acts:
            add_opposed_acts(self.store, self.keystore, new_acts)
            self._opposed_acts.update(new_acts)
        return stripped

    def _dated_records(self, entity_name: str | None) -> bool:
        """Acts and their children: records that happen once, so the same rows under another name are
        the same file sent twice. The roster and sites are full snapshots, alike from day to day."""
        entity = self.contract.entities.get(entity_name or "")
        return entity is not None and entity.dataset in ACT_CHILDREN | {"acts"}

    def _manifest(self, f: ExtractFile, **kw: object) -> Manifest:
        fields: dict[str, object] = {
            "batch_id": f.batch_id,
            "source_file": f.name,
            "source_sha256": f.sha256,
            "source_size": len(f.data),
            "association_id": f.association_id,
            "extract_date": f.extract_date.isoformat() if f.extract_date else None,
            "contract": self.contract.name,
            "contract_version": self.contract.version,
            "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "ingest_version": self.ingest_version,
        }
        fields.update(kw)
        return Manifest(**fields)  # type: ignore[arg-type]

    def _sealed(self, f: ExtractFile, **kw: object) -> Manifest:
        return seal(self._manifest(f, **kw), self.keystore)

    def _quarantine_file(self, f: ExtractFile, e: UnusableFile, stripped: Stripped) -> FileReport:
        # Rows cannot be told apart reliably, so every non-empty line after the first counts as a row read.
        lines = [ln for ln in f.data.splitlines() if ln.strip()]
        rows = max(len(lines) - 1, 0)
        n_opposed = min(stripped.rows_removed, rows)
        period = (f.extract_date or datetime.now(UTC).date()).strftime("%Y-%m")
        key = self.keyring.get_or_create("quarantine", "files", period)
        path = quarantine_file_path(f.batch_id)
        begin(self.store, f.batch_id, [path])
        blob = encrypt_blob(stripped.data, key.key, aad=f.batch_id.encode())
        self.store.put(path, blob)
        entity = self.contract.entities.get(f.entity_name or "")
        # A name that failed its checks may hold anything (a patient's name): only a placeholder is kept.
        named = e.reason not in NAME_REASONS
        commit(
            self.store,
            self._sealed(
                f,
                source_file=f.name if named else redacted_name(f),
                association_id=f.association_id if named else None,
                status="quarantined",
                entity=f.entity_name if named else None,
                dataset=entity.dataset if entity and named else None,
                encoding=None,
                rows_read=rows,
                rows_accepted=0,
                rows_quarantined=rows - n_opposed,
                rows_opposed=n_opposed,
                quarantine_reasons={f"file:{e.reason}": rows - n_opposed},
                outputs=[Output("quarantine", path, rows - n_opposed, key.key_id, file_digest(blob))],
                pseudonym_secret_version=None,
                pseudonym_scheme=None,
                file_reason=e.reason,
                file_message=e.message,
            ),
        )
        return FileReport(
            file=f.name if named else redacted_name(f),
            status="quarantined",
            entity=f.entity_name if named else None,
            rows_read=rows,
            rows_quarantined=rows - n_opposed,
            rows_opposed=n_opposed,
            reasons=Counter({f"file:{e.reason}": rows - n_opposed}),
            message=e.message,
        )

    def _land(self, p: Batch) -> Callable[[], FileReport]:
        """Applies the opposition list to acts' children (order-dependent), then returns the writing."""
        dataset = p.dataset
        new_acts = set(p.opposed_acts) - self._opposed_acts
        if new_acts:
            # Recorded before the batch that drops them is committed: their children may come in a later
            # run, alone (see ingest.governance.opposition). Rare: a file with an objector's act in it.
            add_opposed_acts(self.store, self.keystore, new_acts)
            self._opposed_acts.update(new_acts)
        landed, n_children_opposed = self._drop_opposed_children(dataset, p.landed)
        rejected, n_rejected_opposed = self._drop_opposed_quarantine(dataset, p.rejected)
        n_opposed = p.n_opposed + n_children_opposed + n_rejected_opposed
        reasons = Counter(
            f"{fld}:{rule}" for fld, rule in zip(rejected["field"], rejected["rule"], strict=True)
        )
        return lambda: self._write_batch(p, landed, rejected, n_opposed, reasons)

    def _write_batch(
        self, p: Batch, landed: pa.Table, rejected: pa.Table, n_opposed: int, reasons: Counter[str]
    ) -> FileReport:
        f, dataset = p.f, p.dataset
        assert f.extract_date is not None and f.association_id is not None
        period = f.extract_date.strftime("%Y-%m")
        outputs: list[tuple[str, pa.Table, str]] = []
        if landed.num_rows:
            outputs.append(("raw", landed, raw_path(dataset, f.association_id, f.extract_date, f.batch_id)))
        if rejected.num_rows:
            q_path = quarantine_rows_path(dataset, f.association_id, f.extract_date, f.batch_id)
            outputs.append(("quarantine", rejected, q_path))
        begin(self.store, f.batch_id, [path for _, _, path in outputs])
        written = []
        for zone, table, path in outputs:
            key = self.keyring.get_or_create(zone, dataset, period)  # type: ignore[arg-type]
            payload = encrypt_parquet(table, key.key, key_id=key.key_id)
            self.store.put(path, payload)
            written.append(Output(zone, path, table.num_rows, key.key_id, file_digest(payload)))
        n_read = p.rows_read
        assert landed.num_rows + rejected.num_rows + n_opposed == n_read, f.name
        manifest = self._sealed(
            f,
            status="committed",
            entity=p.entity_name,
            dataset=dataset,
            encoding=p.encoding,
            rows_read=n_read,
            rows_accepted=landed.num_rows,
            rows_quarantined=rejected.num_rows,
            rows_opposed=n_opposed,
            quarantine_reasons=dict(sorted(reasons.items())),
            outputs=written,
            pseudonym_secret_version=self.secret_version,
            pseudonym_scheme=PSEUDONYM_SCHEME,
        )
        commit(self.store, manifest)
        if n_read and self._dated_records(p.entity_name):
            content = LandedContent(f.batch_id, f.name, manifest.ingested_at)
            record_landed_content(self.store, f.sha256, content)
        return FileReport(
            file=f.name,
            status="landed",
            entity=p.entity_name,
            rows_read=n_read,
            rows_accepted=landed.num_rows,
            rows_quarantined=rejected.num_rows,
            rows_opposed=n_opposed,
            reasons=reasons,
        )

    def _drop_opposed_children(self, dataset: str, landed: pa.Table) -> tuple[pa.Table, int]:
        """Rows of acts dropped earlier in this run (their patient objects). Applied by the writer, in
        input order, because the acts they belong to may be in a file prepared at the same time."""
        if dataset in ACT_CHILDREN and self._opposed_acts:
            keys = zip(
                landed.column("association_id").to_pylist(), landed.column("act_id").to_pylist(), strict=True
            )
            opposed = np.fromiter((k in self._opposed_acts for k in keys), dtype=bool, count=landed.num_rows)
            if opposed.any():
                return landed.filter(pa.array(~opposed)), int(opposed.sum())
        return landed, 0

    def _drop_opposed_quarantine(self, dataset: str, rejected: pa.Table) -> tuple[pa.Table, int]:
        """Quarantined rows of an objector's act (by the act number their record keeps): an objection
        holds in quarantine too. Order-dependent like the children, hence applied by the writer."""
        if dataset not in ACT_CHILDREN | {"acts"} or not self._opposed_acts or not rejected.num_rows:
            return rejected, 0
        assoc, acts = rejected.column("association_id").to_pylist(), quarantine_act_ids(rejected).to_pylist()
        keys = zip(assoc, acts, strict=True)
        opposed = np.fromiter((k in self._opposed_acts for k in keys), dtype=bool, count=rejected.num_rows)
        if not opposed.any():
            return rejected, 0
        return rejected.filter(pa.array(~opposed)), int(opposed.sum())

    def _rejected_objectors(self, checked: Validated) -> set[int]:
        """Rows of an acts file rejected by validation whose patient objects, from whatever identity
        fields they have (a rejected row of an objector is no more kept in quarantine than in raw)."""
        assert self.opposition is not None
        rejected_idx = np.flatnonzero(~checked.ok)
        if not len(rejected_idx) or not self.opposition.pseudonyms:
            return set()
        take = pa.array(rejected_idx)
        typed = {c: checked.typed[c].take(take) for c in IDENTITY_COLUMNS}
        return {
            int(i) for i in rejected_idx[patients_opposed(typed, self.secret, self.opposition.pseudonyms)]
        }

    def _rejected_rows(
        self,
        f: ExtractFile,
        entity: Entity,
        parsed: ParsedFile,
        checked: Validated,
        lineage: Lineage,
        skip: set[int] = frozenset(),  # type: ignore[assignment]
    ) -> pa.Table:
        by_row: dict[int, list] = {}
        for fnd in checked.findings:
            if fnd.row not in skip:
                by_row.setdefault(fnd.row, []).append(fnd)
        keep = [c.source for c in entity.columns if c.identifying is None]
        # Only the rejected rows' raw values are brought to Python.
        rejected_idx = pa.array(list(by_row), pa.int64())
        raw = {k: parsed.columns[k].take(rejected_idx).to_pylist() for k in keep}
        rows: list[dict[str, object]] = []
        for j, (i, found) in enumerate(by_row.items()):
            failed = {part for fnd in found for part in fnd.field.split("+")}
            record = {k: raw[k][j] for k in keep if k not in failed and raw[k][j] != ""}
            head = found[0]
            rows.append(
                {
                    "line": int(parsed.lines[i]),
                    "field": head.field,
                    "rule": head.rule,
                    "message": head.message,
                    "all_findings": "; ".join(f"{x.field}:{x.rule}" for x in found),
                    "record": json.dumps(record, ensure_ascii=False, sort_keys=True),
                }
            )
        for bad in parsed.bad_rows:
            # The fields of a mis-shaped row cannot be attributed to columns: none is kept.
            rows.append(
                {
                    "line": bad.line,
                    "field": "*",
                    "rule": bad.rule,
                    "message": bad.message,
                    "all_findings": f"*:{bad.rule}",
                    "record": None,
                }
            )
        rows.sort(key=lambda r: r["line"])  # type: ignore[arg-type, return-value]
        n = len(rows)
        cols = {
            "association_id": [lineage.association_id] * n,
            "extract_date": [lineage.extract_date] * n,
            "entity": [entity.name] * n,
            **{
                k: [r[k] for r in rows]
                for k in ("line", "field", "rule", "message", "all_findings", "record")
            },
            "_batch_id": [lineage.batch_id] * n,
            "_source_file": [lineage.source_file] * n,
            "_source_line": [r["line"] for r in rows],
            "_ingested_at": [lineage.ingested_at] * n,
            "_contract_version": [lineage.contract_version] * n,
        }
        return pa.Table.from_pydict(cols, schema=QUARANTINE_SCHEMA)


def _reported(report: FileReport) -> Callable[[], FileReport]:
    """A decision with nothing to write."""
    return lambda: report
