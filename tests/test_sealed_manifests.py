"""Sealed manifests (docs/security.md, "Sealed manifests"): an insider with write access to the object store
but not the key store swaps a landed file for another encrypted with the same data key (another
association's file of the same month), puts back a file as it was before a purge, or edits a manifest.
The build, Spark's listing and `audit verify` refuse, naming the object; nothing is read from it. A lake
landed before seals is sealed once by `lakehouse keys seal-manifests`, then builds."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.exceptions import LakeIntegrityError
from ingest.governance.opposition import add_identities
from ingest.governance.purge import purge_opposition
from ingest.governance.seal_manifests import seal_manifests
from ingest.lake import manifest_index
from ingest.lake.audit import entries, verify
from ingest.lake.keys import LocalKeyStore
from ingest.lake.manifest import all_manifests, manifest_path
from ingest.lake.spark_read import spark_input_files
from ingest.lake.storage import ObjectStore, S3Settings, open_store
from ingest.landing.land import Ingestor
from tests.test_dbt_build import dbt, open_warehouse
from tests.test_purge import build_lake, objector

# The base models and what they depend on: enough for the plugin to list, check and load the lake.
BASE = ["run", "--select", "+base_lake__acts", "+base_lake__diagnoses"]


def _land(store: ObjectStore, keystore: LocalKeyStore, folder: Path) -> None:
    Ingestor(store, keystore).run(build_lake(folder))


def _raw_acts(store: ObjectStore) -> dict[str, str]:
    """{association: path} of the landed acts files (two associations, one month: one data key)."""
    found = {
        m.association_id or "": o.path
        for m in all_manifests(store)
        if m.dataset == "acts"
        for o in m.outputs
        if o.zone == "raw"
    }
    assert set(found) == {"A75001", "A13001"}
    return found


def _acts_manifest(store: ObjectStore, association: str) -> str:
    (found,) = [m for m in all_manifests(store) if m.dataset == "acts" and m.association_id == association]
    return manifest_path(found.batch_id)


def unseal(store: ObjectStore, paths: list[str] | None = None) -> int:
    """Make manifests look written by the code before seals (no digests, no MAC); all by default."""
    if paths is None:
        paths = [p for p in store.list("manifests") if p.endswith(".json") and "/_pending/" not in p]
    for path in paths:
        doc = json.loads(store.get(path))
        doc.pop("mac")
        doc.pop("mac_key_id")
        for output in doc["outputs"]:
            output.pop("sha256")
        store.put(path, json.dumps(doc, indent=2, sort_keys=True).encode())
    return len(paths)


def _swap(store: ObjectStore, a: str, b: str) -> None:
    first, second = store.get(a), store.get(b)
    store.put(a, second)
    store.put(b, first)


def _env(
    store: ObjectStore, keystore: LocalKeyStore, root: Path, s3: S3Settings | None = None
) -> dict[str, str]:
    env = {
        **os.environ,
        "LAKEHOUSE_KEYSTORE": str(keystore.path),
        "LAKEHOUSE_LAKE": store.url,
        "LAKEHOUSE_WAREHOUSE": str(root / "warehouse.duckdb"),
    }
    if s3 is not None:
        env |= {
            "LAKEHOUSE_DBT_TARGET": "s3",
            "LAKEHOUSE_S3_ENDPOINT": s3.endpoint_url or "",
            "AWS_ACCESS_KEY_ID": s3.key or "",
            "AWS_SECRET_ACCESS_KEY": s3.secret or "",
            "AWS_DEFAULT_REGION": s3.region or "",
        }
    return env


def _loaded_acts(root: Path, keystore: LocalKeyStore) -> list[tuple[str, str]]:
    """(association, act) rows of the warehouse's acts; none when the table was never created."""
    if not (root / "warehouse.duckdb").exists():
        return []
    con = open_warehouse(root / "warehouse.duckdb", keystore)
    try:
        return con.execute(
            "select association_id, act_id from warehouse.staging.base_lake__acts order by all"
        ).fetchall()
    except duckdb.CatalogException:
        return []
    finally:
        con.close()


def _problems(store: ObjectStore, keystore: LocalKeyStore) -> str:
    return "\n".join(verify(store, keystore).problems)


@pytest.mark.parametrize("lake", ["local", "s3"])
def test_two_swapped_files_of_one_key_fail_the_build_and_nothing_is_loaded(
    lake: str, keystore: LocalKeyStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store: ObjectStore = request.getfixturevalue(f"{lake}_store")
    s3 = request.getfixturevalue("s3_settings") if lake == "s3" else None
    _land(store, keystore, tmp_path / "extracts")
    files = _raw_acts(store)
    _swap(store, files["A75001"], files["A13001"])

    result = dbt(BASE, _env(store, keystore, tmp_path, s3), tmp_path)

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "bytes differ from the SHA-256 its manifest records" in output, output[-3000:]
    assert any(store.uri(path) in output for path in files.values()), output[-3000:]
    assert _loaded_acts(tmp_path, keystore) == []
    # Spark is handed nothing either, and the audit names both files.
    with pytest.raises(LakeIntegrityError, match="bytes differ from the SHA-256"):
        spark_input_files(store, keystore, "raw", "acts")
    problems = _problems(store, keystore)
    assert all(store.uri(path) in problems for path in files.values()), problems


def test_a_file_put_back_as_before_its_purge_fails_the_build(keystore: LocalKeyStore, tmp_path: Path) -> None:
    store = open_store(tmp_path / "lake")
    _land(store, keystore, tmp_path / "extracts")
    before = {path: store.get(path) for path in _raw_acts(store).values()}
    add_identities(store, keystore, [objector()])
    purge_opposition(store, keystore)
    after = _raw_acts(store)
    old, new = next((o, n) for o, n in zip(before, after.values(), strict=True) if o != n)
    assert new.endswith(".r2.parquet")
    # The insider puts the pre-purge bytes (same data key) in place of the rewritten file.
    store.put(new, before[old])

    result = dbt([*BASE, "--full-refresh"], _env(store, keystore, tmp_path), tmp_path)

    assert result.returncode != 0
    assert f"`{store.uri(new)}`: bytes differ from the SHA-256" in result.stdout, result.stdout[-3000:]
    assert _loaded_acts(tmp_path, keystore) == []
    assert store.uri(new) in _problems(store, keystore)


def test_a_batch_put_back_whole_as_before_its_purge_is_named_by_audit_verify(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    """Manifest and file both restored from a snapshot taken before the purge: both were validly sealed
    then, so the seal cannot tell; the trail's count of rewritten batches can."""
    store = local_store
    _land(store, keystore, tmp_path / "extracts")
    snapshot = {p: store.get(p) for p in store.list("manifests")} | {
        p: store.get(p) for p in _raw_acts(store).values()
    }
    add_identities(store, keystore, [objector()])
    purge_opposition(store, keystore)
    assert verify(store, keystore).ok
    for path, data in snapshot.items():
        store.put(path, data)

    assert "a batch was put back as it was before a rewrite" in _problems(store, keystore)


@pytest.mark.parametrize(
    "edit",
    ["sha256", "rows", "rows_accepted", "path"],
)
def test_an_edited_manifest_fails_its_mac(
    store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path, edit: str
) -> None:
    _land(store, keystore, tmp_path / "extracts")
    victim = _acts_manifest(store, "A75001")
    doc = json.loads(store.get(victim))
    raw = next(o for o in doc["outputs"] if o["zone"] == "raw")
    if edit == "sha256":
        # Made to match a swapped-in file: the digest of another association's file.
        other = next(p for a, p in _raw_acts(store).items() if a != "A75001")
        store.put(raw["path"], store.get(other))
        raw["sha256"] = hashlib.sha256(store.get(other)).hexdigest()
    elif edit == "rows":
        raw["rows"] += 1
    elif edit == "rows_accepted":
        doc["rows_accepted"] -= 1
    else:
        raw["path"] = next(p for a, p in _raw_acts(store).items() if a != "A75001")
    where = store.uri(victim)
    store.put(victim, json.dumps(doc).encode())

    with pytest.raises(LakeIntegrityError, match="content does not match its MAC") as caught:
        spark_input_files(store, keystore, "raw", "acts")
    assert where in str(caught.value)
    with pytest.raises(LakeIntegrityError, match=f"manifest `{where}`: content does not match its MAC"):
        manifest_index.committed_raw_files(store, None, keystore=keystore)
    assert f"manifest `{where}`: content does not match its MAC" in _problems(store, keystore)


def test_a_manifest_stripped_of_its_seal_is_refused(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    store = local_store
    _land(store, keystore, tmp_path / "extracts")
    victim = _acts_manifest(store, "A13001")
    unseal(store, [victim])
    where = store.uri(victim)

    result = dbt(BASE, _env(store, keystore, tmp_path), tmp_path)

    assert result.returncode != 0
    assert "1 manifests are not sealed" in result.stdout, result.stdout[-3000:]
    assert where in result.stdout and "lakehouse keys seal-manifests" in result.stdout
    assert _loaded_acts(tmp_path, keystore) == []
    assert "1 manifests are not sealed" in _problems(store, keystore)


def test_the_manifest_cache_is_no_way_around_the_seals(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    """The build's cache of manifests (a local file) edited to record a swapped-in file's digest: not
    trusted, rebuilt from the sealed manifests."""
    store = local_store
    _land(store, keystore, tmp_path / "extracts")
    cache = tmp_path / "warehouse.duckdb.manifests.parquet"
    genuine = manifest_index.committed_raw_files(store, cache, keystore=keystore)
    files = _raw_acts(store)
    forged_digest = hashlib.sha256(store.get(files["A13001"])).hexdigest()
    table = pq.read_table(cache)
    is_victim = pc.equal(table["path"], files["A75001"])
    table = table.set_column(
        table.schema.get_field_index("sha256"),
        "sha256",
        pc.if_else(is_victim, pa.scalar(forged_digest), table["sha256"]),
    )
    pq.write_table(table, cache)

    again = manifest_index.committed_raw_files(store, cache, keystore=keystore)

    assert again.read == again.manifests  # every manifest read again: the cache was not trusted
    assert again.files == genuine.files
    (victim,) = [f for f in again.files if f.path == files["A75001"]]
    assert victim.sha256 != forged_digest


def test_a_lake_landed_before_seals_is_refused_then_sealed_once_and_builds(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = local_store
    _land(store, keystore, tmp_path / "extracts")
    manifests = unseal(store)
    files = sum(len(m.outputs) for m in all_manifests(store))
    env = _env(store, keystore, tmp_path)

    refused = dbt(BASE, env, tmp_path)
    assert refused.returncode != 0
    assert f"{manifests} manifests are not sealed" in refused.stdout, refused.stdout[-3000:]
    assert "run `lakehouse keys seal-manifests` once" in refused.stdout

    monkeypatch.setenv("LAKEHOUSE_LAKE", store.url)
    first = CliRunner().invoke(main, ["keys", "seal-manifests"])
    assert first.exit_code == 0, first.output
    assert f"{manifests} manifests sealed ({files} files hashed), 0 already sealed" in first.output
    second = seal_manifests(store, keystore)
    assert (second.manifests_sealed, second.manifests_current, second.files_hashed) == (0, manifests, 0)
    assert verify(store, keystore).ok, verify(store, keystore).problems
    sealed = [e.data["manifests_sealed"] for e in entries(store) if e.action == "manifest_seal"]
    assert sealed == [manifests, 0]

    built = dbt(BASE, env, tmp_path)
    assert built.returncode == 0, built.stdout[-3000:]
    assert len(_loaded_acts(tmp_path, keystore)) == 16


def test_the_migration_never_reseals_an_altered_manifest(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    store = local_store
    _land(store, keystore, tmp_path / "extracts")
    victim = _acts_manifest(store, "A75001")
    doc = json.loads(store.get(victim))
    doc["rows_accepted"] += 1
    store.put(victim, json.dumps(doc).encode())

    with pytest.raises(LakeIntegrityError, match="content does not match its MAC"):
        seal_manifests(store, keystore)
    assert json.loads(store.get(victim)) == doc


def test_a_batch_deleted_whole_is_named_by_audit_verify(
    local_store: ObjectStore, keystore: LocalKeyStore, tmp_path: Path
) -> None:
    """Manifest and files deleted together leave no seal to check; the trail's count of batches does."""
    store = local_store
    _land(store, keystore, tmp_path / "extracts")
    assert verify(store, keystore).ok
    (victim,) = [m for m in all_manifests(store) if m.dataset == "acts" and m.association_id == "A75001"]
    for output in victim.outputs:
        store.delete(output.path)
    store.delete(manifest_path(victim.batch_id))

    assert "1 batches were deleted, manifest and files" in _problems(store, keystore)
