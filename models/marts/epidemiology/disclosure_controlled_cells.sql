{#-
    Every count the epidemiology marts publish, one row per cell, after disclosure control: the single
    place where cells are counted and suppressed, so that a cell shared by two marts (the weekly total
    of a day table, the network's daily total of the association table) is suppressed the same way in
    both, and complementary suppression sees every margin at once.
    Families of cells (`family`):
      acts, coded_acts, syndrome_acts         age class x geography x day and ISO week
      association_acts, association_emergency_referrals, association_hospitalisations
                                              association x day x hour band (and all bands)
      pathway_emergency_referrals, pathway_hospitalisations
                                              syndrome x région and France x ISO week
      death_certificates                      age class x région and France x ISO week
    The grid is dense (zero cells included) over the observed period, geographies and associations: a
    missing cell would be a known zero anyway, and zeros are needed to judge margins.
    Joins are left joins (with explicit filters) for the reason given in
    int_acts_classified_for_surveillance.
    Primary suppression: a count between 1 and k-1, or made of fewer than `disclosure_min_contributors`
    distinct doctors. Complementary suppression: the post-hook (macros/disclosure/suppression.sql),
    which also sets every suppressed count to NULL.
    Incremental by ISO week: every margin group lies within one ISO week (its days and the week), so a
    build deletes and recomputes only the weeks int_surveillance_weeks_changed lists, primary and
    complementary suppression included, and gets the cells a full build gets. The dense grid's areas,
    associations and first and last days still come from every act.
-#}
{%- set dims = [
    'family', 'syndrome_group', 'age_class', 'geo_level', 'geo_code', 'period_type', 'period_start',
    'association_id', 'hour_band'
] -%}
{%- set k = var('disclosure_k', 11) -%}
{%- set min_contributors = var('disclosure_min_contributors', 3) -%}
{%- set key_parts = [] -%}
{%- for dim in dims -%}
    {%- do key_parts.append("coalesce(cast(" ~ dim ~ " as varchar), '~')") -%}
{%- endfor -%}
{%- set cell_key = "md5(concat_ws('|', " ~ (key_parts | join(', ')) ~ "))" -%}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_incremental_scope([\"cast(date_trunc('week', period_start) as date)\"], changed_week_starts()) }}",
    post_hook="{{ disclosure_suppress_complementary(this, margins=epidemiology_cell_margins(), scope_where=in_incremental_scope([\"cast(date_trunc('week', period_start) as date)\"], changed_week_starts())) }}",
) }}
with

all_acts as (

    select * from {{ ref('int_acts_classified_for_surveillance') }}

),

acts as (

    select * from all_acts
    where {{ in_incremental_scope(['week_start_date'], changed_week_starts()) }}

),

act_syndromes as (

    select * from {{ ref('int_act_syndromes_identified') }}
    where {{ in_incremental_scope(['week_start_date'], changed_week_starts()) }}

),

syndromic_groups as (

    select * from {{ ref('syndromic_groups') }}

),

age_classes as (

    select * from {{ ref('age_classes') }}

),

hour_bands as (

    select bands.hour_band
    from (values ('day'), ('evening'), ('night'), ('weekend_holiday'), ('all')) as bands (hour_band)

),

days as (

    select cast(range as date) as period_start
    from
        range(
            (select min(act_date) from all_acts),
            (select max(act_date) from all_acts) + interval 1 day,
            interval 1 day
        )
    where {{ in_incremental_scope(["cast(date_trunc('week', range) as date)"], changed_week_starts()) }}

),

periods as (

    select
        'day' as period_type,
        period_start,
        strftime(period_start, '%G-W%V') as iso_week

    from days

    union all

    select distinct
        'week' as period_type,
        cast(date_trunc('week', period_start) as date) as period_start,
        strftime(period_start, '%G-W%V') as iso_week

    from days

),

associations as (

    select distinct association_id
    from all_acts

),

geographies as (

    select distinct
        'departement' as geo_level,
        department_code as geo_code,
        'region' as parent_geo_level,
        region_code as parent_geo_code

    from all_acts

    union all

    select distinct
        'region' as geo_level,
        region_code as geo_code,
        'france' as parent_geo_level,
        'FR' as parent_geo_code

    from all_acts

    union all

    select
        'france' as geo_level,
        'FR' as geo_code,
        cast(null as varchar) as parent_geo_level,
        cast(null as varchar) as parent_geo_code

),

{# Each act counted once per age level (its class, all), geography level and period type. #}
acts_fanned_out as (

    select
        acts.visit_occurrence_id,
        acts.provider_id,
        acts.is_coded,
        acts.is_referred_to_emergency,
        acts.is_hospitalised,
        acts.outcome,
        age_levels.age_level,
        case when age_levels.age_level = 'all' then 'all' else acts.age_class end as age_class,
        geo_levels.geo_level,
        case geo_levels.geo_level
            when 'departement' then acts.department_code
            when 'region' then acts.region_code
            else 'FR'
        end as geo_code,
        period_types.period_type,
        case when period_types.period_type = 'day' then acts.act_date else acts.week_start_date end
            as period_start

    from acts
    cross join (values ('class'), ('all')) as age_levels (age_level)
    cross join (values ('departement'), ('region'), ('france')) as geo_levels (geo_level)
    cross join (values ('day'), ('week')) as period_types (period_type)

),

{# Each act counted once in its hour band and once in all bands. #}
association_acts as (

    select
        acts.association_id,
        acts.act_date,
        acts.provider_id,
        acts.is_referred_to_emergency,
        acts.is_hospitalised,
        case when band_levels.band_level = 'all' then 'all' else acts.hour_band end as hour_band

    from acts
    cross join (values ('band'), ('all')) as band_levels (band_level)

),

facts as (

    select
        'acts' as family,
        cast(null as varchar) as syndrome_group,
        age_class,
        geo_level,
        geo_code,
        period_type,
        period_start,
        cast(null as varchar) as association_id,
        cast(null as varchar) as hour_band,
        provider_id

    from acts_fanned_out

    union all

    select
        'coded_acts' as family,
        null as syndrome_group,
        age_class,
        geo_level,
        geo_code,
        period_type,
        period_start,
        null as association_id,
        null as hour_band,
        provider_id

    from acts_fanned_out
    where is_coded

    union all

    select
        'syndrome_acts' as family,
        act_syndromes.syndrome_group,
        acts_fanned_out.age_class,
        acts_fanned_out.geo_level,
        acts_fanned_out.geo_code,
        acts_fanned_out.period_type,
        acts_fanned_out.period_start,
        null as association_id,
        null as hour_band,
        acts_fanned_out.provider_id

    from acts_fanned_out
    left join act_syndromes
        on acts_fanned_out.visit_occurrence_id = act_syndromes.visit_occurrence_id
    where act_syndromes.syndrome_group is not null

    union all

    select
        'pathway_' || outcome_families.family_suffix as family,
        act_syndromes.syndrome_group,
        acts_fanned_out.age_class,
        acts_fanned_out.geo_level,
        acts_fanned_out.geo_code,
        acts_fanned_out.period_type,
        acts_fanned_out.period_start,
        null as association_id,
        null as hour_band,
        acts_fanned_out.provider_id

    from acts_fanned_out
    left join act_syndromes
        on acts_fanned_out.visit_occurrence_id = act_syndromes.visit_occurrence_id
    left join (
        values ('URG', 'emergency_referrals'), ('HOSP', 'hospitalisations')
    ) as outcome_families (outcome, family_suffix)
        on acts_fanned_out.outcome = outcome_families.outcome
    where
        act_syndromes.syndrome_group is not null
        and outcome_families.family_suffix is not null
        and acts_fanned_out.age_level = 'all'
        and acts_fanned_out.geo_level != 'departement'
        and acts_fanned_out.period_type = 'week'

    union all

    select
        'death_certificates' as family,
        null as syndrome_group,
        age_class,
        geo_level,
        geo_code,
        period_type,
        period_start,
        null as association_id,
        null as hour_band,
        provider_id

    from acts_fanned_out
    where
        outcome = 'DC'
        and geo_level != 'departement'
        and period_type = 'week'

    union all

    select
        'association_' || measures.measure as family,
        null as syndrome_group,
        null as age_class,
        null as geo_level,
        null as geo_code,
        'day' as period_type,
        association_acts.act_date as period_start,
        association_acts.association_id,
        association_acts.hour_band,
        association_acts.provider_id

    from association_acts
    left join (
        values ('acts'), ('emergency_referrals'), ('hospitalisations')
    ) as measures (measure)
        on
            measures.measure = 'acts'
            or (measures.measure = 'emergency_referrals' and association_acts.is_referred_to_emergency)
            or (measures.measure = 'hospitalisations' and association_acts.is_hospitalised)

),

counted as (

    select
        {{ cell_key }} as cell_id,
        count(*) as cell_count,
        count(distinct provider_id) as contributor_count

    from facts
    group by all

),

grid as (

    {#- acts and coded acts: age class x geography x period -#}
    select
        families.family,
        null as syndrome_group,
        age_classes.age_class,
        geographies.geo_level,
        geographies.geo_code,
        geographies.parent_geo_level,
        geographies.parent_geo_code,
        periods.period_type,
        periods.period_start,
        periods.iso_week,
        null as association_id,
        null as hour_band

    from (values ('acts'), ('coded_acts')) as families (family)
    cross join age_classes
    cross join geographies
    cross join periods

    union all

    select
        'syndrome_acts' as family,
        syndromic_groups.syndrome_group,
        age_classes.age_class,
        geographies.geo_level,
        geographies.geo_code,
        geographies.parent_geo_level,
        geographies.parent_geo_code,
        periods.period_type,
        periods.period_start,
        periods.iso_week,
        null as association_id,
        null as hour_band

    from syndromic_groups
    cross join age_classes
    cross join geographies
    cross join periods

    union all

    select
        families.family,
        syndromic_groups.syndrome_group,
        'all' as age_class,
        geographies.geo_level,
        geographies.geo_code,
        geographies.parent_geo_level,
        geographies.parent_geo_code,
        periods.period_type,
        periods.period_start,
        periods.iso_week,
        null as association_id,
        null as hour_band

    from (values ('pathway_emergency_referrals'), ('pathway_hospitalisations')) as families (family)
    cross join syndromic_groups
    cross join geographies
    cross join periods
    where
        geographies.geo_level != 'departement'
        and periods.period_type = 'week'

    union all

    select
        'death_certificates' as family,
        null as syndrome_group,
        age_classes.age_class,
        geographies.geo_level,
        geographies.geo_code,
        geographies.parent_geo_level,
        geographies.parent_geo_code,
        periods.period_type,
        periods.period_start,
        periods.iso_week,
        null as association_id,
        null as hour_band

    from age_classes
    cross join geographies
    cross join periods
    where
        geographies.geo_level != 'departement'
        and periods.period_type = 'week'

    union all

    select
        families.family,
        null as syndrome_group,
        null as age_class,
        null as geo_level,
        null as geo_code,
        null as parent_geo_level,
        null as parent_geo_code,
        periods.period_type,
        periods.period_start,
        periods.iso_week,
        associations.association_id,
        hour_bands.hour_band

    from (
        values ('association_acts'), ('association_emergency_referrals'), ('association_hospitalisations')
    ) as families (family)
    cross join associations
    cross join periods
    cross join hour_bands
    where periods.period_type = 'day'

),

cells as (

    select
        {{ cell_key }} as cell_id,
        family,
        syndrome_group,
        age_class,
        geo_level,
        geo_code,
        parent_geo_level,
        parent_geo_code,
        period_type,
        period_start,
        iso_week,
        association_id,
        hour_band

    from grid

),

primary_suppressed as (

    select
        cells.*,
        coalesce(counted.cell_count, 0) as cell_count,
        coalesce(counted.contributor_count, 0) as contributor_count,
        coalesce(
            counted.cell_count between 1 and {{ k - 1 }}
            or (counted.cell_count > 0 and counted.contributor_count < {{ min_contributors }}),
            false
        ) as is_suppressed,
        case
            when counted.cell_count between 1 and {{ k - 1 }} then 'primary_cell_size'
            when counted.cell_count > 0 and counted.contributor_count < {{ min_contributors }}
                then 'primary_contributors'
        end as suppression_reason

    from cells
    left join counted
        on cells.cell_id = counted.cell_id

)

select * from primary_suppressed
