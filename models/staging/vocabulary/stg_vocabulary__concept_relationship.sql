{%- set columns = {
    'concept_id_1': 'integer',
    'concept_id_2': 'integer',
    'relationship_id': 'varchar',
    'valid_start_date': 'varchar',
    'valid_end_date': 'varchar',
    'invalid_reason': 'varchar',
} -%}

with

source as (

    select * from {{ vocabulary_relation('concept_relationship', columns) }}

),

renamed as (

    select
        cast(concept_id_1 as integer) as concept_id_1,
        cast(concept_id_2 as integer) as concept_id_2,
        cast(relationship_id as varchar) as relationship_id,
        {{ athena_date('valid_start_date') }} as valid_start_date,
        {{ athena_date('valid_end_date') }} as valid_end_date,
        nullif(cast(invalid_reason as varchar), '') as invalid_reason

    from source

)

select * from renamed
