"""Key store file, data key wrapping in the lake, and the errors an operator sees."""

from __future__ import annotations

import base64
import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ingest.exceptions import DecryptionError, KeyStoreError, MissingKeyError
from ingest.lake.crypto import connect_duckdb, duckdb_read_sql, encrypt_parquet
from ingest.lake.keys import (
    DataKey,
    DataKeyring,
    LocalKeyStore,
    init_keystore,
    keystore_path,
    open_keystore,
    register_duckdb_keys,
)
from ingest.lake.storage import ObjectStore

KEY_FILE = "_keys/raw/acts/2024-01.json"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- Key store file ------------------------------------------------------------------------------


def test_init_creates_private_file_in_private_folder(tmp_path: Path) -> None:
    target = tmp_path / "new" / "folder" / "keystore.json"
    old_umask = os.umask(0)  # even with a permissive umask, nothing is created readable by others
    try:
        path, created = init_keystore(target)
    finally:
        os.umask(old_umask)
    assert (path, created) == (target, True)
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700

    document = json.loads(target.read_text())
    assert sorted(document["master_keys"]) == ["quarantine-v1", "raw-v1", "warehouse-v1"]
    assert document["current_master_keys"] == {
        "raw": "raw-v1",
        "quarantine": "quarantine-v1",
        "warehouse": "warehouse-v1",
    }
    secrets_ = [entry["key"] for entry in document["master_keys"].values()]
    secrets_ += [*document["pseudonym_secrets"].values(), document["warehouse_db_key"]]
    assert len(set(secrets_)) == 5
    assert all(len(base64.b64decode(value)) == 32 for value in secrets_)


def test_init_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "keystore.json"
    init_keystore(target)
    before = target.read_bytes()
    assert init_keystore(target) == (target, False)
    assert target.read_bytes() == before
    with pytest.raises(KeyStoreError, match="already exists; it is never overwritten"):
        init_keystore(target, exist_ok=False)
    assert target.read_bytes() == before


def test_keystore_path_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAKEHOUSE_KEYSTORE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert keystore_path() == tmp_path / ".config" / "urgent-care-lakehouse" / "keystore.json"
    monkeypatch.setenv("LAKEHOUSE_KEYSTORE", str(tmp_path / "env.json"))
    assert keystore_path() == tmp_path / "env.json"
    assert keystore_path(tmp_path / "explicit.json") == tmp_path / "explicit.json"


def test_missing_keystore_says_how_to_create_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "keystore.json"
    with pytest.raises(KeyStoreError, match=r"does not exist: run `lakehouse keys init`") as info:
        open_keystore(missing)
    assert str(missing) in str(info.value)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_keystore_readable_by_others_is_refused(keystore: LocalKeyStore, mode: int) -> None:
    os.chmod(keystore.path, mode)
    with pytest.raises(
        KeyStoreError, match=rf"accessible by group or others.*run `chmod 600 {keystore.path}`"
    ):
        open_keystore(keystore.path)


def test_keystore_env_default(keystore: LocalKeyStore) -> None:
    """The fixture points LAKEHOUSE_KEYSTORE at its file; open_keystore() with no argument finds it."""
    assert isinstance(open_keystore(), LocalKeyStore)
    assert open_keystore().pseudonym_secret() == keystore.pseudonym_secret()


def test_corrupt_keystore_names_file_not_content(keystore: LocalKeyStore) -> None:
    document = json.loads(keystore.path.read_text())
    del document["warehouse_db_key"]
    keystore.path.write_text(json.dumps(document))
    with pytest.raises(KeyStoreError, match="lacks field `warehouse_db_key`"):
        open_keystore(keystore.path)
    keystore.path.write_text("{not json")
    with pytest.raises(KeyStoreError, match="is not valid JSON"):
        open_keystore(keystore.path)


def test_pseudonym_secret_and_warehouse_key(keystore: LocalKeyStore) -> None:
    version, secret = keystore.pseudonym_secret()
    assert version == "pseudonym-v1"
    assert len(secret) == 32
    assert open_keystore(keystore.path).pseudonym_secret() == (version, secret)
    assert len(base64.b64decode(keystore.warehouse_db_key())) == 32


# --- Data keys in the lake -----------------------------------------------------------------------


def test_data_key_created_once_and_found_again(store: ObjectStore, keystore: LocalKeyStore) -> None:
    created = DataKeyring(store, keystore).get_or_create("raw", "acts", "2024-01")
    assert created.key_id == "raw/acts/2024-01"
    assert created.duckdb_name == "raw__acts__2024_01"

    document = json.loads(store.get(KEY_FILE))
    assert {k: document[k] for k in ("key_id", "zone", "dataset", "period", "master_key_id")} == {
        "key_id": "raw/acts/2024-01",
        "zone": "raw",
        "dataset": "acts",
        "period": "2024-01",
        "master_key_id": "raw-v1",
    }
    assert {"nonce", "ciphertext", "created_at"} <= document.keys()
    assert base64.b64encode(created.key).decode() not in store.get(KEY_FILE).decode()

    # A new process: nothing cached, the key comes back from the lake through the master key.
    again = DataKeyring(store, open_keystore(keystore.path))
    assert again.get("raw/acts/2024-01") == created
    assert again.get_or_create("raw", "acts", "2024-01") == created
    assert store.list("_keys") == [KEY_FILE]


def test_all_lists_keys_per_zone(store: ObjectStore, keystore: LocalKeyStore) -> None:
    keyring = DataKeyring(store, keystore)
    made = [
        keyring.get_or_create("raw", "acts", "2024-02"),
        keyring.get_or_create("raw", "acts", "2024-01"),
        keyring.get_or_create("quarantine", "files", "2024-01"),
    ]
    fresh = DataKeyring(store, keystore)
    assert [k.key_id for k in fresh.all()] == sorted(k.key_id for k in made)
    assert [k.key_id for k in fresh.all("raw")] == ["raw/acts/2024-01", "raw/acts/2024-02"]
    assert fresh.all("warehouse") == []
    assert len({k.key for k in fresh.all()}) == 3


def test_concurrent_writers_agree_on_one_key(local_store: ObjectStore, keystore: LocalKeyStore) -> None:
    """Separate keyrings (as separate processes would be) racing to create the same key."""

    def create(_: int) -> bytes:
        return DataKeyring(local_store, keystore).get_or_create("raw", "acts", "2024-03").key

    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(create, range(16)))
    assert len(keys) == 1
    assert DataKeyring(local_store, keystore).get("raw/acts/2024-03").key in keys


def test_missing_data_key(store: ObjectStore, keystore: LocalKeyStore) -> None:
    with pytest.raises(MissingKeyError, match=r"Data key `raw/acts/2023-12` does not exist") as info:
        DataKeyring(store, keystore).get("raw/acts/2023-12")
    assert info.value.key_id == "raw/acts/2023-12"


def test_wrong_master_key(store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path) -> None:
    DataKeyring(store, keystore).get_or_create("raw", "acts", "2024-01")
    other_path, _ = init_keystore(tmp_path / "other" / "keystore.json")
    with pytest.raises(
        DecryptionError, match=r"Could not unwrap data key file .*2024-01\.json.*wrong master key"
    ) as info:
        DataKeyring(store, open_keystore(other_path)).get("raw/acts/2024-01")
    assert info.value.path == store.uri(KEY_FILE)


def test_tampered_wrapped_key(store: ObjectStore, keystore: LocalKeyStore) -> None:
    DataKeyring(store, keystore).get_or_create("raw", "acts", "2024-01")
    document = json.loads(store.get(KEY_FILE))
    ciphertext = bytearray(base64.b64decode(document["ciphertext"]))
    ciphertext[5] ^= 0x01
    document["ciphertext"] = base64.b64encode(bytes(ciphertext)).decode()
    store.put(KEY_FILE, json.dumps(document).encode())
    with pytest.raises(DecryptionError, match="altered or moved") as info:
        DataKeyring(store, keystore).get("raw/acts/2024-01")
    assert info.value.path == store.uri(KEY_FILE)


def test_key_moved_to_another_month_does_not_unwrap(store: ObjectStore, keystore: LocalKeyStore) -> None:
    """The key id is the AAD: copying January's key file over February fails even with edited fields."""
    DataKeyring(store, keystore).get_or_create("raw", "acts", "2024-01")
    document = json.loads(store.get(KEY_FILE))
    store.put("_keys/raw/acts/2024-02.json", json.dumps(document).encode())
    with pytest.raises(DecryptionError, match="field `key_id` does not match the file's location"):
        DataKeyring(store, keystore).get("raw/acts/2024-02")

    document.update(key_id="raw/acts/2024-02", period="2024-02")
    store.put("_keys/raw/acts/2024-02.json", json.dumps(document).encode())
    with pytest.raises(DecryptionError, match=r"2024-02\.json.*altered or moved") as info:
        DataKeyring(store, keystore).get("raw/acts/2024-02")
    assert info.value.path.endswith("_keys/raw/acts/2024-02.json")


def test_unknown_master_key_id(local_store: ObjectStore, keystore: LocalKeyStore) -> None:
    DataKeyring(local_store, keystore).get_or_create("raw", "acts", "2024-01")
    document = json.loads(local_store.get(KEY_FILE))
    document["master_key_id"] = "raw-v2"
    local_store.put(KEY_FILE, json.dumps(document).encode())
    with pytest.raises(MissingKeyError, match="Master key `raw-v2` is not in key store") as info:
        DataKeyring(local_store, keystore).get("raw/acts/2024-01")
    assert info.value.key_id == "raw-v2"


@pytest.mark.parametrize(
    ("zone", "dataset", "period"),
    [
        ("raw", "Acts", "2024-01"),
        ("raw", "acts__x", "2024-01"),
        ("raw", "../acts", "2024-01"),
        ("raw", "acts';drop", "2024-01"),
        ("raw", "acts", "2024-13"),
        ("raw", "acts", "2024-1"),
        ("lake", "acts", "2024-01"),
    ],
)
def test_names_are_validated(
    local_store: ObjectStore, keystore: LocalKeyStore, zone: str, dataset: str, period: str
) -> None:
    with pytest.raises(ValueError, match=r"^(zone|dataset name|period) `"):
        DataKeyring(local_store, keystore).get_or_create(zone, dataset, period)  # type: ignore[arg-type]
    assert local_store.list("") == []


def test_data_key_repr_hides_the_key() -> None:
    key = bytes(range(32))
    data_key = DataKey("raw/acts/2024-01", key)
    for shown in (repr(data_key), str(data_key), f"{data_key}", repr([data_key])):
        assert "raw/acts/2024-01" in shown
        assert (
            key.hex() not in shown and base64.b64encode(key).decode() not in shown and str(key) not in shown
        )
    with pytest.raises(ValueError, match="32 bytes"):
        DataKey("raw/acts/2024-01", bytes(16))


def test_registered_keys_read_in_duckdb(local_store: ObjectStore, keystore: LocalKeyStore) -> None:
    import pyarrow as pa

    keyring = DataKeyring(local_store, keystore)
    key = keyring.get_or_create("raw", "acts", "2024-01")
    local_store.put("raw/acts/a.parquet", encrypt_parquet(pa.table({"act_id": ["a1", "a2"]}), key.key))

    con = connect_duckdb()
    register_duckdb_keys(con, DataKeyring(local_store, keystore).all("raw"))
    source = duckdb_read_sql(local_store.uri("raw/acts/a.parquet"), key.duckdb_name)
    sql = f"select list(act_id order by act_id) from {source}"
    assert con.execute(sql).fetchone() == (["a1", "a2"],)
