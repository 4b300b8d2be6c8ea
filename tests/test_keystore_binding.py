"""A lake is bound to its key store: every command refuses another key store, in one line, before it
writes anything, on a local folder and on S3 (moto over HTTP)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.lake.keys import LocalKeyStore, init_keystore, open_keystore
from ingest.lake.keystore_binding import BINDING_PATH, KeyStoreMismatchError, check_keystore
from ingest.lake.storage import ObjectStore, S3Settings
from ingest.landing.land import Ingestor
from tests.extract_builder import NIR, act_row, write_extract

DD = "16/01/2024"
# Every command that reads or writes the lake's data, with arguments that would make it do so.
COMMANDS = {
    "ingest": ["ingest", "{new_month}"],
    "build": ["build", "--select", "person"],
    "query": ["query", "select 1"],
    "export": ["export"],
    "purge-opposition": ["purge", "--opposition"],
    "purge-retention": ["purge", "--retention", "--years", "1"],
    "keys-rotate": ["keys", "rotate", "--zone", "raw"],
    "keys-rotate-warehouse": ["keys", "rotate", "--zone", "warehouse"],
    "keys-retire": ["keys", "retire", "raw/acts/2024-01"],
    "keys-remove-master": ["keys", "remove-master", "raw-v1"],
    "keys-rotate-pseudonym-secret": ["keys", "rotate-pseudonym-secret", "--yes"],
    "opposition-add": ["opposition", "add", "--nir", NIR, "--birth-date", "1950-03-02", "--sex", "F"],
    "opposition-drop-stale": ["opposition", "drop-stale"],
    "extract": ["extract", "--protocol", "{protocol}", "--sql", "select 1", "--out", "{out}"],
}


def _snapshot(store: ObjectStore) -> dict[str, bytes]:
    return {path: store.get(path) for path in store.list()}


def _use_lake(store: ObjectStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request) -> None:
    """Point the CLI's environment at `store` (and its S3 endpoint)."""
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAKEHOUSE_WAREHOUSE", str(tmp_path / "home" / "warehouse.duckdb"))
    if store.is_local:
        monkeypatch.setenv("LAKEHOUSE_LAKE", store.uri(""))
    else:
        settings: S3Settings = request.getfixturevalue("s3_settings")
        monkeypatch.setenv("LAKEHOUSE_LAKE", store.url)
        monkeypatch.setenv("LAKEHOUSE_S3_ENDPOINT", str(settings.endpoint_url))


@pytest.mark.parametrize("command", list(COMMANDS))
def test_another_key_store_is_refused_and_nothing_is_written(
    store: ObjectStore,
    keystore: LocalKeyStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    command: str,
) -> None:
    _use_lake(store, monkeypatch, tmp_path, request)
    Ingestor(store, keystore).run([write_extract(tmp_path / "first", "actes", [act_row("1")])])
    expected = keystore.fingerprint().keystore_id

    other, _ = init_keystore(tmp_path / "other" / "keystore.json")  # a fresh `keys init` elsewhere
    monkeypatch.setenv("LAKEHOUSE_KEYSTORE", str(other))
    other_before = other.read_bytes()
    new_month = write_extract(tmp_path / "feb", "actes", [act_row("2", date_appel=DD)], day="20240216")
    protocol = tmp_path / "protocol.yml"
    protocol.write_text("project_id: p1\n")
    values = {"new_month": str(new_month), "protocol": str(protocol), "out": str(tmp_path / "study")}
    args = [a.format(**values) for a in COMMANDS[command]]
    before = _snapshot(store)

    result = CliRunner().invoke(main, args)

    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Key store "), result.output
    assert f"expects key store id {expected}" in lines[0] and str(keystore.path) in lines[0]
    assert _snapshot(store) == before  # the lake, byte for byte, as listed before
    assert other.read_bytes() == other_before  # and the other key store was not rotated either
    assert not (tmp_path / "study").exists()


def test_run_names_the_key_store_and_refuses_a_shared_one_that_changed(
    tmp_path: Path, keystore: LocalKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two checkouts on one machine share the default key store path: the first one's lake is bound to
    the key store that was there; a checkout that re-created it is refused by `run` before any step."""
    lake = tmp_path / "checkout-a" / "lake"
    first = CliRunner().invoke(
        main, ["ingest", str(write_extract(tmp_path / "in", "actes", [act_row("1")])), "--lake", str(lake)]
    )
    assert first.exit_code == 0, first.output
    shared = tmp_path / "shared" / "keystore.json"  # `~/.config/...`, re-created by the other checkout
    monkeypatch.setenv("LAKEHOUSE_KEYSTORE", str(shared))
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "checkout-a"))
    monkeypatch.setenv("LAKEHOUSE_LAKE", str(lake))

    result = CliRunner().invoke(main, ["run", "--associations", "1", "--scale", "0.01"])

    assert result.exit_code == 2, result.output
    new_id = open_keystore(shared).fingerprint().keystore_id
    assert f"Key store: {shared} (created, id {new_id})" in result.output
    assert f"expects key store id {keystore.fingerprint().keystore_id}" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "checkout-a" / "extracts").exists()  # refused before generating anything


def test_the_binding_holds_no_secret_and_survives_rotations(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    binding = check_keystore(local_store, keystore)
    assert binding.adopted_now and binding.keystore_id == keystore.fingerprint().keystore_id
    record = local_store.get(BINDING_PATH).decode()
    secrets_in_store = json.loads(keystore.path.read_text())
    for entry in secrets_in_store["master_keys"].values():
        assert entry["key"] not in record
    for secret in secrets_in_store["pseudonym_secrets"].values():
        assert secret not in record
    assert secrets_in_store["warehouse_db_key"] not in record
    assert set(json.loads(record)) >= {"keystore_id", "commitment", "bound_from", "bound_at"}

    keystore.rotate_master_key("raw")
    keystore.rotate_pseudonym_secret()
    rotated = open_keystore(keystore.path)
    assert not check_keystore(local_store, rotated).adopted_now  # still the same key store

    # A fresh key store given the same id still does not match: the commitment is its keys'.
    impostor_path, _ = init_keystore(tmp_path / "impostor.json")
    doc = json.loads(impostor_path.read_text())
    doc["keystore_id"] = keystore.fingerprint().keystore_id
    impostor_path.write_text(json.dumps(doc))
    with pytest.raises(KeyStoreMismatchError, match="expects key store id"):
        check_keystore(local_store, open_keystore(impostor_path))


def test_a_lake_from_before_the_binding_adopts_its_own_key_store_never_another(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    Ingestor(store, keystore).run([write_extract(tmp_path / "a", "actes", [act_row("1")])])
    store.delete(BINDING_PATH)  # as a lake written before bindings existed
    other = open_keystore(init_keystore(tmp_path / "other.json")[0])
    new_month = write_extract(tmp_path / "b", "actes", [act_row("2", date_appel=DD)], day="20240216")
    before = _snapshot(store)

    with pytest.raises(KeyStoreMismatchError, match="does not open the data keys"):
        Ingestor(store, other).run([new_month])
    assert _snapshot(store) == before

    report = Ingestor(store, keystore).run([new_month])
    assert [f.status for f in report.files] == ["landed"]
    assert json.loads(store.get(BINDING_PATH))["keystore_id"] == keystore.fingerprint().keystore_id


def test_a_key_store_from_before_ids_gets_a_stable_one(keystore: LocalKeyStore) -> None:
    doc = json.loads(keystore.path.read_text())
    del doc["keystore_id"]
    keystore.path.write_text(json.dumps(doc))
    legacy = open_keystore(keystore.path)
    assert legacy.fingerprint() == open_keystore(keystore.path).fingerprint()
    assert legacy.fingerprint().commitment == keystore.fingerprint().commitment
