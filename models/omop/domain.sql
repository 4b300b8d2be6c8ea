select
    domain_id,
    domain_name,
    domain_concept_id

from {{ ref('stg_vocabulary__domain') }}
