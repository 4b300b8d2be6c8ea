{#- Incremental: a build replaces the rows of the acts changed since the last completed build. -#}
{{ config(
    materialized='scoped_incremental',
    scope='visit',
    scope_bound={'column': 'condition_start_date'},
) }}
select
    {{ stable_id('condition', ['association_id', 'act_id', 'diagnosis_rank', 'concept_id']) }}
        as condition_occurrence_id,
    person_id,
    concept_id as condition_concept_id,
    visit_start_date as condition_start_date,
    visit_start_datetime as condition_start_datetime,
    cast(null as date) as condition_end_date,
    cast(null as timestamp) as condition_end_datetime,
    {{ type_concept('ehr') }} as condition_type_concept_id,
    case
        when diagnosis_rank = 1 then {{ type_concept('primary_diagnosis') }}
        else {{ type_concept('secondary_diagnosis') }}
    end as condition_status_concept_id,
    cast(null as string) as stop_reason,
    provider_id,
    visit_occurrence_id,
    cast(null as bigint) as visit_detail_id,
    source_value as condition_source_value,
    source_concept_id as condition_source_concept_id,
    cast(diagnosis_rank as string) as condition_status_source_value

from {{ ref('int_diagnoses_mapped_to_standard') }}
where
    domain_id = 'Condition'
    and {{ in_scope(ref('int_diagnoses_mapped_to_standard')) }}
