{#-
    Where patients go after the act, per syndromic group: one row per group, area (région, France)
    and ISO week, all ages. The denominator is the syndrome's weekly count, the very cell of
    syndromic_indicators_by_week (same suppression). Referral and hospitalisation counts are cells of
    their own, suppressed over régions -> France. The home-visit delay median needs at least k visits
    by at least `disclosure_min_contributors` doctors.
    Incremental by ISO week: a build replaces the weeks whose cells were recomputed.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='week',
) }}
{%- set k = var('disclosure_k', 11) -%}
{%- set min_contributors = var('disclosure_min_contributors', 3) -%}
with

cells as (

    select * from {{ ref('disclosure_controlled_cells') }}
    where
        family in ('syndrome_acts', 'pathway_emergency_referrals', 'pathway_hospitalisations')
        and age_class = 'all'
        and geo_level in ('region', 'france')
        and period_type = 'week'
        and {{ in_scope(ref('disclosure_controlled_cells')) }}

),

acts as (

    select * from {{ ref('int_surveillance_acts_classified') }}
    where {{ in_scope(ref('int_surveillance_acts_classified')) }}

),

act_syndromes as (

    select * from {{ ref('int_surveillance_act_syndromes') }}
    where {{ in_scope(ref('int_surveillance_act_syndromes')) }}

),

syndromic_groups as (

    select * from {{ ref('syndromic_groups') }}

),

regions as (

    select * from {{ ref('regions') }}

),

syndrome_acts_by_area as (

    select
        act_syndromes.syndrome_group,
        geo_levels.geo_level,
        case when geo_levels.geo_level = 'france' then 'FR' else acts.region_code end as geo_code,
        acts.week_start_date,
        acts.provider_id,
        acts.arrival_delay_minutes

    from acts
    left join act_syndromes
        on acts.visit_occurrence_id = act_syndromes.visit_occurrence_id
    cross join (values ('region'), ('france')) as geo_levels (geo_level)
    where act_syndromes.syndrome_group is not null

),

delays as (

    select
        syndrome_group,
        geo_level,
        geo_code,
        week_start_date,
        count(arrival_delay_minutes) as delay_count,
        count(distinct provider_id) filter (where arrival_delay_minutes is not null) as delay_doctor_count,
        quantile_cont(arrival_delay_minutes, 0.5) as median_delay

    from syndrome_acts_by_area
    group by all

),

pivoted as (

    select
        syndrome_group,
        geo_level,
        geo_code,
        parent_geo_code,
        iso_week,
        period_start as week_start_date,
        max(cell_count) filter (where family = 'syndrome_acts') as syndrome_act_count,
        max(cell_count) filter (where family = 'pathway_emergency_referrals') as emergency_referral_count,
        max(cell_count) filter (where family = 'pathway_hospitalisations') as hospitalisation_count,
        bool_or(is_suppressed) filter (where family = 'syndrome_acts') as is_syndrome_act_count_suppressed,
        bool_or(is_suppressed) filter (where family = 'pathway_emergency_referrals')
            as is_emergency_referral_count_suppressed,
        bool_or(is_suppressed) filter (where family = 'pathway_hospitalisations')
            as is_hospitalisation_count_suppressed

    from cells
    group by all

),

final as (

    select
        pivoted.syndrome_group,
        syndromic_groups.label_fr as syndrome_label_fr,
        pivoted.geo_level,
        pivoted.geo_code,
        case
            when pivoted.geo_level = 'france' then 'France'
            when pivoted.geo_code = 'XX' then 'Non renseigné'
            else regions.reg_name
        end as geo_name,
        pivoted.parent_geo_code,
        pivoted.iso_week,
        pivoted.week_start_date,
        pivoted.syndrome_act_count,
        pivoted.emergency_referral_count,
        pivoted.hospitalisation_count,
        round(100.0 * pivoted.emergency_referral_count / nullif(pivoted.syndrome_act_count, 0), 2)
            as emergency_referral_share_pct,
        round(100.0 * pivoted.hospitalisation_count / nullif(pivoted.syndrome_act_count, 0), 2)
            as hospitalisation_share_pct,
        case
            when
                pivoted.syndrome_act_count is not null
                and delays.delay_count >= {{ k }}
                and delays.delay_doctor_count >= {{ min_contributors }}
                then round(delays.median_delay)
        end as median_arrival_delay_minutes,
        pivoted.is_syndrome_act_count_suppressed,
        pivoted.is_emergency_referral_count_suppressed,
        pivoted.is_hospitalisation_count_suppressed

    from pivoted
    left join syndromic_groups
        on pivoted.syndrome_group = syndromic_groups.syndrome_group
    left join regions
        on
            pivoted.geo_level = 'region'
            and pivoted.geo_code = regions.reg_code
    left join delays
        on
            pivoted.syndrome_group = delays.syndrome_group
            and pivoted.geo_level = delays.geo_level
            and pivoted.geo_code = delays.geo_code
            and pivoted.week_start_date = delays.week_start_date

)

select * from final
