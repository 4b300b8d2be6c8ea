-- This week against the same ISO week of past seasons, per syndromic group, France, all ages: the
-- comparison SpF bulletins make ("compared with the same week of the previous years").
-- "This week" is the latest week in the export; change `latest` to pick another.
-- Run from the folder that holds publication/ (see influenza_epidemic_curve_by_region.sql).
with

weekly as (

    select * from read_parquet('publication/syndromic_indicators_by_week.parquet')
    where
        age_class = 'all'
        and geo_level = 'france'

),

latest as (

    select max(week_start_date) as week_start_date from weekly

),

current_week as (

    select
        weekly.syndrome_group,
        weekly.iso_week,
        weekly.syndrome_act_count,
        weekly.syndrome_share_of_coded_pct,
        cast(right(weekly.iso_week, 2) as integer) as week_number,
        cast(left(weekly.iso_week, 4) as integer) as iso_year
    from weekly
    inner join latest on weekly.week_start_date = latest.week_start_date

),

past_seasons as (

    select
        weekly.syndrome_group,
        count(*) as past_weeks,
        avg(weekly.syndrome_act_count) as past_mean_count,
        max(weekly.syndrome_act_count) as past_max_count,
        avg(weekly.syndrome_share_of_coded_pct) as past_mean_share_pct
    from weekly
    inner join current_week
        on
            weekly.syndrome_group = current_week.syndrome_group
            and cast(right(weekly.iso_week, 2) as integer) = current_week.week_number
            and cast(left(weekly.iso_week, 4) as integer) < current_week.iso_year
    group by weekly.syndrome_group

)

select
    current_week.syndrome_group,
    current_week.iso_week,
    current_week.syndrome_act_count,
    current_week.syndrome_share_of_coded_pct,
    past_seasons.past_weeks,
    round(past_seasons.past_mean_count, 1) as past_mean_count,
    past_seasons.past_max_count,
    round(past_seasons.past_mean_share_pct, 2) as past_mean_share_pct,
    round(
        current_week.syndrome_share_of_coded_pct - past_seasons.past_mean_share_pct, 2
    ) as share_difference_pct
from current_week
left join past_seasons on current_week.syndrome_group = past_seasons.syndrome_group
order by current_week.syndrome_act_count desc nulls last
