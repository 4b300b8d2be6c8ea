"""The landed lake read by Spark (parquet-java's PropertiesDrivenCryptoFactory and the project's KMS client,
spark/kms-client) from the very files DuckDB reads, with equal values; a wrong master key fails closed;
rotation and retirement keep both engines reading; an older lake is migrated, idempotently and crash-safely.

One Spark session (local[1]) for the module; each test reads its own lake, named in the read's options.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import signal
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pqe
import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.exceptions import DecryptionError, LakeIntegrityError
from ingest.governance.footer_keys import add_footer_keys
from ingest.governance.purge import committed_files
from ingest.governance.rotation import remove_master_key, retire_data_key, rotate_master_key
from ingest.governance.seal_manifests import seal_manifests
from ingest.lake import audit
from ingest.lake.crypto import connect_duckdb, duckdb_read_sql, encrypt_parquet
from ingest.lake.footer_key import footer_key_metadata, read_footer_key_metadata, with_footer_key_metadata
from ingest.lake.keys import DataKeyring, LocalKeyStore, register_duckdb_keys
from ingest.lake.manifest import all_manifests
from ingest.lake.spark_read import (
    KEYSTORE_PROPERTY,
    LAKE_PROPERTY,
    hadoop_lake_url,
    spark_input_files,
    spark_read_conf,
)
from ingest.lake.storage import ObjectStore
from ingest.landing.land import Ingestor
from tests.spark_tables import local_session, session_jars
from tests.test_purge import build_lake
from tests.test_sealed_manifests import unseal

pytest.importorskip("pyspark", reason="the spark extra is not installed: pip install -e '.[spark]'")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    # The lake and key store of the session are placeholders: every read below names its own.
    conf = spark_read_conf("/nonexistent-lake", "/nonexistent-keystore.json", session_jars())
    with local_session("lakehouse-spark-tests", conf) as session:
        yield session


def _spark_rows(spark: Any, store: ObjectStore, keystore: Path, paths: list[str]) -> list[tuple]:
    frame = (
        spark.read.option(LAKE_PROPERTY, hadoop_lake_url(store.url))
        .option(KEYSTORE_PROPERTY, str(keystore))
        .parquet(*["file://" + store.uri(p) for p in paths])
    )
    return sorted((tuple(_plain(v) for v in row) for row in frame.collect()), key=repr)


def _duckdb_rows(store: ObjectStore, keystore: LocalKeyStore, key_id: str, paths: list[str]) -> list[tuple]:
    con = connect_duckdb()
    try:
        data_key = DataKeyring(store, keystore).get(key_id)
        register_duckdb_keys(con, [data_key])
        rows = con.execute(
            f"select * from {duckdb_read_sql([store.uri(p) for p in paths], data_key.duckdb_name)}"
        )
        return sorted((tuple(_plain(v) for v in row) for row in rows.fetchall()), key=repr)
    finally:
        con.close()


def _plain(value: Any) -> Any:
    # Both engines give Python values; only the container types of nested values differ.
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _plain(v)) for k, v in value.items()))
    if isinstance(value, datetime) and value.tzinfo is not None:
        # DuckDB gives `timestamptz` columns aware; Spark gives them naive, in UTC (the session's zone).
        return value.astimezone(UTC).replace(tzinfo=None)
    assert value is None or isinstance(value, str | int | float | bool | date | time | Decimal | bytes)
    return value


def _assert_engines_agree(spark: Any, store: ObjectStore, keystore: LocalKeyStore) -> int:
    """Every committed Parquet file, per zone x dataset x key: Spark's rows == DuckDB's. Returns the rows."""
    seen = 0
    datasets = {
        (o.zone, m.dataset) for m in all_manifests(store) for o in m.outputs if o.path.endswith(".parquet")
    }
    assert datasets
    for zone, dataset in sorted(datasets):
        for key_id, paths in committed_files(store, zone, dataset).items():
            spark_rows = _spark_rows(spark, store, keystore.path, paths)
            assert spark_rows == _duckdb_rows(store, keystore, key_id, paths), (zone, dataset, key_id)
            seen += len(spark_rows)
    return seen


def _parquet_outputs(store: ObjectStore) -> list[tuple[str, str]]:
    return sorted(
        (o.path, o.key_id) for m in all_manifests(store) for o in m.outputs if o.path.endswith(".parquet")
    )


@pytest.fixture
def landed(local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path) -> ObjectStore:
    Ingestor(local_store, keystore).run(build_lake(tmp_path / "in"))
    return local_store


# ---------------------------------------------------------------------------------------- footer metadata


def test_every_landed_file_names_its_data_key_in_its_footer(landed: ObjectStore) -> None:
    outputs = _parquet_outputs(landed)
    assert {key_id.split("/")[0] for _, key_id in outputs} == {"raw", "quarantine"}
    for path, key_id in outputs:
        material = json.loads(read_footer_key_metadata(landed.get(path)) or b"{}")
        assert material["wrappedDEK"] == f"ref:{key_id}", path
        assert (material["keyMaterialType"], material["isFooterKey"], material["internalStorage"]) == (
            "PKMT1",
            True,
            True,
        )
        assert material["masterKeyID"] == key_id.split("/")[0] and material["doubleWrapping"] is False


def test_footer_metadata_changes_only_the_tail_and_every_reader_still_opens_the_file() -> None:
    key = secrets.token_bytes(32)
    table = pa.table({"act_id": [f"a{i}" for i in range(50)], "n": list(range(50))})
    plain = encrypt_parquet(table, key)
    assert read_footer_key_metadata(plain) is None
    marked = with_footer_key_metadata(plain, footer_key_metadata("raw/acts/2024-01"))
    footer_length = int.from_bytes(plain[-8:-4], "little")
    assert marked[: len(plain) - 8 - footer_length] == plain[: len(plain) - 8 - footer_length]
    assert with_footer_key_metadata(marked, footer_key_metadata("raw/acts/2024-01")) is marked
    again = with_footer_key_metadata(marked, footer_key_metadata("raw/acts/2024-01.v2"))
    assert json.loads(read_footer_key_metadata(again) or b"")["wrappedDEK"] == "ref:raw/acts/2024-01.v2"
    for data in (marked, again):
        properties = pqe.create_decryption_properties(footer_key=key)
        assert pq.read_table(pa.BufferReader(data), decryption_properties=properties).equals(table)
    with pytest.raises(ValueError, match="encrypted footer"):
        read_footer_key_metadata(b"PAR1" + b"\x00" * 16 + b"PAR1")


def _with_crypto_metadata(data: bytes, crypto_metadata: bytes) -> bytes:
    """`data` with the plaintext FileCryptoMetaData of its tail replaced by `crypto_metadata`, as an
    attacker with write access to the lake can."""
    footer_start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    region = crypto_metadata + b"\x00" * 32  # stands for the encrypted footer that follows it
    return data[:footer_start] + region + len(region).to_bytes(4, "little") + b"PARE"


# Field 3, a list of booleans whose count is a varint of 2**63 - 1; structs nested 5000 deep.
_HUGE_LIST_TAIL = bytes([0x39, 0xF1]) + b"\xff" * 8 + b"\x7f" + b"\x00"
_DEEP_TAIL = b"\x1c" * 5000 + b"\x00" * 5001


@pytest.fixture
def alarm() -> Iterator[None]:
    """A crafted tail that made the reader loop fails the test instead of hanging it."""

    def hung(*_: Any) -> None:
        raise AssertionError("the footer reader hung on a crafted tail")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    ("tail", "message"),
    [(_HUGE_LIST_TAIL, "collection size beyond"), (_DEEP_TAIL, "nested too deep")],
    ids=["huge-list", "deep-nesting"],
)
def test_a_crafted_footer_tail_fails_at_once_and_the_migration_names_the_file(
    alarm: None, landed: ObjectStore, keystore: LocalKeyStore, tail: bytes, message: str
) -> None:
    path, _ = _parquet_outputs(landed)[0]
    crafted = _with_crypto_metadata(landed.get(path), tail)
    with pytest.raises(ValueError, match=message):
        read_footer_key_metadata(crafted)
    landed.put(path, crafted)
    _sealed_as_found(landed, keystore)  # in the lake before it was sealed: the parser is reached
    with pytest.raises(
        DecryptionError, match=rf"`{re.escape(landed.uri(path))}`: Parquet footer: .*{message}"
    ):
        add_footer_keys(landed, keystore)
    assert landed.get(path) == crafted


# ------------------------------------------------------------------------------------------------- Spark


def test_spark_reads_the_landed_files_with_duckdb_values(
    spark: Any, landed: ObjectStore, keystore: LocalKeyStore
) -> None:
    assert _assert_engines_agree(spark, landed, keystore) > 40


def _with_wrong_raw_master_key(path: Path) -> bytes:
    """Replace the key store's raw master key by a random one (same id); returns the original file."""
    original = path.read_bytes()
    doc = json.loads(original)
    doc["master_keys"]["raw-v1"]["key"] = base64.b64encode(secrets.token_bytes(32)).decode()
    path.write_bytes(json.dumps(doc).encode())
    return original


def test_a_wrong_master_key_fails_closed(spark: Any, landed: ObjectStore, keystore: LocalKeyStore) -> None:
    paths = committed_files(landed, "raw", "acts")["raw/acts/2024-01"]
    original = _with_wrong_raw_master_key(keystore.path)
    try:
        with pytest.raises(
            Exception, match=r"Could not unwrap data key `raw/acts/2024-01`.*wrong master key"
        ):
            _spark_rows(spark, landed, keystore.path, paths)
    finally:
        keystore.path.write_bytes(original)
    # The key store is read at each file: the right one opens the files again in the same session.
    assert _spark_rows(spark, landed, keystore.path, paths)
    os.chmod(keystore.path, 0o640)
    with pytest.raises(Exception, match=r"accessible by group or others"):
        _spark_rows(spark, landed, keystore.path, paths)
    os.chmod(keystore.path, 0o600)


def _plaintext_copy(store: ObjectStore, keystore: LocalKeyStore, path: str, key_id: str) -> bytes:
    """What an insider with write access and no key can put in a landed file's place: rows in clear."""
    properties = pqe.create_decryption_properties(footer_key=DataKeyring(store, keystore).get(key_id).key)
    table = pq.read_table(pa.BufferReader(store.get(path)), decryption_properties=properties)
    sink = pa.BufferOutputStream()
    pq.write_table(table.slice(0, 1), sink)
    return sink.getvalue().to_pybytes()


def test_a_file_put_in_place_of_a_landed_one_is_refused_by_both_engines(
    spark: Any, landed: ObjectStore, keystore: LocalKeyStore
) -> None:
    outputs = _parquet_outputs(landed)
    victim = next(path for path, key_id in outputs if key_id == "raw/acts/2024-01")
    donor = next(path for path, key_id in outputs if key_id == "raw/diagnoses/2024-01")
    quarantined = next(path for path, key_id in outputs if key_id.startswith("quarantine/"))
    original = landed.get(victim)
    forged = _plaintext_copy(landed, keystore, victim, "raw/acts/2024-01")
    for substitute, refusal in [
        (forged, r"not encrypted|plaintext"),
        (landed.get(donor), r"names data key `raw/diagnoses/2024-01`, not a key of raw/acts/2024-01"),
        (landed.get(quarantined), r"names data key `quarantine/.*`, not a key of raw/acts/2024-01"),
    ]:
        landed.put(victim, substitute)
        with pytest.raises(Exception, match=refusal):
            _spark_rows(spark, landed, keystore.path, [victim])
        with pytest.raises(Exception, match=r"not encrypted|differs from read AES tag"):
            _duckdb_rows(landed, keystore, "raw/acts/2024-01", [victim])
    landed.put(victim, original)
    assert _spark_rows(spark, landed, keystore.path, [victim]) == _duckdb_rows(
        landed, keystore, "raw/acts/2024-01", [victim]
    )


def test_spark_is_handed_only_files_that_match_their_sealed_digest(
    spark: Any, landed: ObjectStore, keystore: LocalKeyStore
) -> None:
    """Two associations' acts files of one month (one data key) swapped: the crypto factory cannot tell,
    Spark reads both as genuine; the listing checks each file's digest before handing paths over."""
    (urls,) = spark_input_files(landed, keystore, "raw", "acts").values()
    assert all(url.startswith(hadoop_lake_url(landed.url) + "/raw/acts/") for url in urls)

    def count() -> int:
        reader = spark.read.option(LAKE_PROPERTY, hadoop_lake_url(landed.url))
        return int(reader.option(KEYSTORE_PROPERTY, str(keystore.path)).parquet(*urls).count())

    rows = count()
    assert rows == 16
    first, second = sorted(committed_files(landed, "raw", "acts")["raw/acts/2024-01"])
    one, other = landed.get(first), landed.get(second)
    landed.put(first, other)
    landed.put(second, one)
    assert count() == rows  # read as genuine by Spark alone
    with pytest.raises(LakeIntegrityError, match="bytes differ from the SHA-256 its manifest records"):
        spark_input_files(landed, keystore, "raw", "acts")


def test_spark_keeps_reading_after_rotation_and_retirement(
    spark: Any, landed: ObjectStore, keystore: LocalKeyStore
) -> None:
    rows = _assert_engines_agree(spark, landed, keystore)
    rotate_master_key(landed, keystore, "raw")
    remove_master_key(landed, keystore, "raw-v1")
    assert _assert_engines_agree(spark, landed, keystore) == rows

    retire_data_key(landed, keystore, "raw/acts/2024-01")
    assert "raw/acts/2024-01.v2" in committed_files(landed, "raw", "acts")
    assert "raw/acts/2024-01" not in committed_files(landed, "raw", "acts")
    assert _assert_engines_agree(spark, landed, keystore) == rows
    assert audit.verify(landed, keystore).ok


def _sealed_as_found(store: ObjectStore, keystore: LocalKeyStore) -> None:
    """Seal the lake as it is now, as `keys seal-manifests` seals a lake landed before seals (which
    predate footer key references too): the files' current bytes are taken as landed."""
    unseal(store)
    seal_manifests(store, keystore)


def _as_before_footer_keys(store: ObjectStore, keystore: LocalKeyStore) -> None:
    """Rewrite every landed file as the writer did before footer key material existed (then sealed by
    the migration that comes first on such a lake)."""
    keyring = DataKeyring(store, keystore)
    for path, key_id in _parquet_outputs(store):
        key = keyring.get(key_id).key
        properties = pqe.create_decryption_properties(footer_key=key)
        table = pq.read_table(pa.BufferReader(store.get(path)), decryption_properties=properties)
        store.put(path, encrypt_parquet(table, key))
        assert read_footer_key_metadata(store.get(path)) is None
    _sealed_as_found(store, keystore)


def test_an_older_lake_is_migrated_idempotently(
    spark: Any, landed: ObjectStore, keystore: LocalKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as_before_footer_keys(landed, keystore)
    outputs = _parquet_outputs(landed)
    raw_acts = committed_files(landed, "raw", "acts")["raw/acts/2024-01"]
    with pytest.raises(Exception, match="footer key"):
        _spark_rows(spark, landed, keystore.path, raw_acts)

    monkeypatch.setenv("LAKEHOUSE_LAKE", landed.url)
    result = CliRunner().invoke(main, ["keys", "add-footer-keys"])
    assert result.exit_code == 0, result.output
    assert f"{len(outputs)} files given their footer key reference (0 already had it)" in result.output
    migrated = {path: landed.get(path) for path, _ in outputs}
    assert all(
        read_footer_key_metadata(data) == footer_key_metadata(k)
        for (_, k), data in zip(outputs, migrated.values(), strict=True)
    )
    _assert_engines_agree(spark, landed, keystore)

    again = add_footer_keys(landed, keystore)
    assert (again.files_updated, again.files_current) == (0, len(outputs))
    assert {path: landed.get(path) for path, _ in outputs} == migrated
    entries = [e for e in audit.entries(landed) if e.action == "key_footer_migrate"]
    assert [e.data["files_updated"] for e in entries] == [len(outputs), 0]
    assert audit.verify(landed, keystore).ok


def test_a_migration_killed_half_way_leaves_readable_files_and_finishes_when_run_again(
    landed: ObjectStore, keystore: LocalKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as_before_footer_keys(landed, keystore)
    outputs = _parquet_outputs(landed)
    real_put, writes = landed.put, []

    def dies_at_the_third_file(path: str, data: bytes) -> None:
        if path.endswith(".parquet"):
            writes.append(path)
            if len(writes) == 3:
                raise KeyboardInterrupt  # what a kill leaves: two files replaced, the rest untouched
        real_put(path, data)

    monkeypatch.setattr(landed, "put", dies_at_the_third_file)
    with pytest.raises(KeyboardInterrupt):
        add_footer_keys(landed, keystore)
    monkeypatch.setattr(landed, "put", real_put)
    marked = [read_footer_key_metadata(landed.get(path)) is not None for path, _ in outputs]
    assert sum(marked) == 2
    keyring = DataKeyring(landed, keystore)
    for path, key_id in outputs:  # every file, migrated or not, still opens as before
        properties = pqe.create_decryption_properties(footer_key=keyring.get(key_id).key)
        assert pq.read_table(pa.BufferReader(landed.get(path)), decryption_properties=properties).num_rows

    # The batch killed between its files and its manifest left a sealed record of the new digests.
    assert landed.list("_footer_keys")

    result = add_footer_keys(landed, keystore)
    assert (result.files_updated, result.files_current) == (len(outputs) - 2, 2)
    assert all(read_footer_key_metadata(landed.get(path)) == footer_key_metadata(k) for path, k in outputs)
    # Every manifest records its files' new digests: the migration re-sealed what it wrote, nothing else.
    assert not landed.list("_footer_keys")
    assert audit.verify(landed, keystore).ok, audit.verify(landed, keystore).problems


def test_a_migration_killed_between_a_file_and_its_manifest_reseals_only_what_it_wrote(
    landed: ObjectStore, keystore: LocalKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file has its new tail, its manifest the old digest: the next run re-seals the manifest from
    the sealed record of the digests it meant to write, never from whatever bytes it finds."""
    _as_before_footer_keys(landed, keystore)
    outputs = _parquet_outputs(landed)
    real_put = landed.put

    def dies_at_the_first_manifest(path: str, data: bytes) -> None:
        if path.startswith("manifests/"):
            raise KeyboardInterrupt
        real_put(path, data)

    monkeypatch.setattr(landed, "put", dies_at_the_first_manifest)
    with pytest.raises(KeyboardInterrupt):
        add_footer_keys(landed, keystore)
    monkeypatch.setattr(landed, "put", real_put)
    assert landed.list("_footer_keys")
    assert not audit.verify(landed, keystore).ok  # the migrated file differs from its manifest now

    add_footer_keys(landed, keystore)
    assert all(read_footer_key_metadata(landed.get(path)) == footer_key_metadata(k) for path, k in outputs)
    assert not landed.list("_footer_keys")
    assert audit.verify(landed, keystore).ok, audit.verify(landed, keystore).problems


def test_a_file_its_key_does_not_open_is_left_unchanged(landed: ObjectStore, keystore: LocalKeyStore) -> None:
    _as_before_footer_keys(landed, keystore)
    path, _ = _parquet_outputs(landed)[0]
    foreign = encrypt_parquet(pa.table({"act_id": ["x"]}), secrets.token_bytes(32))
    landed.put(path, foreign)
    _sealed_as_found(landed, keystore)  # in the lake before it was sealed: the key check is reached
    with pytest.raises(
        DecryptionError, match=r"does not open with data key `.*`, the key its manifest names"
    ):
        add_footer_keys(landed, keystore)
    assert landed.get(path) == foreign


def test_spark_settings_carry_paths_and_never_a_key(keystore: LocalKeyStore, tmp_path: Path) -> None:
    assert hadoop_lake_url("s3://bucket/lake/") == "s3a://bucket/lake"
    assert hadoop_lake_url(f"file://{tmp_path}/lake") == f"file://{tmp_path}/lake"
    conf = spark_read_conf(tmp_path / "lake", keystore.path, "/jars/kms.jar")
    assert conf["spark.hadoop.parquet.encryption.kms.instance.id"] == f"file://{tmp_path}/lake"
    assert conf["spark.hadoop.lakehouse.keystore"] == str(keystore.path)
    secrets_in_store = json.loads(keystore.path.read_text())["master_keys"].values()
    assert not any(entry["key"] in value for entry in secrets_in_store for value in conf.values())
