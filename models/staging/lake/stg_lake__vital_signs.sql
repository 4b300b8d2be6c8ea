{#-
    One row per measurement time of an act, from the latest batch that carried the act's vital signs.
    Incremental: a build replaces the acts changed since the last completed build
    (base_lake__changed_acts), every version of them being re-read, from the changed acts' earliest
    possible extract date on (changed_child_extract_bound: the rows stay in extract order).
-#}
{{ config(
    materialized='scoped_incremental',
    scope='act',
    scope_bound={'column': 'extract_date', 'by': 'child_extract'},
) }}

with

{{ latest_child_rows('vital_signs', built_after='stg_lake__prescriptions') }},

renamed as (

    select
        -- ids
        association_id,
        act_id,

        -- numerics
        temperature_c,
        cast(heart_rate_bpm as integer) as heart_rate_bpm,
        cast(spo2_pct as integer) as spo2_pct,
        cast(systolic_bp_mmhg as integer) as systolic_bp_mmhg,
        cast(diastolic_bp_mmhg as integer) as diastolic_bp_mmhg,
        cast(respiratory_rate_pm as integer) as respiratory_rate_pm,
        weight_kg,

        -- dates
        extract_date,

        -- timestamps (local time, Europe/Paris)
        cast(measured_at as timestamp) as measured_at,

        -- lineage
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

)

select * from renamed
