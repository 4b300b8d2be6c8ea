"""The Spark settings that open the lake's encrypted files (docs/spark.md), and the KMS client's jar.

Spark finds each file's data key through parquet-java's PropertiesDrivenCryptoFactory and the lake's KMS
client (spark/kms-client), from the reference in the file's footer (ingest.lake.footer_key). The client
reads the data key from the lake's `_keys/` and the master key from the key store *file*: only paths
travel in the settings, never a key. Spark is given the files sealed manifests name, each checked against
its digest here, in Python, before its path is handed over (`spark_input_files`): the crypto factory
cannot tell a file from another one encrypted with the same key.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlparse

from ingest.exceptions import ConfigError
from ingest.lake.keys import KeyStore
from ingest.lake.manifest_seal import verified_committed_files
from ingest.lake.storage import ObjectStore

__all__ = [
    "CRYPTO_FACTORY_CLASS",
    "KEYSTORE_PROPERTY",
    "KMS_CLIENT_CLASS",
    "LAKE_PROPERTY",
    "delta_jars",
    "hadoop_lake_url",
    "kms_client_jar",
    "spark_input_files",
    "spark_read_conf",
]

# The stock PropertiesDrivenCryptoFactory, refusing plaintext files and a footer naming a key its place
# in the lake does not imply (spark/kms-client, docs/security.md).
CRYPTO_FACTORY_CLASS = "urgentcarelakehouse.kms.LakeCryptoFactory"
KMS_CLIENT_CLASS = "urgentcarelakehouse.kms.KeyStoreKmsClient"
# parquet-java keeps one KMS client per instance id: the lake's URL is the id, so that one session can
# read two lakes (each read naming its own with `.option(LAKE_PROPERTY, ...)`) without mixing keys.
LAKE_PROPERTY = "parquet.encryption.kms.instance.id"
KEYSTORE_PROPERTY = "lakehouse.keystore"

_SPARK_DIR = Path(__file__).resolve().parents[2] / "spark"
_BUILD_SCRIPT = _SPARK_DIR / "kms-client" / "build.sh"
_DELTA_SCRIPT = _SPARK_DIR / "delta" / "build.sh"


def hadoop_lake_url(lake_url: str | os.PathLike[str]) -> str:
    """The lake as Hadoop names it: file:///abs/path for a folder, s3a://bucket/prefix for s3://."""
    text = os.fspath(lake_url)
    if text.startswith("s3://"):
        return "s3a://" + text.removeprefix("s3://").rstrip("/")
    if "://" in text:
        parsed = urlparse(text)
        if parsed.scheme != "file":
            raise ConfigError(f"lake URL `{text}`: only local folders, file:// and s3:// are supported")
        text = parsed.path
    return Path(text).expanduser().resolve().as_uri()


def spark_read_conf(
    lake_url: str | os.PathLike[str], keystore: str | os.PathLike[str], jar: str | os.PathLike[str]
) -> dict[str, str]:
    """Spark settings (for a SparkSession builder, `spark-submit --conf` or a dbt-spark profile)."""
    return {
        "spark.jars": os.fspath(jar),
        "spark.hadoop.parquet.crypto.factory.class": CRYPTO_FACTORY_CLASS,
        "spark.hadoop.parquet.encryption.kms.client.class": KMS_CLIENT_CLASS,
        f"spark.hadoop.{LAKE_PROPERTY}": hadoop_lake_url(lake_url),
        f"spark.hadoop.{KEYSTORE_PROPERTY}": str(Path(keystore).expanduser().absolute()),
    }


def spark_input_files(
    store: ObjectStore, keystore: KeyStore, zone: str, dataset: str
) -> dict[str, list[str]]:
    """{data key id: [file URLs as Hadoop names them]} of zone x dataset: the files sealed manifests name,
    each one's bytes checked against its manifest's digest; LakeIntegrityError naming the first that
    fails (nothing is handed to Spark). The files can still be swapped between this check and Spark's
    read (docs/security.md, "Sealed manifests")."""
    root = hadoop_lake_url(store.url)
    return {
        key_id: [f"{root}/{path}" for path in paths]
        for key_id, paths in verified_committed_files(store, keystore, zone, dataset).items()
    }


def kms_client_jar() -> Path:
    """The KMS client's jar, built with Maven from this checkout's spark/kms-client when out of date."""
    return Path(_run_jar_script(_BUILD_SCRIPT, "Building the Spark KMS client"))


def delta_jars() -> list[Path]:
    """Delta Lake's jars (the version pinned in spark/delta/pom.xml), fetched by Maven when out of date."""
    return [Path(jar) for jar in _run_jar_script(_DELTA_SCRIPT, "Fetching Delta Lake's jars").split(",")]


def _run_jar_script(script: Path, what: str) -> str:
    if not script.is_file():
        raise ConfigError(f"`{script}` not found: Spark's jars are built from a checkout of the project")
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"{what} failed ({script}): {detail}")
    return done.stdout.strip()
