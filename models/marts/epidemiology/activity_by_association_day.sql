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
{%- set k = var('disclosure_k', 11) -%}
{%- set min_contributors = var('disclosure_min_contributors', 3) -%}
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
        count(arrival_delay_minutes) as delay_count,
        count(distinct provider_id) filter (where arrival_delay_minutes is not null) as delay_doctor_count,
        quantile_cont(arrival_delay_minutes, 0.5) as median_delay,
        quantile_cont(arrival_delay_minutes, 0.9) as p90_delay

    from acts_by_band
    group by all

),

pivoted as (

    select
        association_id,
        period_start as act_date,
        iso_week,
        hour_band,
        max(cell_count) filter (where family = 'association_acts') as act_count,
        max(cell_count) filter (where family = 'association_emergency_referrals') as emergency_referral_count,
        max(cell_count) filter (where family = 'association_hospitalisations') as hospitalisation_count,
        bool_or(is_suppressed) filter (where family = 'association_acts') as is_act_count_suppressed,
        bool_or(is_suppressed) filter (where family = 'association_emergency_referrals')
            as is_emergency_referral_count_suppressed,
        bool_or(is_suppressed) filter (where family = 'association_hospitalisations')
            as is_hospitalisation_count_suppressed

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
        round(100.0 * pivoted.emergency_referral_count / nullif(pivoted.act_count, 0), 2)
            as emergency_referral_share_pct,
        round(100.0 * pivoted.hospitalisation_count / nullif(pivoted.act_count, 0), 2)
            as hospitalisation_share_pct,
        case
            when
                pivoted.act_count is not null
                and delays.delay_count >= {{ k }}
                and delays.delay_doctor_count >= {{ min_contributors }}
                then round(delays.median_delay)
        end as median_arrival_delay_minutes,
        case
            when
                pivoted.act_count is not null
                and delays.delay_count >= {{ k }}
                and delays.delay_doctor_count >= {{ min_contributors }}
                then round(delays.p90_delay)
        end as p90_arrival_delay_minutes,
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
