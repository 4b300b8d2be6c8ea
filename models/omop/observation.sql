{#- Incremental: a build replaces the rows of the acts changed since the last completed build. -#}
{{ config(
    materialized='scoped_incremental',
    scope='visit',
    scope_bound={'column': 'observation_date'},
) }}
select
    observation_id,
    person_id,
    observation_concept_id,
    observation_date,
    observation_datetime,
    observation_type_concept_id,
    cast(null as double) as value_as_number,
    value_as_string,
    value_as_concept_id,
    cast(null as integer) as qualifier_concept_id,
    cast(null as integer) as unit_concept_id,
    provider_id,
    visit_occurrence_id,
    cast(null as bigint) as visit_detail_id,
    observation_source_value,
    observation_source_concept_id,
    cast(null as string) as unit_source_value,
    cast(null as string) as qualifier_source_value,
    value_source_value,
    cast(null as bigint) as observation_event_id,
    cast(null as integer) as obs_event_field_concept_id

from {{ ref('int_acts_and_diagnoses_as_observations') }}
