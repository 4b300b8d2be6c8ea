{#-
    One row per commune and per département where patients live or sites stand: the finest level the
    extracts give (no address is landed). county holds the département code (the CDM's varchar(20)
    cannot hold every French département name). Ephemeral: compiled into location.
-#}
with

persons as (

    select * from {{ ref('int_persons_derived_from_acts') }}

),

care_sites as (

    select * from {{ ref('stg_lake__care_sites') }}

),

communes as (

    select * from {{ ref('communes') }}

),

departements as (

    select * from {{ ref('departements') }}

),

commune_codes as (

    select commune_code
    from persons
    where commune_code is not null

    union

    select commune_code
    from care_sites

),

department_codes as (

    select department_code
    from persons
    where
        commune_code is null
        and department_code is not null

),

commune_locations as (

    select
        {{ stable_id('location', ["'commune'", 'commune_codes.commune_code']) }} as location_id,
        left(communes.com_name, 50) as city,
        {{ department_of_commune('commune_codes.commune_code') }} as county,
        'commune:' || commune_codes.commune_code as location_source_value

    from commune_codes
    left join communes
        on commune_codes.commune_code = cast(communes.com_code as string)

),

department_locations as (

    select
        {{ stable_id('location', ["'departement'", 'department_codes.department_code']) }} as location_id,
        cast(null as string) as city,
        department_codes.department_code as county,
        'departement:' || department_codes.department_code || ' ' || coalesce(departements.dep_name, '')
            as location_source_value

    from department_codes
    left join departements
        on department_codes.department_code = cast(departements.dep_code as string)

),

unioned as (

    select * from commune_locations
    union all
    select * from department_locations

),

final as (

    select
        location_id,
        city,
        county,
        left(location_source_value, 50) as location_source_value

    from unioned

)

select * from final
