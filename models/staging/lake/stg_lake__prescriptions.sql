{#-
    One row per prescription line of an act, from the latest batch that carried the act's prescription
    (a correction replaces the whole prescription).
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

{{ latest_child_rows('prescriptions', built_after='stg_lake__diagnoses') }},

renamed as (

    select
        -- ids
        association_id,
        act_id,
        cast(line_number as integer) as line_number,

        -- codes
        cip13_code,
        atc_code,
        dose_unit,

        -- text (a controlled drug label, not free text)
        drug_label,

        -- numerics
        dose_value,
        cast(intakes_per_day as integer) as intakes_per_day,
        cast(duration_days as integer) as duration_days,

        -- dates
        extract_date,

        -- lineage
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

)

select * from renamed
