{%- set columns = {
    'relationship_id': 'varchar',
    'relationship_name': 'varchar',
    'is_hierarchical': 'varchar',
    'defines_ancestry': 'varchar',
    'reverse_relationship_id': 'varchar',
    'relationship_concept_id': 'integer',
} -%}

with

source as (

    select * from {{ vocabulary_relation('relationship', columns) }}

),

renamed as (

    select
        cast(relationship_id as varchar) as relationship_id,
        cast(relationship_name as varchar) as relationship_name,
        cast(is_hierarchical as varchar) as is_hierarchical,
        cast(defines_ancestry as varchar) as defines_ancestry,
        cast(reverse_relationship_id as varchar) as reverse_relationship_id,
        cast(relationship_concept_id as integer) as relationship_concept_id

    from source

)

select * from renamed
