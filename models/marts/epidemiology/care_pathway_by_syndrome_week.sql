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
        {{ delay_statistics({'median_delay': 0.5}) }}

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
        {{ cells_pivoted_by_family({
            'syndrome_acts': 'syndrome_act_count',
            'pathway_emergency_referrals': 'emergency_referral_count',
            'pathway_hospitalisations': 'hospitalisation_count',
        }) }}

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
        {{ share_pct('pivoted.emergency_referral_count', 'pivoted.syndrome_act_count') }}
            as emergency_referral_share_pct,
        {{ share_pct('pivoted.hospitalisation_count', 'pivoted.syndrome_act_count') }}
            as hospitalisation_share_pct,
        {{ published_delay('delays.median_delay', 'pivoted.syndrome_act_count') }}
            as median_arrival_delay_minutes,
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
