"""Generator → ingest on realistic volume, on both stores: exactly the injected invalid records are
quarantined, DuckDB reads every landed dataset, and no identifier of the source files reaches any zone."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date

import pyarrow as pa
import pytest

from ingest.lake.crypto import configure_duckdb_s3, connect_duckdb, decrypt_parquet, duckdb_read_sql
from ingest.lake.keys import DataKeyring, LocalKeyStore, register_duckdb_keys
from ingest.lake.landed_schema import LANDED_SCHEMAS
from ingest.lake.manifest import all_manifests
from ingest.lake.storage import ObjectStore
from ingest.landing.land import Ingestor, IngestReport
from ingest.synth import GenerationSummary, generate_extracts

IDENTIFYING_SOURCE_COLUMNS = {
    "actes": [
        "patient_nom",
        "patient_prenom",
        "patient_nir",
        "patient_adresse",
        "patient_telephone",
        "note_appel",
    ],
    "medecins": ["nom", "prenom", "rpps"],
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GenerationSummary:
    out = tmp_path_factory.mktemp("extracts")
    return generate_extracts(
        out, date(2024, 1, 14), date(2024, 1, 16), n_associations=2, scale=0.3, seed=7, invalid_share=0.03
    )


@pytest.fixture
def ingested(generated: GenerationSummary, store: ObjectStore, keystore: LocalKeyStore) -> IngestReport:
    return Ingestor(store, keystore).run(sorted(f.path for f in generated.files))


def test_exactly_the_injected_records_are_quarantined(generated, ingested, store, keystore) -> None:
    assert sum(len(f.invalid_lines) for f in generated.files) > 20  # the test would be vacuous otherwise
    keyring = DataKeyring(store, keystore)
    quarantined: dict[str, set[int]] = {}
    for m in all_manifests(store):
        for o in m.outputs:
            if o.zone == "quarantine":
                table = decrypt_parquet(store.get(o.path), keyring.get(o.key_id).key, path=o.path)
                quarantined[m.source_file] = set(table.column("line").to_pylist())
    for f in generated.files:
        assert quarantined.get(f.path.name, set()) == set(f.invalid_lines), f.path.name
    by_file = {r.file: r for r in ingested.files}
    for f in generated.files:
        r = by_file[f.path.name]
        assert r.rows_read == f.rows and r.rows_accepted + r.rows_quarantined == r.rows_read


def test_duckdb_reads_every_landed_dataset_like_pyarrow(ingested, store, keystore, request) -> None:
    con = connect_duckdb()
    if not store.is_local:
        configure_duckdb_s3(con, request.getfixturevalue("s3_settings"))
    keyring = DataKeyring(store, keystore)
    keys = keyring.all(zone="raw")
    register_duckdb_keys(con, keys)
    order = [("association_id", "ascending"), ("_source_file", "ascending"), ("_source_line", "ascending")]
    for dataset in LANDED_SCHEMAS:
        (key,) = [k for k in keys if k.dataset == dataset]  # one month of data: one key per dataset
        paths = store.list(f"raw/{dataset}")
        assert paths, dataset
        sql = duckdb_read_sql([store.uri(p) for p in paths], key.duckdb_name)
        via_duckdb = con.execute(f"select * from {sql}").to_arrow_table().sort_by(order)
        via_pyarrow = pa.concat_tables(decrypt_parquet(store.get(p), key.key, path=p) for p in paths).sort_by(
            order
        )
        assert via_duckdb.num_rows == via_pyarrow.num_rows > 0
        for name in LANDED_SCHEMAS[dataset].names:
            assert via_duckdb.column(name).to_pylist() == via_pyarrow.column(name).to_pylist(), (
                dataset,
                name,
            )


def _source_identifiers(generated: GenerationSummary) -> set[str]:
    """Every identifying value written in the source files (long enough not to match by chance)."""
    values: set[str] = set()
    for f in generated.files:
        columns = IDENTIFYING_SOURCE_COLUMNS.get(f.entity)
        if not columns:
            continue
        text = f.path.read_bytes().decode(generated.encodings[f.association])
        for row in csv.DictReader(io.StringIO(text), delimiter=";"):
            for c in columns:
                v = (row.get(c) or "").strip()
                if c == "note_appel":
                    values.update(re.findall(r"\b0\d(?:[ .]?\d\d){4}\b", v))  # phone numbers inside notes
                elif len(v) >= 5:
                    values.add(v)
    return values


def test_no_source_identifier_in_any_zone_after_decryption(generated, ingested, store, keystore) -> None:
    identifiers = _source_identifiers(generated)
    assert len(identifiers) > 200
    keyring = DataKeyring(store, keystore)
    texts = []
    for m in all_manifests(store):
        texts.append(m.to_json().decode())
        for o in m.outputs:
            if o.path.endswith(".parquet"):
                table = decrypt_parquet(store.get(o.path), keyring.get(o.key_id).key, path=o.path)
                texts.append(json.dumps(table.to_pylist(), default=str, ensure_ascii=False))
    everything = "\n".join(texts)
    leaked = sorted(v for v in identifiers if v in everything)
    assert leaked == []


@pytest.fixture(scope="module")
def generated_months(tmp_path_factory: pytest.TempPathFactory) -> GenerationSummary:
    out = tmp_path_factory.mktemp("monthly_extracts")
    return generate_extracts(
        out,
        date(2024, 1, 25),
        date(2024, 2, 4),
        n_associations=2,
        scale=0.3,
        seed=7,
        invalid_share=0.03,
        file_period="month",
    )


def test_monthly_files_quarantine_exactly_the_injected_records(
    generated_months, local_store, keystore
) -> None:
    """A backfill: one batch per monthly file, partitioned by its last day, and the same row accounting."""
    assert sum(len(f.invalid_lines) for f in generated_months.files) > 20
    report = Ingestor(local_store, keystore).run(sorted(f.path for f in generated_months.files), workers=2)
    keyring = DataKeyring(local_store, keystore)
    manifests = {m.source_file: m for m in all_manifests(local_store)}
    assert len(manifests) == len(generated_months.files)
    by_file = {r.file: r for r in report.files}
    for f in generated_months.files:
        m = manifests[f.path.name]
        assert m.extract_date == f.day.isoformat()
        quarantined: set[int] = set()
        for o in m.outputs:
            assert f"/extract_date={f.day.isoformat()}/" in o.path
            if o.zone == "quarantine":
                table = decrypt_parquet(local_store.get(o.path), keyring.get(o.key_id).key, path=o.path)
                quarantined = set(table.column("line").to_pylist())
        assert quarantined == set(f.invalid_lines), f.path.name
        r = by_file[f.path.name]
        assert r.status == "landed" and r.rows_read == f.rows
        assert r.rows_accepted + r.rows_quarantined == r.rows_read


def test_one_patient_per_nir_birth_date_and_sex(generated_months, local_store, keystore) -> None:
    """Children come on a parent's NIR in the generated files: each (NIR, birth date, sex) lands as one
    patient pseudonym and no two of them share one, though their NIRs do."""
    Ingestor(local_store, keystore).run(sorted(f.path for f in generated_months.files))
    identity: dict[tuple[str, str], tuple[str, str, str]] = {}
    for f in generated_months.files:
        if f.entity != "actes":
            continue
        text = f.path.read_bytes().decode(generated_months.encodings[f.association])
        for row in csv.DictReader(io.StringIO(text), delimiter=";"):
            if row["patient_nir"]:
                identity[(f.association, row["num_acte"])] = (
                    row["patient_nir"].replace(" ", ""),
                    row["patient_date_naissance"],
                    row["patient_sexe"],
                )
    keyring = DataKeyring(local_store, keystore)
    pseudonym_of: dict[tuple[str, str, str], set[str]] = {}
    for m in all_manifests(local_store):
        for o in m.outputs:
            if o.zone == "raw" and o.path.startswith("raw/acts/"):
                table = decrypt_parquet(local_store.get(o.path), keyring.get(o.key_id).key, path=o.path)
                for act in table.select(["association_id", "act_id", "patient_pseudonym"]).to_pylist():
                    who = identity.get((act["association_id"], act["act_id"]))
                    if who:
                        pseudonym_of.setdefault(who, set()).add(act["patient_pseudonym"])
    nirs = [who[0] for who in pseudonym_of]
    assert len(nirs) - len(set(nirs)) > 5  # NIRs carried by several people: the test would be vacuous
    assert all(len(p) == 1 for p in pseudonym_of.values())
    distinct = [next(iter(p)) for p in pseudonym_of.values()]
    assert len(set(distinct)) == len(distinct)
