"""The covariates a task may name, and the query that builds a task's cohort from the warehouse.

Like OHDSI's covariate settings: each feature is a named, documented set of columns computed for each
member of the target cohort from data dated at or before t = 0 only (vital signs measured after the end
of the act are ignored; prior acts are those that *started* before this act started, within the
observation window). The call reason is not an OMOP CDM v5.4 field: it is read from the staging acts
the visit was built from (`intermediate.int_acts_typed_as_visits` links them).

The query returns, besides the features, the columns that never leave the perimeter: the visit id, the
lake pseudonym, t = 0, the label, and the region (a subgroup and quasi-identifier).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import duckdb
import pyarrow as pa

from ingest.ai.task import PredictionTask
from ingest.lake.crypto import sql_string

__all__ = ["AGE_CLASSES", "FEATURES", "Feature", "build_cohort", "cohort_sql", "feature_columns"]

Kind = Literal["categorical", "numeric"]

# Age classes of the generator's clinical profiles and of out-of-hours care use (infants, children,
# adults, the old and the very old); coarse enough to serve as a quasi-identifier.
AGE_CLASSES = ("00-01", "02-04", "05-14", "15-44", "45-64", "65-79", "80+")
_AGE_CLASS_SQL = """case
            when age_years < 2 then '00-01' when age_years < 5 then '02-04' when age_years < 15 then '05-14'
            when age_years < 45 then '15-44' when age_years < 65 then '45-64' when age_years < 80 then '65-79'
            when age_years is not null then '80+' end"""
_VITALS = {
    "temperature_c": "temperature_c",
    "heart_rate_bpm": "heart_rate_bpm",
    "spo2_pct": "spo2_pct",
    "systolic_bp_mmhg": "systolic_bp_mmhg",
    "respiratory_rate_pm": "respiratory_rate_pm",
}


@dataclass(frozen=True)
class Feature:
    name: str
    columns: tuple[tuple[str, Kind], ...]
    definition: str
    source: str  # the CDM tables and fields it reads


FEATURES: dict[str, Feature] = {
    f.name: f
    for f in (
        Feature(
            "age_class",
            (("age_class", "categorical"),),
            "Age at the act in completed years (birth year and month of person), in classes "
            f"{', '.join(AGE_CLASSES)}.",
            "person.year_of_birth, person.month_of_birth, visit_occurrence.visit_start_date",
        ),
        Feature("sex", (("sex", "categorical"),), "Sex as recorded (M, F, I).", "person.gender_source_value"),
        Feature(
            "visit_type",
            (("visit_type", "categorical"),),
            "VAD home visit or CONS walk-in consultation.",
            "visit_occurrence.visit_source_value",
        ),
        Feature(
            "caller_type",
            (("caller_type", "categorical"),),
            "Who called: patient, family, SAMU centre 15, nursing home, GP, third party.",
            "visit_occurrence.admitted_from_source_value",
        ),
        Feature(
            "call_reason",
            (("call_reason", "categorical"),),
            "Coded reason for the call (the network's call-taking thesaurus).",
            "staging acts call_reason (not an OMOP v5.4 field), linked by the visit",
        ),
        Feature(
            "vital_signs",
            tuple((c, "numeric") for c in _VITALS),
            "First value of each vital sign measured during the act at or before t = 0 (temperature °C, "
            "heart rate /min, SpO2 %, systolic pressure mmHg, respiratory rate /min); missing when not "
            "measured.",
            "measurement (LOINC 8310-5, 8867-4, 59408-5, 8480-6, 9279-1), measurement_datetime <= t = 0",
        ),
        Feature(
            "diagnosis_group",
            (("diagnosis_group", "categorical"),),
            "ICD-10 chapter letter of the primary diagnosis (Primary diagnosis 32902), else of a diagnosis "
            "recorded in observation; 'uncoded' when the act has none.",
            "condition_occurrence.condition_source_value, observation.observation_source_value",
        ),
        Feature(
            "associated_diagnoses",
            (("n_diagnoses", "numeric"),),
            "Number of diagnoses coded for the act (primary and associated).",
            "condition_occurrence, observation (diagnoses)",
        ),
        Feature(
            "prior_acts_365d",
            (("prior_acts_365d", "numeric"),),
            "Acts of the same person that started in the observation window before this act started.",
            "visit_occurrence.visit_start_datetime",
        ),
        Feature(
            "time_of_day",
            (("time_of_day", "categorical"),),
            "Start of the act: night (00-08), day (08-20), evening (20-24).",
            "visit_occurrence.visit_start_datetime",
        ),
        Feature(
            "season",
            (("season", "categorical"),),
            "Season of the act: winter (Dec-Feb), spring, summer, autumn.",
            "visit_occurrence.visit_start_date",
        ),
    )
}

# Columns kept inside the perimeter, whatever the features.
INTERNAL_COLUMNS = ("visit_occurrence_id", "lake_pseudonym", "index_datetime", "label", "region")
# Columns every subgroup or quasi-identifier needs (computed even when not a feature).
_ALWAYS = ("age_class", "sex", "season", "time_of_day")


def feature_columns(task: PredictionTask) -> list[tuple[str, Kind]]:
    return [c for name in task.features for c in FEATURES[name].columns]


def cohort_sql(task: PredictionTask) -> str:
    """One row per cohort member with index in [development_start, test_end]; features, label, region."""
    concepts = ", ".join(str(int(c)) for c in task.visit_concept_ids)
    excluded = ", ".join(sql_string(v) for v in task.exclude_discharged_to) or "''"
    positives = ", ".join(sql_string(v) for v in task.outcome_values) or "''"
    first = sql_string(task.development_start.isoformat())
    after_last = sql_string((task.test_end + timedelta(days=1)).isoformat())
    window = int(task.observation_window_days)
    index = "coalesce(v.visit_end_datetime, v.visit_start_datetime)"
    if task.index_field == "visit_start_datetime":
        index = "v.visit_start_datetime"
    vitals = ",\n        ".join(
        f"max(value_as_number) filter (where measurement_source_value = '{src}' and rn = 1) as {col}"
        for col, src in _VITALS.items()
    )
    wanted = {c for c, _ in feature_columns(task)} | set(_ALWAYS)
    label, label_join = "c.own_label", ""
    if task.outcome_field == "later_visit":
        label = "coalesce(later.label, false)"
        label_join = "\n    left join later on c.visit_occurrence_id = later.visit_occurrence_id"
    selected = ", ".join(f"features.{c}" for c in sorted(wanted - {"age_class"}))
    return f"""
with cohort as (
    select
        v.visit_occurrence_id, v.person_id, v.visit_start_datetime, {index} as index_datetime,
        v.visit_source_value as visit_type, v.admitted_from_source_value as caller_type,
        v.discharged_to_source_value in ({positives}) as own_label
    from cdm.visit_occurrence as v
    where
        v.visit_concept_id in ({concepts})
        and v.discharged_to_source_value is not null
        and v.discharged_to_source_value not in ({excluded})
        and {index} >= {first}::timestamp and {index} < {after_last}::timestamp
),
persons as (
    select
        p.person_id, p.person_source_value as lake_pseudonym, p.year_of_birth, p.month_of_birth,
        p.gender_source_value as sex, d.reg_code as region
    from cdm.person as p
    left join cdm.location as l on p.location_id = l.location_id
    left join seeds.departements as d on l.county = d.dep_code
),
measured as (
    select
        m.visit_occurrence_id, m.measurement_source_value, m.value_as_number,
        row_number() over (
            partition by m.visit_occurrence_id, m.measurement_source_value
            order by m.measurement_datetime, m.measurement_id
        ) as rn
    from cdm.measurement as m
    inner join cohort as c on m.visit_occurrence_id = c.visit_occurrence_id
    where m.measurement_datetime <= c.index_datetime and m.value_as_number is not null
),
vitals as (
    select
        visit_occurrence_id,
        {vitals}
    from measured
    group by visit_occurrence_id
),
diagnoses as (
    select
        visit_occurrence_id, condition_source_value as code,
        condition_status_concept_id = 32902 as primary_dx
    from cdm.condition_occurrence
    where visit_occurrence_id in (select visit_occurrence_id from cohort)
    union all
    select visit_occurrence_id, observation_source_value as code, false as primary_dx
    from cdm.observation
    where
        visit_occurrence_id in (select visit_occurrence_id from cohort)
        and observation_source_value not like '%:%'
),
diagnosis_summary as (
    select
        visit_occurrence_id,
        count(*) as n_diagnoses,
        coalesce(
            max(left(code, 1)) filter (where primary_dx and regexp_full_match(code, '[A-Z][0-9]{{2}}.*')),
            min(left(code, 1)) filter (where regexp_full_match(code, '[A-Z][0-9]{{2}}.*')),
            'other'
        ) as diagnosis_group
    from diagnoses
    group by visit_occurrence_id
),
{_later_visits(task, positives)}prior as (
    select c.visit_occurrence_id, count(o.visit_occurrence_id) as prior_acts_365d
    from cohort as c
    left join cdm.visit_occurrence as o
        on
            c.person_id = o.person_id
            and o.visit_start_datetime < c.visit_start_datetime
            and o.visit_start_datetime >= c.visit_start_datetime - interval {window} day
    group by c.visit_occurrence_id
),
reasons as (
    select i.visit_occurrence_id, a.call_reason
    from intermediate.int_acts_typed_as_visits as i
    inner join staging.stg_lake__acts as a
        on i.association_id = a.association_id and i.act_id = a.act_id
    where i.visit_occurrence_id in (select visit_occurrence_id from cohort)
),
features as (
    select
        c.visit_occurrence_id, persons.lake_pseudonym, c.index_datetime, {label} as label, persons.region,
        date_diff('month', make_date(persons.year_of_birth, coalesce(persons.month_of_birth, 7), 1),
            c.visit_start_datetime::date) // 12 as age_years,
        persons.sex, c.visit_type, c.caller_type, reasons.call_reason,
        vitals.temperature_c, vitals.heart_rate_bpm, vitals.spo2_pct, vitals.systolic_bp_mmhg,
        vitals.respiratory_rate_pm,
        coalesce(diagnosis_summary.diagnosis_group, 'uncoded') as diagnosis_group,
        coalesce(diagnosis_summary.n_diagnoses, 0) as n_diagnoses,
        prior.prior_acts_365d,
        case
            when hour(c.visit_start_datetime) < 8 then 'night'
            when hour(c.visit_start_datetime) < 20 then 'day' else 'evening' end as time_of_day,
        case
            when month(c.visit_start_datetime) in (12, 1, 2) then 'winter'
            when month(c.visit_start_datetime) in (3, 4, 5) then 'spring'
            when month(c.visit_start_datetime) in (6, 7, 8) then 'summer' else 'autumn' end as season
    from cohort as c
    inner join persons on c.person_id = persons.person_id
    left join vitals on c.visit_occurrence_id = vitals.visit_occurrence_id
    left join diagnosis_summary on c.visit_occurrence_id = diagnosis_summary.visit_occurrence_id
    left join prior on c.visit_occurrence_id = prior.visit_occurrence_id
    left join reasons on c.visit_occurrence_id = reasons.visit_occurrence_id{label_join}
)
select
    features.visit_occurrence_id, features.lake_pseudonym, features.index_datetime, features.label,
    coalesce(features.region, 'unknown') as region,
    {_AGE_CLASS_SQL.replace("age_years", "features.age_years")} as age_class,
    {selected}
from features
"""  # noqa: S608 - only validated task values (ints, quoted strings, dates) are spliced in


def _later_visits(task: PredictionTask, positives: str) -> str:
    """The `later` CTE of a later-visit outcome: whether the person has another act starting within the
    time at risk, in days after t = 0's date (never the act itself: the window starts at day 1)."""
    if task.outcome_field != "later_visit":
        return ""
    start, end = (int(d) for d in task.time_at_risk)
    coded = f"and o.discharged_to_source_value in ({positives})" if task.outcome_values else ""
    return f"""later as (
    select c.visit_occurrence_id, count(o.visit_occurrence_id) > 0 as label
    from cohort as c
    inner join cdm.visit_occurrence as o
        on
            c.person_id = o.person_id
            and o.visit_start_date >= c.index_datetime::date + {start}
            and o.visit_start_date <= c.index_datetime::date + {end}
            {coded}
    group by c.visit_occurrence_id
),
"""  # noqa: S608 - integers and quoted codes only


def build_cohort(con: duckdb.DuckDBPyConnection, task: PredictionTask) -> pa.Table:
    """Run the cohort query on a read-only warehouse connection (`use warehouse` done)."""
    return con.execute(cohort_sql(task)).to_arrow_table()
