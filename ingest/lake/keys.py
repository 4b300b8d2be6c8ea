"""Key store: master keys per zone and the pseudonymisation secret. The only module that knows
where secrets come from.

The embedded default is a local JSON file (mode 600, outside the repository and the lake) created by
`lakehouse keys init`. The `KeyStore` protocol is what a real KMS would implement: it wraps and unwraps
data keys and hands out the pseudonymisation secret; master keys never leave it through this interface.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, cast, get_args

import duckdb
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ingest import settings
from ingest.exceptions import DecryptionError, KeyStoreError, MissingKeyError, ObjectNotFoundError
from ingest.lake.storage import ObjectStore
from ingest.settings import DEFAULT_KEYSTORE_PATH, KEYSTORE_ENV

__all__ = [
    "DEFAULT_KEYSTORE_PATH",
    "KEYS_PREFIX",
    "ZONES",
    "DataKey",
    "DataKeyring",
    "KeyStore",
    "KeyStoreFingerprint",
    "LocalKeyStore",
    "ManagedKeyStore",
    "Zone",
    "data_key_path",
    "init_keystore",
    "is_master_key_id",
    "key_generation",
    "keystore_path",
    "open_keystore",
    "parse_key_id",
    "register_duckdb_keys",
]

Zone = Literal["raw", "quarantine", "warehouse"]
ZONES: tuple[Zone, ...] = get_args(Zone)

KEYS_PREFIX = "_keys"

KEY_BYTES = 32
_NONCE_BYTES = 12
_KEYSTORE_FORMAT = "urgent-care-lakehouse/keystore"
_KEYSTORE_VERSION = 1
_WRAP_ALGORITHM = "AES-256-GCM"

# Dataset names end up in DuckDB key names (`<zone>__<dataset>__<YYYY_MM>`): no double underscore,
# so a name splits back into its parts unambiguously.
_DATASET = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
_PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_MASTER_KEY_ID = re.compile(r"(raw|quarantine|warehouse)-v[1-9][0-9]*")
_SECRET_ID = re.compile(r"pseudonym-v[1-9][0-9]*")
_AUDIT_KEY_ID = re.compile(r"audit-v[1-9][0-9]*")
# A retired data key is replaced by a new *generation* of the same zone x dataset x month: generation 1 is
# "<zone>/<dataset>/<YYYY-MM>" (every key created before retirement existed), generation n >= 2 is
# "<zone>/<dataset>/<YYYY-MM>.v<n>". The highest generation present in the lake is the one new files use.
_GENERATION = re.compile(r"(?P<period>[^.]+)(?:\.v(?P<generation>[2-9]|[1-9][0-9]+))?")
_PROJECT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# Domain label of per-project study keys, distinct from the pseudonym domains ("nir:", "traits:", "rpps:").
_PROJECT_KEY_LABEL = b"urgent-care-lakehouse/study-project-key/v1:"
# Domain label of the key store's fingerprint (ingest.lake.keystore_binding), apart from every other use.
_FINGERPRINT_LABEL = b"urgent-care-lakehouse/keystore-fingerprint/v1"
# Domain label of the key sealing manifests (ingest.lake.manifest_seal), derived from the audit key.
_MANIFEST_KEY_LABEL = b"urgent-care-lakehouse/manifest-seal/v1"
_KEYSTORE_ID = re.compile(r"[0-9a-f]{32}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, *, what: str, where: str) -> bytes:
    if not isinstance(text, str):
        raise KeyStoreError(f"`{where}`: field `{what}` is not a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyStoreError(f"`{where}`: field `{what}` is not valid base64") from exc


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class KeyStoreFingerprint:
    """Who a key store is, as a lake records it: reveals nothing about the keys.

    `keystore_id` is random (drawn at `keys init`); `commitment` is an HMAC-SHA256 under the store's first
    pseudonymisation secret of a fixed label, so a fresh store given the same id still does not match,
    and 32 random key bytes stand behind the MAC: it cannot be inverted or brute-forced.
    """

    keystore_id: str
    commitment: str
    created_at: str | None


class KeyStore(Protocol):
    """What the pipeline needs from a key store; a KMS-backed implementation would fit the same shape."""

    def wrap(self, zone: Zone, data_key: bytes, aad: bytes) -> dict[str, str]:
        """Encrypt a data key with the zone's current master key: {"master_key_id", "nonce", "ciphertext"}."""
        ...

    def unwrap(self, zone: Zone, wrapped: dict[str, str], aad: bytes) -> bytes:
        """Decrypt a wrapped data key; MissingKeyError (unknown master key) or DecryptionError."""
        ...

    def pseudonym_secret(self) -> tuple[str, bytes]:
        """(version id, 32 bytes) of the current pseudonymisation secret."""
        ...

    def warehouse_db_key(self) -> str:
        """The ENCRYPTION_KEY DuckDB uses for the warehouse database file."""
        ...

    def project_key(self, project_id: str) -> bytes:
        """32 bytes proper to one research project (study extracts): two projects cannot link pseudonyms."""
        ...

    def audit_key(self, key_id: str | None = None) -> tuple[str, bytes]:
        """(id, 32 bytes) of the key authenticating audit entries: `key_id`'s, else the current one."""
        ...

    def manifest_key(self, key_id: str | None = None) -> tuple[str, bytes]:
        """(id of the audit key it derives from, 32 bytes) of the key sealing manifests."""
        ...

    def fingerprint(self) -> KeyStoreFingerprint:
        """The store's identity, the same across every rotation (a lake is bound to it)."""
        ...


class ManagedKeyStore(KeyStore, Protocol):
    """Administrative operations (rotation); a KMS would map them to its own key-version API."""

    def master_key_ids(self, zone: Zone) -> list[str]:
        """Every master key id of `zone` the store holds, oldest first."""
        ...

    def current_master_key_id(self, zone: Zone) -> str: ...

    def rotate_master_key(self, zone: Zone) -> str:
        """Create a new master key for `zone`, make it current, return its id (old ones are kept)."""
        ...

    def remove_master_key(self, key_id: str) -> None:
        """Delete a master key that is not current (the caller checks nothing still uses it)."""
        ...

    def rotate_pseudonym_secret(self) -> str:
        """Create a new pseudonymisation secret, make it current, return its id."""
        ...

    def pending_warehouse_db_key(self) -> str | None:
        """The warehouse key a re-encryption in progress writes with (None when none is)."""
        ...

    def begin_warehouse_db_key_rotation(self) -> str:
        """Draw (once) and keep the next warehouse key, before any file is written with it."""
        ...

    def finish_warehouse_db_key_rotation(self) -> None:
        """Make the pending warehouse key current; the old one is deleted (retired)."""
        ...


def keystore_path(path: str | Path | None = None) -> Path:
    """Explicit path, else $LAKEHOUSE_KEYSTORE, else ~/.config/urgent-care-lakehouse/keystore.json."""
    return settings.keystore_path(path)


def _new_keystore_document() -> dict[str, Any]:
    created = _now()
    return {
        "format": _KEYSTORE_FORMAT,
        "version": _KEYSTORE_VERSION,
        "created_at": created,
        # A rotation adds "<zone>-v2" here and points `current` at it; old ids stay to unwrap old keys.
        "master_keys": {
            f"{zone}-v1": {"zone": zone, "key": _b64(secrets.token_bytes(KEY_BYTES)), "created_at": created}
            for zone in ZONES
        },
        "current_master_keys": {zone: f"{zone}-v1" for zone in ZONES},
        "pseudonym_secrets": {"pseudonym-v1": _b64(secrets.token_bytes(KEY_BYTES))},
        "current_pseudonym_secret": "pseudonym-v1",
        # DuckDB takes the database key as a string; 32 random bytes in base64.
        "warehouse_db_key": _b64(secrets.token_bytes(KEY_BYTES)),
        **_new_audit_keys(),
        # Names this store in the lakes bound to it (ingest.lake.keystore_binding); not a secret.
        "keystore_id": secrets.token_hex(16),
    }


def _new_audit_keys() -> dict[str, Any]:
    # Apart from every other key: holding the lake (even its data keys) is not enough to rewrite the trail.
    return {"audit_keys": {"audit-v1": _b64(secrets.token_bytes(KEY_BYTES))}, "current_audit_key": "audit-v1"}


def init_keystore(path: str | Path | None = None, *, exist_ok: bool = True) -> tuple[Path, bool]:
    """Create a new key store with fresh random keys; (path, created). Never overwrites one."""
    target = keystore_path(path)
    if target.exists():
        if not exist_ok:
            raise KeyStoreError(f"Key store `{target}` already exists; it is never overwritten")
        # Fail now, not at the first ingest, if the existing file is unusable or too permissive; a key
        # store made before audit keys existed gets its audit key here.
        LocalKeyStore(target).audit_key()
        return target, False
    # 0700 only applies to folders created here; an existing parent is the operator's choice.
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    payload = json.dumps(_new_keystore_document(), indent=2, sort_keys=True).encode("utf-8")
    try:
        # O_EXCL + mode 0600 at creation: the file is never, even briefly, readable by others, and a
        # concurrent init cannot replace keys that may already protect data.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if not exist_ok:
            raise KeyStoreError(f"Key store `{target}` already exists; it is never overwritten") from None
        return target, False
    except OSError as exc:
        raise KeyStoreError(f"Could not create key store `{target}` ({type(exc).__name__})") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target, True


def open_keystore(path: str | Path | None = None) -> KeyStore:
    """The configured key store; KeyStoreError naming the path when it is missing or unsafe."""
    return LocalKeyStore(keystore_path(path))


class LocalKeyStore:
    """The key store as a JSON file readable by its owner only."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._doc = self._load()

    def __repr__(self) -> str:
        return f"LocalKeyStore({str(self.path)!r})"

    def _load(self) -> dict[str, Any]:
        where = str(self.path)
        try:
            # O_NONBLOCK: a FIFO put in the key store's place must not hang the command (refused below).
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            raise KeyStoreError(
                f"Key store `{where}` does not exist: run `lakehouse keys init` "
                f"(or point {KEYSTORE_ENV} at the key store)"
            ) from None
        except OSError as exc:
            raise KeyStoreError(f"Could not open key store `{where}` ({type(exc).__name__})") from exc
        # fstat on the opened file: the mode checked is the mode of the bytes read. Before fdopen, which
        # raises IsADirectoryError (a traceback) when LAKEHOUSE_KEYSTORE names a folder.
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise KeyStoreError(
                f"Key store `{where}` is not a regular file: {KEYSTORE_ENV} must name the key store file"
            )
        with os.fdopen(fd, "rb") as handle:
            if mode & 0o077:
                raise KeyStoreError(
                    f"Key store `{where}` is accessible by group or others "
                    f"(mode {stat.S_IMODE(mode):o}): run `chmod 600 {where}`"
                )
            raw = handle.read()
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise KeyStoreError(f"Key store `{where}` is not valid JSON") from exc
        if not isinstance(doc, dict) or doc.get("format") != _KEYSTORE_FORMAT:
            raise KeyStoreError(f"`{where}` is not a lakehouse key store (field `format`)")
        if doc.get("version") != _KEYSTORE_VERSION:
            raise KeyStoreError(f"Key store `{where}`: unsupported field `version`")
        for name in (
            "master_keys",
            "current_master_keys",
            "pseudonym_secrets",
            "current_pseudonym_secret",
            "warehouse_db_key",
        ):
            if name not in doc:
                raise KeyStoreError(f"Key store `{where}` lacks field `{name}`")
        return cast(dict[str, Any], doc)

    def _master_key(self, key_id: str, zone: Zone) -> bytes:
        entry = self._doc["master_keys"].get(key_id)
        if entry is None:
            raise MissingKeyError(f"Master key `{key_id}` is not in key store `{self.path}`", key_id=key_id)
        if entry.get("zone") != zone:
            raise KeyStoreError(f"Key store `{self.path}`: master key `{key_id}` is not a `{zone}` key")
        key = _unb64(entry.get("key"), what=f"master_keys.{key_id}.key", where=str(self.path))
        if len(key) != KEY_BYTES:
            raise KeyStoreError(f"Key store `{self.path}`: master key `{key_id}` is not {KEY_BYTES} bytes")
        return key

    def current_master_key_id(self, zone: Zone) -> str:
        key_id = self._doc["current_master_keys"].get(zone)
        if not isinstance(key_id, str) or not _MASTER_KEY_ID.fullmatch(key_id):
            raise KeyStoreError(f"Key store `{self.path}`: no valid `current_master_keys.{zone}`")
        return key_id

    def wrap(self, zone: Zone, data_key: bytes, aad: bytes) -> dict[str, str]:
        if zone not in ZONES:
            raise ValueError(f"unknown zone `{zone}`")
        master_key_id = self.current_master_key_id(zone)
        nonce = secrets.token_bytes(_NONCE_BYTES)
        ciphertext = AESGCM(self._master_key(master_key_id, zone)).encrypt(nonce, data_key, aad)
        return {"master_key_id": master_key_id, "nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}

    def unwrap(self, zone: Zone, wrapped: dict[str, str], aad: bytes) -> bytes:
        master_key_id = wrapped.get("master_key_id")
        if not isinstance(master_key_id, str) or not _MASTER_KEY_ID.fullmatch(master_key_id):
            raise DecryptionError("Wrapped key has no valid field `master_key_id`", path=str(self.path))
        master = self._master_key(master_key_id, zone)
        try:
            nonce = base64.b64decode(wrapped.get("nonce", ""), validate=True)
            ciphertext = base64.b64decode(wrapped.get("ciphertext", ""), validate=True)
            return AESGCM(master).decrypt(nonce, ciphertext, aad)
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise DecryptionError(
                f"Could not unwrap a data key with master key `{master_key_id}` of key store `{self.path}`",
                path=str(self.path),
            ) from exc

    def pseudonym_secret(self) -> tuple[str, bytes]:
        secret_id = self._doc["current_pseudonym_secret"]
        if not isinstance(secret_id, str) or not _SECRET_ID.fullmatch(secret_id):
            raise KeyStoreError(f"Key store `{self.path}`: invalid field `current_pseudonym_secret`")
        encoded = self._doc["pseudonym_secrets"].get(secret_id)
        if encoded is None:
            raise MissingKeyError(
                f"Pseudonymisation secret `{secret_id}` is not in key store `{self.path}`", key_id=secret_id
            )
        secret = _unb64(encoded, what=f"pseudonym_secrets.{secret_id}", where=str(self.path))
        if len(secret) != KEY_BYTES:
            raise KeyStoreError(f"Key store `{self.path}`: pseudonymisation secret is not {KEY_BYTES} bytes")
        return secret_id, secret

    def warehouse_db_key(self) -> str:
        value = self._doc["warehouse_db_key"]
        if not isinstance(value, str) or len(value) < 32:
            raise KeyStoreError(f"Key store `{self.path}`: invalid field `warehouse_db_key`")
        return value

    def project_key(self, project_id: str) -> bytes:
        if not isinstance(project_id, str) or not _PROJECT_ID.fullmatch(project_id):
            raise ValueError(f"project id must match {_PROJECT_ID.pattern}")
        # Derived, not stored: nothing to back up per project, and the key store file stays unchanged.
        # The label keeps these keys apart from every pseudonym domain of the same secret.
        _, secret = self.pseudonym_secret()
        return hmac.new(secret, _PROJECT_KEY_LABEL + project_id.encode("ascii"), hashlib.sha256).digest()

    def audit_key(self, key_id: str | None = None) -> tuple[str, bytes]:
        if "audit_keys" not in self._doc:
            self._add_audit_key()
        chosen = key_id if key_id is not None else self._doc.get("current_audit_key")
        if not isinstance(chosen, str) or not _AUDIT_KEY_ID.fullmatch(chosen):
            raise KeyStoreError(f"Key store `{self.path}`: invalid audit key id `{chosen}`")
        encoded = self._doc["audit_keys"].get(chosen)
        if encoded is None:
            raise MissingKeyError(f"Audit key `{chosen}` is not in key store `{self.path}`", key_id=chosen)
        key = _unb64(encoded, what=f"audit_keys.{chosen}", where=str(self.path))
        if len(key) != KEY_BYTES:
            raise KeyStoreError(f"Key store `{self.path}`: audit key `{chosen}` is not {KEY_BYTES} bytes")
        return chosen, key

    def manifest_key(self, key_id: str | None = None) -> tuple[str, bytes]:
        # Derived from the audit key, not stored: it is apart from the data keys in the lake (which an
        # insider may hold wrapped) and from the pseudonym secrets, and a key store made before
        # manifests were sealed needs no upgrade. The label keeps it from ever being the audit MAC key.
        audit_id, audit = self.audit_key(key_id)
        return audit_id, hmac.new(audit, _MANIFEST_KEY_LABEL, hashlib.sha256).digest()

    def _add_audit_key(self) -> None:
        """Upgrade a key store made before audit keys existed. Under a lock on its folder, re-read first:
        two processes upgrading at once must end with one key, or entries signed with the other's key
        would fail verification."""
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX)
            doc = self._load()
            if "audit_keys" not in doc:
                doc.update(_new_audit_keys())
                self._save(doc)
            self._doc = doc
        finally:
            os.close(dir_fd)

    def fingerprint(self) -> KeyStoreFingerprint:
        secrets_by_id = self._doc["pseudonym_secrets"]
        ids = [k for k in secrets_by_id if isinstance(k, str) and _SECRET_ID.fullmatch(k)]
        if not ids:
            raise KeyStoreError(f"Key store `{self.path}`: no valid `pseudonym_secrets`")
        # The first secret: rotations add secrets and never remove one, so the fingerprint outlives them.
        first = min(ids, key=lambda secret_id: int(secret_id.rsplit("-v", 1)[1]))
        secret = _unb64(secrets_by_id[first], what=f"pseudonym_secrets.{first}", where=str(self.path))
        commitment = hmac.new(secret, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()
        keystore_id = self._doc.get("keystore_id")
        if keystore_id is None:
            # A store made before ids existed: named by its commitment, which is just as stable.
            keystore_id = commitment[:32]
        elif not isinstance(keystore_id, str) or not _KEYSTORE_ID.fullmatch(keystore_id):
            raise KeyStoreError(f"Key store `{self.path}`: invalid field `keystore_id`")
        created = self._doc.get("created_at")
        return KeyStoreFingerprint(keystore_id, commitment, created if isinstance(created, str) else None)

    # --- Administration (rotation). Each change rewrites the file atomically, mode 600.

    def master_key_ids(self, zone: Zone) -> list[str]:
        ids = [key_id for key_id, entry in self._doc["master_keys"].items() if entry.get("zone") == zone]
        return sorted(ids, key=lambda key_id: int(key_id.rsplit("-v", 1)[1]))

    def rotate_master_key(self, zone: Zone) -> str:
        if zone not in ZONES:
            raise ValueError(f"unknown zone `{zone}`")
        doc = self._load()
        numbers = [int(k.rsplit("-v", 1)[1]) for k, e in doc["master_keys"].items() if e.get("zone") == zone]
        key_id = f"{zone}-v{max(numbers, default=0) + 1}"
        doc["master_keys"][key_id] = {
            "zone": zone,
            "key": _b64(secrets.token_bytes(KEY_BYTES)),
            "created_at": _now(),
        }
        doc["current_master_keys"][zone] = key_id
        self._save(doc)
        return key_id

    def remove_master_key(self, key_id: str) -> None:
        doc = self._load()
        entry = doc["master_keys"].get(key_id)
        if entry is None:
            raise MissingKeyError(f"Master key `{key_id}` is not in key store `{self.path}`", key_id=key_id)
        if doc["current_master_keys"].get(entry.get("zone")) == key_id:
            raise KeyStoreError(f"Master key `{key_id}` is current in key store `{self.path}`: rotate first")
        del doc["master_keys"][key_id]
        self._save(doc)

    def rotate_pseudonym_secret(self) -> str:
        doc = self._load()
        numbers = [int(k.rsplit("-v", 1)[1]) for k in doc["pseudonym_secrets"]]
        secret_id = f"pseudonym-v{max(numbers, default=0) + 1}"
        doc["pseudonym_secrets"][secret_id] = _b64(secrets.token_bytes(KEY_BYTES))
        doc["current_pseudonym_secret"] = secret_id
        self._save(doc)
        return secret_id

    def pending_warehouse_db_key(self) -> str | None:
        value = self._doc.get("warehouse_db_key_next")
        if value is not None and (not isinstance(value, str) or len(value) < 32):
            raise KeyStoreError(f"Key store `{self.path}`: invalid field `warehouse_db_key_next`")
        return value

    def begin_warehouse_db_key_rotation(self) -> str:
        doc = self._load()
        if not doc.get("warehouse_db_key_next"):
            doc["warehouse_db_key_next"] = _b64(secrets.token_bytes(KEY_BYTES))
            self._save(doc)
        return str(doc["warehouse_db_key_next"])

    def finish_warehouse_db_key_rotation(self) -> None:
        doc = self._load()
        new_key = doc.pop("warehouse_db_key_next", None)
        if new_key is None:
            return
        doc["warehouse_db_key"] = new_key
        doc["warehouse_db_key_rotated_at"] = _now()
        self._save(doc)

    def _save(self, doc: dict[str, Any]) -> None:
        """Replace the key store file whole: a crash leaves either the old or the new document."""
        payload = json.dumps(doc, indent=2, sort_keys=True).encode("utf-8")
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._doc = doc


def parse_key_id(key_id: str) -> tuple[Zone, str, str]:
    """Split and validate "<zone>/<dataset>/<YYYY-MM>"; ValueError naming the key id otherwise."""
    parts = key_id.split("/") if isinstance(key_id, str) else []
    if len(parts) != 3:
        raise ValueError(f"data key id `{key_id}` must look like <zone>/<dataset>/<YYYY-MM>")
    zone, dataset, versioned = parts
    match = _GENERATION.fullmatch(versioned)
    period = match["period"] if match else versioned
    _validate(zone, dataset, period)
    return cast(Zone, zone), dataset, period


def is_master_key_id(key_id: str) -> bool:
    """True for "<zone>-v<n>": what an operator may name as a master key."""
    return isinstance(key_id, str) and _MASTER_KEY_ID.fullmatch(key_id) is not None


def key_generation(key_id: str) -> int:
    """1 for "<zone>/<dataset>/<YYYY-MM>", n for "<zone>/<dataset>/<YYYY-MM>.v<n>"."""
    parse_key_id(key_id)
    match = _GENERATION.fullmatch(key_id.rsplit("/", 1)[1])
    assert match is not None  # parse_key_id accepted it
    return int(match["generation"] or 1)


def _key_id(zone: str, dataset: str, period: str, generation: int) -> str:
    return f"{zone}/{dataset}/{period}" + (f".v{generation}" if generation > 1 else "")


def _validate(zone: str, dataset: str, period: str) -> None:
    if zone not in ZONES:
        raise ValueError(f"zone `{zone}` is not one of {', '.join(ZONES)}")
    if not _DATASET.fullmatch(dataset):
        raise ValueError(f"dataset name `{dataset}` must be lower-case words joined by single underscores")
    if not _PERIOD.fullmatch(period):
        raise ValueError(f"period `{period}` must be a month, YYYY-MM")


def data_key_path(key_id: str) -> str:
    """Where the wrapped data key lives in the lake: _keys/<zone>/<dataset>/<YYYY-MM>.json."""
    parse_key_id(key_id)
    return f"{KEYS_PREFIX}/{key_id}.json"


@dataclass(frozen=True)
class DataKey:
    """A 32-byte data key for one zone x dataset x month. Its repr never shows the key."""

    key_id: str
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        parse_key_id(self.key_id)
        if len(self.key) != KEY_BYTES:
            raise ValueError(f"data key `{self.key_id}` must be {KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return f"DataKey(key_id={self.key_id!r})"

    __str__ = __repr__

    @property
    def zone(self) -> Zone:
        return parse_key_id(self.key_id)[0]

    @property
    def dataset(self) -> str:
        return parse_key_id(self.key_id)[1]

    @property
    def period(self) -> str:
        return parse_key_id(self.key_id)[2]

    @property
    def generation(self) -> int:
        return key_generation(self.key_id)

    @property
    def duckdb_name(self) -> str:
        """ "<zone>__<dataset>__<YYYY_MM>", plus "__v<n>" from generation 2: the name registered in DuckDB."""
        zone, dataset, period = parse_key_id(self.key_id)
        suffix = f"__v{self.generation}" if self.generation > 1 else ""
        return f"{zone}__{dataset}__{period.replace('-', '_')}{suffix}"


class DataKeyring:
    """Data keys wrapped by the zone master key, stored in the lake.

    Location: _keys/<zone>/<dataset>/<YYYY-MM>.json.
    Unwrapped keys are cached for the life of the keyring (one per process in practice).
    """

    def __init__(self, store: ObjectStore, keystore: KeyStore) -> None:
        self.store = store
        self.keystore = keystore
        self._cache: dict[str, DataKey] = {}
        # (zone, dataset, period) -> key id of the generation new files use.
        self._current: dict[tuple[str, str, str], str] = {}
        self._lock = threading.Lock()

    def generations(self, zone: Zone, dataset: str, period: str) -> list[int]:
        """Generations of zone x dataset x month present in the lake, ascending (empty: none yet)."""
        _validate(zone, dataset, period)
        found = []
        for path in self.store.list(f"{KEYS_PREFIX}/{zone}/{dataset}"):
            name = path.rsplit("/", 1)[-1].removesuffix(".json")
            match = _GENERATION.fullmatch(name)
            if match and match["period"] == period and path.endswith(".json"):
                found.append(int(match["generation"] or 1))
        return sorted(found)

    def get_or_create(self, zone: Zone, dataset: str, period: str) -> DataKey:
        """The current data key of zone x dataset x month (its highest generation), created (random,
        wrapped, stored) on first use."""
        _validate(zone, dataset, period)
        with self._lock:
            current = self._current.get((zone, dataset, period))
            if current is not None and current in self._cache:
                return self._cache[current]
            present = self.generations(zone, dataset, period)
            if present:
                key_id = _key_id(zone, dataset, period, present[-1])
                data_key = self._cache.get(key_id) or self._load(key_id)
                self._current[(zone, dataset, period)] = key_id
                return data_key
            data_key = self._create(zone, dataset, period, 1)
            self._current[(zone, dataset, period)] = data_key.key_id
            return data_key

    def create_next_generation(self, zone: Zone, dataset: str, period: str) -> DataKey:
        """A fresh key, one generation above the highest present, made current (data key retirement)."""
        _validate(zone, dataset, period)
        with self._lock:
            present = self.generations(zone, dataset, period)
            generation = (present[-1] if present else 0) + 1
            data_key = self._create(zone, dataset, period, generation, must_create=True)
            self._current[(zone, dataset, period)] = data_key.key_id
            return data_key

    def delete(self, key_id: str) -> None:
        """Remove a data key from the lake (retirement, once no manifest names it any more)."""
        parse_key_id(key_id)
        with self._lock:
            self.store.delete(data_key_path(key_id))
            self._cache.pop(key_id, None)
            self._current = {k: v for k, v in self._current.items() if v != key_id}

    def _create(
        self, zone: Zone, dataset: str, period: str, generation: int, *, must_create: bool = False
    ) -> DataKey:
        """Create one key file (caller holds the lock); the winner's key if another writer raced us."""
        key_id = _key_id(zone, dataset, period, generation)
        path = data_key_path(key_id)
        if not self.store.exists(path):
            candidate = secrets.token_bytes(KEY_BYTES)
            document = {
                "key_id": key_id,
                "zone": zone,
                "dataset": dataset,
                "period": period,
                "generation": generation,
                "algorithm": _WRAP_ALGORITHM,
                **self.keystore.wrap(zone, candidate, key_id.encode("utf-8")),
                "created_at": _now(),
            }
            payload = json.dumps(document, indent=2, sort_keys=True).encode("utf-8")
            if self.store.put_if_absent(path, payload):
                data_key = DataKey(key_id, candidate)
                self._cache[key_id] = data_key
                return data_key
            # Another writer created it between exists() and now: theirs is the key, ours is dropped.
        if must_create:
            raise KeyStoreError(f"Data key `{key_id}` was created by another writer at the same time")
        return self._load(key_id)

    def rewrap(self, key_id: str, master_key_id: str) -> bool:
        """Re-wrap one stored data key under the zone's current master key `master_key_id` (rotation).

        The data key itself, hence every file it encrypts, is unchanged. False if it already was.
        """
        zone = parse_key_id(key_id)[0]
        path = data_key_path(key_id)
        with self._lock:
            document = json.loads(self.store.get(path))
            if document.get("master_key_id") == master_key_id:
                return False
            data_key = self._load(key_id)
            wrapped = self.keystore.wrap(zone, data_key.key, key_id.encode("utf-8"))
            if wrapped["master_key_id"] != master_key_id:
                raise KeyStoreError(f"Master key `{master_key_id}` is not the current `{zone}` master key")
            document.update(wrapped, rewrapped_at=_now())
            # One PUT: the file holds the old or the new wrapping, both unwrappable while both
            # master keys exist; the caller removes the old master key only after a full pass.
            self.store.put(path, json.dumps(document, indent=2, sort_keys=True).encode("utf-8"))
            return True

    def wrapped_by(self, key_id: str) -> str:
        """The master key id a stored data key is wrapped with."""
        document = json.loads(self.store.get(data_key_path(key_id)))
        return str(document.get("master_key_id"))

    def get(self, key_id: str) -> DataKey:
        """An existing data key; MissingKeyError naming `key_id` if it was never created."""
        try:
            parse_key_id(key_id)
        except ValueError as exc:
            raise MissingKeyError(str(exc), key_id=key_id) from exc
        with self._lock:
            cached = self._cache.get(key_id)
            if cached is not None:
                return cached
            return self._load(key_id)

    def all(self, zone: Zone | None = None) -> list[DataKey]:
        """Every data key in the lake (of one zone if given), sorted by key id."""
        if zone is not None and zone not in ZONES:
            raise ValueError(f"zone `{zone}` is not one of {', '.join(ZONES)}")
        prefix = f"{KEYS_PREFIX}/{zone}" if zone else KEYS_PREFIX
        keys = []
        for path in self.store.list(prefix):
            if not path.endswith(".json"):
                continue
            key_id = path[len(KEYS_PREFIX) + 1 : -len(".json")]
            try:
                parse_key_id(key_id)
            except ValueError as exc:
                raise KeyStoreError(f"`{path}` is not a data key file name ({exc})") from exc
            keys.append(self.get(key_id))
        return sorted(keys, key=lambda item: item.key_id)

    def _load(self, key_id: str) -> DataKey:
        """Read, check and unwrap one key file; caller holds the lock."""
        path = data_key_path(key_id)
        where = self.store.uri(path)
        try:
            raw = self.store.get(path)
        except ObjectNotFoundError:
            raise MissingKeyError(
                f"Data key `{key_id}` does not exist (no `{where}`): the data it protects cannot be read",
                key_id=key_id,
            ) from None
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DecryptionError(f"Data key file `{where}` is not valid JSON", path=where) from exc
        zone, dataset, period = parse_key_id(key_id)
        expected = {"key_id": key_id, "zone": zone, "dataset": dataset, "period": period}
        if not isinstance(document, dict):
            raise DecryptionError(f"Data key file `{where}` is not a JSON object", path=where)
        for name, value in expected.items():
            if document.get(name) != value:
                raise DecryptionError(
                    f"Data key file `{where}`: field `{name}` does not match the file's location", path=where
                )
        try:
            # The key id from the location (not from the document) is the AAD: a key file copied or
            # renamed to another key id fails here even if its fields were edited to match.
            key = self.keystore.unwrap(zone, document, key_id.encode("utf-8"))
        except DecryptionError as exc:
            raise DecryptionError(
                f"Could not unwrap data key file `{where}`: "
                "wrong master key, or the file was altered or moved",
                path=where,
            ) from exc
        if len(key) != KEY_BYTES:
            raise DecryptionError(f"Data key file `{where}` does not hold a {KEY_BYTES}-byte key", path=where)
        data_key = DataKey(key_id, key)
        self._cache[key_id] = data_key
        return data_key


def register_duckdb_keys(con: duckdb.DuckDBPyConnection, keys: Iterable[DataKey]) -> None:
    """Make each key usable in `read_parquet(..., encryption_config={footer_key: '<duckdb_name>'})`.

    Registered keys are visible to every cursor of the DuckDB instance (all dbt threads).
    """
    for data_key in keys:
        name = data_key.duckdb_name
        # Always 32 bytes (checked by DataKey): base64 of 16 bytes would be read by DuckDB as a raw
        # 24-byte key. Name and base64 alphabet are both safe to splice into the statement.
        con.execute(f"PRAGMA add_parquet_key('{name}', '{_b64(data_key.key)}')")
