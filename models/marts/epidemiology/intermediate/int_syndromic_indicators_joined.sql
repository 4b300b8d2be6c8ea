{#-
    The syndromic indicators of every period type (day and ISO week) side by side: the syndrome's
    count, the acts and coded acts of the same cell, the area's population and the population the
    network covers (incidence is over the covered population only; see
    int_surveillance_departements_covered), and whether the week is in the group's surveillance period
    (seeds/surveillance/surveillance_periods.csv). Rates are computed here once,
    and only from published counts: a NULL (suppressed) count gives a NULL rate, so a rate never
    reveals a suppressed count. The day and week marts select from it. Left joins (every syndrome cell
    has its acts and coded-acts cells by construction): see int_surveillance_acts_classified.
    A syndrome published in merged age classes (seeds/surveillance/age_class_schemes.csv, e.g. `00-14`)
    takes the acts, coded acts and population of the class as the sum over its detailed classes, NULL
    when one of them is suppressed: a sum of published counts, so it tells a reader nothing more
    (ingest/disclosure/attack.py reads it as that sum, not as a cell of its own).
-#}
with

cells as (

    select * from {{ ref('disclosure_controlled_cells') }}

),

age_class_schemes as (

    select * from {{ ref('age_class_schemes') }}

),

{# Each published age class with the detailed classes it adds up (a detailed class and `all`: itself). #}
age_class_parts as (

    select distinct
        published_age_class as age_class,
        age_class as part_age_class

    from age_class_schemes

    union all

    select
        'all' as age_class,
        'all' as part_age_class

),

population as (

    select
        population.population_year,
        population.geo_level,
        population.geo_code,
        age_class_parts.age_class,
        sum(population.population) as population

    from {{ ref('int_population_by_area_and_age_class') }} as population
    inner join age_class_parts
        on population.age_class = age_class_parts.part_age_class
    group by all

),

covered_population as (

    select
        covered.week_start_date,
        covered.geo_level,
        covered.geo_code,
        age_class_parts.age_class,
        sum(covered.covered_population) as covered_population

    from {{ ref('int_population_covered_by_area_and_age_class') }} as covered
    inner join age_class_parts
        on covered.age_class = age_class_parts.part_age_class
    group by all

),

surveillance_periods as (

    select * from {{ ref('surveillance_periods') }}

),

population_years as (

    select
        min(population_year) as first_year,
        max(population_year) as last_year

    from population

),

syndromic_groups as (

    select * from {{ ref('syndromic_groups') }}

),

departements as (

    select * from {{ ref('departements') }}

),

regions as (

    select * from {{ ref('regions') }}

),

syndrome_cells as (

    select * from cells
    where family = 'syndrome_acts'

),

{# The acts and coded acts of every published age class, merged ones summed from their classes. #}
class_cells as (

    select
        cells.family,
        age_class_parts.age_class,
        cells.geo_level,
        cells.geo_code,
        cells.period_type,
        cells.period_start,
        case when bool_or(cells.is_suppressed) then null else sum(cells.cell_count) end as cell_count,
        bool_or(cells.is_suppressed) as is_suppressed

    from cells
    inner join age_class_parts
        on cells.age_class = age_class_parts.part_age_class
    where cells.family in ('acts', 'coded_acts')
    group by all

),

act_cells as (

    select * from class_cells
    where family = 'acts'

),

coded_cells as (

    select * from class_cells
    where family = 'coded_acts'

),

joined as (

    select
        syndrome_cells.syndrome_group,
        syndromic_groups.label_fr as syndrome_label_fr,
        syndrome_cells.age_class,
        syndrome_cells.geo_level,
        syndrome_cells.geo_code,
        case
            when syndrome_cells.geo_level = 'france' then 'France'
            when syndrome_cells.geo_code = 'XX' then 'Non renseigné'
            when syndrome_cells.geo_level = 'region' then regions.reg_name
            else departements.dep_name
        end as geo_name,
        syndrome_cells.parent_geo_code,
        syndrome_cells.period_type,
        syndrome_cells.period_start,
        syndrome_cells.iso_week,
        act_cells.cell_count as act_count,
        coded_cells.cell_count as coded_act_count,
        syndrome_cells.cell_count as syndrome_act_count,
        population.population as area_population,
        covered_population.covered_population,
        {{ in_surveillance_period('syndrome_cells.period_start', 'surveillance_periods') }}
            as is_in_surveillance_period,
        act_cells.is_suppressed as is_act_count_suppressed,
        coded_cells.is_suppressed as is_coded_act_count_suppressed,
        syndrome_cells.is_suppressed as is_syndrome_act_count_suppressed

    from syndrome_cells
    left join syndromic_groups
        on syndrome_cells.syndrome_group = syndromic_groups.syndrome_group
    left join act_cells
        on
            syndrome_cells.age_class = act_cells.age_class
            and syndrome_cells.geo_level = act_cells.geo_level
            and syndrome_cells.geo_code = act_cells.geo_code
            and syndrome_cells.period_type = act_cells.period_type
            and syndrome_cells.period_start = act_cells.period_start
    left join coded_cells
        on
            syndrome_cells.age_class = coded_cells.age_class
            and syndrome_cells.geo_level = coded_cells.geo_level
            and syndrome_cells.geo_code = coded_cells.geo_code
            and syndrome_cells.period_type = coded_cells.period_type
            and syndrome_cells.period_start = coded_cells.period_start
    cross join population_years
    left join population
        on
            syndrome_cells.geo_level = population.geo_level
            and syndrome_cells.geo_code = population.geo_code
            and syndrome_cells.age_class = population.age_class
            {#- The nearest INSEE year when the period is outside the estimates. #}
            and population.population_year = least(
                greatest(year(syndrome_cells.period_start), population_years.first_year),
                population_years.last_year
            )
    left join covered_population
        on
            syndrome_cells.geo_level = covered_population.geo_level
            and syndrome_cells.geo_code = covered_population.geo_code
            and syndrome_cells.age_class = covered_population.age_class
            and cast(date_trunc('week', syndrome_cells.period_start) as date)
            = covered_population.week_start_date
    left join surveillance_periods
        on syndromic_groups.surveillance_period = surveillance_periods.surveillance_period
    left join departements
        on
            syndrome_cells.geo_level = 'departement'
            and syndrome_cells.geo_code = departements.dep_code
    left join regions
        on
            syndrome_cells.geo_level = 'region'
            and syndrome_cells.geo_code = regions.reg_code

),

with_rates as (

    select
        *,
        {{ share_pct('coded_act_count', 'act_count') }} as coding_rate_pct,
        {{ share_pct('syndrome_act_count', 'coded_act_count') }} as syndrome_share_of_coded_pct,
        {{ share_pct('covered_population', 'area_population', digits=1) }} as population_coverage_pct,
        round(
            cast(100000 as double) * syndrome_act_count / nullif(covered_population, 0), 3
        ) as incidence_per_100k

    from joined

)

select * from with_rates
