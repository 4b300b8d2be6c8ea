{#- Incremental: a build replaces the rows of the acts changed since the last completed build. -#}
{{ config(
    materialized='scoped_incremental',
    scope='visit',
    scope_bound={'column': 'visit_start_date'},
) }}
select
    visit_occurrence_id,
    person_id,
    visit_concept_id,
    visit_start_date,
    visit_start_datetime,
    visit_end_date,
    visit_end_datetime,
    {{ type_concept('ehr') }} as visit_type_concept_id,
    provider_id,
    care_site_id,
    act_type as visit_source_value,
    0 as visit_source_concept_id,
    cast(null as integer) as admitted_from_concept_id,
    caller_type as admitted_from_source_value,
    cast(null as integer) as discharged_to_concept_id,
    outcome as discharged_to_source_value,
    cast(null as bigint) as preceding_visit_occurrence_id

from {{ ref('int_acts_typed_as_visits') }}
where {{ in_scope(ref('int_acts_typed_as_visits')) }}
