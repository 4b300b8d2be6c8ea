{#-
    Season summary per syndromic group, area (région, France) and surveillance season (July to June, or
    the calendar year for summer-surveillance groups): the epidemic period is the span from the first to
    the last epidemic week (real-time status within the group's surveillance period, so a period never
    spans two seasons), its peak the epidemic week with the most acts, its intensity the highest MEM
    level (Vega et al. 2013) an epidemic week reached. Seasons without a baseline (too little history)
    are left out; seasons with a baseline and no epidemic week have has_epidemic = false.
    Built only from published counts and model outputs, so it discloses nothing new.
-#}
with

weeks as (

    select * from {{ ref('epidemic_baseline_by_week') }}
    where epidemic_threshold is not null

),

regions as (

    select * from {{ ref('regions') }}

),

epidemic_weeks as (

    select * from weeks
    where is_epidemic_week

),

peaks as (

    select
        syndrome_group,
        geo_level,
        geo_code,
        surveillance_season,
        iso_week as peak_iso_week,
        observed_count as peak_act_count,
        epidemic_threshold as peak_threshold

    from epidemic_weeks
    qualify row_number() over (
        partition by syndrome_group, geo_level, geo_code, surveillance_season
        order by observed_count desc, week_start_date asc
    ) = 1

),

spans as (

    select
        syndrome_group,
        geo_level,
        geo_code,
        surveillance_season,
        min(week_start_date) as epidemic_start_date,
        max(week_start_date) as epidemic_last_week_start_date,
        min_by(iso_week, week_start_date) as epidemic_start_iso_week,
        max_by(iso_week, week_start_date) as epidemic_end_iso_week,
        count(*) as epidemic_week_count,
        round(sum(observed_count - baseline_count)) as excess_act_count,
        max(
            case cast(intensity_level as string)
                when 'low' then 1 when 'medium' then 2 when 'high' then 3 when 'very_high' then 4
            end
        ) as intensity_rank

    from epidemic_weeks
    group by all

),

seasons as (

    select
        syndrome_group,
        geo_level,
        geo_code,
        surveillance_season,
        count(*) as weeks_with_baseline

    from weeks
    group by all

),

final as (

    select
        seasons.syndrome_group,
        seasons.geo_level,
        seasons.geo_code,
        case
            when seasons.geo_level = 'france' then 'France'
            when seasons.geo_code = 'XX' then 'Non renseigné'
            else regions.reg_name
        end as geo_name,
        seasons.surveillance_season,
        seasons.weeks_with_baseline,
        spans.epidemic_week_count is not null as has_epidemic,
        spans.epidemic_start_iso_week,
        spans.epidemic_start_date,
        peaks.peak_iso_week,
        peaks.peak_act_count,
        spans.epidemic_end_iso_week,
        cast(spans.epidemic_last_week_start_date + interval 6 day as date) as epidemic_end_date,
        spans.epidemic_week_count,
        spans.excess_act_count,
        round(peaks.peak_act_count / nullif(peaks.peak_threshold, 0), 2) as peak_to_threshold_ratio,
        case spans.intensity_rank
            when 1 then 'low' when 2 then 'medium' when 3 then 'high' when 4 then 'very_high'
        end as intensity_level

    from seasons
    left join spans
        on
            seasons.syndrome_group = spans.syndrome_group
            and seasons.geo_level = spans.geo_level
            and seasons.geo_code = spans.geo_code
            and seasons.surveillance_season = spans.surveillance_season
    left join peaks
        on
            seasons.syndrome_group = peaks.syndrome_group
            and seasons.geo_level = peaks.geo_level
            and seasons.geo_code = peaks.geo_code
            and seasons.surveillance_season = peaks.surveillance_season
    left join regions
        on
            seasons.geo_level = 'region'
            and seasons.geo_code = regions.reg_code

)

select * from final
