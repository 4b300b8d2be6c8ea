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
from ingest.lake.storage import ObjectStore, S3Settings

__all__ = [
    "CRYPTO_FACTORY_CLASS",
    "KEYSTORE_PROPERTY",
    "KMS_CLIENT_CLASS",
    "LAKE_PROPERTY",
    "S3A_PROFILE_VARIABLES",
    "delta_jars",
    "hadoop_lake_url",
    "kms_client_jar",
    "s3a_jars",
    "spark_input_files",
    "spark_read_conf",
    "spark_s3a_conf",
]

# The stock PropertiesDrivenCryptoFactory, refusing plaintext files and a footer naming a key its place
# in the lake does not imply (spark/kms-client, docs/security.md).
CRYPTO_FACTORY_CLASS = "urgentcarelakehouse.kms.LakeCryptoFactory"
KMS_CLIENT_CLASS = "urgentcarelakehouse.kms.KeyStoreKmsClient"
# parquet-java keeps one KMS client per instance id: the lake's URL is the id, so that one session can
# read two lakes (each read naming its own with `.option(LAKE_PROPERTY, ...)`) without mixing keys.
LAKE_PROPERTY = "parquet.encryption.kms.instance.id"
KEYSTORE_PROPERTY = "lakehouse.keystore"

# The variable through which profiles.yml's spark target takes each endpoint setting of `spark_s3a_conf`
# (dbt-spark's session method takes a fixed set of parameters); `lakehouse build --target spark` sets them
# for an s3:// lake. The settings that do not depend on the endpoint are written in the profile itself.
S3A_PROFILE_VARIABLES = {
    "spark.hadoop.fs.s3a.endpoint": "LAKEHOUSE_SPARK_S3A_ENDPOINT",
    "spark.hadoop.fs.s3a.path.style.access": "LAKEHOUSE_SPARK_S3A_PATH_STYLE",
    "spark.hadoop.fs.s3a.connection.ssl.enabled": "LAKEHOUSE_SPARK_S3A_SSL",
    "spark.hadoop.fs.s3a.endpoint.region": "LAKEHOUSE_SPARK_S3A_REGION",
}

_SPARK_DIR = Path(__file__).resolve().parents[2] / "spark"
_BUILD_SCRIPT = _SPARK_DIR / "kms-client" / "build.sh"
_DELTA_SCRIPT = _SPARK_DIR / "delta" / "build.sh"
_S3A_SCRIPT = _SPARK_DIR / "s3a" / "build.sh"


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


def spark_s3a_conf(s3: S3Settings) -> dict[str, str]:
    """Spark settings that reach an s3:// lake through Hadoop's S3A connector (jars: `s3a_jars`), as
    DuckDB's httpfs reaches it (ingest.lake.crypto.configure_duckdb_s3): a set endpoint is addressed
    path-style, with TLS as its scheme says. No credential travels here: S3A's default chain reads
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment Spark's JVM inherits."""
    conf = {
        # Hadoop 3.5.0's default input stream is the AWS analytics accelerator's (HADOOP-19559), whose
        # 1.3.1 keeps an entry per Parquet file read for the file system's life (HADOOP-20058): a
        # build reads every landed file. The classic stream reads through the SDK's client alone.
        "spark.hadoop.fs.s3a.input.stream.type": "classic",
        # Parquet's footer, then its column chunks: random reads (the default, sequential, re-opens the
        # stream at every seek backwards).
        "spark.hadoop.fs.s3a.experimental.input.fadvise": "random",
    }
    if s3.region:
        conf["spark.hadoop.fs.s3a.endpoint.region"] = s3.region
    if s3.endpoint_url:
        parsed = urlparse(s3.endpoint_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.path.strip("/"):
            raise ConfigError(
                f"LAKEHOUSE_S3_ENDPOINT `{s3.endpoint_label}` must be http(s)://host[:port], with no path"
            )
        conf |= {
            "spark.hadoop.fs.s3a.endpoint": s3.endpoint_label,
            # Self-hosted endpoints (MinIO, moto, Ceph) rarely have per-bucket DNS names.
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": str(parsed.scheme == "https").lower(),
        }
    return conf


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


def s3a_jars() -> list[Path]:
    """Hadoop's S3 connector and the AWS SDK modules it loads (spark/s3a/pom.xml), fetched when out of
    date: what Spark needs besides pyspark's own jars to read an s3:// lake."""
    return [Path(jar) for jar in _run_jar_script(_S3A_SCRIPT, "Fetching the S3A jars").split(",")]


def _run_jar_script(script: Path, what: str) -> str:
    if not script.is_file():
        raise ConfigError(f"`{script}` not found: Spark's jars are built from a checkout of the project")
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(f"{what} failed ({script}): {detail}")
    return done.stdout.strip()
