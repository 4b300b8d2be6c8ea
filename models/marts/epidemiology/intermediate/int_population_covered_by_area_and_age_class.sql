{#-
    Population of each area and age class covered by the network (the covered départements of the week,
    int_surveillance_departements_covered), by ISO week: the denominator of incidence. A région or France counts only its covered départements; a département is
    covered or not. Public data and a coverage flag: no disclosure control needed.
-#}
with

population as (

    select * from {{ ref('int_population_by_area_and_age_class') }}
    where geo_level = 'departement'

),

covered as (

    select * from {{ ref('int_surveillance_departements_covered') }}

),

departements as (

    select * from {{ ref('departements') }}

),

population_bounds as (

    select
        min(population.population_year) as first_year,
        max(population.population_year) as last_year

    from population

),

population_years as (

    {#- Every week against the nearest INSEE year, as int_syndromic_indicators_joined does. #}
    select distinct
        covered.week_start_date,
        least(
            greatest(year(covered.week_start_date), population_bounds.first_year), population_bounds.last_year
        ) as population_year

    from covered
    cross join population_bounds

),

covered_departements as (

    select
        covered.week_start_date,
        population.geo_code as department_code,
        cast(departements.reg_code as string) as region_code,
        population.age_class,
        population.population

    from covered
    left join population_years
        on covered.week_start_date = population_years.week_start_date
    left join population
        on
            covered.department_code = population.geo_code
            and population_years.population_year = population.population_year
    left join departements
        on covered.department_code = departements.dep_code
    where population.population is not null

),

covered_by_area as (

    select
        week_start_date,
        'departement' as geo_level,
        department_code as geo_code,
        age_class,
        sum(population) as covered_population

    from covered_departements
    group by all

    union all

    select
        week_start_date,
        'region' as geo_level,
        region_code as geo_code,
        age_class,
        sum(population) as covered_population

    from covered_departements
    group by all

    union all

    select
        week_start_date,
        'france' as geo_level,
        'FR' as geo_code,
        age_class,
        sum(population) as covered_population

    from covered_departements
    group by all

)

select * from covered_by_area
