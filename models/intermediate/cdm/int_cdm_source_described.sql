{#-
    The CDM source metadata: the latest extract date and the vocabulary release. Ephemeral: compiled
    into cdm_source.
-#}
with

vocabularies as (

    select * from {{ ref('stg_vocabulary__vocabulary') }}

),

acts_by_week as (

    select * from {{ ref('int_act_sites_and_doctors_by_week') }}

),

type_concepts as (

    select * from {{ ref('omop_type_concepts') }}

),

vocabulary_release as (

    select vocabulary_version
    from vocabularies
    where vocabulary_id = 'None'

),

latest_extract as (

    select max(last_extract_date) as source_release_date
    from acts_by_week

),

final as (

    select
        'Urgent-care GP network outpatient lakehouse' as cdm_source_name,
        'UCN' as cdm_source_abbreviation,
        'Urgent-care GP network' as cdm_holder,
        'Home visits, centre consultations and teleconsultations of the network''s associations, '
        || 'pseudonymised at ingest.' as source_description,
        'docs/extract-contract.md' as source_documentation_reference,
        'docs/omop.md' as cdm_etl_reference,
        coalesce(latest_extract.source_release_date, current_date) as source_release_date,
        current_date as cdm_release_date,
        '5.4' as cdm_version,
        type_concepts.concept_id as cdm_version_concept_id,
        coalesce(vocabulary_release.vocabulary_version, 'unknown') as vocabulary_version

    from latest_extract
    inner join type_concepts
        on type_concepts.role = 'cdm_version'
    left join vocabulary_release
        on true

)

select * from final
