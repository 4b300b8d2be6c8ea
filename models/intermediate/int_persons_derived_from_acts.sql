{#-
    One row per patient pseudonym, with what the person-level CDM tables need from all their acts.
    Sex, birth year and month and residence come from the patient's latest act: an extract may correct
    them, and the latest one is the best known. The span of their acts (observation_period) and their
    first death certificate (death) are kept with the acts they come from.
    Incremental, without reading the patients' history: a build merges the previous row of each
    patient of a changed act (kept by the pre-hook) with the current versions of the changed acts. A
    new act can only move the latest act, the span or the first certificate forward, so the merge is
    exact, unless a changed act was one of those and moved the wrong way (corrected to an earlier day,
    to another patient, no longer a certificate, purged): those patients alone are rebuilt from all
    their acts, and one left with no act is deleted.
-#}
{{ config(
    materialized='scoped_incremental',
    scope='person',
    pre_hook="{{ keep_replaced_rows() }}",
    post_hook="{{ drop_replaced_rows() }}",
) }}
{#- What the summary takes from an act: of the changed acts (to judge the previous rows), of those merged. -#}
{%- set act_summary_columns -%}
    {{ stable_id('person', ['patient_pseudonym']) }} as person_id,
        {{ stable_id('visit', ['association_id', 'act_id']) }} as visit_occurrence_id,
        patient_pseudonym,
        association_id,
        act_id,
        start_at,
        cast(start_at as date) as start_date,
        cast(coalesce(end_at, start_at) as date) as end_date,
        outcome = 'DC' as is_death_certificate,
        patient_sex,
        patient_birth_year,
        patient_birth_month,
        patient_commune_code,
        patient_department_code
{%- endset %}
with

changed_acts as (

    -- The current version of every changed act (of every act, on a full build): the merge below needs
    -- the changed acts, not every act of their patients.
    select * from {{ ref('stg_lake__acts') }}
    where {{ in_scope(ref('stg_lake__acts'), grain='act') }}

),

gender_concepts as (

    select * from {{ ref('omop_gender_concepts') }}

),

{% if is_incremental() -%}

previous as (

    select * from {{ replaced_rows_relation() }}

),

changed_versions as (

    select
        {{ act_summary_columns }}

    from changed_acts

),

rebuilt_patients as (

    -- A changed act that made the previous row and no longer does it as far: the merge cannot tell
    -- what replaces it.
    select previous.patient_pseudonym
    from previous
    where
        (
            (previous.latest_association_id, previous.latest_act_id) in ({{ scope_select('act') }})
            and not exists (
                select 1 from changed_versions
                where
                    changed_versions.association_id = previous.latest_association_id
                    and changed_versions.act_id = previous.latest_act_id
                    and changed_versions.patient_pseudonym = previous.patient_pseudonym
                    and changed_versions.start_at >= previous.latest_start_at
            )
        )
        or (
            previous.first_visit_occurrence_id in ({{ scope_select('visit') }})
            and not exists (
                select 1 from changed_versions
                where
                    changed_versions.visit_occurrence_id = previous.first_visit_occurrence_id
                    and changed_versions.patient_pseudonym = previous.patient_pseudonym
                    and changed_versions.start_date <= previous.first_visit_start_date
            )
        )
        or (
            previous.last_visit_occurrence_id in ({{ scope_select('visit') }})
            and not exists (
                select 1 from changed_versions
                where
                    changed_versions.visit_occurrence_id = previous.last_visit_occurrence_id
                    and changed_versions.patient_pseudonym = previous.patient_pseudonym
                    and changed_versions.end_date >= previous.last_visit_end_date
            )
        )
        or (
            previous.death_visit_occurrence_id in ({{ scope_select('visit') }})
            and not exists (
                select 1 from changed_versions
                where
                    changed_versions.visit_occurrence_id = previous.death_visit_occurrence_id
                    and changed_versions.patient_pseudonym = previous.patient_pseudonym
                    and changed_versions.is_death_certificate
                    and changed_versions.start_at <= previous.death_datetime
            )
        )

),

kept_previous as (

    select * from previous
    where patient_pseudonym not in (select rebuilt_patients.patient_pseudonym from rebuilt_patients)

),

{%- endif %}

acts as (

    select * from changed_acts
    {% if is_incremental() -%}
    where patient_pseudonym not in (select rebuilt_patients.patient_pseudonym from rebuilt_patients)

    union all

    -- Every act of the patients rebuilt (none, most days: then this reads nothing).
    select * from {{ ref('stg_lake__acts') }}
    where patient_pseudonym in (select rebuilt_patients.patient_pseudonym from rebuilt_patients)
    {%- endif %}

),

act_rows as (

    select
        {{ act_summary_columns }}

    from acts

),

latest_candidates as (

    select
        person_id,
        patient_pseudonym,
        start_at,
        association_id,
        act_id,
        patient_sex,
        patient_birth_year,
        patient_birth_month,
        patient_commune_code,
        patient_department_code

    from act_rows

    {% if is_incremental() -%}
    union all

    -- The previous latest act, unless it changed (then its current version, if any, is among the acts).
    select
        person_id,
        patient_pseudonym,
        latest_start_at as start_at,
        latest_association_id as association_id,
        latest_act_id as act_id,
        patient_sex,
        year_of_birth as patient_birth_year,
        month_of_birth as patient_birth_month,
        commune_code as patient_commune_code,
        patient_department_code

    from kept_previous
    where (latest_association_id, latest_act_id) not in ({{ scope_select('act') }})
    {%- endif %}

),

latest_act as (

    select *
    from latest_candidates
    qualify row_number() over (
        partition by person_id
        order by start_at desc, association_id desc, act_id desc
    ) = 1

),

span_candidates as (

    select
        person_id,
        start_date as first_visit_start_date,
        visit_occurrence_id as first_visit_occurrence_id,
        end_date as last_visit_end_date,
        visit_occurrence_id as last_visit_occurrence_id

    from act_rows

    {% if is_incremental() -%}
    union all

    select
        person_id,
        first_visit_start_date,
        first_visit_occurrence_id,
        last_visit_end_date,
        last_visit_occurrence_id

    from kept_previous
    {%- endif %}

),

spans as (

    select
        person_id,
        min(first_visit_start_date) as first_visit_start_date,
        min_by(first_visit_occurrence_id, (first_visit_start_date, first_visit_occurrence_id))
            as first_visit_occurrence_id,
        max(last_visit_end_date) as last_visit_end_date,
        max_by(last_visit_occurrence_id, (last_visit_end_date, last_visit_occurrence_id))
            as last_visit_occurrence_id

    from span_candidates
    group by person_id

),

certificate_candidates as (

    select
        person_id,
        start_at as death_datetime,
        visit_occurrence_id as death_visit_occurrence_id

    from act_rows
    where is_death_certificate

    {% if is_incremental() -%}
    union all

    select
        person_id,
        death_datetime,
        death_visit_occurrence_id

    from kept_previous
    where death_visit_occurrence_id is not null
    {%- endif %}

),

first_certificates as (

    select
        person_id,
        min(death_datetime) as death_datetime,
        min_by(death_visit_occurrence_id, (death_datetime, death_visit_occurrence_id))
            as death_visit_occurrence_id

    from certificate_candidates
    group by person_id

),

persons as (

    select
        latest_act.person_id,
        latest_act.patient_pseudonym,
        latest_act.patient_sex,
        coalesce(gender_concepts.gender_concept_id, 0) as gender_concept_id,
        latest_act.patient_birth_year as year_of_birth,
        latest_act.patient_birth_month as month_of_birth,
        latest_act.patient_commune_code as commune_code,
        latest_act.patient_department_code,
        coalesce(
            latest_act.patient_department_code,
            {{ department_of_commune('latest_act.patient_commune_code') }}
        ) as department_code,
        case
            when latest_act.patient_commune_code is not null
                then {{ stable_id('location', ["'commune'", 'latest_act.patient_commune_code']) }}
            when latest_act.patient_department_code is not null
                then {{ stable_id('location', ["'departement'", 'latest_act.patient_department_code']) }}
        end as location_id,
        latest_act.start_at as latest_start_at,
        latest_act.association_id as latest_association_id,
        latest_act.act_id as latest_act_id,
        spans.first_visit_start_date,
        spans.first_visit_occurrence_id,
        spans.last_visit_end_date,
        spans.last_visit_occurrence_id,
        first_certificates.death_datetime,
        first_certificates.death_visit_occurrence_id

    from latest_act
    inner join spans
        on latest_act.person_id = spans.person_id
    left join first_certificates
        on latest_act.person_id = first_certificates.person_id
    left join gender_concepts
        on latest_act.patient_sex = gender_concepts.sex_code

)

select * from persons
