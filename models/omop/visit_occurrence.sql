{#- Incremental: a build replaces the rows of the acts changed since the last completed build. -#}
{{ config(
    materialized='scoped_incremental',
    scope='visit',
    scope_bound={'column': 'visit_start_date'},
) }}
with

visits as (

    select * from {{ ref('int_acts_typed_as_visits') }}
    where
        {{ in_scope(ref('int_acts_typed_as_visits')) }}

),

type_concepts as (

    select * from {{ ref('omop_type_concepts') }}

),

final as (

    select
        visits.visit_occurrence_id,
        visits.person_id,
        visits.visit_concept_id,
        visits.visit_start_date,
        visits.visit_start_datetime,
        visits.visit_end_date,
        visits.visit_end_datetime,
        type_concepts.concept_id as visit_type_concept_id,
        visits.provider_id,
        visits.care_site_id,
        visits.act_type as visit_source_value,
        0 as visit_source_concept_id,
        cast(null as integer) as admitted_from_concept_id,
        visits.caller_type as admitted_from_source_value,
        cast(null as integer) as discharged_to_concept_id,
        visits.outcome as discharged_to_source_value,
        cast(null as bigint) as preceding_visit_occurrence_id

    from visits
    inner join type_concepts
        on type_concepts.role = 'ehr'

)

select * from final
