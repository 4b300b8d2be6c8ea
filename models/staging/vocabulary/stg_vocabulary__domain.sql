{%- set columns = {
    'domain_id': 'varchar',
    'domain_name': 'varchar',
    'domain_concept_id': 'integer',
} -%}

with

source as (

    select * from {{ vocabulary_relation('domain', columns) }}

),

renamed as (

    select
        cast(domain_id as varchar) as domain_id,
        cast(domain_name as varchar) as domain_name,
        cast(domain_concept_id as integer) as domain_concept_id

    from source

)

select * from renamed
