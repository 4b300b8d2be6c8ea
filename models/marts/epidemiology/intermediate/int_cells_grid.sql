{#-
    The published cells of a count of acts by age class x geography x period (surveillance_cell_published:
    every week, daily series France by age class and régions all ages), zeros included: the grid of the
    acts, coded acts and syndrome families, which narrow it further.
-#}
with

age_classes as (

    select * from {{ ref('age_classes') }}

),

geographies as (

    select * from {{ ref('int_cells_geographies') }}

),

periods as (

    select * from {{ ref('int_cells_periods') }}

)

select
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
