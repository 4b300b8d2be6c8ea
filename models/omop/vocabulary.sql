select
    vocabulary_id,
    vocabulary_name,
    vocabulary_reference,
    vocabulary_version,
    vocabulary_concept_id

from {{ ref('stg_vocabulary__vocabulary') }}
