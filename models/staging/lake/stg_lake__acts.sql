{#-
    One row per act: the latest version wins. A corrected re-send of a day is a new batch of the same
    partition, and a late act may come again in a later day's extract, so versions are ordered by
    extract date, then ingestion time, then batch id (a deterministic tie-break for duplicate batches).
    Incremental: a build replaces the acts changed since the last completed build
    (base_lake__changed_acts), every version of them being re-read.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='act',
    scope_bound={'column': 'start_at', 'type': 'timestamp'},
) }}

with

source as (

    select * from {{ ref('base_lake__acts') }}
    where {{ in_scope(ref('base_lake__acts')) }}

),

latest as (

    select *
    from source
    qualify row_number() over (
        partition by association_id, act_id
        order by {{ latest_version_order() }}
    ) = 1

),

renamed as (

    select
        -- ids
        association_id,
        act_id,
        care_site_id,
        doctor_pseudonym,
        patient_pseudonym,

        -- codes
        act_type,
        caller_type,
        call_reason,
        outcome,
        patient_identity_basis,
        patient_sex,
        patient_commune_code,
        patient_department_code,

        -- numerics
        cast(patient_birth_year as integer) as patient_birth_year,
        cast(patient_birth_month as integer) as patient_birth_month,
        cast(patient_age_years as integer) as patient_age_years,

        -- dates
        extract_date,

        -- timestamps (local time, Europe/Paris)
        cast(call_at as timestamp) as call_at,
        cast(start_at as timestamp) as start_at,
        cast(end_at as timestamp) as end_at,

        -- lineage
        _batch_id as batch_id,
        _source_file as source_file,
        _source_line as source_line,
        _ingested_at as ingested_at

    from latest

)

select * from renamed
order by start_at
