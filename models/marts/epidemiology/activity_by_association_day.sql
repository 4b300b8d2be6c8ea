{#-
    Activity and access to care of each association: one row per association, day and hour band
    (day, evening, night, weekend_holiday, and `all`). Counts come from disclosure_controlled_cells
    (cell size and doctor thresholds, complementary suppression over hour bands and against France's
    daily total). Delay statistics are published only when the cell's act count is published and they
    summarise at least k home visits by at least `disclosure_min_contributors` doctors: a median of
    two delays, or of one doctor's visits, would describe individuals.
    Incremental by ISO week: a build replaces the weeks whose cells were recomputed.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='week',
    scope_column='act_date',
) }}
with

cells as (

    select * from {{ ref('disclosure_controlled_cells') }}
    where
        family like 'association_%'
        and {{ in_scope(ref('disclosure_controlled_cells')) }}

),

acts as (

    select * from {{ ref('int_surveillance_acts_classified') }}
    where {{ in_scope(ref('int_surveillance_acts_classified'), column='week_start_date') }}

),

acts_by_band as (

    select
        acts.association_id,
        acts.act_date,
        case when band_levels.band_level = 'all' then 'all' else acts.hour_band end as hour_band,
        acts.provider_id,
        acts.arrival_delay_minutes

    from acts
    cross join (values ('band'), ('all')) as band_levels (band_level)

),

delays as (

    select
        association_id,
        act_date,
        hour_band,
        {{ delay_statistics({'median_delay': 0.5, 'p90_delay': 0.9}) }}

    from acts_by_band
    group by all

),

pivoted as (

    select
        association_id,
        period_start as act_date,
        iso_week,
        hour_band,
        {{ cells_pivoted_by_family({
            'association_acts': 'act_count',
            'association_emergency_referrals': 'emergency_referral_count',
            'association_hospitalisations': 'hospitalisation_count',
        }) }}

    from cells
    group by all

),

final as (

    select
        pivoted.association_id,
        pivoted.hour_band,
        pivoted.act_date,
        pivoted.iso_week,
        pivoted.act_count,
        pivoted.emergency_referral_count,
        pivoted.hospitalisation_count,
        {{ share_pct('pivoted.emergency_referral_count', 'pivoted.act_count') }}
            as emergency_referral_share_pct,
        {{ share_pct('pivoted.hospitalisation_count', 'pivoted.act_count') }} as hospitalisation_share_pct,
        {{ published_delay('delays.median_delay', 'pivoted.act_count') }} as median_arrival_delay_minutes,
        {{ published_delay('delays.p90_delay', 'pivoted.act_count') }} as p90_arrival_delay_minutes,
        pivoted.is_act_count_suppressed,
        pivoted.is_emergency_referral_count_suppressed,
        pivoted.is_hospitalisation_count_suppressed

    from pivoted
    left join delays
        on
            pivoted.association_id = delays.association_id
            and pivoted.act_date = delays.act_date
            and pivoted.hour_band = delays.hour_band

)

select * from final
