{#-
    The sites and doctors with acts, one row per ISO week, association, site and doctor, with the
    week's acts and latest extract date: what care_site, provider and cdm_source need from the acts,
    in about a million rows at ten years, where they read every act before.
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
    where
        {{ in_incremental_scope(["cast(date_trunc('week', start_at) as date)"], changed_act_week_starts()) }}
        and {{ changed_period_bound('start_at', type='timestamp', grain='week') }}

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
