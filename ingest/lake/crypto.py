"""Parquet modular encryption in the one form both pyarrow and DuckDB read natively, plus AES-GCM for
opaque blobs (whole files in quarantine).

The Parquet form: pyarrow's direct-key API, one 32-byte key for the footer and every column,
AES_GCM_V1, encrypted footer, no AAD prefix, data page V1, and one data page per column chunk.
DuckDB 1.5.5 reads exactly that; `connect_duckdb` loads the httpfs extension shipped in the
`duckdb-extension-httpfs` wheel, which brings both S3 and OpenSSL-backed decryption.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pqe
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ingest.exceptions import ConfigError, DecryptionError
from ingest.lake.footer_key import footer_key_metadata, with_footer_key_metadata
from ingest.lake.storage import S3Settings

__all__ = [
    "DATA_PAGE_SIZE",
    "DATA_PAGE_VERSION",
    "DICTIONARY_PAGESIZE_LIMIT",
    "DUCKDB_KEY_NAME",
    "KEY_BYTES",
    "MAX_ROWS_PER_PAGE",
    "PARQUET_COMPRESSION",
    "ROW_GROUP_SIZE",
    "configure_duckdb_s3",
    "connect_duckdb",
    "decrypt_blob",
    "decrypt_parquet",
    "duckdb_read_sql",
    "encrypt_blob",
    "encrypt_parquet",
    "httpfs_extension_path",
    "load_httpfs",
]

# AES-256 only. A 16-byte key would work in pyarrow, but handed to DuckDB base64-encoded it is a
# 24-character string that DuckDB takes as a raw 24-byte key: files would not open there.
KEY_BYTES = 32

# DuckDB names keys registered with PRAGMA add_parquet_key; only this shape is ever spliced into SQL.
DUCKDB_KEY_NAME = r"[a-z0-9_]+"

# --- Writer settings. DuckDB (1.5.5 and 2.0.1) fails with "Computed AES tag differs from read AES tag"
# as soon as an encrypted column chunk holds more than one data page (count(*) still works, real
# column reads do not). Every limit below exists to keep exactly one data page per column chunk.

# Rows per row group: bounds the size of the single page per chunk (and the memory to write it);
# 131072 rows keep pages of a few MB for our widest dataset while giving DuckDB row groups to parallelise.
ROW_GROUP_SIZE = 131_072
# Byte limit of a data page: far above any chunk of ROW_GROUP_SIZE rows, so pyarrow never cuts a page
# on size (its default is 1 MiB).
DATA_PAGE_SIZE = 2**30
# Row limit of a data page: pyarrow 26 also cuts pages every 20,000 rows by default.
MAX_ROWS_PER_PAGE = 2**30
# A dictionary that outgrows this limit makes pyarrow fall back to plain encoding mid-chunk, which
# starts a new data page; the limit is raised so the dictionary never overflows within a row group.
DICTIONARY_PAGESIZE_LIMIT = 2**30
# A column is dictionary-encoded when values repeat within this many first rows (at most half distinct):
# a dictionary of distinct values (act numbers, pseudonyms, times) costs time and space for nothing.
DICTIONARY_SAMPLE_ROWS = 1024
# Data page V2 pages are not decrypted by DuckDB in this form; V1 is the page version both read.
DATA_PAGE_VERSION = "1.0"
# zstd: smaller files than snappy at similar read speed in DuckDB; supported by every reader we use.
PARQUET_COMPRESSION = "zstd"
# The algorithm DuckDB implements (AES_GCM_CTR_V1 is not read by it).
ENCRYPTION_ALGORITHM = "AES_GCM_V1"

_NONCE_BYTES = 12
_TAG_BYTES = 16
_PARQUET_MAGIC = b"PAR1"
_ENCRYPTED_FOOTER_MAGIC = b"PARE"


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        raise ValueError(f"encryption keys must be {KEY_BYTES} bytes (AES-256)")


def encrypt_parquet(table: pa.Table, key: bytes, *, key_id: str | None = None) -> bytes:
    """Serialise `table` as an encrypted Parquet file that pyarrow and DuckDB both decrypt with `key`.

    `key_id`: the id of the lake's data key that `key` is; the footer then names it, for Spark
    (ingest.lake.footer_key). Every file of the lake is written with it.
    """
    _check_key(key)
    properties = pqe.create_encryption_properties(
        footer_key=bytes(key), encryption_algorithm=ENCRYPTION_ALGORITHM, plaintext_footer=False
    )
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        row_group_size=ROW_GROUP_SIZE,
        data_page_size=DATA_PAGE_SIZE,
        max_rows_per_page=MAX_ROWS_PER_PAGE,
        dictionary_pagesize_limit=DICTIONARY_PAGESIZE_LIMIT,
        data_page_version=DATA_PAGE_VERSION,
        compression=PARQUET_COMPRESSION,
        use_dictionary=_repeating_columns(table),
        encryption_properties=properties,
    )
    data = sink.getvalue().to_pybytes()
    return data if key_id is None else with_footer_key_metadata(data, footer_key_metadata(key_id))


def _repeating_columns(table: pa.Table) -> list[str]:
    head = table.slice(0, DICTIONARY_SAMPLE_ROWS)
    return [
        name
        for name, column in zip(head.column_names, head.columns, strict=True)
        if 2 * pc.count_distinct(column, mode="all").as_py() <= max(len(column), 2)
    ]


def decrypt_parquet(data: bytes, key: bytes, *, path: str) -> pa.Table:
    """Read an encrypted Parquet file; DecryptionError naming `path` when it cannot be decrypted."""
    _check_key(key)
    head, tail = data[:4], data[-4:]
    magics = (_PARQUET_MAGIC, _ENCRYPTED_FOOTER_MAGIC)
    if len(data) < 12 or head not in magics or tail not in magics:
        raise DecryptionError(
            f"`{path}` is not a complete Parquet file (truncated or not Parquet)", path=path
        )
    if tail != _ENCRYPTED_FOOTER_MAGIC:
        # A plaintext file (or one with a plaintext footer, which we never write) where an encrypted
        # one is expected: never accept it silently.
        raise DecryptionError(f"`{path}` is not encrypted, but an encrypted file was expected", path=path)
    properties = pqe.create_decryption_properties(footer_key=bytes(key))
    try:
        return pq.read_table(pa.BufferReader(data), decryption_properties=properties)
    except (OSError, pa.ArrowException, ValueError) as exc:
        # pyarrow's messages are kept out: they are generic and may quote internal offsets only, but
        # the type is enough to tell a wrong key (auth failure) from a parse error in a bug report.
        raise DecryptionError(
            f"Could not decrypt `{path}` ({type(exc).__name__}): "
            "wrong key, or the file was altered or truncated",
            path=path,
        ) from exc


def encrypt_blob(data: bytes, key: bytes, *, aad: bytes) -> bytes:
    """AES-256-GCM: 12-byte random nonce || ciphertext || 16-byte tag. `aad` binds the blob to its name."""
    _check_key(key)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + AESGCM(bytes(key)).encrypt(nonce, bytes(data), bytes(aad))


def decrypt_blob(blob: bytes, key: bytes, *, aad: bytes, path: str) -> bytes:
    """Inverse of `encrypt_blob`; DecryptionError naming `path` on wrong key, wrong AAD or tampering."""
    _check_key(key)
    if len(blob) < _NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError(f"Could not decrypt `{path}`: too short to be an encrypted blob", path=path)
    try:
        return AESGCM(bytes(key)).decrypt(bytes(blob[:_NONCE_BYTES]), bytes(blob[_NONCE_BYTES:]), bytes(aad))
    except InvalidTag as exc:
        raise DecryptionError(
            f"Could not decrypt `{path}`: wrong key, or the file was altered or moved", path=path
        ) from exc


def sql_string(value: str) -> str:
    """A single-quoted SQL string literal."""
    if "\x00" in value:
        raise ValueError("SQL string literals cannot contain NUL")
    return "'" + value.replace("'", "''") + "'"


def duckdb_read_sql(uri: str | Sequence[str], key_name: str, *, filename: bool = False) -> str:
    """A `read_parquet(...)` expression reading encrypted files with the key registered as `key_name`.

    `uri` may be one file, a list, or glob patterns; the files must share one schema (see below).
    """
    if not re.fullmatch(DUCKDB_KEY_NAME, key_name):
        raise ValueError(f"DuckDB key name `{key_name}` must match {DUCKDB_KEY_NAME}")
    uris = [uri] if isinstance(uri, str) else list(uri)
    if not uris:
        raise ValueError("duckdb_read_sql needs at least one file")
    listed = ", ".join(sql_string(item) for item in uris)
    # hive_partitioning off: association_id and extract_date are stored in the files with their real
    # types; DuckDB would otherwise add (or clash with) varchar columns parsed from the folder names.
    # union_by_name off: in DuckDB 1.5.5, union_by_name=true with encryption_config fails on any column
    # read with "INTERNAL Error: Attempted to dereference shared_ptr that is NULL" (count(*) works) and
    # invalidates the database. All files read together must therefore share one schema (the landed
    # schema of their dataset); files of different schemas are combined with `union all by name`.
    return (
        f"read_parquet([{listed}], encryption_config={{footer_key: {sql_string(key_name)}}}, "
        f"hive_partitioning=false, union_by_name=false{', filename=true' if filename else ''})"
    )


def httpfs_extension_path() -> Path:
    """The signed httpfs binary shipped in the duckdb-extension-httpfs wheel (matching duckdb's version)."""
    import duckdb_extension_httpfs

    package = Path(next(iter(duckdb_extension_httpfs.__path__)))
    path = package / "extensions" / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    if not path.is_file():
        raise ConfigError(
            f"DuckDB httpfs extension not found at `{path}`: "
            f"install duckdb-extension-httpfs=={duckdb.__version__}"
        )
    return path


def load_httpfs(con: duckdb.DuckDBPyConnection) -> None:
    """Load httpfs from the wheel into an existing connection and forbid run-time extension downloads.

    For connections created elsewhere (dbt-duckdb); `connect_duckdb` calls it.
    """
    # No network at run time: an extension DuckDB would fetch on first use must fail instead.
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute(f"LOAD {sql_string(str(httpfs_extension_path()))}")


def connect_duckdb(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with httpfs loaded from the installed wheel; never downloads anything."""
    con = duckdb.connect(
        database,
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        load_httpfs(con)
    except BaseException:
        con.close()
        raise
    return con


def configure_duckdb_s3(
    con: duckdb.DuckDBPyConnection, settings: S3Settings, *, name: str = "lakehouse_s3"
) -> None:
    """Give DuckDB's httpfs access to the lake's S3 endpoint (a temporary secret, in memory only).

    Verified against moto over plain HTTP on 127.0.0.1: ENDPOINT is host:port, path-style URLs, and
    USE_SSL follows the endpoint's scheme.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"DuckDB secret name `{name}` must match [a-z][a-z0-9_]*")
    if not settings.key or not settings.secret:
        raise ConfigError(
            "S3 credentials missing for DuckDB: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            f"(endpoint {settings.endpoint_label})"
        )
    options = [
        "TYPE s3",
        f"KEY_ID {sql_string(settings.key)}",
        f"SECRET {sql_string(settings.secret)}",
    ]
    if settings.region:
        options.append(f"REGION {sql_string(settings.region)}")
    if settings.endpoint_url:
        parsed = urlparse(settings.endpoint_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.path.strip("/"):
            raise ConfigError(
                f"LAKEHOUSE_S3_ENDPOINT `{settings.endpoint_label}` must be http(s)://host[:port], "
                "with no path"
            )
        host = parsed.hostname if parsed.port is None else f"{parsed.hostname}:{parsed.port}"
        options += [
            f"ENDPOINT {sql_string(host)}",
            # Self-hosted endpoints (MinIO, moto, Ceph) rarely have per-bucket DNS names.
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if parsed.scheme == 'https' else 'false'}",
        ]
    con.execute(f"CREATE OR REPLACE TEMPORARY SECRET {name} ({', '.join(options)})")
