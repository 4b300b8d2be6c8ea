select
    concept_class_id,
    concept_class_name,
    concept_class_concept_id

from {{ ref('stg_vocabulary__concept_class') }}
