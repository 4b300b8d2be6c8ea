"""The Spark build's tables read in Python: their Parquet files are encrypted (docs/spark.md, "At rest").

Every Parquet file Spark writes under the build's folder has its own random data key, wrapped with the key
store's `warehouse` master key by the project's KMS client (spark/kms-client, `LakeCryptoFactory`) and kept
in the file's footer as parquet-java's key material (`"wrappedDEK": "build:<master key id>:<nonce>:<key>"`).
pyarrow reads that key material as parquet-java does; this module unwraps the key with the key store, as
the Java client does, so that a Python reader (the tests comparing Spark's tables with DuckDB's) needs the
key store and nothing else. A file in clear, or one whose key cannot be unwrapped, is refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pqe

from ingest.exceptions import DecryptionError
from ingest.lake.keys import KeyStore, open_keystore

__all__ = ["BUILD_KEY_AAD", "BUILD_MASTER_KEY", "read_spark_files"]

# The same as spark/kms-client's KeyStoreKmsClient (BUILD_MASTER_KEY, BUILD_PREFIX, BUILD_AAD).
BUILD_MASTER_KEY = "warehouse"
_BUILD_PREFIX = "build:"
BUILD_KEY_AAD = b"urgent-care-lakehouse/spark-build-file-key"


class _BuildKeyClient(pqe.KmsClient):  # type: ignore[misc]
    """Unwraps the build's file keys with the key store; wraps none (Python writes no Spark table)."""

    def __init__(self, keystore: KeyStore) -> None:
        super().__init__()
        self.keystore = keystore

    def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> str:
        raise DecryptionError(
            "The Spark build's tables are written by Spark only", path=str(master_key_identifier)
        )

    def unwrap_key(self, wrapped_key: str, master_key_identifier: str) -> bytes:
        parts = wrapped_key.removeprefix(_BUILD_PREFIX).split(":")
        if (
            master_key_identifier != BUILD_MASTER_KEY
            or not wrapped_key.startswith(_BUILD_PREFIX)
            or len(parts) != 3
        ):
            raise DecryptionError("footer key material is not a Spark build file key", path=wrapped_key[:40])
        wrapped = {"master_key_id": parts[0], "nonce": parts[1], "ciphertext": parts[2]}
        return self.keystore.unwrap(BUILD_MASTER_KEY, wrapped, BUILD_KEY_AAD)


def read_spark_files(files: Iterable[str | os.PathLike[str]], keystore: str | os.PathLike[str]) -> pa.Table:
    """The rows of the given Parquet files of the Spark build, in their order, as one table (an empty
    table without columns when there is no file). OSError/ArrowException name a file that fails."""
    store = open_keystore(Path(keystore))
    factory = pqe.CryptoFactory(lambda _config: _BuildKeyClient(store))
    decryption = factory.file_decryption_properties(pqe.KmsConnectionConfig(), pqe.DecryptionConfiguration())
    tables = [pq.read_table(os.fspath(path), decryption_properties=decryption) for path in files]
    return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})
