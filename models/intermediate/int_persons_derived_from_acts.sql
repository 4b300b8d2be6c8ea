{#-
    One row per patient pseudonym. Sex, birth year and month and residence come from the patient's
    latest act: an extract may correct them, and the latest one is the best known.
    Incremental: a build replaces the patients of every version of the acts changed since the last
    completed build (all their acts are read again; a patient left with no act is deleted).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_incremental_scope(['person_id'], changed_person_ids()) }}",
) }}
with

acts as (

    select * from {{ ref('stg_lake__acts') }}
    where {{ in_incremental_scope(['patient_pseudonym'], changed_patient_pseudonyms()) }}

),

gender_concepts as (

    select * from {{ ref('omop_gender_concepts') }}

),

latest_act as (

    select *
    from acts
    qualify row_number() over (
        partition by patient_pseudonym
        order by start_at desc, association_id desc, act_id desc
    ) = 1

),

persons as (

    select
        {{ stable_id('person', ['latest_act.patient_pseudonym']) }} as person_id,
        latest_act.patient_pseudonym,
        latest_act.patient_sex,
        coalesce(gender_concepts.gender_concept_id, 0) as gender_concept_id,
        latest_act.patient_birth_year as year_of_birth,
        latest_act.patient_birth_month as month_of_birth,
        latest_act.patient_commune_code as commune_code,
        coalesce(
            latest_act.patient_department_code,
            {{ department_of_commune('latest_act.patient_commune_code') }}
        ) as department_code,
        case
            when latest_act.patient_commune_code is not null
                then {{ stable_id('location', ["'commune'", 'latest_act.patient_commune_code']) }}
            when latest_act.patient_department_code is not null
                then {{ stable_id('location', ["'departement'", 'latest_act.patient_department_code']) }}
        end as location_id

    from latest_act
    left join gender_concepts
        on latest_act.patient_sex = gender_concepts.sex_code

)

select * from persons
