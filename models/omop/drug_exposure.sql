{#- Incremental: a build replaces the rows of the acts changed since the last completed build. -#}
{{ config(
    materialized='scoped_incremental',
    scope='visit',
    scope_bound={'column': 'drug_exposure_start_date'},
) }}
select
    drug_exposure_id,
    person_id,
    drug_concept_id,
    drug_exposure_start_date,
    drug_exposure_start_datetime,
    drug_exposure_end_date,
    cast(null as timestamp) as drug_exposure_end_datetime,
    cast(null as date) as verbatim_end_date,
    drug_type_concept_id,
    cast(null as string) as stop_reason,
    cast(null as integer) as refills,
    quantity,
    days_supply,
    cast(null as string) as sig,
    cast(null as integer) as route_concept_id,
    cast(null as string) as lot_number,
    provider_id,
    visit_occurrence_id,
    cast(null as bigint) as visit_detail_id,
    drug_source_value,
    drug_source_concept_id,
    cast(null as string) as route_source_value,
    dose_unit_source_value

from {{ ref('int_prescriptions_mapped_to_drugs') }}
