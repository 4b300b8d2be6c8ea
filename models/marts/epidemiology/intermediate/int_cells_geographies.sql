{#- The areas of the cells (every area any week has acts in), each with the area its count adds up to. -#}
with

grid_extent as (

    select * from {{ ref('int_surveillance_grid_by_week') }}

)

select distinct
    'departement' as geo_level,
    department_code as geo_code,
    'region' as parent_geo_level,
    region_code as parent_geo_code

from grid_extent

union all

select distinct
    'region' as geo_level,
    region_code as geo_code,
    'france' as parent_geo_level,
    'FR' as parent_geo_code

from grid_extent

union all

select
    'france' as geo_level,
    'FR' as geo_code,
    cast(null as string) as parent_geo_level,
    cast(null as string) as parent_geo_code
