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
        cast(days.range as date) as period_start,
        cast(date_trunc('week', days.range) as date) as week_start_date

    from (select 1 as one) as one_row
    {{ join_days_between(
        '(select min(first_act_date) from grid_extent)', '(select max(last_act_date) from grid_extent)', 'days'
    ) }}

),

days as (

    select * from calendar
    where {{ in_scope('calendar', column='week_start_date') }}

)

select
    'day' as period_type,
    period_start,
    {{ iso_week_label('period_start') }} as iso_week

from days

union all

select distinct
    'week' as period_type,
    week_start_date as period_start,
    {{ iso_week_label('period_start') }} as iso_week

from days
