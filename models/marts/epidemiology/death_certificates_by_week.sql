{#-
    Death certificates written by the network's doctors (acts ending with outcome DC): one row per
    age class (under 75 and 75+: int_cells_acts), area (région, France) and ISO week. Counts are small:
    expect most régional cells to be suppressed; France by age class is the useful series.
    Incremental by ISO week: a build replaces the weeks whose cells were recomputed.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='week',
) }}
with

cells as (

    select * from {{ ref('disclosure_controlled_cells') }}
    where
        family = 'death_certificates'
        and {{ in_scope(ref('disclosure_controlled_cells')) }}

),

regions as (

    select * from {{ ref('regions') }}

),

final as (

    select
        cells.age_class,
        cells.geo_level,
        cells.geo_code,
        case
            when cells.geo_level = 'france' then 'France'
            when cells.geo_code = 'XX' then 'Non renseigné'
            else regions.reg_name
        end as geo_name,
        cells.parent_geo_code,
        cells.iso_week,
        cells.period_start as week_start_date,
        cells.cell_count as death_certificate_count,
        cells.is_suppressed as is_death_certificate_count_suppressed

    from cells
    left join regions
        on
            cells.geo_level = 'region'
            and cells.geo_code = regions.reg_code

)

select * from final
