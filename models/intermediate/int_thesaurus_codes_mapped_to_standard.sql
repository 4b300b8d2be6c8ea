{#-
    The network's own diagnosis thesaurus mapped to standard concepts, through the CIM-10 code each
    thesaurus entry carries and that code's 'Maps to' (its 3-character parent when the French code is
    finer than WHO ICD-10). A thesaurus code with no mappable CIM-10 code maps to concept 0.
    This is the content of the CDM source_to_concept_map table.
-#}
with

thesaurus as (

    select * from {{ ref('diagnosis_thesaurus') }}

),

standard_map as (

    select * from {{ ref('int_concepts_mapped_to_standard') }}

),

thesaurus_codes as (

    select
        cast(thesaurus_code as string) as thesaurus_code,
        cast(label_fr as string) as thesaurus_label,
        nullif(upper(replace(cast(icd10_code as string), '.', '')), '') as icd10_code

    from thesaurus

),

candidates as (

    select
        thesaurus_codes.thesaurus_code,
        thesaurus_codes.thesaurus_label,
        standard_map.target_concept_id,
        standard_map.target_vocabulary_id,
        case
            when standard_map.source_code_undotted = thesaurus_codes.icd10_code then 1
            else 2
        end as match_priority

    from thesaurus_codes
    inner join standard_map
        on
            standard_map.source_vocabulary_id = 'ICD10'
            and standard_map.source_code_undotted
            in (thesaurus_codes.icd10_code, left(thesaurus_codes.icd10_code, 3))

),

best as (

    select *
    from candidates
    qualify dense_rank() over (partition by thesaurus_code order by match_priority) = 1

),

mapped as (

    select
        thesaurus_codes.thesaurus_code,
        thesaurus_codes.thesaurus_label,
        coalesce(best.target_concept_id, 0) as target_concept_id,
        coalesce(best.target_vocabulary_id, 'None') as target_vocabulary_id

    from thesaurus_codes
    left join best
        on thesaurus_codes.thesaurus_code = best.thesaurus_code

)

select * from mapped
