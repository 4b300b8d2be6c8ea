"""Object storage: a local folder (default) or any S3-compatible endpoint, through fsspec.

Knows nothing about contracts or encryption. Every write is all-or-nothing for one object:
local files are written under a temporary name then renamed; S3 objects are single PUTs.
Paths given to and returned by methods are relative to the store root and use '/'.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlparse

import fsspec
from fsspec.implementations.local import LocalFileSystem

from ingest import settings
from ingest.exceptions import ConfigError, ObjectNotFoundError, StorageError

__all__ = [
    "TEMP_PREFIX",
    "LocalObjectStore",
    "ObjectStore",
    "RetryPolicy",
    "S3ObjectStore",
    "S3Settings",
    "is_transient",
    "open_store",
]

T = TypeVar("T")

# Temporary files of in-flight local writes start with this; `list` never returns them, so a writer
# killed between write and rename leaves no object visible to readers.
TEMP_PREFIX = ".tmp-"

_SEGMENT = re.compile(r"[A-Za-z0-9=._-]+")

# S3 error codes that mean "try again later" whatever the HTTP status says.
_TRANSIENT_S3_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequests",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
    }
)


@dataclass(frozen=True)
class S3Settings:
    """How to reach an S3-compatible endpoint. `None` means "let botocore decide" (AWS defaults)."""

    endpoint_url: str | None = None
    key: str | None = None
    # Kept out of repr so that settings can be logged or shown in a traceback without leaking it.
    secret: str | None = field(default=None, repr=False)
    region: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> S3Settings:
        """LAKEHOUSE_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION."""
        return cls(**settings.s3_environment(environ))

    @property
    def endpoint_label(self) -> str:
        """What error messages call the endpoint (never includes credentials)."""
        if self.endpoint_url is None:
            return "AWS S3 (default endpoint)"
        parsed = urlparse(self.endpoint_url)
        # A URL may carry user:password@; only scheme, host and port are shown.
        host = parsed.hostname or ""
        try:
            port = f":{parsed.port}" if parsed.port else ""
        except ValueError:  # a malformed port must not hide the error being reported
            port = ""
        return f"{parsed.scheme}://{host}{port}"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter: attempt n waits up to min(max_delay, base * 2**n)."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delays(self) -> list[float]:
        return [
            random.uniform(0, min(self.max_delay, self.base_delay * 2**n)) for n in range(self.attempts - 1)
        ]


def _exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: connection refused/reset, timeouts, 5xx, throttling.

    s3fs turns botocore errors into OSError subclasses and keeps the original as the cause, so the
    whole chain is inspected; a FileNotFoundError caused by a 404 stays non-transient.
    """
    # Imported here: botocore and aiohttp are only needed when an S3 store is in use.
    import aiohttp
    from botocore.exceptions import ClientError, HTTPClientError, IncompleteReadError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    for item in _exception_chain(exc):
        if isinstance(item, FileNotFoundError | PermissionError | FileExistsError):
            return False
        if isinstance(item, ClientError):
            response = item.response or {}
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            code = response.get("Error", {}).get("Code", "")
            return status >= 500 or status == 429 or code in _TRANSIENT_S3_CODES
        # Builtin ConnectionError covers refused, reset, aborted and broken pipe.
        if isinstance(
            item,
            BotoConnectionError
            | HTTPClientError
            | IncompleteReadError
            | ConnectionError
            | TimeoutError
            | socket.timeout
            | asyncio.TimeoutError,
        ):
            return True
        if isinstance(item, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
            # Raw aiohttp errors (server disconnected, body cut short) when aiobotocore does not wrap them.
            return True
    return False


def _check_path(path: str, *, allow_empty: bool = False) -> str:
    """Relative, '/'-separated, no '..' or '.' segments, no empty segments, safe characters only."""
    if not isinstance(path, str):
        raise TypeError(f"store path must be a str, not {type(path).__name__}")
    cleaned = path.strip("/") if allow_empty else path
    if cleaned == "" and allow_empty:
        return ""
    if path.startswith("/") and not allow_empty:
        raise ValueError(f"store path `{path}` must be relative to the store root")
    for segment in cleaned.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(f"store path `{path}` has an empty, '.' or '..' segment")
        if not _SEGMENT.fullmatch(segment):
            raise ValueError(f"store path `{path}` has characters outside [A-Za-z0-9=._-]")
        if segment.startswith(TEMP_PREFIX):
            raise ValueError(f"store path `{path}` uses the reserved prefix `{TEMP_PREFIX}`")
    return cleaned


class ObjectStore(ABC):
    """A flat namespace of immutable-ish objects under one root (folder or bucket prefix)."""

    url: str
    is_local: bool

    def __init__(self, url: str, *, retry: RetryPolicy | None = None) -> None:
        self.url = url
        self.retry = retry or RetryPolicy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    @property
    @abstractmethod
    def fs(self) -> fsspec.AbstractFileSystem:
        """The fsspec filesystem behind the store (for DuckDB's register_filesystem and the like)."""

    @property
    @abstractmethod
    def endpoint(self) -> str:
        """Where the store lives, as named in error messages (never credentials)."""

    @abstractmethod
    def _put(self, path: str, data: bytes, *, overwrite: bool) -> bool: ...

    @abstractmethod
    def _get(self, path: str) -> bytes: ...

    @abstractmethod
    def _exists(self, path: str) -> bool: ...

    @abstractmethod
    def _list(self, prefix: str) -> list[str]: ...

    @abstractmethod
    def _delete(self, path: str) -> None: ...

    @abstractmethod
    def _list_versions(self, prefix: str) -> dict[str, str]: ...

    @abstractmethod
    def uri(self, path: str) -> str:
        """Absolute local path or s3:// URL of `path` ('' for the root), as DuckDB should read it."""

    def put(self, path: str, data: bytes) -> None:
        """Write one object whole, replacing any previous version; retries transient errors."""
        path = _check_path(path)
        self._call("write", path, lambda: self._put(path, bytes(data), overwrite=True))

    def put_if_absent(self, path: str, data: bytes) -> bool:
        """Write one object whole unless it exists; True if this call created it.

        Two writers racing on the same path both see a consistent answer: exactly one gets True.
        Used for data keys, where overwriting a key would orphan every file encrypted with it.
        """
        path = _check_path(path)
        return self._call("create", path, lambda: self._put(path, bytes(data), overwrite=False))

    def get(self, path: str) -> bytes:
        path = _check_path(path)
        return self._call("read", path, lambda: self._get(path))

    def exists(self, path: str) -> bool:
        path = _check_path(path)
        return self._call("check", path, lambda: self._exists(path))

    def list(self, prefix: str = "") -> list[str]:
        """Relative paths of the objects under the folder `prefix` ('' for all), sorted."""
        prefix = _check_path(prefix, allow_empty=True)
        return sorted(self._call("list", prefix or "/", lambda: self._list(prefix)))

    def list_versions(self, prefix: str = "") -> dict[str, str]:
        """{relative path: version} of the objects under the folder `prefix`, in one listing. A version
        changes whenever the object is rewritten (local: inode, mtime and size, a rewrite being a new
        file renamed over the old one; S3: ETag and size), so a reader can keep what it parsed."""
        prefix = _check_path(prefix, allow_empty=True)
        return self._call("list", prefix or "/", lambda: self._list_versions(prefix))

    def delete(self, path: str) -> None:
        """Remove one object; no error if it does not exist."""
        path = _check_path(path)
        self._call("delete", path, lambda: self._delete(path))

    def _call(self, action: str, path: str, operation: Callable[[], T]) -> T:
        delays = self.retry.delays()
        attempt = 0
        while True:
            attempt += 1
            try:
                return operation()
            except StorageError:
                raise
            except FileNotFoundError as exc:
                raise ObjectNotFoundError(
                    f"Could not {action} `{path}` in {self.endpoint}: it does not exist", path=path
                ) from exc
            except Exception as exc:
                transient = is_transient(exc)
                if transient and attempt <= len(delays):
                    time.sleep(delays[attempt - 1])
                    continue
                why = f"gave up after {attempt} attempts" if transient else "not a transient error"
                raise StorageError(
                    f"Could not {action} `{path}` in {self.endpoint} ({type(exc).__name__}; {why})"
                ) from exc


class LocalObjectStore(ObjectStore):
    """A folder. Writes go to a temporary file in the same folder, fsync, then os.replace / os.link."""

    is_local = True

    def __init__(self, root: Path, *, retry: RetryPolicy | None = None) -> None:
        self.root = root
        super().__init__(root.as_uri(), retry=retry)
        self._fs = LocalFileSystem()

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return self._fs

    @property
    def endpoint(self) -> str:
        return f"local folder `{self.root}`"

    def _local(self, path: str) -> Path:
        return self.root.joinpath(*path.split("/")) if path else self.root

    def uri(self, path: str) -> str:
        return str(self._local(_check_path(path, allow_empty=True)))

    def _write_all(self, fd: int, data: bytes) -> None:
        """Write every byte to the open temporary file (a seam for tests that simulate a crash)."""
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def _put(self, path: str, data: bytes, *, overwrite: bool) -> bool:
        target = self._local(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Same folder as the target, so the final rename never crosses a filesystem boundary.
        fd, tmp_name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{target.name}.", dir=target.parent)
        try:
            try:
                self._write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            if overwrite:
                os.replace(tmp_name, target)
                created = True
            else:
                # link() fails if the target exists: an atomic create-if-absent on POSIX filesystems.
                try:
                    os.link(tmp_name, target)
                    created = True
                except FileExistsError:
                    created = False
                os.unlink(tmp_name)
        except BaseException:
            # Also on KeyboardInterrupt: leave the previous version and no temporary file behind.
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise
        self._fsync_dir(target.parent)
        return created

    @staticmethod
    def _fsync_dir(folder: Path) -> None:
        # The rename is only durable once the folder entry itself reaches the disk.
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _get(self, path: str) -> bytes:
        target = self._local(path)
        if target.is_dir():
            raise FileNotFoundError(path)
        return target.read_bytes()

    def _exists(self, path: str) -> bool:
        return self._local(path).is_file()

    def _walk(self, prefix: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
        """(relative path, entry) of every object under `prefix`, as os.walk sees files (symlinked
        folders not followed), temporary files left out. scandir and string paths: a million manifests
        are listed in seconds, pathlib would take minutes."""
        pending = [(str(self._local(prefix)), prefix)]
        while pending:
            folder, rel = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                path = f"{rel}/{entry.name}" if rel else entry.name
                try:
                    is_dir = entry.is_dir()
                except FileNotFoundError:  # deleted since the listing: as if listed a moment later
                    continue
                if is_dir:
                    if not entry.is_symlink():
                        pending.append((entry.path, path))
                elif not entry.name.startswith(TEMP_PREFIX):
                    yield path, entry

    def _list(self, prefix: str) -> list[str]:
        return [path for path, _entry in self._walk(prefix)]

    def _list_versions(self, prefix: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for path, entry in self._walk(prefix):
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # deleted since the listing: as if listed a moment later
                continue
            found[path] = f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"
        return found

    def _delete(self, path: str) -> None:
        try:
            self._local(path).unlink()
        except FileNotFoundError:
            pass


class S3ObjectStore(ObjectStore):
    """A bucket and optional key prefix on an S3-compatible endpoint, through s3fs."""

    is_local = False

    def __init__(
        self, bucket: str, prefix: str, settings: S3Settings, *, retry: RetryPolicy | None = None
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.settings = settings
        super().__init__(f"s3://{bucket}/{prefix}".rstrip("/"), retry=retry)
        self._fs = _make_s3fs(settings)

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return self._fs

    @property
    def endpoint(self) -> str:
        return f"`s3://{self.bucket}` at {self.settings.endpoint_label}"

    def _key(self, path: str) -> str:
        return "/".join(part for part in (self.bucket, self.prefix, path) if part)

    def uri(self, path: str) -> str:
        return f"s3://{self._key(_check_path(path, allow_empty=True))}"

    def _put(self, path: str, data: bytes, *, overwrite: bool) -> bool:
        # Below 100 MB s3fs sends one PutObject, which S3 applies whole or not at all; above, a
        # multipart upload, which is equally invisible until completed. "create" adds If-None-Match: *.
        try:
            self._fs.pipe_file(self._key(path), data, mode="overwrite" if overwrite else "create")
        except FileExistsError:
            return False
        return True

    def _get(self, path: str) -> bytes:
        return self._fs.cat_file(self._key(path))

    def _exists(self, path: str) -> bool:
        # fs.exists() would hide connection errors as "absent"; info() lets them surface.
        try:
            self._fs.info(self._key(path))
        except FileNotFoundError:
            return False
        return True

    def _list(self, prefix: str) -> list[str]:
        root = self._key("")
        start = len(root) + 1
        return [key[start:] for key in self._fs.find(self._key(prefix) + "/")]

    def _list_versions(self, prefix: str) -> dict[str, str]:
        start = len(self._key("")) + 1
        found = self._fs.find(self._key(prefix) + "/", detail=True)
        return {key[start:]: f"{info.get('ETag')}:{info.get('size')}" for key, info in found.items()}

    def _delete(self, path: str) -> None:
        try:
            self._fs.rm_file(self._key(path))
        except FileNotFoundError:
            pass


def _make_s3fs(settings: S3Settings) -> fsspec.AbstractFileSystem:
    import s3fs

    client_kwargs: dict[str, str] = {}
    if settings.region:
        client_kwargs["region_name"] = settings.region
    fs = s3fs.S3FileSystem(
        key=settings.key,
        secret=settings.secret,
        endpoint_url=settings.endpoint_url,
        client_kwargs=client_kwargs,
        # Retries belong to ObjectStore._call alone, so that attempts and total time stay bounded and
        # known; botocore and s3fs would otherwise multiply them (5 x 5 attempts).
        config_kwargs={"retries": {"total_max_attempts": 1}, "connect_timeout": 5, "read_timeout": 60},
        # Listings must reflect writes by other processes (manifests, keys) immediately.
        use_listings_cache=False,
        skip_instance_cache=True,
    )
    fs.retries = 1
    return fs


def open_store(
    url: str | os.PathLike[str], s3: S3Settings | None = None, *, retry: RetryPolicy | None = None
) -> ObjectStore:
    """Open a store from a plain folder path, a file:// URL or s3://bucket[/prefix].

    A local folder is created if needed. S3 settings default to the environment
    (LAKEHOUSE_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION).
    """
    text = os.fspath(url)
    if text.startswith("s3://"):
        parsed = urlparse(text)
        bucket = parsed.netloc
        if not bucket or parsed.query or parsed.fragment:
            raise ConfigError(f"lake URL `{text}` must look like s3://bucket or s3://bucket/prefix")
        prefix = _check_path(parsed.path, allow_empty=True)
        return S3ObjectStore(bucket, prefix, s3 or S3Settings.from_env(), retry=retry)
    if "://" in text:
        parsed = urlparse(text)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            raise ConfigError(f"lake URL `{text}`: only local folders, file:// and s3:// are supported")
        text = unquote(parsed.path)
    root = Path(text).expanduser().resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"Could not create the lake folder `{root}` ({type(exc).__name__})") from exc
    return LocalObjectStore(root, retry=retry)
