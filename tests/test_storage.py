"""ObjectStore on a local folder and on a real S3-compatible server (moto over HTTP)."""

from __future__ import annotations

import dataclasses
import http.client
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ingest.exceptions import ConfigError, ObjectNotFoundError, StorageError
from ingest.lake.storage import (
    TEMP_PREFIX,
    LocalObjectStore,
    ObjectStore,
    RetryPolicy,
    S3Settings,
    is_transient,
    open_store,
)

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


def test_round_trip(store: ObjectStore) -> None:
    """put/get/exists/list/delete behave the same on a folder and on S3."""
    store.put("raw/acts/association_id=A1/extract_date=2024-01-15/b1.parquet", b"one")
    store.put("raw/acts/association_id=A1/extract_date=2024-01-16/b2.parquet", b"two")
    store.put("manifests/b1.json", b"{}")

    assert store.get("raw/acts/association_id=A1/extract_date=2024-01-15/b1.parquet") == b"one"
    assert store.exists("manifests/b1.json")
    assert not store.exists("manifests/b2.json")
    assert store.list("raw") == [
        "raw/acts/association_id=A1/extract_date=2024-01-15/b1.parquet",
        "raw/acts/association_id=A1/extract_date=2024-01-16/b2.parquet",
    ]
    assert store.list("raw/") == store.list("raw")
    assert store.list("") == sorted([*store.list("raw"), "manifests/b1.json"])
    assert store.list("nothing/here") == []

    store.put("manifests/b1.json", b'{"v": 2}')
    assert store.get("manifests/b1.json") == b'{"v": 2}'

    store.delete("manifests/b1.json")
    store.delete("manifests/b1.json")  # absent: no error
    assert not store.exists("manifests/b1.json")
    assert store.list("manifests") == []


def test_get_missing_names_the_path(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError, match=r"`manifests/absent\.json`.*does not exist") as info:
        store.get("manifests/absent.json")
    assert info.value.path == "manifests/absent.json"
    assert isinstance(info.value, StorageError)


def test_put_if_absent_never_overwrites(store: ObjectStore) -> None:
    assert store.put_if_absent("_keys/raw/acts/2024-01.json", b"first") is True
    assert store.put_if_absent("_keys/raw/acts/2024-01.json", b"second") is False
    assert store.get("_keys/raw/acts/2024-01.json") == b"first"


def test_large_object_round_trip(store: ObjectStore) -> None:
    data = os.urandom(3 * 2**20)
    store.put("raw/big.bin", data)
    assert store.get("raw/big.bin") == data


@pytest.mark.parametrize(
    "path",
    [
        "../escape",
        "raw/../../etc/passwd",
        "/abs/path",
        "raw//x",
        "raw/./x",
        "",
        "raw/x y",
        f"raw/{TEMP_PREFIX}x",
    ],
)
def test_unsafe_paths_are_rejected(local_store: ObjectStore, path: str) -> None:
    with pytest.raises(ValueError, match="store path"):
        local_store.put(path, b"x")
    assert local_store.list("") == []


def test_uri_is_what_duckdb_reads(local_store: ObjectStore, s3_store: ObjectStore) -> None:
    local_store.put("raw/a.parquet", b"x")
    local_uri = local_store.uri("raw/a.parquet")
    assert os.path.isabs(local_uri)
    assert Path(local_uri).read_bytes() == b"x"
    assert local_store.uri("") == str(Path(local_uri).parent.parent)

    assert s3_store.uri("raw/a.parquet") == f"{s3_store.url}/raw/a.parquet"
    assert s3_store.url.startswith("s3://test-")
    assert s3_store.url.endswith("/lake")
    assert s3_store.uri("") == s3_store.url


def test_open_store_accepts_paths_and_file_urls(tmp_path: Path) -> None:
    plain = open_store(tmp_path / "a" / "lake")
    assert plain.is_local and (tmp_path / "a" / "lake").is_dir()
    via_url = open_store((tmp_path / "b").as_uri())
    assert via_url.is_local and (tmp_path / "b").is_dir()
    assert via_url.url == (tmp_path / "b").as_uri()
    with pytest.raises(ConfigError, match="only local folders, file:// and s3://"):
        open_store("http://example.invalid/lake")


def test_s3_settings_from_env_and_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_S3_ENDPOINT", "http://127.0.0.1:9000")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key-from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-env")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    settings = S3Settings.from_env()
    assert settings == S3Settings("http://127.0.0.1:9000", "key-from-env", "secret-from-env", "eu-west-3")
    assert "secret-from-env" not in repr(settings)
    assert S3Settings("http://user:pw@host:9000").endpoint_label == "http://host:9000"


# --- Atomicity -----------------------------------------------------------------------------------


def test_local_put_leaves_no_temporary_file(local_store: ObjectStore) -> None:
    local_store.put("raw/x.bin", b"v1")
    local_store.put("raw/x.bin", b"v2")
    assert local_store.put_if_absent("raw/x.bin", b"v3") is False
    assert os.listdir(local_store.uri("raw")) == ["x.bin"]


class _CrashingStore(LocalObjectStore):
    """Writes half of the bytes, then fails as a full disk or a crash would."""

    def _write_all(self, fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device")


def test_interrupted_write_keeps_previous_version(tmp_path: Path) -> None:
    store = open_store(tmp_path / "lake")
    store.put("manifests/b1.json", b"previous version")
    crashing = _CrashingStore(tmp_path / "lake", retry=FAST_RETRY)

    with pytest.raises(StorageError, match=r"Could not write `manifests/b1\.json`.*OSError"):
        crashing.put("manifests/b1.json", b"new version that never fully lands")

    assert store.get("manifests/b1.json") == b"previous version"
    assert os.listdir(tmp_path / "lake" / "manifests") == ["b1.json"]


def test_killed_writer_keeps_previous_version(tmp_path: Path) -> None:
    """A writer killed (SIGKILL) mid-write: no cleanup runs, yet readers still see the old object."""
    root = tmp_path / "lake"
    store = open_store(root)
    store.put("manifests/b1.json", b"previous version")
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from ingest.lake.storage import LocalObjectStore

        class Dying(LocalObjectStore):
            def _write_all(self, fd, data):
                os.write(fd, data[:10])
                os.kill(os.getpid(), signal.SIGKILL)

        Dying(Path({str(root)!r})).put("manifests/b1.json", b"new version " * 1000)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parent.parent, check=False)
    assert result.returncode == -signal.SIGKILL

    assert store.get("manifests/b1.json") == b"previous version"
    assert store.list("manifests") == ["manifests/b1.json"]
    leftovers = [name for name in os.listdir(root / "manifests") if name.startswith(TEMP_PREFIX)]
    assert len(leftovers) == 1  # the orphan exists on disk but is invisible through the store


# --- Retries against real failing endpoints ------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_endpoint_fails_fast_with_clear_error(s3_settings: S3Settings) -> None:
    port = _closed_port()
    settings = dataclasses.replace(s3_settings, endpoint_url=f"http://127.0.0.1:{port}")
    store = open_store("s3://bucket/lake", settings, retry=RetryPolicy(attempts=3, base_delay=0.05))

    started = time.monotonic()
    with pytest.raises(StorageError) as info:
        store.put("manifests/b1.json", b"{}")
    elapsed = time.monotonic() - started

    message = str(info.value)
    assert "`manifests/b1.json`" in message
    assert f"http://127.0.0.1:{port}" in message
    assert "gave up after 3 attempts" in message
    assert str(settings.secret) not in message and str(settings.key) not in message
    assert elapsed < 5


# Headers the proxy sets itself rather than copying from moto's response.
_HOP_BY_HOP = ("connection", "transfer-encoding", "content-length", "date", "server")


class _FaultProxy:
    """An HTTP proxy in front of moto that answers the first `failures` requests with `status` (0: drops
    the connection without an answer, as a server that died)."""

    def __init__(self, upstream: str, failures: int, status: int, code: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.remaining = failures
        self.status = status
        self.code = code
        self.requests = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    proxy.requests += 1
                    fail = proxy.should_fail(self.command, self.path)
                if fail and not proxy.status:
                    self.close_connection = True
                    return
                if fail:
                    error = f"<Error><Code>{proxy.code}</Code><Message>injected</Message></Error>".encode()
                    self.send_response(proxy.status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(error)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(error)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                payload = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() in _HOP_BY_HOP:
                        continue
                    self.send_header(name, value)
                length = response.getheader("Content-Length") if self.command == "HEAD" else len(payload)
                self.send_header("Content-Length", str(length or 0))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                upstream.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def should_fail(self, command: str, path: str) -> bool:
        """Whether to answer this request with the injected error (called under the lock)."""
        fail = self.remaining > 0
        self.remaining -= 1 if fail else 0
        return fail

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> _FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxied(s3_store: ObjectStore, s3_settings: S3Settings) -> Iterator[tuple[str, S3Settings]]:
    """(bucket, settings) of a fresh moto bucket; tests swap the endpoint for a fault proxy."""
    yield s3_store.url.removeprefix("s3://").split("/")[0], s3_settings


@pytest.mark.parametrize(
    ("status", "code"), [(503, "ServiceUnavailable"), (503, "SlowDown"), (500, "InternalError")]
)
def test_transient_errors_are_retried(
    moto_server: str, proxied: tuple[str, S3Settings], status: int, code: str
) -> None:
    bucket, s3_settings = proxied
    with _FaultProxy(moto_server, failures=2, status=status, code=code) as proxy:
        settings = dataclasses.replace(s3_settings, endpoint_url=proxy.url)
        store = open_store(f"s3://{bucket}", settings, retry=FAST_RETRY)
        store.put("manifests/b1.json", b'{"ok": true}')
        assert proxy.requests == 3  # two injected failures, then the real PUT
        assert store.get("manifests/b1.json") == b'{"ok": true}'


def test_retries_are_bounded(moto_server: str, proxied: tuple[str, S3Settings]) -> None:
    bucket, s3_settings = proxied
    with _FaultProxy(moto_server, failures=100, status=503, code="SlowDown") as proxy:
        settings = dataclasses.replace(s3_settings, endpoint_url=proxy.url)
        store = open_store(f"s3://{bucket}", settings, retry=FAST_RETRY)
        with pytest.raises(StorageError, match=r"`manifests/b1\.json`.*gave up after 3 attempts"):
            store.put("manifests/b1.json", b"{}")
        assert proxy.requests == 3


def test_permanent_errors_are_not_retried(moto_server: str, proxied: tuple[str, S3Settings]) -> None:
    bucket, s3_settings = proxied
    with _FaultProxy(moto_server, failures=100, status=403, code="AccessDenied") as proxy:
        settings = dataclasses.replace(s3_settings, endpoint_url=proxy.url)
        store = open_store(f"s3://{bucket}", settings, retry=FAST_RETRY)
        with pytest.raises(StorageError, match="not a transient error") as info:
            store.put("manifests/b1.json", b"{}")
        assert proxy.url.removeprefix("http://") in str(info.value)
        assert proxy.requests == 1


def test_missing_bucket_is_a_clear_error(s3_settings: S3Settings) -> None:
    store = open_store("s3://no-such-bucket-here/lake", s3_settings, retry=FAST_RETRY)
    with pytest.raises(StorageError, match=r"`manifests/b1\.json`.*s3://no-such-bucket-here"):
        store.put("manifests/b1.json", b"{}")


def _client_error(status: int, code: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionRefusedError(), True),
        (ConnectionResetError(), True),
        (TimeoutError(), True),
        (_client_error(503, "SlowDown"), True),
        (_client_error(500, "InternalError"), True),
        (_client_error(429, "TooManyRequests"), True),
        (_client_error(400, "Throttling"), True),
        (_client_error(403, "AccessDenied"), False),
        (_client_error(404, "NoSuchKey"), False),
        (FileNotFoundError(), False),
        (ValueError(), False),
    ],
)
def test_transient_classification(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient
    # s3fs re-raises botocore errors as OSError with the original as the cause.
    wrapped = OSError("translated")
    wrapped.__cause__ = error
    assert is_transient(wrapped) is transient
