"""The same dbt build against an S3-compatible lake (the profile's `s3` target, DuckDB's httpfs talking to
a real moto server on 127.0.0.1) gives the same CDM as against the local folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.lake.keys import LocalKeyStore
from ingest.lake.storage import ObjectStore, S3Settings
from ingest.landing.land import Ingestor
from tests.test_dbt_build import dbt, make_extracts, open_warehouse

pytestmark = pytest.mark.slow

CDM_CHECKS = [
    "select count(*), count(distinct person_id) from warehouse.cdm.visit_occurrence",
    "select count(*), sum(condition_concept_id) from warehouse.cdm.condition_occurrence",
    "select count(*) from warehouse.cdm.person",
]


def _build(store: ObjectStore, keystore: LocalKeyStore, root: Path, extra_env: dict[str, str]) -> list[tuple]:
    Ingestor(store, keystore).run(make_extracts(root / "extracts"))
    env = {
        **os.environ,
        "LAKEHOUSE_KEYSTORE": str(keystore.path),
        "LAKEHOUSE_WAREHOUSE": str(root / "warehouse.duckdb"),
        **extra_env,
    }
    result = dbt(["build", "--select", "+path:models/omop"], env, root)
    assert result.returncode == 0, result.stdout[-4000:]
    con = open_warehouse(root / "warehouse.duckdb", keystore)
    return [con.execute(sql).fetchone() for sql in CDM_CHECKS]


def test_build_from_s3_equals_build_from_local_folder(
    s3_store: ObjectStore,
    s3_settings: S3Settings,
    local_store: ObjectStore,
    keystore: LocalKeyStore,
    tmp_path: Path,
) -> None:
    s3_env = {
        "LAKEHOUSE_DBT_TARGET": "s3",
        "LAKEHOUSE_LAKE": s3_store.url,
        "LAKEHOUSE_S3_ENDPOINT": s3_settings.endpoint_url or "",
        "AWS_ACCESS_KEY_ID": s3_settings.key or "",
        "AWS_SECRET_ACCESS_KEY": s3_settings.secret or "",
        "AWS_DEFAULT_REGION": s3_settings.region or "",
    }
    from_s3 = _build(s3_store, keystore, tmp_path / "s3", s3_env)
    from_local = _build(local_store, keystore, tmp_path / "local", {"LAKEHOUSE_LAKE": local_store.url})
    assert from_s3 == from_local
    assert from_s3[0][0] > 0
