{#-
    The extent of the surveillance grid, summarised: one row per ISO week and association x
    département x région with acts, with the week's first and last days with acts. The dense grid of
    cells runs over these associations and areas, from the first to the last day with acts: this table
    answers that in a few hundred thousand rows, where every act since the start was read before
    (int_surveillance_weeks_changed, disclosure_controlled_cells, base_lake__builds_completed).
    Incremental: a build recomputes the weeks of every version of the changed acts, the only weeks
    where a change can add or remove a row.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='act_week',
) }}

with

acts as (

    select * from {{ ref('int_surveillance_acts_classified') }}
    where
        {{ in_scope(ref('int_surveillance_acts_classified')) }}

),

final as (

    select
        week_start_date,
        association_id,
        department_code,
        region_code,
        min(act_date) as first_act_date,
        max(act_date) as last_act_date,
        count(*) as act_count

    from acts
    group by week_start_date, association_id, department_code, region_code

)

select * from final
