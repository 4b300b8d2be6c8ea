{#-
    SurSaUD-style weekly syndromic indicators: one row per syndromic group, age class, area and ISO
    week (Monday to Sunday). Suppressed jointly with the daily mart: a week's count and its seven days
    never let a suppressed day be recovered.
    Incremental by ISO week: a build replaces the weeks whose cells were recomputed.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='week',
) }}
with

indicators as (

    select * from {{ ref('int_syndromic_indicators_joined') }}
    where
        period_type = 'week'
        and {{ in_scope(ref('int_syndromic_indicators_joined'), column='period_start') }}

),

final as (

    select
        syndrome_group,
        syndrome_label_fr,
        age_class,
        geo_level,
        geo_code,
        geo_name,
        parent_geo_code,
        iso_week,
        period_start as week_start_date,
        is_in_surveillance_period,
        act_count,
        coded_act_count,
        syndrome_act_count,
        coding_rate_pct,
        syndrome_share_of_coded_pct,
        covered_population,
        area_population,
        population_coverage_pct,
        incidence_per_100k,
        is_act_count_suppressed,
        is_coded_act_count_suppressed,
        is_syndrome_act_count_suppressed

    from indicators

)

select * from final
