{#-
    The published cells of a count of acts by age class x geography x period (surveillance_cell_published:
    every week, daily series France by age class and régions all ages), zeros included: the grid of the
    acts, coded acts and syndrome families, which narrow it further. One row per age class scheme
    (seeds/surveillance/age_class_schemes.csv) and class it publishes: each family keeps its scheme's
    classes (acts and coded acts `detailed`, a syndromic group its declared scheme, death certificates
    var('death_certificates_age_class_scheme')).
-#}
with

age_class_schemes as (

    select * from {{ ref('age_class_schemes') }}

),

age_classes as (

    select distinct
        age_class_scheme,
        published_age_class as age_class

    from age_class_schemes

    union all

    select distinct
        age_class_scheme,
        'all' as age_class

    from age_class_schemes

),

geographies as (

    select * from {{ ref('int_cells_geographies') }}

),

periods as (

    select * from {{ ref('int_cells_periods') }}

)

select
    age_classes.age_class_scheme,
    age_classes.age_class,
    geographies.geo_level,
    geographies.geo_code,
    geographies.parent_geo_level,
    geographies.parent_geo_code,
    periods.period_type,
    periods.period_start,
    periods.iso_week

from age_classes
cross join geographies
cross join periods
where {{ surveillance_cell_published() }}
