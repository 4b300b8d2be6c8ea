{%- set columns = {
    'concept_class_id': 'varchar',
    'concept_class_name': 'varchar',
    'concept_class_concept_id': 'integer',
} -%}

with

source as (

    select * from {{ vocabulary_relation('concept_class', columns) }}

),

renamed as (

    select
        cast(concept_class_id as varchar) as concept_class_id,
        cast(concept_class_name as varchar) as concept_class_name,
        cast(concept_class_concept_id as integer) as concept_class_concept_id

    from source

)

select * from renamed
