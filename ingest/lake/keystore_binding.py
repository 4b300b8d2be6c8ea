"""A lake is bound to one key store: commands refuse any other before they write anything.

Why: every file of a lake is encrypted and pseudonymised under one key store's secrets. A second key
store (a fresh `keys init`, another checkout's `~/.config/...`, a wrong LAKEHOUSE_KEYSTORE) would land
months no reader can open next to the others, under the same secret label, and every later read fails.

The lake records the fingerprint of its key store once, in `_lake/keystore.json` (created with
put_if_absent, so two first writers agree): the store's random id and an HMAC commitment derived from
its secret material (ingest.lake.keys.KeyStoreFingerprint), which reveals nothing about the keys. Ingest,
build, query, export, purge, objections, extracts and key commands check it first and stop with one line
naming the key store the lake expects.

A lake created before the binding existed adopts the key store of its first checked command, but only
if that store opens one of the lake's data keys: a wrong store is never adopted.
"""

from __future__ import annotations

import hmac
import json
import socket
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ingest.exceptions import DecryptionError, KeyStoreError, ObjectNotFoundError
from ingest.lake.keys import KEYS_PREFIX, DataKeyring, KeyStore, KeyStoreFingerprint, parse_key_id
from ingest.lake.storage import ObjectStore

__all__ = [
    "BINDING_PATH",
    "Binding",
    "KeyStoreMismatchError",
    "binding_summary",
    "check_keystore",
    "describe",
]

BINDING_PATH = "_lake/keystore.json"
_FORMAT = "urgent-care-lakehouse/keystore-binding"


class KeyStoreMismatchError(KeyStoreError):
    """The key store in use is not the one the lake is bound to."""


@dataclass(frozen=True)
class Binding:
    """The key store a lake is bound to, as recorded in the lake."""

    keystore_id: str
    commitment: str
    keystore_created_at: str | None
    bound_from: str | None  # the key store's path when the lake was bound
    bound_on: str | None  # host
    bound_at: str | None
    adopted_now: bool = False


def _where(keystore: KeyStore) -> str:
    path = getattr(keystore, "path", None)
    return str(path) if path is not None else repr(keystore)


def describe(keystore: KeyStore) -> str:
    """`<path>` (id <id>): how messages name a key store."""
    return f"`{_where(keystore)}` (id {keystore.fingerprint().keystore_id})"


def _record(fp: KeyStoreFingerprint, keystore: KeyStore) -> bytes:
    return json.dumps(
        {
            "format": _FORMAT,
            "version": 1,
            "keystore_id": fp.keystore_id,
            "commitment": fp.commitment,
            "keystore_created_at": fp.created_at,
            "bound_from": _where(keystore),
            "bound_on": socket.gethostname(),
            "bound_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        indent=2,
        sort_keys=True,
    ).encode("utf-8")


def _parse(raw: bytes, where: str) -> Binding:
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        doc = None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise KeyStoreError(f"`{where}` is not a key-store binding record: restore it from a backup")
    for name in ("keystore_id", "commitment"):
        if not isinstance(doc.get(name), str):
            raise KeyStoreError(f"`{where}`: field `{name}` is missing")
    return Binding(
        keystore_id=doc["keystore_id"],
        commitment=doc["commitment"],
        keystore_created_at=doc.get("keystore_created_at"),
        bound_from=doc.get("bound_from"),
        bound_on=doc.get("bound_on"),
        bound_at=doc.get("bound_at"),
    )


def _refuse(store: ObjectStore, keystore: KeyStore, binding: Binding) -> KeyStoreMismatchError:
    origin = []
    if binding.bound_from:
        origin.append(f"used from `{binding.bound_from}`")
    if binding.bound_on:
        origin.append(f"on {binding.bound_on}")
    if binding.keystore_created_at:
        origin.append(f"created {binding.keystore_created_at}")
    known = f" ({', '.join(origin)})" if origin else ""
    return KeyStoreMismatchError(
        f"Key store {describe(keystore)} is not the key store of lake `{store.url}`: the lake expects "
        f"key store id {binding.keystore_id}{known}; point LAKEHOUSE_KEYSTORE at it. Nothing was written."
    )


def _opens_the_lake(store: ObjectStore, keystore: KeyStore) -> bool:
    """True if the lake holds no data key yet, or if `keystore` unwraps one of them."""
    for path in store.list(KEYS_PREFIX):
        if not path.endswith(".json"):
            continue
        key_id = path[len(KEYS_PREFIX) + 1 : -len(".json")]
        try:
            parse_key_id(key_id)
        except ValueError:
            continue
        try:
            DataKeyring(store, keystore).get(key_id)
        except (DecryptionError, KeyStoreError):  # MissingKeyError is a KeyStoreError
            return False
        return True
    return True


def check_keystore(store: ObjectStore, keystore: KeyStore) -> Binding:
    """The lake's binding, checked against `keystore` (recorded first if the lake has none yet).

    KeyStoreMismatchError, before anything is written, when the lake belongs to another key store.
    """
    fp = keystore.fingerprint()
    where = store.uri(BINDING_PATH)
    try:
        binding = _parse(store.get(BINDING_PATH), where)
        adopted = False
    except ObjectNotFoundError:
        if not _opens_the_lake(store, keystore):
            raise KeyStoreMismatchError(
                f"Key store {describe(keystore)} does not open the data keys of lake `{store.url}`, which "
                "records no key store yet: point LAKEHOUSE_KEYSTORE at the key store that wrote it. "
                "Nothing was written."
            ) from None
        adopted = store.put_if_absent(BINDING_PATH, _record(fp, keystore))
        # Lost a race with another first writer: theirs is the record, checked like any other.
        binding = _parse(store.get(BINDING_PATH), where)
    if not hmac.compare_digest(binding.commitment.encode(), fp.commitment.encode()):
        raise _refuse(store, keystore, binding)
    return replace(binding, adopted_now=adopted)


def binding_summary(store: ObjectStore, keystore: KeyStore) -> str:
    """One line for `run`: the lake uses this key store (checked, and recorded if the lake had none)."""
    binding = check_keystore(store, keystore)
    return f"Lake {store.url}: {'now bound' if binding.adopted_now else 'bound'} to this key store"
