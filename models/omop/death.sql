{#- One row per person whose act ended with a death certificate (outcome DC): the first such act. -#}
{#- Incremental: a build replaces the rows of the persons whose acts changed since the last build. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_incremental_scope(['person_id'], changed_person_ids()) }}",
) }}
with

visits as (

    select * from {{ ref('int_acts_typed_as_visits') }}
    where
        outcome = 'DC'
        and {{ in_incremental_scope(['person_id'], changed_person_ids()) }}

),

type_concepts as (

    select * from {{ ref('omop_type_concepts') }}

),

first_certificate as (

    select *
    from visits
    qualify row_number() over (
        partition by person_id
        order by visit_start_datetime, visit_occurrence_id
    ) = 1

),

final as (

    select
        first_certificate.person_id,
        first_certificate.visit_start_date as death_date,
        first_certificate.visit_start_datetime as death_datetime,
        type_concepts.concept_id as death_type_concept_id,
        cast(null as integer) as cause_concept_id,
        cast(null as varchar) as cause_source_value,
        cast(null as integer) as cause_source_concept_id

    from first_certificate
    inner join type_concepts
        on type_concepts.role = 'death_certificate'

)

select * from final
