{#-
    The FULL (unsuppressed) weekly count of each syndromic group by région and for France, all ages: what
    epidemic_baseline_by_week fits its regression on (dropping the weeks that disclosure control
    suppresses would drop the smallest ones and bias the baseline upwards). Never published: it lives in
    the intermediate schema of the encrypted warehouse; only the fitted values leave it, under the
    baseline model's own disclosure rule. Weeks without an act of the group have no row (zero).
    Incremental by ISO week, as the weekly mart: a build replaces the weeks whose acts changed.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='week',
) }}
with

acts as (

    select * from {{ ref('int_surveillance_acts_classified') }}
    where
        {{ in_scope(ref('int_surveillance_acts_classified')) }}

),

act_syndromes as (

    select * from {{ ref('int_surveillance_act_syndromes') }}
    where
        {{ in_scope(ref('int_surveillance_act_syndromes')) }}

),

by_region as (

    select
        act_syndromes.syndrome_group,
        acts.region_code,
        acts.week_start_date,
        count(*) as full_count

    from act_syndromes
    left join acts
        on act_syndromes.visit_occurrence_id = acts.visit_occurrence_id
    where acts.visit_occurrence_id is not null
    group by all

),

final as (

    select
        syndrome_group,
        'region' as geo_level,
        region_code as geo_code,
        week_start_date,
        full_count

    from by_region

    union all

    select
        syndrome_group,
        'france' as geo_level,
        'FR' as geo_code,
        week_start_date,
        sum(full_count) as full_count

    from by_region
    group by all

)

select * from final
