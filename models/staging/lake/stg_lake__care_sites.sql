{#-
    One row per site, from the latest snapshot that lists it. Site codes are unique within the network.
-#}
with

source as (

    select * from {{ ref('base_lake__care_sites') }}

),

latest as (

    select *
    from source
    qualify row_number() over (
        partition by care_site_id
        order by {{ latest_version_order() }}
    ) = 1

),

renamed as (

    select
        -- ids
        care_site_id,
        association_id,

        -- codes
        care_site_type,
        commune_code,
        postal_code,

        -- text (an organisation's name, not a person's)
        care_site_name,

        -- dates
        extract_date as last_listed_date,

        -- lineage
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

)

select * from renamed
