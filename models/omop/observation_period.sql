{#-
    One period per person, from the first to the last act: an urgent-care network sees a patient only
    at acts, so the span of acts is the honest observation window (kept per person by
    int_persons_derived_from_acts).
    Incremental: a build replaces the periods of the persons whose acts changed since the last build.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='person',
) }}
with

persons as (

    select * from {{ ref('int_persons_derived_from_acts') }}
    where {{ in_scope(ref('int_persons_derived_from_acts')) }}

),

type_concepts as (

    select * from {{ ref('omop_type_concepts') }}

),

final as (

    select
        {{ stable_id('observation_period', ['persons.person_id']) }} as observation_period_id,
        persons.person_id,
        persons.first_visit_start_date as observation_period_start_date,
        persons.last_visit_end_date as observation_period_end_date,
        type_concepts.concept_id as period_type_concept_id

    from persons
    inner join type_concepts
        on type_concepts.role = 'ehr'

)

select * from final
