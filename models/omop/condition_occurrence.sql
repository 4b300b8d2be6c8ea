{#- Incremental: a build replaces the rows of the acts changed since the last completed build. -#}
{{ config(
    materialized='scoped_incremental',
    scope='visit',
    scope_bound={'column': 'condition_start_date'},
) }}
with

diagnoses as (

    select * from {{ ref('int_diagnoses_mapped_to_standard') }}
    where
        domain_id = 'Condition'
        and {{ in_scope(ref('int_diagnoses_mapped_to_standard')) }}

),

type_concepts as (

    select * from {{ ref('omop_type_concepts') }}

),

final as (

    select
        {{ stable_id('condition', [
            'diagnoses.association_id', 'diagnoses.act_id', 'diagnoses.diagnosis_rank', 'diagnoses.concept_id'
        ]) }} as condition_occurrence_id,
        diagnoses.person_id,
        diagnoses.concept_id as condition_concept_id,
        diagnoses.visit_start_date as condition_start_date,
        diagnoses.visit_start_datetime as condition_start_datetime,
        cast(null as date) as condition_end_date,
        cast(null as timestamp) as condition_end_datetime,
        ehr.concept_id as condition_type_concept_id,
        status.concept_id as condition_status_concept_id,
        cast(null as varchar) as stop_reason,
        diagnoses.provider_id,
        diagnoses.visit_occurrence_id,
        cast(null as bigint) as visit_detail_id,
        diagnoses.source_value as condition_source_value,
        diagnoses.source_concept_id as condition_source_concept_id,
        cast(diagnoses.diagnosis_rank as varchar) as condition_status_source_value

    from diagnoses
    inner join type_concepts as ehr
        on ehr.role = 'ehr'
    inner join type_concepts as status
        on status.role = case
            when diagnoses.diagnosis_rank = 1 then 'primary_diagnosis'
            else 'secondary_diagnosis'
        end

)

select * from final
