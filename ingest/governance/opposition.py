"""Patients' right to object: the opposition list, stored encrypted in the lake, holding pseudonyms only.

An objection is entered from an identity (NIR + birth date + sex, or last name + first name + birth
date + sex) and pseudonymised on entry with the very functions ingest uses, so the list matches landed
pseudonyms and no identity is ever stored. When both a NIR and traits are given, both pseudonyms are
kept: the same person may have been landed under either (ingest uses the NIR when the extract has it,
the traits otherwise).

Storage: one object per addition, `opposition/<YYYY-MM>/<stamp>-<random>.json`, an envelope naming the
data key (`raw/opposition/<YYYY-MM>`, or a later generation after retirement) around an AES-GCM blob
bound to the object's path. Additions never rewrite earlier objects, so two operators cannot lose each
other's entries. Each entry records the pseudonymisation secret version and identity scheme it was computed
with: after a rotation of that secret, or a change of scheme, old entries no longer match new pseudonyms,
and `is_opposed` refuses to answer (OppositionStaleError) until the objections are re-entered and the
stale entries dropped (see docs/security.md).

The acts of objecting patients are recorded too (`opposition/acts/...`, same envelope, a list of
[association, act number] pairs): once an act is removed, its patient can no longer be read from it,
and a diagnosis, prescription or vital sign of that act sent again later (alone, in a corrected file)
must still be recognised as the objector's. Act numbers do not depend on the pseudonymisation secret,
so these entries never go stale.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.exceptions import LakehouseError
from ingest.lake import audit
from ingest.lake.crypto import decrypt_blob, encrypt_blob
from ingest.lake.keys import DataKey, DataKeyring, KeyStore
from ingest.lake.storage import ObjectStore
from ingest.records.pseudonymise import PSEUDONYM_SCHEME, pseudonymise_patients
from ingest.records.validate import nir_ok

__all__ = [
    "OPPOSITION_PREFIX",
    "Identity",
    "OppositionError",
    "OppositionList",
    "OppositionStaleError",
    "add_identities",
    "add_opposed_acts",
    "add_pseudonyms",
    "drop_stale_entries",
    "load_opposition",
    "reencrypt_entries",
]

OPPOSITION_PREFIX = "opposition"
OPPOSED_ACTS_PREFIX = "opposition/acts"
OPPOSITION_DATASET = "opposition"
_FORMAT = "urgent-care-lakehouse/opposition"
_NIR = re.compile(r"[12378][0-9]{4}(2A|2B|[0-9]{2})[0-9]{6}[0-9]{2}")
_PSEUDONYM = re.compile(r"[0-9a-f]{32}")
_SEXES = ("M", "F", "I")


class OppositionError(LakehouseError):
    """An objection could not be recorded or the list could not be read."""

    exit_code = 2


class OppositionStaleError(OppositionError):
    """Entries computed with an older pseudonymisation secret exist: they would silently match nothing."""


@dataclass(frozen=True)
class Identity:
    """What an objection form gives: a NIR, or traits (or both). Never stored, never logged."""

    nir: str | None = None
    last_name: str | None = None
    first_name: str | None = None
    birth_date: date | None = None
    sex: str | None = None

    def __repr__(self) -> str:  # an identity must not end up in a log or a traceback
        return "Identity(<redacted>)"

    __str__ = __repr__

    @property
    def has_nir_identity(self) -> bool:
        """A NIR is keyed with the birth date and sex (a child may carry a parent's NIR)."""
        return all(v not in (None, "") for v in (self.nir, self.birth_date, self.sex))

    @property
    def has_traits(self) -> bool:
        return all(v not in (None, "") for v in (self.last_name, self.first_name, self.birth_date, self.sex))


def _check_nir(nir: str, position: int) -> str:
    cleaned = re.sub(r"[\s.]", "", nir).upper()
    if not _NIR.fullmatch(cleaned):
        raise OppositionError(f"identity {position}: field `nir` is not a 15-character NIR")
    if not nir_ok(pa.array([cleaned]))[0]:
        raise OppositionError(f"identity {position}: field `nir` fails its control key")
    return cleaned


def pseudonyms_of(identities: Iterable[Identity], secret: bytes) -> list[str]:
    """Patient pseudonyms as ingest computes them: one per NIR identity, one per complete set of traits."""
    nirs: list[tuple[str, date, str]] = []
    traits: list[tuple[str, str, date, str]] = []
    for position, ident in enumerate(identities, start=1):
        if not ident.has_nir_identity and not ident.has_traits:
            raise OppositionError(
                f"identity {position}: give fields `nir`, `birth_date` and `sex`, or all of `last_name`, "
                "`first_name`, `birth_date`, `sex`"
            )
        if ident.sex not in _SEXES:
            raise OppositionError(f"identity {position}: field `sex` must be one of {', '.join(_SEXES)}")
        assert ident.birth_date and ident.sex
        if ident.nir:
            nirs.append((_check_nir(ident.nir, position), ident.birth_date, ident.sex))
        if ident.has_traits:
            assert ident.last_name and ident.first_name
            traits.append((ident.last_name, ident.first_name, ident.birth_date, ident.sex))
    out: list[str] = []
    if nirs:
        nir, born, sex = (list(col) for col in zip(*nirs, strict=True))
        empty = pa.nulls(len(nirs), pa.string())
        by_nir, _ = pseudonymise_patients(
            secret,
            pa.array(nir, pa.string()),
            empty,
            empty,
            pa.array(born, pa.date32()),
            pa.array(sex, pa.string()),
        )
        out += by_nir.to_pylist()
    if traits:
        last, first, born, sex = (list(col) for col in zip(*traits, strict=True))
        by_traits, _ = pseudonymise_patients(
            secret,
            pa.nulls(len(traits), pa.string()),
            pa.array(last, pa.string()),
            pa.array(first, pa.string()),
            pa.array(born, pa.date32()),
            pa.array(sex, pa.string()),
        )
        out += by_traits.to_pylist()
    return sorted(set(out))


def _key_for_new_entry(keyring: DataKeyring, month: str) -> DataKey:
    return keyring.get_or_create("raw", OPPOSITION_DATASET, month)


def add_pseudonyms(store: ObjectStore, keystore: KeyStore, pseudonyms: Iterable[str]) -> int:
    """Record objections already pseudonymised with the current secret; returns how many were new."""
    secret_version, _ = keystore.pseudonym_secret()
    wanted = sorted(set(pseudonyms))
    for p in wanted:
        if not _PSEUDONYM.fullmatch(p):
            raise OppositionError("a pseudonym must be 32 lower-case hex characters")
    current = load_opposition(store, keystore, allow_stale=True)
    new = [p for p in wanted if p not in current.pseudonyms]
    if new:
        body = {"pseudonym_secret_version": secret_version, "pseudonym_scheme": PSEUDONYM_SCHEME}
        _add_entry(store, keystore, OPPOSITION_PREFIX, {**body, "pseudonyms": new})
    audit.record(store, keystore, "opposition_add", {"patients_new": len(new), "patients_given": len(wanted)})
    return len(new)


def add_identities(store: ObjectStore, keystore: KeyStore, identities: Iterable[Identity]) -> int:
    """Pseudonymise the identities (same functions and secret as ingest) and record the objections."""
    _, secret = keystore.pseudonym_secret()
    return add_pseudonyms(store, keystore, pseudonyms_of(list(identities), secret))


def add_opposed_acts(store: ObjectStore, keystore: KeyStore, acts: Iterable[tuple[str, str]]) -> int:
    """Record the (association, act number) of objectors' acts not recorded yet; returns how many.
    Called before the acts are dropped from a batch or removed from the lake, so a crash in between
    leaves the record, never the act's children without one."""
    known = load_opposition(store, keystore, allow_stale=True).acts
    new = sorted({(str(a), str(n)) for a, n in acts} - known)
    if new:
        _add_entry(store, keystore, OPPOSED_ACTS_PREFIX, {"pseudonyms": [], "acts": [list(k) for k in new]})
    return len(new)


def _add_entry(store: ObjectStore, keystore: KeyStore, prefix: str, fields: dict[str, object]) -> None:
    """A new object of its own (additions never rewrite earlier ones), under this month's key."""
    now = datetime.now(UTC)
    month = now.strftime("%Y-%m")
    path = f"{prefix}/{month}/{now.strftime('%Y%m%dT%H%M%S%f')}-{secrets.token_hex(4)}.json"
    key = _key_for_new_entry(DataKeyring(store, keystore), month)
    body = {"format": _FORMAT, "added_at": now.isoformat(timespec="seconds"), **fields}
    _write_entry(store, path, body, key)


def _write_entry(store: ObjectStore, path: str, body: dict[str, object], key: DataKey) -> None:
    blob = encrypt_blob(json.dumps(body, sort_keys=True).encode("utf-8"), key.key, aad=path.encode())
    envelope = {"format": _FORMAT, "key_id": key.key_id, "blob": base64.b64encode(blob).decode("ascii")}
    store.put(path, json.dumps(envelope, sort_keys=True).encode("utf-8"))


def _read_entry(store: ObjectStore, keyring: DataKeyring, path: str) -> tuple[str, dict[str, object]]:
    where = store.uri(path)
    try:
        envelope = json.loads(store.get(path))
        key_id = envelope["key_id"]
        blob = base64.b64decode(envelope["blob"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise OppositionError(f"`{where}` is not an opposition entry (field `key_id` or `blob`)") from exc
    body = json.loads(decrypt_blob(blob, keyring.get(key_id).key, aad=path.encode(), path=where))
    if not isinstance(body, dict) or body.get("format") != _FORMAT:
        raise OppositionError(f"`{where}`: unexpected field `format`")
    return str(key_id), body


@dataclass(frozen=True)
class OppositionList:
    pseudonyms: frozenset[str]
    secret_version: str
    stale_entries: int  # entries computed with another pseudonymisation secret or identity scheme
    # (association, act number) of the objectors' acts already dropped or removed, whatever the secret.
    acts: frozenset[tuple[str, str]] = frozenset()

    def is_opposed(self, pseudonyms: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Boolean mask, True where the pseudonym is on the list (null: False). Refuses a stale list."""
        if self.stale_entries:
            raise OppositionStaleError(
                f"{self.stale_entries} opposition entries were computed with another pseudonymisation "
                f"secret than `{self.secret_version}` or another identity scheme than {PSEUDONYM_SCHEME}: "
                "re-enter those objections, then drop the stale entries"
            )
        if not self.pseudonyms or len(pseudonyms) == 0:
            return np.zeros(len(pseudonyms), dtype=bool)
        value_set = pa.array(sorted(self.pseudonyms), pa.string())
        mask = pc.fill_null(pc.is_in(pseudonyms, value_set=value_set), False)
        return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def entry_paths(store: ObjectStore) -> list[str]:
    return [p for p in store.list(OPPOSITION_PREFIX) if p.endswith(".json")]


def load_opposition(store: ObjectStore, keystore: KeyStore, *, allow_stale: bool = False) -> OppositionList:
    """The list for the current pseudonymisation secret (decrypted in memory only)."""
    version, _ = keystore.pseudonym_secret()
    keyring = DataKeyring(store, keystore)
    found: set[str] = set()
    acts: set[tuple[str, str]] = set()
    stale = 0
    for path in entry_paths(store):
        _, body = _read_entry(store, keyring, path)
        items = body.get("pseudonyms")
        if not isinstance(items, list):
            raise OppositionError(f"`{store.uri(path)}`: field `pseudonyms` is not a list")
        if "acts" in body:
            pairs = body["acts"]
            if not isinstance(pairs, list) or not all(isinstance(k, list) and len(k) == 2 for k in pairs):
                raise OppositionError(f"`{store.uri(path)}`: field `acts` is not a list of pairs")
            acts.update((str(a), str(n)) for a, n in pairs)
        elif _is_current(body, version):
            found.update(str(p) for p in items)
        else:
            stale += len(items)
    return OppositionList(frozenset(found), version, 0 if allow_stale else stale, frozenset(acts))


def _is_current(body: dict[str, object], secret_version: str) -> bool:
    # Entries written before the scheme was recorded used scheme 1 (the NIR alone).
    return (
        body.get("pseudonym_secret_version") == secret_version
        and body.get("pseudonym_scheme", 1) == PSEUDONYM_SCHEME
    )


def drop_stale_entries(store: ObjectStore, keystore: KeyStore) -> int:
    """Delete entries made with an older secret or scheme (after re-entering those objections)."""
    version, _ = keystore.pseudonym_secret()
    keyring = DataKeyring(store, keystore)
    dropped = 0
    for path in entry_paths(store):
        _, body = _read_entry(store, keyring, path)
        if "acts" not in body and not _is_current(body, version):
            store.delete(path)
            dropped += 1
    return dropped


def reencrypt_entries(store: ObjectStore, keyring: DataKeyring, old_key_id: str, new_key: DataKey) -> int:
    """Data key retirement: re-encrypt every entry under `old_key_id` with `new_key` (one PUT each)."""
    count = 0
    for path in entry_paths(store):
        key_id, body = _read_entry(store, keyring, path)
        if key_id == old_key_id:
            # Same path, one atomic PUT: the envelope names the key of the blob it holds at every moment.
            _write_entry(store, path, body, new_key)
            count += 1
    return count


def entries_using(store: ObjectStore, keyring: DataKeyring, key_id: str) -> int:
    return sum(1 for path in entry_paths(store) if _read_entry(store, keyring, path)[0] == key_id)
