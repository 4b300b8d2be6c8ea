{#-
    Who called and the outcome of each act, as question/answer pairs of the project's own concepts
    (vocabulary UCN), plus diagnoses whose standard concept is outside the Condition domain (e.g. U07.1),
    which carry their source (ICD-10 or thesaurus) concept in observation_source_concept_id as
    condition_occurrence does: the columns observation computes. Ephemeral: compiled into observation,
    whose scope its reads follow.
-#}
with

visits as (

    select * from {{ ref('int_acts_typed_as_visits') }}
    where
        {{ in_scope(ref('int_acts_typed_as_visits')) }}

),

diagnoses as (

    select * from {{ ref('int_diagnoses_mapped_to_standard') }}
    where
        domain_id != 'Condition'
        and {{ in_scope(ref('int_diagnoses_mapped_to_standard')) }}

),

observation_concepts as (

    select * from {{ ref('omop_observation_concepts') }}

),

type_concepts as (

    select * from {{ ref('omop_type_concepts') }}

),

act_facts as (

    select
        visit_occurrence_id,
        person_id,
        provider_id,
        association_id,
        act_id,
        visit_start_date,
        call_at as observed_at,
        'caller_type' as source_field,
        caller_type as source_code

    from visits

    union all

    select
        visit_occurrence_id,
        person_id,
        provider_id,
        association_id,
        act_id,
        visit_start_date,
        visit_end_datetime as observed_at,
        'outcome' as source_field,
        outcome as source_code

    from visits

),

act_observations as (

    select
        {{ stable_id('observation', [
            'act_facts.association_id', 'act_facts.act_id', 'act_facts.source_field'
        ]) }} as observation_id,
        act_facts.person_id,
        coalesce(observation_concepts.observation_concept_id, 0) as observation_concept_id,
        act_facts.visit_start_date as observation_date,
        act_facts.observed_at as observation_datetime,
        observation_concepts.value_as_concept_id,
        act_facts.source_code as value_as_string,
        act_facts.provider_id,
        act_facts.visit_occurrence_id,
        act_facts.source_field || ':' || act_facts.source_code as observation_source_value,
        act_facts.source_code as value_source_value,
        0 as observation_source_concept_id

    from act_facts
    left join observation_concepts
        on
            act_facts.source_field = observation_concepts.source_field
            and act_facts.source_code = observation_concepts.source_code

),

diagnosis_observations as (

    select
        {{ stable_id('observation_diagnosis', [
            'association_id', 'act_id', 'diagnosis_rank', 'concept_id'
        ]) }} as observation_id,
        person_id,
        concept_id as observation_concept_id,
        visit_start_date as observation_date,
        visit_start_datetime as observation_datetime,
        cast(null as integer) as value_as_concept_id,
        cast(null as string) as value_as_string,
        provider_id,
        visit_occurrence_id,
        source_value as observation_source_value,
        cast(null as string) as value_source_value,
        {#- The ICD-10 (or thesaurus) concept of the code, as condition_occurrence carries it. #}
        coalesce(source_concept_id, 0) as observation_source_concept_id

    from diagnoses

),

unioned as (

    select * from act_observations
    union all
    select * from diagnosis_observations

),

final as (

    select
        unioned.observation_id,
        unioned.person_id,
        unioned.observation_concept_id,
        unioned.observation_date,
        unioned.observation_datetime,
        type_concepts.concept_id as observation_type_concept_id,
        unioned.value_as_string,
        unioned.value_as_concept_id,
        unioned.provider_id,
        unioned.visit_occurrence_id,
        unioned.observation_source_value,
        unioned.observation_source_concept_id,
        unioned.value_source_value

    from unioned
    inner join type_concepts
        on type_concepts.role = 'ehr'

)

select * from final
