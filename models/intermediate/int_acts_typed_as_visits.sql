{#-
    One row per act, typed as an OMOP visit: home visits (VAD) as Home Visit, centre consultations (CONS)
    as Outpatient Visit, teleconsultations (TLC) as Telehealth; an act type missing from the seed gets
    concept 0 and keeps its source value. Ids are hashes of natural keys, stable across reloads.
    Incremental: a build replaces the acts changed since the last completed build.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='visit',
    scope_bound={'column': 'visit_start_date'},
) }}
with

acts as (

    select * from {{ ref('stg_lake__acts') }}
    where
        {{ in_scope(ref('stg_lake__acts')) }}

),

visit_concepts as (

    select * from {{ ref('omop_visit_concepts') }}

),

typed as (

    select
        {{ stable_id('visit', ['acts.association_id', 'acts.act_id']) }} as visit_occurrence_id,
        {{ stable_id('person', ['acts.patient_pseudonym']) }} as person_id,
        {{ stable_id('provider', ['acts.doctor_pseudonym']) }} as provider_id,
        {{ stable_id('care_site', ['acts.care_site_id']) }} as care_site_id,
        acts.association_id,
        acts.act_id,
        acts.patient_pseudonym,
        acts.doctor_pseudonym,
        acts.act_type,
        coalesce(visit_concepts.visit_concept_id, 0) as visit_concept_id,
        acts.caller_type,
        acts.outcome,
        acts.patient_age_years,
        cast(acts.start_at as date) as visit_start_date,
        acts.start_at as visit_start_datetime,
        cast(coalesce(acts.end_at, acts.start_at) as date) as visit_end_date,
        coalesce(acts.end_at, acts.start_at) as visit_end_datetime,
        acts.call_at

    from acts
    left join visit_concepts
        on acts.act_type = visit_concepts.act_type

)

select * from typed
order by visit_start_date
