{#-
    One row per diagnosis of an act and standard concept it maps to, in order of preference:
      1. its CIM-10 code as a WHO ICD-10 concept, through 'Maps to' (source concept kept);
      2. the code's 3-character parent, when a French extension code is not in WHO ICD-10;
      3. the network thesaurus code, through source_to_concept_map, only for a diagnosis with no CIM-10
         code: a CIM-10 code absent from the vocabulary (neither itself nor its parent) is what the
         doctor coded, and is not replaced by the concept of the thesaurus label (OMOP convention);
      4. otherwise concept 0, the source value kept (the CIM-10 code when there is one).
    A code mapping to several standard concepts gives several rows (OMOP convention). The target's
    domain decides the CDM table: Condition (and unmapped) to condition_occurrence, others to observation.
    Incremental: a build replaces the diagnoses of the acts changed since the last completed build.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='visit',
    scope_bound={'column': 'visit_start_date'},
) }}
with

diagnoses as (

    select * from {{ ref('stg_lake__diagnoses') }}
    where
        {{ in_scope(ref('stg_lake__diagnoses')) }}

),

visits as (

    select * from {{ ref('int_acts_typed_as_visits') }}
    where
        {{ in_scope(ref('int_acts_typed_as_visits')) }}

),

source_codes as (

    select * from {{ ref('int_source_codes_identified') }}
    where source_vocabulary_id = 'ICD10'

),

standard_map as (

    select * from {{ ref('int_concepts_mapped_to_standard') }}
    where source_vocabulary_id = 'ICD10'

),

thesaurus_map as (

    select * from {{ ref('int_thesaurus_codes_mapped_to_standard') }}
    where target_concept_id != 0

),

concepts as (

    select * from {{ ref('stg_vocabulary__concept') }}

),

candidates as (

    {#-
        The code itself, then its 3-character parent: two equi-joins. A single join on
        `source_code_undotted in (code, left(code, 3))` was planned as a nested loop over every
        diagnosis x every mapped code, which grows with the size of the vocabulary loaded
        (benchmarks/README.md, "Diagnosis mapping: two equi-joins").
    -#}
    select
        diagnoses.association_id,
        diagnoses.act_id,
        diagnoses.diagnosis_rank,
        standard_map.target_concept_id,
        diagnoses.icd10_code as mapped_source_value,
        1 as match_priority

    from diagnoses
    inner join standard_map
        on diagnoses.icd10_code = standard_map.source_code_undotted

    union all

    select
        diagnoses.association_id,
        diagnoses.act_id,
        diagnoses.diagnosis_rank,
        standard_map.target_concept_id,
        diagnoses.icd10_code as mapped_source_value,
        2 as match_priority

    from diagnoses
    inner join standard_map
        on
            left(diagnoses.icd10_code, 3) = standard_map.source_code_undotted
            and diagnoses.icd10_code != standard_map.source_code_undotted

    union all

    select
        diagnoses.association_id,
        diagnoses.act_id,
        diagnoses.diagnosis_rank,
        thesaurus_map.target_concept_id,
        diagnoses.thesaurus_code as mapped_source_value,
        3 as match_priority

    from diagnoses
    inner join thesaurus_map
        on diagnoses.thesaurus_code = thesaurus_map.thesaurus_code
    where diagnoses.icd10_code is null

),

best as (

    select *
    from candidates
    qualify dense_rank() over (
        partition by association_id, act_id, diagnosis_rank
        order by match_priority
    ) = 1

),

mapped as (

    select
        visits.visit_occurrence_id,
        visits.person_id,
        visits.provider_id,
        visits.visit_start_date,
        visits.visit_start_datetime,
        visits.visit_end_date,
        visits.visit_end_datetime,
        diagnoses.association_id,
        diagnoses.act_id,
        diagnoses.diagnosis_rank,
        diagnoses.thesaurus_code,
        diagnoses.icd10_code,
        coalesce(best.target_concept_id, 0) as concept_id,
        coalesce(target_concept.domain_id, 'Condition') as domain_id,
        coalesce(source_codes.source_concept_id, 0) as source_concept_id,
        coalesce(best.mapped_source_value, diagnoses.icd10_code, diagnoses.thesaurus_code) as source_value,
        coalesce(best.match_priority, 4) as match_priority

    from diagnoses
    inner join visits
        on
            diagnoses.association_id = visits.association_id
            and diagnoses.act_id = visits.act_id
    left join best
        on
            diagnoses.association_id = best.association_id
            and diagnoses.act_id = best.act_id
            and diagnoses.diagnosis_rank = best.diagnosis_rank
    left join concepts as target_concept
        on best.target_concept_id = target_concept.concept_id
    left join source_codes
        on diagnoses.icd10_code = source_codes.source_code_undotted

)

select * from mapped
order by visit_start_date
