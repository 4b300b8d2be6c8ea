{#-
    The cells of disclosure_controlled_cells counting a syndromic group's acts (family `syndrome_acts`:
    syndrome x age class x geography x period, where published) and their care pathway (families
    `pathway_emergency_referrals`, `pathway_hospitalisations`: syndrome x région and France x ISO week,
    all ages), zeros included, counted as int_cells_acts counts (per doctor, then rolled up). What is
    published of a group is declared in seeds/surveillance/syndromic_groups.csv: by age class and by
    day only if `is_published_in_detail` (else weekly, all ages), and outside its surveillance period only if `is_published_all_year`.
    Its age classes are those of its `age_class_scheme` (seeds/surveillance/age_class_schemes.csv: e.g.
    under 15 years as one class where the class under 2 is routinely below k), at every level and
    period, so that its classes add up to all ages everywhere.
-#}
with

acts as (

    select * from {{ ref('int_cells_acts_in_scope') }}

),

act_syndromes as (

    select * from {{ ref('int_surveillance_act_syndromes') }}
    where {{ in_scope(ref('int_surveillance_act_syndromes'), column='week_start_date') }}

),

syndromic_groups as (

    select * from {{ ref('syndromic_groups') }}

),

age_class_schemes as (

    select * from {{ ref('age_class_schemes') }}

),

surveillance_periods as (

    select * from {{ ref('surveillance_periods') }}

),

groups as (

    select
        syndromic_groups.syndrome_group,
        syndromic_groups.is_published_in_detail,
        syndromic_groups.is_published_all_year,
        syndromic_groups.age_class_scheme,
        surveillance_periods.first_iso_week,
        surveillance_periods.last_iso_week

    from syndromic_groups
    left join surveillance_periods
        on syndromic_groups.surveillance_period = surveillance_periods.surveillance_period

),

cell_grid as (

    select * from {{ ref('int_cells_grid') }}

),

provider_syndrome_acts as (

    select
        acts.provider_id,
        act_syndromes.syndrome_group,
        age_class_schemes.published_age_class as age_class,
        acts.department_code,
        acts.region_code,
        acts.act_date,
        acts.week_start_date,
        count(*) as syndrome_act_count,
        count(*) filter (where acts.outcome = 'URG') as emergency_referral_count,
        count(*) filter (where acts.outcome = 'HOSP') as hospitalisation_count

    from acts
    inner join act_syndromes
        on acts.visit_occurrence_id = act_syndromes.visit_occurrence_id
    inner join groups
        on act_syndromes.syndrome_group = groups.syndrome_group
    inner join age_class_schemes
        on
            groups.age_class_scheme = age_class_schemes.age_class_scheme
            and acts.age_class = age_class_schemes.age_class
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

    {{ surveillance_cells_counted(
        'provider_syndrome_acts_by_cell',
        keys=['syndrome_group', 'age_class', 'geo_level', 'geo_code', 'period_type', 'period_start'],
        measures=['syndrome_act_count', 'emergency_referral_count', 'hospitalisation_count'],
    ) }}

),

grid as (

    select
        families.family,
        groups.syndrome_group,
        cell_grid.*,
        null as association_id,
        null as hour_band

    from (
        values ('syndrome_acts'), ('pathway_emergency_referrals'), ('pathway_hospitalisations')
    ) as families (family)
    cross join groups
    inner join cell_grid
        on groups.age_class_scheme = cell_grid.age_class_scheme
    where
        (
            groups.is_published_all_year
            or {{ in_surveillance_period('cell_grid.period_start', 'groups') }}
        )
        and case
            when families.family = 'syndrome_acts'
                then
                    groups.is_published_in_detail
                    or (cell_grid.age_class = 'all' and cell_grid.period_type = 'week')
            else
                cell_grid.age_class = 'all'
                and cell_grid.geo_level != 'departement'
                and cell_grid.period_type = 'week'
        end

)

{{ surveillance_cells_from_grid(
    'grid', 'syndrome_acts_by_cell',
    measures={
        'syndrome_acts': 'syndrome_act_count',
        'pathway_emergency_referrals': 'emergency_referral_count',
        'pathway_hospitalisations': 'hospitalisation_count',
    },
    join_on=[
        ['syndrome_group', 'syndrome_group'], ['age_class', 'age_class'], ['geo_level', 'geo_level'],
        ['geo_code', 'geo_code'], ['period_type', 'period_type'], ['period_start', 'period_start'],
    ],
) }}
