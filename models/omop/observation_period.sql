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
select
    {{ stable_id('observation_period', ['person_id']) }} as observation_period_id,
    person_id,
    first_visit_start_date as observation_period_start_date,
    last_visit_end_date as observation_period_end_date,
    {{ type_concept('ehr') }} as period_type_concept_id

from {{ ref('int_persons_derived_from_acts') }}
where {{ in_scope(ref('int_persons_derived_from_acts')) }}
