"""An s3:// lake read by Spark through Hadoop's S3A connector (spark/s3a: hadoop-aws and the AWS SDK
modules it loads, not the SDK's bundle) from the project's moto server, over HTTP on 127.0.0.1.

The fixture is landed once into a bucket; Spark makes the lake's views as `lakehouse build --target spark`
has them made (the statements ingest/build/spark_target.py writes, then the per-dataset union of
macros/cross_engine/spark_lake.sql) and every row, with the file it came from, equals what DuckDB's lake
views (ingest/build/dbt_plugin.py) read from the same bucket. One Spark session (local[1]) for the module.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest.build.dbt_plugin import committed_raw_files, lake_view_sql
from ingest.build.spark_target import LAKE_FILE_COLUMN, spark_environment, spark_lake_views
from ingest.exceptions import ConfigError
from ingest.lake.crypto import configure_duckdb_s3, connect_duckdb
from ingest.lake.keys import DataKeyring, LocalKeyStore, init_keystore, open_keystore, register_duckdb_keys
from ingest.lake.spark_read import (
    S3A_PROFILE_VARIABLES,
    s3a_jars,
    spark_read_conf,
    spark_s3a_conf,
)
from ingest.lake.storage import ObjectStore, S3Settings, open_store
from ingest.landing.land import Ingestor
from tests.conftest import DUMMY_KEY_ID, DUMMY_SECRET, TEST_REGION
from tests.spark_tables import local_session, session_jars
from tests.test_purge import build_lake
from tests.test_spark_lake import _plain

pytest.importorskip("pyspark", reason="the spark extra is not installed: pip install -e '.[spark]'")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def aws_env(moto_server: str) -> Iterator[S3Settings]:
    """The environment Spark's JVM inherits when it starts (module scope: before the per-test one)."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_ACCESS_KEY_ID": DUMMY_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
            "AWS_DEFAULT_REGION": TEST_REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "LAKEHOUSE_S3_ENDPOINT": moto_server,
        }.items():
            mp.setenv(name, value)
        yield S3Settings.from_env()


@pytest.fixture(scope="module")
def s3_lake(
    aws_env: S3Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ObjectStore, LocalKeyStore]:
    """The fixture of tests/test_purge.py landed into a fresh bucket (under a key prefix)."""
    tmp = tmp_path_factory.mktemp("s3a")
    path, _ = init_keystore(tmp / "keystore.json")
    keystore = open_keystore(path)
    assert isinstance(keystore, LocalKeyStore)
    bucket = f"s3a-{uuid.uuid4().hex[:16]}"
    store = open_store(f"s3://{bucket}/lake", aws_env)
    store.fs.mkdir(bucket)
    Ingestor(store, keystore).run(build_lake(tmp / "in"))
    return store, keystore


@pytest.fixture(scope="module")
def spark(
    aws_env: S3Settings, s3_lake: tuple[ObjectStore, LocalKeyStore], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    store, keystore = s3_lake
    conf = {
        **spark_read_conf(store.url, keystore.path, session_jars()),
        **spark_s3a_conf(aws_env),
        "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("spark-warehouse")),
    }
    with local_session("lakehouse-spark-s3a-tests", conf) as session:
        yield session


def _spark_lake(spark: Any, store: ObjectStore, keystore: Path) -> dict[str, list[tuple]]:
    """{dataset: rows}: the per-file views of `spark_lake_views` (s3a:// paths), then each dataset's
    union with `_lake_file`, as the build's on-run-start macro makes them."""
    datasets: dict[str, dict[str, Any]] = {}
    for line in spark_lake_views(store.url, keystore):
        if line.get("sql"):
            spark.sql(line["sql"])
        elif line.get("view"):
            datasets[line["dataset"]]["files"].append((line["view"], line["file"]))
        else:
            datasets[line["dataset"]] = {"columns": line["columns"], "files": []}
    rows = {}
    for dataset, lake in datasets.items():
        reads = [
            f"select {lake['columns']}, '{file}' as {LAKE_FILE_COLUMN} from global_temp.{view}"
            for view, file in lake["files"]
        ]
        if reads:
            rows[dataset] = _sorted(spark.sql(" union all ".join(reads)).collect())
    return rows


def _duckdb_lake(store: ObjectStore, keystore: LocalKeyStore, s3: S3Settings) -> dict[str, list[tuple]]:
    """{dataset: rows} of the DuckDB build's lake views over the same bucket (httpfs)."""
    keys = {key.key_id: key for key in DataKeyring(store, keystore).all(zone="raw")}
    files = committed_raw_files(store, keys, keystore=keystore)
    con = connect_duckdb()
    try:
        configure_duckdb_s3(con, s3)
        register_duckdb_keys(con, keys.values())
        return {
            dataset: _sorted(con.execute(lake_view_sql(dataset, by_key)).fetchall())
            for dataset, by_key in files.items()
        }
    finally:
        con.close()


def _sorted(rows: list[Any]) -> list[tuple]:
    return sorted((tuple(_plain(v) for v in row) for row in rows), key=repr)


def test_spark_reads_an_s3_lake_through_s3a_with_duckdbs_values(
    spark: Any,
    s3_lake: tuple[ObjectStore, LocalKeyStore],
    aws_env: S3Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # conftest's per-test isolation unsets the endpoint; `spark_lake_views` reads it as the build does.
    monkeypatch.setenv("LAKEHOUSE_S3_ENDPOINT", str(aws_env.endpoint_url))
    store, keystore = s3_lake
    spark_rows = _spark_lake(spark, store, keystore.path)
    duckdb_rows = _duckdb_lake(store, keystore, aws_env)
    assert set(spark_rows) == set(duckdb_rows)
    assert {"acts", "diagnoses", "prescriptions"} <= set(spark_rows)
    for dataset, rows in duckdb_rows.items():
        assert spark_rows[dataset] == rows, dataset
        # The rows came from the bucket: every one names an s3:// file of this lake.
        assert all(row[-1].startswith(store.uri("") + "/raw/") for row in rows)
    assert sum(len(rows) for rows in spark_rows.values()) > 40


def test_the_spark_build_of_an_s3_lake_gets_the_s3a_jars_and_the_endpoint_settings(
    s3_lake: tuple[ObjectStore, LocalKeyStore],
    aws_env: S3Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What `lakehouse build --target spark` hands dbt for an s3:// lake reaches the profile's session as
    the settings the test above reads the bucket with (no second Spark session: CI time)."""
    monkeypatch.setenv("LAKEHOUSE_S3_ENDPOINT", str(aws_env.endpoint_url))
    store, keystore = s3_lake
    env = spark_environment(
        {
            **os.environ,
            "LAKEHOUSE_LAKE": store.url,
            "LAKEHOUSE_KEYSTORE": str(keystore.path),
            "LAKEHOUSE_SPARK_HOME": str(tmp_path / "spark"),
        }
    )
    assert {str(jar) for jar in s3a_jars()} <= set(env["LAKEHOUSE_SPARK_JARS"].split(","))
    assert env["LAKEHOUSE_SPARK_LAKE"] == "s3a://" + store.url.removeprefix("s3://")
    profile = yaml.safe_load((Path(__file__).parents[1] / "profiles.yml").read_text(encoding="utf-8"))
    parameters = profile["lakehouse"]["outputs"]["spark"]["server_side_parameters"]
    conf = spark_s3a_conf(aws_env)
    assert conf["spark.hadoop.fs.s3a.endpoint"] == aws_env.endpoint_url
    for name, value in conf.items():
        if name in S3A_PROFILE_VARIABLES:
            assert f"env_var('{S3A_PROFILE_VARIABLES[name]}'" in parameters[name], name
            assert env[S3A_PROFILE_VARIABLES[name]] == value, name
        else:
            assert parameters[name] == value, name


def test_s3a_settings_carry_no_credential_and_refuse_an_endpoint_with_a_path(aws_env: S3Settings) -> None:
    conf = spark_s3a_conf(aws_env)
    assert not any(DUMMY_KEY_ID in value or DUMMY_SECRET in value for value in conf.values())
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"  # moto: http://127.0.0.1
    assert (
        spark_s3a_conf(S3Settings(endpoint_url="https://s3.example.org"))[
            "spark.hadoop.fs.s3a.connection.ssl.enabled"
        ]
        == "true"
    )
    # AWS itself: no endpoint, no path-style addressing.
    assert not {"spark.hadoop.fs.s3a.endpoint", "spark.hadoop.fs.s3a.path.style.access"} & set(
        spark_s3a_conf(S3Settings()).keys()
    )
    with pytest.raises(ConfigError, match="LAKEHOUSE_S3_ENDPOINT `http://minio:9000` must be"):
        spark_s3a_conf(S3Settings(endpoint_url="http://minio:9000/lake"))
