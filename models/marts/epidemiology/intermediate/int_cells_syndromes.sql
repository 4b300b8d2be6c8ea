{#-
    The cells of disclosure_controlled_cells counting a syndromic group's acts (family `syndrome_acts`:
    syndrome x age class x geography x period, where published) and their care pathway (families
    `pathway_emergency_referrals`, `pathway_hospitalisations`: syndrome x région and France x ISO week,
    all ages), zeros included, counted as int_cells_acts counts (per doctor, then rolled up).
-#}
with

acts as (

    select * from {{ ref('int_surveillance_acts_classified') }}
    where {{ surveillance_cells_in_scope('week_start_date') }}

),

act_syndromes as (

    select * from {{ ref('int_surveillance_act_syndromes') }}
    where {{ surveillance_cells_in_scope('week_start_date') }}

),

syndromic_groups as (

    select * from {{ ref('syndromic_groups') }}

),

age_classes as (

    select * from {{ ref('age_classes') }}

),

geographies as (

    select * from {{ ref('int_cells_geographies') }}

),

periods as (

    select * from {{ ref('int_cells_periods') }}

),

provider_syndrome_acts as (

    select
        acts.provider_id,
        act_syndromes.syndrome_group,
        acts.age_class,
        acts.department_code,
        acts.region_code,
        acts.act_date,
        acts.week_start_date,
        count(*) as syndrome_act_count,
        count(*) filter (where acts.outcome = 'URG') as emergency_referral_count,
        count(*) filter (where acts.outcome = 'HOSP') as hospitalisation_count

    from acts
    left join act_syndromes
        on acts.visit_occurrence_id = act_syndromes.visit_occurrence_id
    where act_syndromes.syndrome_group is not null
    group by all

),

provider_syndrome_acts_by_cell as (

    {{ surveillance_cell_rollup(
        'provider_syndrome_acts',
        ['syndrome_act_count', 'emergency_referral_count', 'hospitalisation_count'],
        keys=['syndrome_group'],
    ) }}

),

syndrome_acts_by_cell as (

    select
        syndrome_group,
        age_class,
        geo_level,
        geo_code,
        period_type,
        period_start,
        sum(syndrome_act_count) as syndrome_act_count,
        count(*) as syndrome_act_contributor_count,
        sum(emergency_referral_count) as emergency_referral_count,
        count(*) filter (where emergency_referral_count > 0) as emergency_referral_contributor_count,
        sum(hospitalisation_count) as hospitalisation_count,
        count(*) filter (where hospitalisation_count > 0) as hospitalisation_contributor_count

    from provider_syndrome_acts_by_cell
    group by all

),

grid as (

    select
        families.family,
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

    from (
        values ('syndrome_acts'), ('pathway_emergency_referrals'), ('pathway_hospitalisations')
    ) as families (family)
    cross join syndromic_groups
    cross join age_classes
    cross join geographies
    cross join periods
    where
        case
            when families.family = 'syndrome_acts' then {{ surveillance_cell_published() }}
            else
                age_classes.age_class = 'all'
                and geographies.geo_level != 'departement'
                and periods.period_type = 'week'
        end

)

{{ surveillance_cells_from_grid(
    'grid', 'syndrome_acts_by_cell',
    counts={
        'syndrome_acts': ['syndrome_act_count', 'syndrome_act_contributor_count'],
        'pathway_emergency_referrals': ['emergency_referral_count', 'emergency_referral_contributor_count'],
        'pathway_hospitalisations': ['hospitalisation_count', 'hospitalisation_contributor_count'],
    },
    join_on=[
        ['syndrome_group', 'syndrome_group'], ['age_class', 'age_class'], ['geo_level', 'geo_level'],
        ['geo_code', 'geo_code'], ['period_type', 'period_type'], ['period_start', 'period_start'],
    ],
) }}
