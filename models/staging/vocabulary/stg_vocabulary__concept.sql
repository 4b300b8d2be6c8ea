{#-
    One row per concept: the vocabulary (curated seed or Athena download) plus the project's own
    concepts (vocabulary UCN, ids from 2,000,000,000 as OMOP reserves for local concepts), which no
    Athena download contains.
-#}
{%- set columns = {
    'concept_id': 'integer',
    'concept_name': 'varchar',
    'domain_id': 'varchar',
    'vocabulary_id': 'varchar',
    'concept_class_id': 'varchar',
    'standard_concept': 'varchar',
    'concept_code': 'varchar',
    'valid_start_date': 'varchar',
    'valid_end_date': 'varchar',
    'invalid_reason': 'varchar',
} -%}

with

vocabulary as (

    select * from {{ vocabulary_relation('concept', columns) }}

),

custom as (

    select * from {{ ref('omop_custom_concepts') }}

),

unioned as (

    select * from vocabulary
    union all by name
    select * from custom

),

renamed as (

    select
        cast(concept_id as integer) as concept_id,
        cast(concept_name as varchar) as concept_name,
        cast(domain_id as varchar) as domain_id,
        cast(vocabulary_id as varchar) as vocabulary_id,
        cast(concept_class_id as varchar) as concept_class_id,
        nullif(cast(standard_concept as varchar), '') as standard_concept,
        cast(concept_code as varchar) as concept_code,
        {{ athena_date('valid_start_date') }} as valid_start_date,
        {{ athena_date('valid_end_date') }} as valid_end_date,
        nullif(cast(invalid_reason as varchar), '') as invalid_reason

    from unioned

)

select * from renamed
