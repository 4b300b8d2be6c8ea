"""End to end: extracts -> `Ingestor` (encrypted lake) -> `dbt build` -> OMOP CDM in the encrypted warehouse.

Runs the real pipeline on a handful of hand-made extracts covering what real feeds do: a corrected re-send
of a day, a late act in a later day's extract, the same file twice, two months (two data keys), two
associations, a death certificate, mapped, parent-mapped, thesaurus-mapped and unmapped diagnoses.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ingest.contract import PROJECT_ROOT
from ingest.lake.crypto import load_httpfs
from ingest.lake.keys import DataKeyring, LocalKeyStore
from ingest.lake.storage import open_store
from ingest.landing.land import Ingestor
from tests.extract_builder import RPPS, act_row, diagnosis_row, with_luhn, with_nir_key, write_extract

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
NIR_B = with_nir_key("1850613055123")
NIR_C = with_nir_key("2120575056789")
RPPS_B = with_luhn("1000654321")


def _doctor(rpps: str, specialty: str = "MG") -> dict[str, str]:
    return {"rpps": rpps, "nom": "Haddock", "prenom": "Archibald", "sexe": "M", "specialite": specialty}


def _site(code: str, kind: str, commune: str) -> dict[str, str]:
    return {"code_site": code, "type_site": kind, "nom_site": f"Site {code}", "commune_insee": commune}


def _vitals(act_id: str, day: str, time: str, **values: str) -> dict[str, str]:
    return {"num_acte": act_id, "date_mesure": day, "heure_mesure": time, **values}


def _prescription(act_id: str, line: str, **values: str) -> dict[str, str]:
    row = {"num_acte": act_id, "ligne": line, "code_atc": "N02BE01", "libelle": "PARACETAMOL 1000MG CPR"}
    row.update(values)
    return row


def make_extracts(folder: Path) -> list[Path]:
    """Day 1 of A75001 sent twice (the second send corrects act 1), day 2 with a late act, a February day."""
    day1 = "15/01/2024"
    acts_day1 = [
        act_row("1", type_acte="VAD", orientation="DOM"),
        act_row(
            "2",
            type_acte="CONS",
            code_site="A75001-C1",
            patient_nir=NIR_B,
            patient_sexe="M",
            patient_date_naissance="13/06/1985",
            patient_commune_insee="75056",
            orientation="MT",
        ),
        act_row(
            "3",
            type_acte="TLC",
            patient_nir=NIR_C,
            patient_sexe="F",
            patient_date_naissance="05/05/2012",
            orientation="DOM",
        ),
    ]
    files = [
        write_extract(folder / "send1", "actes", acts_day1),
        write_extract(
            folder / "send1",
            "diagnostics",
            [
                diagnosis_row("1", "1", code_thesaurus="GRIPPE", code_cim10="J11.1"),
                diagnosis_row("1", "2", code_thesaurus="GRIPPE", code_cim10="J10.1"),
                diagnosis_row("2", "1", code_thesaurus="BRONCHIOLITE", code_cim10=""),
                diagnosis_row("2", "2", code_thesaurus="COVID19", code_cim10="U07.1"),
                diagnosis_row("3", "1", code_thesaurus="GRIPPE", code_cim10="Z99.9"),
            ],
        ),
        write_extract(
            folder / "send1",
            "prescriptions",
            [
                _prescription(
                    "1", "1", dose_valeur="1", dose_unite="cp", prises_par_jour="3", duree_jours="5"
                ),
                _prescription("2", "1", code_atc="", code_cip13="3400907502305"),
            ],
        ),
        write_extract(
            folder / "send1",
            "constantes",
            [
                _vitals("1", day1, "21:05", temperature="39,2", fc="96", spo2="95", pas="128", pad="80"),
                _vitals("3", day1, "11:00", poids="38,5", fr="18"),
            ],
        ),
        write_extract(folder / "send1", "medecins", [_doctor(RPPS), _doctor(RPPS_B, "PED")]),
        write_extract(
            folder / "send1",
            "structures",
            [_site("A75001-B", "BASE", "75111"), _site("A75001-C1", "CENTRE", "75056")],
        ),
    ]
    # The association re-sends day 1: act 1 was in fact sent to the emergency department; its
    # associated diagnosis is dropped.
    corrected = [dict(acts_day1[0], orientation="URG"), *acts_day1[1:]]
    files.append(write_extract(folder / "send2", "actes", corrected))
    files.append(
        write_extract(
            folder / "send2",
            "diagnostics",
            [
                diagnosis_row("1", "1", code_thesaurus="GRIPPE", code_cim10="J11.1"),
                diagnosis_row("2", "1", code_thesaurus="BRONCHIOLITE", code_cim10=""),
                diagnosis_row("2", "2", code_thesaurus="COVID19", code_cim10="U07.1"),
                diagnosis_row("3", "1", code_thesaurus="GRIPPE", code_cim10="Z99.9"),
            ],
        )
    )
    # Day 2 carries a late act of day 1 (act 4, allowed up to 7 days back).
    files.append(
        write_extract(
            folder / "day2",
            "actes",
            [
                act_row(
                    "4", type_acte="VAD", date_appel=day1, date_debut=day1, date_fin=day1, orientation="DOM"
                )
            ],
            day="20240116",
        )
    )
    # Another association in February (a second monthly data key): a death certificate.
    feb = "02/02/2024"
    files.append(
        write_extract(
            folder / "feb",
            "actes",
            [
                act_row(
                    "9",
                    code_site="A13001-B",
                    date_appel=feb,
                    date_debut=feb,
                    date_fin=feb,
                    patient_nir=with_nir_key("1300213055999"),
                    patient_sexe="M",
                    patient_date_naissance="01/01/1930",
                    patient_commune_insee="13055",
                    orientation="DC",
                )
            ],
            association="A13001",
            day="20240202",
        )
    )
    files.append(files[0])  # the same file again: a no-op at ingest
    return files


def dbt(args: list[str], env: dict[str, str], workdir: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).parent / "dbt"),
        *args,
        "--project-dir",
        str(PROJECT),
        "--profiles-dir",
        str(PROJECT),
        "--target-path",
        str(workdir / "target"),
        "--log-path",
        str(workdir / "logs"),
    ]
    return subprocess.run(command, env=env, cwd=PROJECT, capture_output=True, text=True, check=False)


def open_warehouse(path: Path, keystore: LocalKeyStore) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    load_httpfs(con)
    con.execute(f"attach '{path}' as warehouse (encryption_key '{keystore.warehouse_db_key()}', read_only)")
    return con


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("e2e")
    keystore_path = root / "keys" / "keystore.json"
    from ingest.lake.keys import init_keystore, open_keystore

    init_keystore(keystore_path)
    keystore = open_keystore(keystore_path)
    store = open_store(root / "lake")
    report = Ingestor(store, keystore).run(make_extracts(root / "extracts"))
    statuses = [f.status for f in report.files]
    env = {
        **os.environ,
        "LAKEHOUSE_KEYSTORE": str(keystore_path),
        "LAKEHOUSE_LAKE": str(root / "lake"),
        "LAKEHOUSE_WAREHOUSE": str(root / "warehouse" / "warehouse.duckdb"),
    }
    # The CDM and everything upstream (marts are tested with their own suite).
    first = dbt(["build", "--select", "+path:models/omop"], env, root)
    return {
        "root": root,
        "keystore": keystore,
        "store": store,
        "env": env,
        "first": first,
        "statuses": statuses,
    }


def test_ingest_landed_every_file_once(built: dict[str, object]) -> None:
    statuses = built["statuses"]
    assert statuses.count("duplicate") == 1, statuses
    assert "quarantined" not in statuses, statuses


def test_dbt_build_passes_every_test(built: dict[str, object]) -> None:
    result = built["first"]
    assert result.returncode == 0, result.stdout[-4000:]
    assert "ERROR=0" in result.stdout
    # Act 3's Z99.9, absent from the curated vocabulary: counted (a warning), not silently remapped.
    assert re.search(r"WARN 1 diagnoses_with_a_cim10_code_absent_from_the_vocabulary", result.stdout)


def test_cdm_content(built: dict[str, object]) -> None:
    root: Path = built["root"]
    con = open_warehouse(root / "warehouse" / "warehouse.duckdb", built["keystore"])
    visits = dict(
        con.execute(
            "select visit_source_value || ':' || discharged_to_source_value, visit_concept_id "
            "from warehouse.cdm.visit_occurrence"
        ).fetchall()
    )
    # 5 acts: the correction replaced act 1 (URG), the late act 4 is there, the duplicate file added nothing.
    assert con.execute("select count(*) from warehouse.cdm.visit_occurrence").fetchone()[0] == 5
    assert visits["VAD:URG"] == 581476
    assert visits["CONS:MT"] == 9202
    assert visits["TLC:DOM"] == 5083
    assert "VAD:DC" in visits
    conditions = con.execute(
        "select condition_source_value, condition_concept_id, condition_source_concept_id "
        "from warehouse.cdm.condition_occurrence order by 1"
    ).fetchall()
    by_source = {row[0]: row for row in conditions}
    assert by_source["J111"][1] != 0 and by_source["J111"][2] == 45557617  # CIM-10 through 'Maps to'
    assert "J101" not in by_source  # dropped by the correction
    assert by_source["BRONCHIOLITE"][1] != 0  # no CIM-10 code: the thesaurus through source_to_concept_map
    # Z99.9 is not in the curated vocabulary: the code the doctor gave is kept with concept 0, not
    # replaced by the concept of the thesaurus label (GRIPPE), and the build counts it.
    assert by_source["Z999"][1:] == (0, 0)
    assert "GRIPPE" not in by_source
    # U07.1 maps to a Condition and to an Observation concept: both rows carry its ICD-10 concept.
    assert by_source["U071"][2] == 45756093
    observations = con.execute(
        "select observation_source_concept_id from warehouse.cdm.observation "
        "where observation_source_value = 'U071'"
    ).fetchall()
    assert observations == [(45756093,)]
    measurements = con.execute(
        "select measurement_source_value, measurement_concept_id, unit_source_value, value_as_number "
        "from warehouse.cdm.measurement"
    ).fetchall()
    temperature = next(m for m in measurements if m[0] == "temperature_c")
    assert temperature[1:] == (3020891, "Cel", 39.2)
    assert len(measurements) == 7
    assert con.execute("select count(*) from warehouse.cdm.death").fetchone()[0] == 1
    assert con.execute("select count(*) from warehouse.cdm.person").fetchone()[0] == 4
    assert con.execute("select count(*) from warehouse.cdm.drug_exposure").fetchone()[0] == 2
    assert con.execute("select cdm_version from warehouse.cdm.cdm_source").fetchone()[0] == "5.4"


def test_ids_are_stable_across_rebuilds(built: dict[str, object]) -> None:
    root: Path = built["root"]
    query = "select visit_source_value, visit_occurrence_id, person_id from warehouse.cdm.visit_occurrence"
    con = open_warehouse(root / "warehouse" / "warehouse.duckdb", built["keystore"])
    before = sorted(con.execute(query).fetchall())
    con.close()
    result = dbt(["run", "--select", "visit_occurrence+"], built["env"], root)
    assert result.returncode == 0, result.stdout[-3000:]
    con = open_warehouse(root / "warehouse" / "warehouse.duckdb", built["keystore"])
    assert sorted(con.execute(query).fetchall()) == before


def test_warehouse_is_encrypted_and_no_key_leaks(built: dict[str, object]) -> None:
    root: Path = built["root"]
    warehouse = root / "warehouse" / "warehouse.duckdb"
    with pytest.raises(duckdb.Error, match="encrypted"):
        duckdb.connect(str(warehouse), read_only=True)
    assert b"A75001-C1" not in warehouse.read_bytes()
    secrets = [built["keystore"].warehouse_db_key()]
    secrets += [
        base64.b64encode(k.key).decode() for k in DataKeyring(built["store"], built["keystore"]).all()
    ]
    for path in [*(root / "target").rglob("*"), *(root / "logs").rglob("*")]:
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            for secret in secrets:
                assert secret not in text, f"a key leaked into {path}"


def test_uncommitted_batch_is_invisible(built: dict[str, object], tmp_path: Path) -> None:
    """Rows of a batch whose manifest is missing (a crash before commit) are not in the lake views."""
    from ingest.build.dbt_plugin import Plugin

    root: Path = built["root"]
    plugin = Plugin(
        name="lakehouse",
        plugin_config={
            "lake": str(root / "lake"),
            "keystore": built["env"]["LAKEHOUSE_KEYSTORE"],
            "warehouse_path": str(tmp_path / "scratch.duckdb"),
        },
    )
    store = built["store"]

    def landed_acts() -> int:
        con = duckdb.connect()
        try:
            plugin.configure_connection(con)
            return con.execute("select count(*) from memory.lake.acts").fetchone()[0]
        finally:
            con.close()

    everything = landed_acts()
    feb_batch = next(p for p in store.list("raw/acts/") if "association_id=A13001" in p).rsplit("/", 1)[1]
    manifest = f"manifests/{feb_batch.removesuffix('.parquet')}.json"
    data = store.get(manifest)
    store.delete(manifest)
    try:
        assert landed_acts() == everything - 1
    finally:
        store.put(manifest, data)


def test_spill_settings_survive_a_spill_and_new_cursors(built: dict[str, object], tmp_path: Path) -> None:
    """The build's connection spills, encrypted, next to the warehouse; after a query has spilled, a new
    cursor must still work. dbt-duckdb re-applies the profile's `settings` on every cursor, and DuckDB
    refuses to switch the temporary directory once used: a build that spilled failed on its next model
    when temp_directory was a profile setting. The plugin sets it once per connection instead."""
    import yaml
    from dbt.adapters.duckdb.credentials import DuckDBCredentials
    from dbt.adapters.duckdb.environments import Environment

    from ingest.build.dbt_plugin import Plugin

    root: Path = built["root"]
    warehouse = tmp_path / "spill.duckdb"
    plugin = Plugin(
        name="lakehouse",
        plugin_config={
            "lake": str(root / "lake"),
            "keystore": built["env"]["LAKEHOUSE_KEYSTORE"],
            "warehouse_path": str(warehouse),
        },
    )
    # The profile's instance settings, applied here on every cursor as dbt-duckdb applies `settings`.
    settings = yaml.safe_load((PROJECT_ROOT / "profiles.yml").read_text())["lakehouse"]["outputs"]["local"][
        "config_options"
    ]
    assert not {"temp_directory", "temp_file_encryption"} & set(settings)
    settings = {**settings, "memory_limit": "64MB"}
    creds = DuckDBCredentials(path=":memory:", settings=settings)
    con = duckdb.connect()
    try:
        plugin.configure_connection(con)
        cursor = Environment.initialize_cursor(creds, con.cursor())
        # A sort larger than the memory limit: it spills.
        cursor.execute(
            "create table warehouse.main.big as select i, 'row ' || i as v from range(6000000) t(i)"
        )
        spill_dir = Path(f"{warehouse}.tmp")
        assert cursor.execute("select max(v) from (select v from warehouse.main.big order by v)").fetchone()
        assert cursor.execute("select current_setting('temp_directory')").fetchone()[0] == str(spill_dir)
        assert cursor.execute("select current_setting('temp_file_encryption')").fetchone()[0] is True
        # It did spill: DuckDB now refuses to move the spill folder (what a profile setting would do).
        with pytest.raises(duckdb.NotImplementedException, match="temporary directory"):
            cursor.execute(f"set temp_directory = '{tmp_path / 'elsewhere'}'")
        # What dbt does for the next model: a new cursor, settings applied again.
        again = Environment.initialize_cursor(creds, con.cursor())
        assert again.execute("select count(*) from warehouse.main.big").fetchone()[0] == 6_000_000
    finally:
        con.close()
