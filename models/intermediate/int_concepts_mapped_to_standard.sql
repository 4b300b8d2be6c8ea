{#-
    The one reusable source-to-standard map: each source concept with its valid 'Maps to' targets
    (a source code may map to several standard concepts, each becomes a row downstream).
-#}
with

concepts as (

    select * from {{ ref('stg_vocabulary__concept') }}

),

relationships as (

    select * from {{ ref('stg_vocabulary__concept_relationship') }}

),

maps_to as (

    select
        concept_id_1 as source_concept_id,
        concept_id_2 as target_concept_id

    from relationships
    where
        relationship_id = 'Maps to'
        and invalid_reason is null

),

mapped as (

    select
        source_concept.concept_id as source_concept_id,
        source_concept.vocabulary_id as source_vocabulary_id,
        source_concept.concept_code as source_code,
        replace(source_concept.concept_code, '.', '') as source_code_undotted,
        target_concept.concept_id as target_concept_id,
        target_concept.domain_id as target_domain_id,
        target_concept.vocabulary_id as target_vocabulary_id

    from maps_to
    inner join concepts as source_concept
        on maps_to.source_concept_id = source_concept.concept_id
    inner join concepts as target_concept
        on maps_to.target_concept_id = target_concept.concept_id
    where
        target_concept.standard_concept = 'S'
        and target_concept.invalid_reason is null

)

select * from mapped
