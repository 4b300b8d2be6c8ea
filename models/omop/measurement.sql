{#- Incremental: a build replaces the rows of the acts changed since the last completed build. -#}
{{ config(
    materialized='scoped_incremental',
    scope='visit',
) }}
select
    measurement_id,
    person_id,
    measurement_concept_id,
    measurement_date,
    measurement_datetime,
    measurement_time,
    measurement_type_concept_id,
    cast(null as integer) as operator_concept_id,
    value_as_number,
    cast(null as integer) as value_as_concept_id,
    unit_concept_id,
    cast(null as double) as range_low,
    cast(null as double) as range_high,
    provider_id,
    visit_occurrence_id,
    cast(null as bigint) as visit_detail_id,
    measurement_source_value,
    0 as measurement_source_concept_id,
    unit_source_value,
    cast(null as integer) as unit_source_concept_id,
    value_source_value,
    cast(null as bigint) as measurement_event_id,
    cast(null as integer) as meas_event_field_concept_id

from {{ ref('int_vital_signs_as_measurements') }}
