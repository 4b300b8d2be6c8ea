{#- The network thesaurus codes and the standard concepts they map to (see the intermediate model). -#}
select
    thesaurus_code as source_code,
    0 as source_concept_id,
    'UCN' as source_vocabulary_id,
    thesaurus_label as source_code_description,
    target_concept_id,
    target_vocabulary_id,
    date '1970-01-01' as valid_start_date,
    date '2099-12-31' as valid_end_date,
    cast(null as string) as invalid_reason

from {{ ref('int_thesaurus_codes_mapped_to_standard') }}
