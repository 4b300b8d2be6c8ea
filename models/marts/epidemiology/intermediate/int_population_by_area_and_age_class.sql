{#-
    INSEE population (1 January estimates) by year, area (département, région, France) and SurSaUD age
    class, for incidence denominators. Public data, not counted acts: no disclosure control needed.
    Régions and France are the sum of all their départements, served by the network or not: incidence
    is acts in the network per inhabitant, a lower bound where the network does not cover the area.
-#}
with

population as (

    select * from {{ ref('population_dep_sex_age5') }}

),

weights as (

    select * from {{ ref('age_class_population_weights') }}

),

departements as (

    select * from {{ ref('departements') }}

),

by_department as (

    select
        population.year as population_year,
        cast(population.dep_code as string) as department_code,
        cast(departements.reg_code as string) as region_code,
        weights.age_class,
        sum(population.population * weights.weight) as population

    from population
    left join weights
        on population.age_group = weights.age_group
    left join departements
        on population.dep_code = departements.dep_code
    where
        weights.age_class is not null
        and departements.reg_code is not null
    group by all

),

with_all_ages as (

    select
        population_year,
        department_code,
        region_code,
        age_class,
        population

    from by_department

    union all

    select
        population_year,
        department_code,
        region_code,
        'all' as age_class,
        sum(population) as population

    from by_department
    group by all

),

by_area as (

    select
        population_year,
        'departement' as geo_level,
        department_code as geo_code,
        age_class,
        population

    from with_all_ages

    union all

    select
        population_year,
        'region' as geo_level,
        region_code as geo_code,
        age_class,
        sum(population) as population

    from with_all_ages
    group by all

    union all

    select
        population_year,
        'france' as geo_level,
        'FR' as geo_code,
        age_class,
        sum(population) as population

    from with_all_ages
    group by all

)

select
    population_year,
    geo_level,
    geo_code,
    age_class,
    round(population) as population

from by_area
