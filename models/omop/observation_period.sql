{#-
    One period per person, from the first to the last act: an urgent-care network sees a patient only
    at acts, so the span of acts is the honest observation window.
    Incremental: a build replaces the periods of the persons whose acts changed since the last build.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_incremental_scope(['person_id'], changed_person_ids()) }}",
) }}
with

visits as (

    select * from {{ ref('int_acts_typed_as_visits') }}
    where {{ in_incremental_scope(['person_id'], changed_person_ids()) }}

),

type_concepts as (

    select * from {{ ref('omop_type_concepts') }}

),

spans as (

    select
        person_id,
        min(visit_start_date) as observation_period_start_date,
        max(visit_end_date) as observation_period_end_date

    from visits
    group by person_id

),

final as (

    select
        {{ stable_id('observation_period', ['spans.person_id']) }} as observation_period_id,
        spans.person_id,
        spans.observation_period_start_date,
        spans.observation_period_end_date,
        type_concepts.concept_id as period_type_concept_id

    from spans
    inner join type_concepts
        on type_concepts.role = 'ehr'

)

select * from final
