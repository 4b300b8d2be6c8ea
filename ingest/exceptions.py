"""Errors raised by the lakehouse.

Messages name files, datasets, columns and rules, never cell values, identifiers or keys.
The CLI maps each family to its own exit code.
"""

from __future__ import annotations


class LakehouseError(Exception):
    """Base class: an error the CLI reports as one line, without a traceback."""

    exit_code = 1


class ConfigError(LakehouseError):
    """The set-up is wrong: missing key store, unreachable endpoint, bad option."""

    exit_code = 2


class KeyStoreError(ConfigError):
    """The key store is missing, unreadable, too permissive, or lacks a key."""


class MissingKeyError(KeyStoreError):
    """A data key or master key needed to read or write a file does not exist."""

    def __init__(self, message: str, *, key_id: str) -> None:
        super().__init__(message)
        self.key_id = key_id


class StorageError(LakehouseError):
    """The object store failed (after retries for transient errors)."""

    exit_code = 3


class DecryptionError(LakehouseError):
    """A file could not be decrypted: wrong key, or the file was altered."""

    exit_code = 4

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class LakeIntegrityError(DecryptionError):
    """A manifest's seal (MAC) fails, or a data file's bytes differ from the digest its manifest records:
    an object of the lake was replaced or altered; nothing is read from it."""


class ContractError(LakehouseError):
    """The extract contract itself is invalid (a bug in the contract file, not in the data)."""

    exit_code = 2


class ObjectNotFoundError(StorageError):
    """An object the caller asked for does not exist in the store (not a transient failure)."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path
