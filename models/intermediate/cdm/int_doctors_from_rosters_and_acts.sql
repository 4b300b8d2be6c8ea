{#-
    One row per doctor (RPPS pseudonym, national, so a doctor working for two associations is one
    provider), from the latest roster listing; a doctor seen in acts but in no roster still gets a row.
    Ephemeral: compiled into provider.
-#}
with

doctors as (

    select * from {{ ref('stg_lake__doctors') }}

),

acts_by_week as (

    select * from {{ ref('int_act_sites_and_doctors_by_week') }}

),

specialty_concepts as (

    select * from {{ ref('omop_specialty_concepts') }}

),

gender_concepts as (

    select * from {{ ref('omop_gender_concepts') }}

),

latest_listing as (

    select *
    from doctors
    qualify row_number() over (
        partition by doctor_pseudonym
        order by last_listed_date desc, association_id desc
    ) = 1

),

first_act as (

    select
        doctor_pseudonym,
        min(association_id) as association_id

    from acts_by_week
    group by doctor_pseudonym

),

all_doctors as (

    select
        coalesce(latest_listing.doctor_pseudonym, first_act.doctor_pseudonym) as doctor_pseudonym,
        coalesce(latest_listing.association_id, first_act.association_id) as association_id,
        latest_listing.specialty,
        latest_listing.doctor_sex

    from latest_listing
    full outer join first_act
        on latest_listing.doctor_pseudonym = first_act.doctor_pseudonym

),

final as (

    select
        {{ stable_id('provider', ['all_doctors.doctor_pseudonym']) }} as provider_id,
        coalesce(specialty_concepts.specialty_concept_id, 0) as specialty_concept_id,
        {{ stable_id('association', ['all_doctors.association_id']) }} as care_site_id,
        coalesce(gender_concepts.gender_concept_id, 0) as gender_concept_id,
        left(all_doctors.doctor_pseudonym, 50) as provider_source_value,
        all_doctors.specialty as specialty_source_value,
        all_doctors.doctor_sex as gender_source_value

    from all_doctors
    left join specialty_concepts
        on all_doctors.specialty = specialty_concepts.specialty_code
    left join gender_concepts
        on all_doctors.doctor_sex = gender_concepts.sex_code

)

select * from final
