{#-
    One row per coded diagnosis of an act, from the latest batch that carried the act's diagnoses: a
    correction replaces the act's whole list, so a rank dropped by the correction disappears too.
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

{{ latest_child_rows('diagnoses', built_after='stg_lake__acts') }},

renamed as (

    select
        -- ids
        association_id,
        act_id,
        cast(diagnosis_rank as integer) as diagnosis_rank,

        -- codes
        thesaurus_code,
        nullif(upper(replace(icd10_code, '.', '')), '') as icd10_code,

        -- dates
        extract_date,

        -- lineage
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

)

select * from renamed
