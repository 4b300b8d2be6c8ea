{%- set columns = {
    'ancestor_concept_id': 'integer',
    'descendant_concept_id': 'integer',
    'min_levels_of_separation': 'integer',
    'max_levels_of_separation': 'integer',
} -%}

with

source as (

    select * from {{ vocabulary_relation('concept_ancestor', columns) }}

),

renamed as (

    select
        cast(ancestor_concept_id as integer) as ancestor_concept_id,
        cast(descendant_concept_id as integer) as descendant_concept_id,
        cast(min_levels_of_separation as integer) as min_levels_of_separation,
        cast(max_levels_of_separation as integer) as max_levels_of_separation

    from source

)

select * from renamed
