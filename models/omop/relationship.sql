select
    relationship_id,
    relationship_name,
    is_hierarchical,
    defines_ancestry,
    reverse_relationship_id,
    relationship_concept_id

from {{ ref('stg_vocabulary__relationship') }}
