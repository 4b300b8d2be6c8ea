{#- One row per vocabulary, plus the project's own (UCN). -#}
{%- set columns = {
    'vocabulary_id': 'varchar',
    'vocabulary_name': 'varchar',
    'vocabulary_reference': 'varchar',
    'vocabulary_version': 'varchar',
    'vocabulary_concept_id': 'integer',
} -%}

with

vocabulary as (

    select * from {{ vocabulary_relation('vocabulary', columns) }}

),

custom as (

    select * from {{ ref('omop_custom_vocabulary') }}

),

unioned as (

    select * from vocabulary
    union all by name
    select * from custom

),

renamed as (

    select
        cast(vocabulary_id as varchar) as vocabulary_id,
        cast(vocabulary_name as varchar) as vocabulary_name,
        cast(vocabulary_reference as varchar) as vocabulary_reference,
        cast(vocabulary_version as varchar) as vocabulary_version,
        cast(vocabulary_concept_id as integer) as vocabulary_concept_id

    from unioned

)

select * from renamed
