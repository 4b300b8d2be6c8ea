"""Encrypted Parquet (pyarrow writes, pyarrow and DuckDB read), AES-GCM blobs, DuckDB connections."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.exceptions import ConfigError, DecryptionError
from ingest.lake.crypto import (
    ROW_GROUP_SIZE,
    configure_duckdb_s3,
    connect_duckdb,
    decrypt_blob,
    decrypt_parquet,
    duckdb_read_sql,
    encrypt_blob,
    encrypt_parquet,
    httpfs_extension_path,
)
from ingest.lake.keys import DataKey, LocalKeyStore, register_duckdb_keys
from ingest.lake.storage import ObjectStore, S3Settings

KEY = bytes.fromhex("00112233445566778899aabbccddeeff" * 2)
OTHER_KEY = bytes.fromhex("ffeeddccbbaa99887766554433221100" * 2)
MARKER = "SYNTHETIC-PLAINTEXT-MARKER"
N_ROWS = 300_000  # > 2 x ROW_GROUP_SIZE: several row groups, and pages pyarrow would split by default


@pytest.fixture(scope="module")
def small_table() -> pa.Table:
    return pa.table({"act_id": [f"{MARKER}-{i}" for i in range(50)], "n": list(range(50))})


@pytest.fixture(scope="module")
def big_table() -> pa.Table:
    """Landed column types: strings (few and many values), ints, floats, dates, timestamps, bools, nulls."""
    rng = np.random.default_rng(20240115)
    n = N_ROWS
    ids = np.arange(n)
    return pa.table(
        {
            "act_id": pa.array([f"A{i:09d}" for i in ids]),
            "act_type": pa.array(rng.choice(["VAD", "CONS", "TLC"], n)),
            "patient_age_years": pa.array(rng.integers(0, 105, n), pa.int16()),
            "patient_birth_year": pa.array(rng.integers(1920, 2024, n), pa.int32()),
            "temperature_c": pa.array(np.round(rng.normal(37.5, 1.0, n), 1), mask=rng.random(n) < 0.1),
            "extract_date": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in ids % 31]),
            "start_at": pa.array(
                np.datetime64("2024-01-01T00:00", "us")
                + rng.integers(0, 31 * 24 * 60, n).astype("timedelta64[m]").astype("timedelta64[us]"),
                pa.timestamp("us"),
            ),
            "is_weekend": pa.array(rng.random(n) < 0.3),
            "_source_line": pa.array(ids + 2, pa.int32()),
        }
    )


def _aggregates_pyarrow(table: pa.Table) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for name in table.column_names:
        column = table[name]
        if pa.types.is_string(column.type):
            digest = pc.sum(pc.utf8_length(column)).as_py()
        elif pa.types.is_boolean(column.type):
            digest = pc.sum(pc.cast(column, pa.int64())).as_py()
        elif pa.types.is_floating(column.type):
            digest = round(pc.sum(column).as_py(), 3)
        elif pa.types.is_integer(column.type):
            digest = pc.sum(column).as_py()
        else:
            digest = None
        out[name] = (
            pc.count(column).as_py(),
            pc.count_distinct(column).as_py(),
            pc.min(column).as_py(),
            pc.max(column).as_py(),
            digest,
        )
    return out


def _aggregates_duckdb(
    con: duckdb.DuckDBPyConnection, source: str, table: pa.Table
) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for name in table.column_names:
        column_type = table[name].type
        if pa.types.is_string(column_type):
            digest = f"sum(length({name}))"
        elif pa.types.is_boolean(column_type):
            digest = f"sum({name}::bigint)"
        elif pa.types.is_floating(column_type):
            digest = f"round(sum({name}), 3)"
        elif pa.types.is_integer(column_type):
            digest = f"sum({name})"
        else:
            digest = "null"
        sql = (
            f"select count({name}), count(distinct {name}), min({name}), max({name}), {digest} from {source}"
        )
        row = con.execute(sql).fetchone()
        assert row is not None
        out[name] = tuple(row)
    return out


# --- Parquet with pyarrow ------------------------------------------------------------------------


def test_parquet_round_trip(small_table: pa.Table) -> None:
    data = encrypt_parquet(small_table, KEY)
    assert decrypt_parquet(data, KEY, path="raw/acts/x.parquet").equals(small_table)


def test_parquet_is_really_encrypted(small_table: pa.Table) -> None:
    data = encrypt_parquet(small_table, KEY)
    assert data[:4] == b"PARE" and data[-4:] == b"PARE"  # PARE: encrypted footer
    assert MARKER.encode() not in data
    assert b"act_id" not in data  # even the schema is hidden
    with pytest.raises(OSError, match="encrypted"):
        pq.read_table(pa.BufferReader(data))


def test_parquet_wrong_key(small_table: pa.Table) -> None:
    data = encrypt_parquet(small_table, KEY)
    with pytest.raises(DecryptionError, match=r"Could not decrypt `raw/acts/x\.parquet`.*wrong key") as info:
        decrypt_parquet(data, OTHER_KEY, path="raw/acts/x.parquet")
    assert info.value.path == "raw/acts/x.parquet"


def test_parquet_tampered(small_table: pa.Table) -> None:
    data = bytearray(encrypt_parquet(small_table, KEY))
    data[len(data) // 2] ^= 0x01
    with pytest.raises(DecryptionError, match=r"`raw/acts/x\.parquet`.*altered") as info:
        decrypt_parquet(bytes(data), KEY, path="raw/acts/x.parquet")
    assert info.value.path == "raw/acts/x.parquet"


def test_parquet_truncated_and_plaintext(small_table: pa.Table) -> None:
    data = encrypt_parquet(small_table, KEY)
    with pytest.raises(DecryptionError, match="not a complete Parquet file") as info:
        decrypt_parquet(data[: len(data) - 10], KEY, path="raw/acts/t.parquet")
    assert info.value.path == "raw/acts/t.parquet"

    sink = pa.BufferOutputStream()
    pq.write_table(small_table, sink)
    with pytest.raises(DecryptionError, match=r"`raw/acts/p\.parquet` is not encrypted"):
        decrypt_parquet(sink.getvalue().to_pybytes(), KEY, path="raw/acts/p.parquet")


def test_short_keys_are_refused(small_table: pa.Table) -> None:
    """A 16-byte key would work in pyarrow but not in DuckDB (its base64 is read as a 24-byte key)."""
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_parquet(small_table, KEY[:16])


def test_one_page_per_column_chunk(big_table: pa.Table) -> None:
    metadata = pq.ParquetFile(
        pa.BufferReader(encrypt_parquet(big_table, KEY)),
        decryption_properties=pa.parquet.encryption.create_decryption_properties(footer_key=KEY),
    ).metadata
    assert metadata.num_row_groups == -(-N_ROWS // ROW_GROUP_SIZE)
    assert metadata.row_group(0).num_rows == ROW_GROUP_SIZE
    assert metadata.row_group(0).column(0).compression == "ZSTD"


# --- DuckDB --------------------------------------------------------------------------------------


def test_connect_duckdb_loads_httpfs_from_the_wheel() -> None:
    con = connect_duckdb()
    loaded = dict(con.execute("select extension_name, loaded from duckdb_extensions()").fetchall())
    assert loaded["httpfs"] is True
    assert con.execute("select current_setting('autoinstall_known_extensions')").fetchone() == (False,)
    assert con.execute("select current_setting('autoload_known_extensions')").fetchone() == (False,)
    assert httpfs_extension_path().is_file()
    # An extension that is not shipped is not fetched: the query fails at once instead.
    with pytest.raises(duckdb.Error):
        con.execute("select st_point(0, 0)")


def test_duckdb_reads_every_column_locally(big_table: pa.Table, local_store: ObjectStore) -> None:
    local_store.put("raw/acts/part-0.parquet", encrypt_parquet(big_table, KEY))
    local_store.put("raw/acts/part-1.parquet", encrypt_parquet(big_table.slice(0, 1000), KEY))
    con = connect_duckdb()
    register_duckdb_keys(con, [DataKey("raw/acts/2024-01", KEY)])

    source = duckdb_read_sql(local_store.uri("raw/acts/part-0.parquet"), "raw__acts__2024_01")
    assert _aggregates_duckdb(con, source, big_table) == _aggregates_pyarrow(big_table)

    both = duckdb_read_sql(
        [local_store.uri("raw/acts/part-0.parquet"), local_store.uri("raw/acts/part-1.parquet")],
        "raw__acts__2024_01",
    )
    assert con.execute(f"select count(*) from {both}").fetchone() == (N_ROWS + 1000,)


@pytest.mark.s3
def test_duckdb_reads_every_column_from_s3(
    big_table: pa.Table, s3_store: ObjectStore, s3_settings: S3Settings
) -> None:
    """httpfs against the moto server over HTTP, through the secret configure_duckdb_s3 creates."""
    s3_store.put("raw/acts/part-0.parquet", encrypt_parquet(big_table, KEY))
    con = connect_duckdb()
    configure_duckdb_s3(con, s3_settings)
    register_duckdb_keys(con, [DataKey("raw/acts/2024-01", KEY)])

    source = duckdb_read_sql(s3_store.uri("raw/acts/part-0.parquet"), "raw__acts__2024_01")
    assert _aggregates_duckdb(con, source, big_table) == _aggregates_pyarrow(big_table)
    secrets_shown = con.execute("select secret_string from duckdb_secrets()").fetchall()
    assert str(s3_settings.secret) not in str(secrets_shown)


def test_duckdb_needs_the_key(small_table: pa.Table, tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(encrypt_parquet(small_table, KEY))
    con = connect_duckdb()
    with pytest.raises(duckdb.Error):
        con.execute("select * from read_parquet(?)", [str(path)]).fetchall()
    register_duckdb_keys(con, [DataKey("raw/acts/2024-01", OTHER_KEY)])
    with pytest.raises(duckdb.Error):
        con.execute(f"select * from {duckdb_read_sql(str(path), 'raw__acts__2024_01')}").fetchall()


def test_default_pyarrow_pages_break_duckdb(big_table: pa.Table, tmp_path: Path) -> None:
    """Why the writer constants exist: with pyarrow's default page limits DuckDB cannot read the columns.

    If this starts failing, DuckDB has fixed multi-page encrypted chunks and the limits may be relaxed.
    """
    path = tmp_path / "default-pages.parquet"
    properties = pa.parquet.encryption.create_encryption_properties(footer_key=KEY)
    pq.write_table(big_table, path, encryption_properties=properties)
    con = connect_duckdb()
    register_duckdb_keys(con, [DataKey("raw/acts/2024-01", KEY)])
    with pytest.raises(duckdb.Error, match="AES tag"):
        source = duckdb_read_sql(str(path), "raw__acts__2024_01")
        con.execute(f"select sum(length(act_id)) from {source}").fetchall()


def test_union_by_name_breaks_encrypted_reads(small_table: pa.Table, tmp_path: Path) -> None:
    """Why duckdb_read_sql sets union_by_name=false: DuckDB 1.5.5 cannot combine it with decryption.

    If this starts failing, DuckDB has fixed it and union_by_name may be turned back on.
    """
    path = tmp_path / "x.parquet"
    path.write_bytes(encrypt_parquet(small_table, KEY))
    con = connect_duckdb()
    register_duckdb_keys(con, [DataKey("raw/acts/2024-01", KEY)])
    source = duckdb_read_sql(str(path), "raw__acts__2024_01")
    source = source.replace("union_by_name=false", "union_by_name=true")
    with pytest.raises(duckdb.Error, match="shared_ptr"):
        con.execute(f"select max(act_id) from {source}").fetchall()


def test_files_of_one_schema_read_together(small_table: pa.Table, tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.parquet").write_bytes(encrypt_parquet(small_table, KEY))
    con = connect_duckdb()
    register_duckdb_keys(con, [DataKey("raw/acts/2024-01", KEY)])
    source = duckdb_read_sql(str(tmp_path / "*.parquet"), "raw__acts__2024_01")
    row = con.execute(f"select count(*), count(distinct act_id), sum(n) from {source}").fetchone()
    assert row == (100, 50, 2 * sum(range(50)))


def test_read_sql_quotes_uris(small_table: pa.Table, tmp_path: Path) -> None:
    folder = tmp_path / "it's here"
    folder.mkdir()
    (folder / "x.parquet").write_bytes(encrypt_parquet(small_table, KEY))
    con = connect_duckdb()
    register_duckdb_keys(con, [DataKey("raw/acts/2024-01", KEY)])
    source = duckdb_read_sql(str(folder / "x.parquet"), "raw__acts__2024_01")
    sql = f"select count(*) from {source}"
    assert con.execute(sql).fetchone() == (50,)
    with pytest.raises(ValueError, match="key name"):
        duckdb_read_sql("x.parquet", "bad'name")
    with pytest.raises(ValueError, match="at least one file"):
        duckdb_read_sql([], "raw__acts__2024_01")


def test_configure_duckdb_s3_needs_credentials() -> None:
    con = connect_duckdb()
    with pytest.raises(ConfigError, match="AWS_ACCESS_KEY_ID"):
        configure_duckdb_s3(con, S3Settings(endpoint_url="http://127.0.0.1:9000"))
    with pytest.raises(ConfigError, match="with no path"):
        configure_duckdb_s3(con, S3Settings("http://127.0.0.1:9000/minio", "k", "s"))


def test_warehouse_database_is_encrypted(keystore: LocalKeyStore, tmp_path: Path) -> None:
    """The key store's warehouse key opens an encrypted DuckDB file (needs httpfs in DuckDB 1.5.5)."""
    path = tmp_path / "warehouse.duckdb"
    db_key = keystore.warehouse_db_key()
    con = connect_duckdb()
    con.execute(f"attach '{path}' as wh (encryption_key '{db_key}')")
    con.execute("create table wh.t as select ? as v from range(1000)", [MARKER])
    con.execute("detach wh")
    con.close()
    assert MARKER.encode() not in path.read_bytes()

    con = connect_duckdb()
    with pytest.raises(duckdb.Error):
        con.execute(f"attach '{path}' as wh")
    con.execute(f"attach '{path}' as wh2 (encryption_key '{db_key}')")
    assert con.execute("select count(*) from wh2.t").fetchone() == (1000,)


# --- Blobs ---------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=4096), aad=st.binary(max_size=64))
def test_blob_round_trip(data: bytes, aad: bytes) -> None:
    blob = encrypt_blob(data, KEY, aad=aad)
    assert len(blob) == len(data) + 28
    assert decrypt_blob(blob, KEY, aad=aad, path="quarantine/files/x.bin") == data


@settings(max_examples=30, deadline=None)
@given(data=st.binary(min_size=1, max_size=1024), position=st.integers(min_value=0))
def test_blob_tampering_is_detected(data: bytes, position: int) -> None:
    blob = bytearray(encrypt_blob(data, KEY, aad=b"batch"))
    blob[position % len(blob)] ^= 0x80
    with pytest.raises(DecryptionError, match=r"`quarantine/files/x\.bin`"):
        decrypt_blob(bytes(blob), KEY, aad=b"batch", path="quarantine/files/x.bin")


def test_blob_errors_name_the_path() -> None:
    blob = encrypt_blob(MARKER.encode(), KEY, aad=b"batch-1")
    assert MARKER.encode() not in blob
    assert encrypt_blob(MARKER.encode(), KEY, aad=b"batch-1") != blob  # fresh nonce each time
    for key, aad in ((OTHER_KEY, b"batch-1"), (KEY, b"batch-2")):
        with pytest.raises(DecryptionError, match=r"`quarantine/files/b\.bin`.*wrong key") as info:
            decrypt_blob(blob, key, aad=aad, path="quarantine/files/b.bin")
        assert info.value.path == "quarantine/files/b.bin"
    with pytest.raises(DecryptionError, match="too short"):
        decrypt_blob(os.urandom(20), KEY, aad=b"batch-1", path="quarantine/files/b.bin")
