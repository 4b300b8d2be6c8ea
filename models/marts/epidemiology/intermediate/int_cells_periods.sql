{#-
    The periods disclosure_controlled_cells computes in this statement: every day of its scope's ISO
    weeks between the first and the last act of the grid, and those weeks.
-#}
with

grid_extent as (

    select * from {{ ref('int_surveillance_grid_by_week') }}

),

calendar as (

    select
        cast(range as date) as period_start,
        cast(date_trunc('week', range) as date) as week_start_date

    from
        range(
            (select min(first_act_date) from grid_extent),
            (select max(last_act_date) from grid_extent) + interval 1 day,
            interval 1 day
        )

),

days as (

    select * from calendar
    where {{ in_scope('calendar', column='week_start_date') }}

)

select
    'day' as period_type,
    period_start,
    strftime(period_start, '%G-W%V') as iso_week

from days

union all

select distinct
    'week' as period_type,
    week_start_date as period_start,
    strftime(period_start, '%G-W%V') as iso_week

from days
