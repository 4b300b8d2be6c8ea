"""The set-up mistakes an analyst makes most, as dbt shows them: one clear message saying what to fix."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tests.test_dbt_build import dbt

pytestmark = pytest.mark.slow


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "LAKEHOUSE_WAREHOUSE": str(tmp_path / "warehouse.duckdb"), **extra}


def test_unreachable_s3_endpoint_names_the_lake_and_what_to_check(tmp_path: Path, keystore) -> None:
    env = _env(
        tmp_path,
        LAKEHOUSE_DBT_TARGET="s3",
        LAKEHOUSE_LAKE="s3://no-such-lake/prefix",
        LAKEHOUSE_S3_ENDPOINT=f"http://127.0.0.1:{_closed_port()}",
    )
    result = dbt(["build", "--select", "base_lake__acts"], env, tmp_path)
    assert result.returncode != 0
    assert "Cannot reach the lake `s3://no-such-lake/prefix`" in result.stdout
    assert "LAKEHOUSE_S3_ENDPOINT" in result.stdout
    assert "Unique file handle conflict" not in result.stdout


def test_missing_key_store_says_how_to_create_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(
        tmp_path, LAKEHOUSE_KEYSTORE=str(tmp_path / "nowhere" / "keystore.json"), LAKEHOUSE_LAKE=str(tmp_path)
    )
    result = dbt(["build", "--select", "base_lake__acts"], env, tmp_path)
    assert result.returncode != 0
    assert "lakehouse keys init" in result.stdout


def test_a_dbt_build_by_hand_with_another_key_store_is_refused(tmp_path: Path, keystore) -> None:
    from ingest.lake.keys import init_keystore
    from ingest.lake.keystore_binding import check_keystore
    from ingest.lake.storage import open_store

    lake = tmp_path / "lake"
    check_keystore(open_store(lake), keystore)  # the lake belongs to `keystore`
    other, _ = init_keystore(tmp_path / "other" / "keystore.json")
    env = _env(tmp_path, LAKEHOUSE_KEYSTORE=str(other), LAKEHOUSE_LAKE=str(lake))
    result = dbt(["build", "--select", "base_lake__acts"], env, tmp_path)
    assert result.returncode != 0
    assert f"expects key store id {keystore.fingerprint().keystore_id}" in result.stdout
    assert not (tmp_path / "warehouse.duckdb").exists()  # stopped before the warehouse was opened
