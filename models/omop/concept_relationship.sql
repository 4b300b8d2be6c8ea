select
    concept_id_1,
    concept_id_2,
    relationship_id,
    valid_start_date,
    valid_end_date,
    invalid_reason

from {{ ref('stg_vocabulary__concept_relationship') }}
