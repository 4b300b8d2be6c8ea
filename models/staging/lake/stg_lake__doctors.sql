{#-
    One row per doctor and association, from the latest roster snapshot that lists the doctor. A doctor
    missing from later snapshots is kept: acts still point to them.
-#}
with

source as (

    select * from {{ ref('base_lake__doctors') }}

),

latest as (

    select *
    from source
    qualify row_number() over (
        partition by association_id, doctor_pseudonym
        order by {{ latest_version_order() }}
    ) = 1

),

renamed as (

    select
        -- ids
        association_id,
        doctor_pseudonym,

        -- codes
        doctor_sex,
        specialty,

        -- dates
        joined_date,
        left_date,
        extract_date as last_listed_date,

        -- lineage
        _batch_id as batch_id,
        _ingested_at as ingested_at

    from latest

)

select * from renamed
