{#-
    One row per act with the dimensions the surveillance marts count by. Record-level, so it lives in
    the intermediate schema, never in the marts schema (the marts read it into their aggregates). Incremental: a build replaces the acts changed since the last completed build.
    - Geography: the patient's département of residence as the act gives it (its commune, else its
      département: the residence at the time of the act, as SurSaUD codes each visit, so that a patient
      who moves does not rewrite the weeks already published); when unknown, the département of the
      site the act was attached to (the association serves its surroundings); else 'XX' (unknown),
      published as such so that départements add up exactly to their région.
    - Joins are left joins with explicit filters, here and in every epidemiology model: written when the
      DuckDB instance ran with filter_pushdown disabled, where DuckDB planned an inner join as a cross
      product followed by a filter (benchmarks/README.md, "Left joins"); a left join keeps its hash-join condition
      whatever the optimizer settings.
    - Age: age at the act, in the SurSaUD classes; 'unknown' when the extract had no age.
    - Hour band (French out-of-hours care periods): night 00:00-07:59 and evening 20:00-23:59 every
      day; weekend/holiday 08:00-19:59 on Saturdays, Sundays and public holidays; day otherwise.
    - Call-to-arrival delay: home visits only (for a centre or a teleconsultation it is a waiting time,
      not an access delay); negative or over-24-hour delays are clock errors and left out.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='visit',
    scope_bound={'column': 'act_date'},
) }}
with

visits as (

    select * from {{ ref('int_acts_typed_as_visits') }}
    where
        {{ in_scope(ref('int_acts_typed_as_visits')) }}

),

acts as (

    select * from {{ ref('stg_lake__acts') }}
    where
        {{ in_scope(ref('stg_lake__acts')) }}

),

diagnoses as (

    select * from {{ ref('int_diagnoses_mapped_to_standard') }}
    where
        {{ in_scope(ref('int_diagnoses_mapped_to_standard')) }}

),

care_sites as (

    select * from {{ ref('care_site') }}

),

locations as (

    select * from {{ ref('location') }}

),

departements as (

    select * from {{ ref('departements') }}

),

age_classes as (

    select * from {{ ref('age_classes') }}
    where age_min is not null

),

holidays as (

    select * from {{ ref('public_holidays_fr') }}

),

coded_acts as (

    select distinct visit_occurrence_id
    from diagnoses
    where coalesce(icd10_code, thesaurus_code) is not null

),

residences as (

    select
        association_id,
        act_id,
        case
            when patient_commune_code is not null then {{ department_of_commune('patient_commune_code') }}
            else patient_department_code
        end as residence_department_code

    from acts

),

classified as (

    select
        visits.visit_occurrence_id,
        visits.provider_id,
        visits.association_id,
        visits.act_type,
        visits.outcome,
        visits.patient_age_years,
        visits.visit_start_date as act_date,
        cast(date_trunc('week', visits.visit_start_date) as date) as week_start_date,
        {{ iso_week_label('visits.visit_start_date') }} as iso_week,
        coalesce(age_classes.age_class, 'unknown') as age_class,
        coalesce(departements.dep_code, 'XX') as department_code,
        coalesce(departements.reg_code, 'XX') as region_code,
        case
            when hour(visits.visit_start_datetime) < 8 then 'night'
            when hour(visits.visit_start_datetime) >= 20 then 'evening'
            when
                {{ iso_day_of_week('visits.visit_start_date') }} in (6, 7)
                or holidays.holiday_date is not null
                then 'weekend_holiday'
            else 'day'
        end as hour_band,
        case
            when
                visits.act_type = 'VAD'
                and visits.call_at <= visits.visit_start_datetime
                and visits.visit_start_datetime < visits.call_at + interval 24 hour
                then {{ minutes_between('visits.call_at', 'visits.visit_start_datetime') }}
        end as arrival_delay_minutes,
        coded_acts.visit_occurrence_id is not null as is_coded,
        coalesce(visits.outcome = 'URG', false) as is_referred_to_emergency,
        coalesce(visits.outcome = 'HOSP', false) as is_hospitalised

    from visits
    left join residences
        on
            visits.association_id = residences.association_id
            and visits.act_id = residences.act_id
    left join care_sites
        on visits.care_site_id = care_sites.care_site_id
    left join locations as site_location
        on care_sites.location_id = site_location.location_id
    left join departements
        on coalesce(residences.residence_department_code, site_location.county) = departements.dep_code
    left join age_classes
        on
            visits.patient_age_years >= age_classes.age_min
            and visits.patient_age_years <= coalesce(age_classes.age_max, 200)
    left join holidays
        on visits.visit_start_date = holidays.holiday_date
    left join coded_acts
        on visits.visit_occurrence_id = coded_acts.visit_occurrence_id

)

select * from classified
order by act_date
