"""Arrow schemas of the landed (raw zone) datasets: the contract between ingest and dbt's staging layer.

Every landed dataset starts with the partition columns and ends with the lineage columns. Timestamps of
care are local time (Europe/Paris) without zone, as the extracts give them; `_ingested_at` is UTC.
"""

from __future__ import annotations

import pyarrow as pa

PARTITION_FIELDS = [
    pa.field("association_id", pa.string(), nullable=False),
    pa.field("extract_date", pa.date32(), nullable=False),
]

LINEAGE_FIELDS = [
    pa.field("_batch_id", pa.string(), nullable=False),
    pa.field("_source_file", pa.string(), nullable=False),
    pa.field("_source_line", pa.int32(), nullable=False),
    pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("_contract_version", pa.string(), nullable=False),
]

_TS = pa.timestamp("s")

_BODY: dict[str, list[pa.Field]] = {
    "acts": [
        pa.field("act_id", pa.string(), nullable=False),
        pa.field("act_type", pa.string(), nullable=False),
        pa.field("care_site_id", pa.string(), nullable=False),
        pa.field("call_at", _TS, nullable=False),
        pa.field("start_at", _TS, nullable=False),
        pa.field("end_at", _TS),
        pa.field("caller_type", pa.string(), nullable=False),
        pa.field("call_reason", pa.string(), nullable=False),
        pa.field("doctor_pseudonym", pa.string(), nullable=False),
        pa.field("patient_pseudonym", pa.string(), nullable=False),
        pa.field("patient_identity_basis", pa.string(), nullable=False),
        pa.field("patient_sex", pa.string(), nullable=False),
        pa.field("patient_birth_year", pa.int16(), nullable=False),
        pa.field("patient_birth_month", pa.int8(), nullable=False),
        pa.field("patient_age_years", pa.int16(), nullable=False),
        pa.field("patient_commune_code", pa.string()),
        pa.field("patient_department_code", pa.string()),
        pa.field("outcome", pa.string(), nullable=False),
    ],
    "diagnoses": [
        pa.field("act_id", pa.string(), nullable=False),
        pa.field("diagnosis_rank", pa.int8(), nullable=False),
        pa.field("thesaurus_code", pa.string(), nullable=False),
        pa.field("icd10_code", pa.string()),
    ],
    "prescriptions": [
        pa.field("act_id", pa.string(), nullable=False),
        pa.field("line_number", pa.int16(), nullable=False),
        pa.field("cip13_code", pa.string()),
        pa.field("atc_code", pa.string()),
        pa.field("drug_label", pa.string(), nullable=False),
        pa.field("dose_value", pa.float64()),
        pa.field("dose_unit", pa.string()),
        pa.field("intakes_per_day", pa.int16()),
        pa.field("duration_days", pa.int16()),
    ],
    "vital_signs": [
        pa.field("act_id", pa.string(), nullable=False),
        pa.field("measured_at", _TS, nullable=False),
        pa.field("temperature_c", pa.float64()),
        pa.field("heart_rate_bpm", pa.int16()),
        pa.field("spo2_pct", pa.int16()),
        pa.field("systolic_bp_mmhg", pa.int16()),
        pa.field("diastolic_bp_mmhg", pa.int16()),
        pa.field("respiratory_rate_pm", pa.int16()),
        pa.field("weight_kg", pa.float64()),
    ],
    "doctors": [
        pa.field("doctor_pseudonym", pa.string(), nullable=False),
        pa.field("doctor_sex", pa.string()),
        pa.field("specialty", pa.string(), nullable=False),
        pa.field("joined_date", pa.date32()),
        pa.field("left_date", pa.date32()),
    ],
    "care_sites": [
        pa.field("care_site_id", pa.string(), nullable=False),
        pa.field("care_site_type", pa.string(), nullable=False),
        pa.field("care_site_name", pa.string(), nullable=False),
        pa.field("commune_code", pa.string(), nullable=False),
        pa.field("postal_code", pa.string()),
    ],
}

LANDED_SCHEMAS: dict[str, pa.Schema] = {
    name: pa.schema(PARTITION_FIELDS + body + LINEAGE_FIELDS) for name, body in _BODY.items()
}

# Rejected rows. `record` holds, as JSON, only the fields of the row that passed validation and are not
# identifying: a value that failed a rule may be an identifier typed in the wrong column, so it is never kept.
QUARANTINE_SCHEMA = pa.schema(
    [
        *PARTITION_FIELDS,
        pa.field("entity", pa.string(), nullable=False),
        pa.field("line", pa.int32(), nullable=False),
        pa.field("field", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
        pa.field("all_findings", pa.string(), nullable=False),
        pa.field("record", pa.string()),
        *LINEAGE_FIELDS,
    ]
)
