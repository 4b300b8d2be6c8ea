{#-
    The sites and doctors with acts, one row per ISO week, association, site and doctor, with the
    week's acts and latest extract date: what care_site, provider and cdm_source need from the acts,
    in a small fraction of the acts' rows (benchmarks/README.md), where they read every act before.
    Incremental: a build recomputes the weeks of every version of the changed acts, the only weeks
    where a change can add or remove a row.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='act_week',
) }}

with

acts as (

    select * from {{ ref('stg_lake__acts') }}
    where {{ in_scope(ref('stg_lake__acts'), column='start_at') }}

),

final as (

    select
        cast(date_trunc('week', start_at) as date) as week_start_date,
        association_id,
        care_site_id,
        doctor_pseudonym,
        count(*) as act_count,
        max(extract_date) as last_extract_date

    from acts
    group by all

)

select * from final
