"""From validated source columns to landed records: pseudonymise, generalise, drop identifiers, type.

Only accepted rows reach here. Every landed column is listed explicitly per dataset, so a new identifying
column in the contract cannot leak by default: it lands only if someone adds it below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.lake.landed_schema import LANDED_SCHEMAS
from ingest.records.pseudonymise import pseudonymise_doctors, pseudonymise_patients
from ingest.records.validate import timestamp


@dataclass(frozen=True)
class Lineage:
    association_id: str
    extract_date: date
    batch_id: str
    source_file: str
    ingested_at: datetime
    contract_version: str


Columns = dict[str, pa.Array]


def department_of(commune: pa.Array) -> pa.Array:
    """INSEE département of a commune code: 3 characters overseas (97x), else the first 2 (incl. 2A/2B)."""
    overseas = pc.starts_with(commune, "97")
    return pc.if_else(
        overseas, pc.utf8_slice_codeunits(commune, 0, 3), pc.utf8_slice_codeunits(commune, 0, 2)
    )


def age_in_years(birth: pa.Array, on: pa.Array) -> pa.Array:
    years = pc.subtract(pc.year(on), pc.year(birth))
    before_birthday = pc.or_(
        pc.less(pc.month(on), pc.month(birth)),
        pc.and_(pc.equal(pc.month(on), pc.month(birth)), pc.less(pc.day(on), pc.day(birth))),
    )
    return pc.subtract(years, pc.cast(before_birthday, pa.int64()))


def _acts(c: Columns, secret: bytes) -> Columns:
    patient, basis = pseudonymise_patients(
        secret,
        c["patient_nir"],
        c["patient_nom"],
        c["patient_prenom"],
        c["patient_date_naissance"],
        c["patient_sexe"],
    )
    birth = c["patient_date_naissance"]
    return {
        "act_id": c["num_acte"],
        "act_type": c["type_acte"],
        "care_site_id": c["code_site"],
        "call_at": timestamp(c["date_appel"], c["heure_appel"], checked=True),
        "start_at": timestamp(c["date_debut"], c["heure_debut"], checked=True),
        "end_at": timestamp(c["date_fin"], c["heure_fin"], checked=True),
        "caller_type": c["appelant"],
        "call_reason": c["motif_appel"],
        "doctor_pseudonym": pseudonymise_doctors(secret, c["rpps_medecin"]),
        "patient_pseudonym": patient,
        "patient_identity_basis": basis,
        "patient_sex": c["patient_sexe"],
        "patient_birth_year": pc.year(birth),
        "patient_birth_month": pc.month(birth),
        "patient_age_years": age_in_years(birth, c["date_debut"]),
        "patient_commune_code": c["patient_commune_insee"],
        "patient_department_code": department_of(c["patient_commune_insee"]),
        "outcome": c["orientation"],
    }


def _diagnoses(c: Columns, secret: bytes) -> Columns:
    return {
        "act_id": c["num_acte"],
        "diagnosis_rank": c["rang"],
        "thesaurus_code": c["code_thesaurus"],
        "icd10_code": pc.replace_substring(c["code_cim10"], ".", ""),
    }


def _prescriptions(c: Columns, secret: bytes) -> Columns:
    return {
        "act_id": c["num_acte"],
        "line_number": c["ligne"],
        "cip13_code": c["code_cip13"],
        "atc_code": c["code_atc"],
        "drug_label": c["libelle"],
        "dose_value": c["dose_valeur"],
        "dose_unit": c["dose_unite"],
        "intakes_per_day": c["prises_par_jour"],
        "duration_days": c["duree_jours"],
    }


def _vital_signs(c: Columns, secret: bytes) -> Columns:
    return {
        "act_id": c["num_acte"],
        "measured_at": timestamp(c["date_mesure"], c["heure_mesure"], checked=True),
        "temperature_c": c["temperature"],
        "heart_rate_bpm": c["fc"],
        "spo2_pct": c["spo2"],
        "systolic_bp_mmhg": c["pas"],
        "diastolic_bp_mmhg": c["pad"],
        "respiratory_rate_pm": c["fr"],
        "weight_kg": c["poids"],
    }


def _doctors(c: Columns, secret: bytes) -> Columns:
    return {
        "doctor_pseudonym": pseudonymise_doctors(secret, c["rpps"]),
        "doctor_sex": c["sexe"],
        "specialty": c["specialite"],
        "joined_date": c["date_entree"],
        "left_date": c["date_sortie"],
    }


def _care_sites(c: Columns, secret: bytes) -> Columns:
    return {
        "care_site_id": c["code_site"],
        "care_site_type": c["type_site"],
        "care_site_name": c["nom_site"],
        "commune_code": c["commune_insee"],
        "postal_code": c["code_postal"],
    }


BUILDERS: dict[str, Callable[[Columns, bytes], Columns]] = {
    "acts": _acts,
    "diagnoses": _diagnoses,
    "prescriptions": _prescriptions,
    "vital_signs": _vital_signs,
    "doctors": _doctors,
    "care_sites": _care_sites,
}


def to_landed(
    dataset: str, accepted: Columns, lines: Sequence[int] | np.ndarray, secret: bytes, lineage: Lineage
) -> pa.Table:
    n = len(lines)
    schema = LANDED_SCHEMAS[dataset]
    body = BUILDERS[dataset](accepted, secret)
    cols: Columns = {
        "association_id": pa.repeat(pa.scalar(lineage.association_id, pa.string()), n),
        "extract_date": pa.repeat(pa.scalar(lineage.extract_date, pa.date32()), n),
        **body,
        "_batch_id": pa.repeat(pa.scalar(lineage.batch_id, pa.string()), n),
        "_source_file": pa.repeat(pa.scalar(lineage.source_file, pa.string()), n),
        "_source_line": pa.array(np.asarray(lines, dtype=np.int32), pa.int32()),
        "_ingested_at": pa.repeat(pa.scalar(lineage.ingested_at, pa.timestamp("us", tz="UTC")), n),
        "_contract_version": pa.repeat(pa.scalar(lineage.contract_version, pa.string()), n),
    }
    arrays = [pc.cast(cols[f.name], f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)
