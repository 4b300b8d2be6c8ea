{#-
    Source concepts by vocabulary and code (undotted, as the extracts land CIM-10 codes), whether or
    not they map to a standard concept: gives condition_source_concept_id even for unmapped codes.
-#}
with

concepts as (

    select * from {{ ref('stg_vocabulary__concept') }}

),

source_codes as (

    select
        concept_id as source_concept_id,
        vocabulary_id as source_vocabulary_id,
        concept_code as source_code,
        replace(concept_code, '.', '') as source_code_undotted

    from concepts
    where vocabulary_id in ('ICD10', 'ATC')

)

select * from source_codes
