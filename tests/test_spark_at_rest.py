"""Nothing the Spark build writes holds the fixture's data in clear (issue 19 item 3, docs/spark.md "At rest")

The Spark builds the Spark modules share (tests/spark_builds.py: a first build of the CDM, the marts and
the disclosure control, then, when asked, one more day and an incremental build). Then every file of the
build's home is searched for values of the fixture's data: patient and doctor pseudonyms, act ids, a
diagnosis code, a commune code, act times as text. What belongs to the build and is searched:

- the Spark home (`$LAKEHOUSE_HOME/spark`): the Delta tables (data files, `_delta_log` JSON, checkpoints,
  `.crc`), the Derby metastore and `derby.log`, Spark's local and temporary folders (their files copied
  while each build runs, `short-lived/`: shuffle and spill files are deleted when the session stops),
  the lake views' file;
- dbt's target folder (compiled SQL, manifest, run results: no data is expected there, and none is found)
  and the build's logs (`$LAKEHOUSE_HOME/logs`).

Out of scope: the extracts (the input, in clear by definition), the lake (ingest's encrypted files, tested
elsewhere), the key store. Counts are numbers: in a Parquet file they are binary (every data file must be
encrypted, checked by its magic bytes), in the Delta log they could only be column statistics (checked
absent); row counts of whole files stay in clear (`numRecords`), as documented.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "dbt.adapters.spark", reason="the spark extra is not installed: pip install -e '.[spark]'"
)

import pyarrow as pa
import pyarrow.parquet as pq

from ingest.build.spark_tables import read_spark_files
from ingest.lake.crypto import decrypt_parquet
from ingest.lake.keys import DataKeyring, init_keystore, open_keystore
from ingest.lake.manifest_seal import verified_committed_files
from ingest.lake.spark_read import spark_read_conf
from ingest.lake.storage import open_store
from tests.spark_builds import PROJECT, step
from tests.spark_tables import local_session, session_jars

pytestmark = pytest.mark.slow

PARQUET_CLEAR, PARQUET_ENCRYPTED = b"PAR1", b"PARE"
# spark/kms-client's LakeCryptoFactory.BUILD_ROOT_PROPERTY: the folder the build writes in.
BUILD_ROOT_PROPERTY = "lakehouse.build.root"


def _landed(root: Path, dataset: str) -> list[dict[str, Any]]:
    """The rows of one landed dataset, decrypted with the keys its manifests name."""
    store = open_store(root / "lake")
    keystore = open_keystore(root / "keystore.json")
    keyring = DataKeyring(store, keystore)
    rows: list[dict[str, Any]] = []
    for key_id, paths in verified_committed_files(store, keystore, "raw", dataset).items():
        for path in paths:
            rows += decrypt_parquet(store.get(path), keyring.get(key_id).key, path=path).to_pylist()
    return rows


def _definition_files() -> list[Path]:
    return [p for folder in ("models", "macros") for p in (PROJECT / folder).rglob("*") if p.is_file()]


def _probes(root: Path) -> dict[bytes, str]:
    """{value as bytes: what it is} for values of the fixture's data, as text: none may be found in clear."""
    acts = _landed(root, "acts")
    diagnoses = _landed(root, "diagnoses")
    probes: dict[bytes, str] = {}
    for act in sorted(acts, key=lambda a: a["act_id"])[:: max(1, len(acts) // 20)]:
        probes[act["patient_pseudonym"].encode()] = "patient pseudonym"
        probes[act["act_id"].encode()] = "act id"
        for sep in ("T", " "):
            probes[act["start_at"].isoformat(sep=sep).encode()] = "act start time"
    for doctor in sorted({a["doctor_pseudonym"] for a in acts})[:5]:
        probes[doctor.encode()] = "doctor pseudonym"
    # The most frequent diagnosis codes and patient communes: in the CDM and the marts' inputs. Not a code
    # the project's models name (the syndrome definitions, in the compiled SQL), nor one so short that
    # encrypted bytes would hold it by chance.
    definitions = "".join(p.read_text(encoding="utf-8") for p in _definition_files())
    codes = Counter(d["icd10_code"] for d in diagnoses if d["icd10_code"] and len(d["icd10_code"]) >= 4)
    for code, _ in [(c, n) for c, n in codes.most_common() if c not in definitions][:3]:
        probes[code.encode()] = "diagnosis code"
    communes = Counter(a["patient_commune_code"] for a in acts if a["patient_commune_code"])
    for commune, _ in communes.most_common(2):
        probes[commune.encode()] = "commune code"
    return probes


def _probe_pattern(probes: dict[bytes, str]) -> re.Pattern[bytes]:
    """One pattern for all the probes; a probe made only of digits (a commune code) counts as a whole token.

    Five digits in a row turn up by chance inside a Delta log's epoch-millisecond timestamps and file
    UUIDs, or as a file's size (a JSON number). A commune code held as data is text: between a Parquet
    length prefix's bytes, or quoted in JSON. So a digit-only probe must not touch a letter, a digit or
    an underscore on either side, nor follow a colon.
    """
    alternatives = []
    for probe in sorted(probes, key=len, reverse=True):
        escaped = re.escape(probe)
        alternatives.append(rb"(?<![\w:])" + escaped + rb"(?!\w)" if probe.isdigit() else escaped)
    return re.compile(b"|".join(alternatives))


def _found(folders: list[Path], probes: dict[bytes, str]) -> dict[str, set[str]]:
    """{file: what was found in it} for every file under the folders holding a probe in clear."""
    pattern = _probe_pattern(probes)
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            for match in pattern.finditer(path.read_bytes()):
                found.setdefault(str(path), set()).add(probes[match.group()])
    return found


def test_a_commune_code_is_found_as_data_not_inside_a_timestamp_a_uuid_or_a_size() -> None:
    probes = {b"13055": "commune code", b"4f0c2d": "patient pseudonym"}
    pattern = _probe_pattern(probes)
    in_clear = [b'{"commune":"13055"}', b"\x05\x00\x00\x0013055\x05\x00", b"x4f0c2d9"]
    by_chance = [b'"modificationTime":1765130552211', b"part-00000-a13055e1-c000", b'"size":13055,']
    assert all(pattern.search(text) for text in in_clear)
    assert not any(pattern.search(text) for text in by_chance)


@pytest.fixture(scope="module")
def build(spark_builds: dict[str, Any]) -> dict[str, Any]:
    root = spark_builds["root"]
    step(spark_builds, "spark-first")
    probes = _probes(root)
    folders = [root / "spark", root / "logs", root / "short-lived"]
    folders += [root / f"target-{name}" for name in ("spark-first", "spark-next") if name in spark_builds]
    return {"root": root, "probes": probes, "folders": folders, "found": _found(folders, probes)}


def test_the_build_ran_and_made_the_tables(build: dict[str, Any]) -> None:
    warehouse = build["root"] / "spark" / "warehouse"
    for table in ("condition_occurrence", "disclosure_controlled_cells", "syndromic_indicators_by_week"):
        assert list(warehouse.glob(f"*.db/{table}/*.parquet")), table
    # Spark's short-lived files were there to search: the builds shuffled.
    assert list((build["root"] / "short-lived").rglob("*")), "no shuffle or spill file was seen"


def test_no_value_of_the_data_is_found_in_clear(build: dict[str, Any]) -> None:
    assert {"patient pseudonym", "diagnosis code", "commune code", "act start time"} <= set(
        build["probes"].values()
    )
    found = {path: sorted(what) for path, what in build["found"].items()}
    assert not found, json.dumps(found, indent=1)[:4000]


def test_every_parquet_file_spark_wrote_is_encrypted(build: dict[str, Any]) -> None:
    """Data files and Delta checkpoints: parquet-java's encrypted footer (magic `PARE` at both ends)."""
    spark_home = build["root"] / "spark"
    clear, encrypted = [], 0
    for path in sorted(p for p in spark_home.rglob("*") if p.is_file()):
        with path.open("rb") as handle:
            head = handle.read(4)
            handle.seek(max(0, path.stat().st_size - 4))
            tail = handle.read(4)
        if PARQUET_CLEAR in (head, tail) or (
            path.suffix == ".parquet" and (head, tail) != (PARQUET_ENCRYPTED,) * 2
        ):
            clear.append(str(path.relative_to(spark_home)))
        elif path.suffix == ".parquet":
            encrypted += 1
    assert not clear, clear[:20]
    assert encrypted > 10


def test_the_delta_log_holds_no_column_statistics_or_partition_values(build: dict[str, Any]) -> None:
    logs = sorted((build["root"] / "spark" / "warehouse").rglob("_delta_log/*.json"))
    assert logs
    for log in logs:
        for line in log.read_text(encoding="utf-8").splitlines():
            add = json.loads(line).get("add")
            if add is None:
                continue
            stats = json.loads(add.get("stats") or "{}")
            assert set(stats) <= {"numRecords", "tightBounds"}, (log, sorted(stats))
            assert not add.get("partitionValues"), (log, add["partitionValues"])


def test_the_tables_open_with_the_key_store_and_hold_the_values_searched_for(
    build: dict[str, Any], tmp_path: Path
) -> None:
    """The values searched for are in the tables (encrypted), and only the key store's key opens them."""
    root = build["root"]
    files = sorted((root / "spark" / "warehouse").glob("*.db/base_lake__acts/*.parquet"))
    acts = read_spark_files(files, root / "keystore.json")
    act_ids = {p.decode() for p, what in build["probes"].items() if what == "act id"}
    assert act_ids <= set(acts.column("act_id").to_pylist())
    other, _ = init_keystore(tmp_path / "other" / "keystore.json")
    with pytest.raises(Exception, match="Could not unwrap"):
        read_spark_files(files, other)


def test_spark_refuses_a_wrong_key_a_file_in_clear_and_a_write_elsewhere(
    build: dict[str, Any], tmp_path: Path
) -> None:
    """The crypto factory of the build's session fails closed (spark/kms-client, docs/spark.md "At rest")."""
    root = build["root"]
    warehouse = root / "spark" / "warehouse"
    keystore = root / "keystore.json"
    table = next(warehouse.glob("*.db/condition_occurrence"))
    conf = {
        **spark_read_conf(root / "lake", keystore, session_jars()),
        f"spark.hadoop.{BUILD_ROOT_PROPERTY}": str(warehouse),
    }
    original = keystore.read_bytes()
    with local_session("lakehouse-spark-at-rest-tests", conf) as spark:
        try:
            rows = spark.read.parquet(str(table)).count()
            assert rows > 0
            # The client reads the key store at each file: another key store in its place opens nothing.
            init_keystore(tmp_path / "other.json")
            keystore.write_bytes((tmp_path / "other.json").read_bytes())
            with pytest.raises(Exception, match="Could not unwrap a Spark build file key"):
                spark.read.parquet(str(table)).count()
            keystore.write_bytes(original)
            # Rows in clear put among the build's tables (no key needed to write them) are not read.
            forged = warehouse / "cdm.db" / "forged"
            forged.mkdir()
            pq.write_table(pa.table({"person_id": [1]}), forged / "part-0.parquet")
            with pytest.raises(Exception, match=r"plaintext|not encrypted|encrypted"):
                spark.read.parquet(str(forged)).count()
            # Spark writes encrypted files in the build's folder, and nowhere else.
            spark.range(3).write.parquet(str(warehouse / "scratch.db" / "three"))
            written = sorted((warehouse / "scratch.db" / "three").glob("*.parquet"))
            assert written and all(p.read_bytes()[:4] == PARQUET_ENCRYPTED for p in written)
            assert spark.read.parquet(str(warehouse / "scratch.db" / "three")).count() == 3
            with pytest.raises(Exception, match="only under the build's folder"):
                spark.range(3).write.parquet(str(tmp_path / "elsewhere"))
        finally:
            keystore.write_bytes(original)


def test_a_spark_home_built_in_clear_is_refused_before_the_build(tmp_path: Path) -> None:
    """A Spark home from before its tables were encrypted: one line naming the file and what to do, not
    parquet-java's "Applying decryptor on plaintext file" in the middle of a build."""
    from ingest.build.spark_target import refuse_tables_in_clear
    from ingest.exceptions import ConfigError

    table = tmp_path / "warehouse" / "cdm.db" / "person"
    table.mkdir(parents=True)
    (table / "part-0.parquet").write_bytes(PARQUET_ENCRYPTED + b"\0" * 8 + PARQUET_ENCRYPTED)
    refuse_tables_in_clear(tmp_path / "warehouse")  # encrypted: accepted
    pq.write_table(pa.table({"person_id": [1]}), table / "part-1.parquet")
    with pytest.raises(ConfigError, match=r"part-1\.parquet: a table of the Spark build in clear"):
        refuse_tables_in_clear(tmp_path / "warehouse")
