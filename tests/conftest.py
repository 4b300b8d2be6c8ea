"""Shared fixtures: a real S3-compatible server (moto, over HTTP on 127.0.0.1), stores and a key store.

Nothing here touches real cloud credentials or the user's own key store: AWS variables are replaced by
dummies and LAKEHOUSE_KEYSTORE points into the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from ingest.lake.keys import LocalKeyStore, init_keystore, open_keystore
from ingest.lake.storage import ObjectStore, RetryPolicy, S3Settings, open_store

# The Spark builds the Spark test modules share (one full and one incremental Spark build a session).
from tests.spark_builds import spark_builds  # noqa: F401

# Moto accepts any credentials; these only have to be non-empty.
DUMMY_KEY_ID = "testing-key-id"
DUMMY_SECRET = "testing-secret-value"
# A region other than us-east-1, so bucket creation sends a LocationConstraint as it would in production.
TEST_REGION = "eu-west-3"
# Fast retries: the retry tests count attempts, they do not need real back-off delays.
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


def _aws_isolation(aws_home: Path) -> dict[str, str | None]:
    """Dummy AWS credentials and no shared config files, so nothing can reach a real account (None:
    unset)."""
    return {
        "AWS_ACCESS_KEY_ID": DUMMY_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
        "AWS_DEFAULT_REGION": TEST_REGION,
        "AWS_SHARED_CREDENTIALS_FILE": str(aws_home / "credentials"),
        "AWS_CONFIG_FILE": str(aws_home / "config"),
        # Never ask an instance metadata service for credentials.
        "AWS_EC2_METADATA_DISABLED": "true",
        **dict.fromkeys(("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "LAKEHOUSE_S3_ENDPOINT")),
    }


def pytest_configure(config: pytest.Config) -> None:
    """The process itself gets the dummy AWS environment, not only each test (below): Spark's JVM keeps
    the environment of the first session of the process, which a module's fixture may start before any
    test's, and S3A reads its credentials from it.

    Under pytest-xdist, each worker gets dbt target and log folders of its own: a test that builds
    without `--target-path` must not read the manifest another worker's build is writing."""
    aws_home = Path(tempfile.mkdtemp(prefix="lakehouse-aws-"))
    config.add_cleanup(lambda: shutil.rmtree(aws_home, ignore_errors=True))
    for name, value in _aws_isolation(aws_home).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        scratch = Path(tempfile.mkdtemp(prefix=f"lakehouse-{worker}-"))
        os.environ.setdefault("DBT_TARGET_PATH", str(scratch / "target"))
        os.environ.setdefault("DBT_LOG_PATH", str(scratch / "logs"))
        config.add_cleanup(lambda: shutil.rmtree(scratch, ignore_errors=True))


def _spark_module(path: str | Path) -> bool:
    return Path(path).name.startswith("test_spark_")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Work units for `pytest -n 2 --dist loadfile` (the README's test command): a module each, as
    `loadfile` does, but the Spark modules together, one unit: they share one JVM and one pair of
    fixture builds (tests/spark_builds.py), which a second worker would build again."""
    from xdist.scheduler import LoadFileScheduling

    class SparkModulesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "spark" if _spark_module(path) else path

    return SparkModulesTogether(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the Spark modules first: the longest unit of work starts at once (with
    `--no-loadscope-reorder`, the queue keeps this order)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: not _spark_module(item.path))


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The dummy AWS environment again for each test, whatever an earlier one left."""
    for name, value in _aws_isolation(tmp_path_factory.mktemp("aws")).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 (random free port) for the whole session; yields its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_settings(moto_server: str) -> S3Settings:
    return S3Settings(endpoint_url=moto_server, key=DUMMY_KEY_ID, secret=DUMMY_SECRET, region=TEST_REGION)


@pytest.fixture
def s3_store(s3_settings: S3Settings) -> ObjectStore:
    """A fresh bucket per test, used with a key prefix so prefix handling is always exercised."""
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    store = open_store(f"s3://{bucket}/lake", s3_settings, retry=FAST_RETRY)
    store.fs.mkdir(bucket)
    return store


@pytest.fixture
def local_store(tmp_path: Path) -> ObjectStore:
    return open_store(tmp_path / "lake", retry=FAST_RETRY)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    """Each test using it runs once on a local folder and once on the moto S3 server."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def keystore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalKeyStore:
    """A fresh local key store, also made the default through LAKEHOUSE_KEYSTORE."""
    path, created = init_keystore(tmp_path / "secrets" / "keystore.json")
    assert created
    monkeypatch.setenv("LAKEHOUSE_KEYSTORE", str(path))
    opened = open_keystore()
    assert isinstance(opened, LocalKeyStore)
    return opened
