{#-
    The acts whose derived rows must be rebuilt by this build: every act key with a base row (the act, a
    diagnosis, a prescription line, vital signs) from a file decrypted since the last completed build
    (base_lake__file_loads), or a row
    removed since then (base_lake__removed_rows). A correction, a late child row and a purge all land
    here; a duplicate batch does not (ingest drops it). One row per act key and version (patient, day)
    it has or had: the persons to rebuild are the patients of every version (a correction may move an
    act to another patient) and the weeks to rebuild every version's week (or move it to another day).
    Before the first completed build, or on a full refresh, every act is changed.
-#}
{%- set last_build = last_completed_build() -%}
{%- set changed_since = none if (last_build is none or flags.FULL_REFRESH) else last_build.built_through -%}
{{ config(materialized='table') }}

-- depends_on: {{ ref('base_lake__file_loads') }}

with

acts as (

    select * from {{ ref('base_lake__acts') }}

),

removed as (

    select * from {{ ref('base_lake__removed_rows') }}

),

loaded_acts as (

    select
        association_id,
        act_id

    from {{ ref('base_lake__acts') }}
    {% if changed_since is not none -%}
    where _lake_file in (
        select _lake_file from {{ ref('base_lake__file_loads') }}
        where
            dataset = 'acts'
            and loaded_at > cast('{{ changed_since }}' as timestamp)
    )
    {%- endif %}

),

loaded_diagnoses as (

    select
        association_id,
        act_id

    from {{ ref('base_lake__diagnoses') }}
    {% if changed_since is not none -%}
    where _lake_file in (
        select _lake_file from {{ ref('base_lake__file_loads') }}
        where
            dataset = 'diagnoses'
            and loaded_at > cast('{{ changed_since }}' as timestamp)
    )
    {%- endif %}

),

loaded_prescriptions as (

    select
        association_id,
        act_id

    from {{ ref('base_lake__prescriptions') }}
    {% if changed_since is not none -%}
    where _lake_file in (
        select _lake_file from {{ ref('base_lake__file_loads') }}
        where
            dataset = 'prescriptions'
            and loaded_at > cast('{{ changed_since }}' as timestamp)
    )
    {%- endif %}

),

loaded_vital_signs as (

    select
        association_id,
        act_id

    from {{ ref('base_lake__vital_signs') }}
    {% if changed_since is not none -%}
    where _lake_file in (
        select _lake_file from {{ ref('base_lake__file_loads') }}
        where
            dataset = 'vital_signs'
            and loaded_at > cast('{{ changed_since }}' as timestamp)
    )
    {%- endif %}

),

touched as (

    select
        association_id,
        act_id
    from loaded_acts

    union

    select
        association_id,
        act_id
    from loaded_diagnoses

    union

    select
        association_id,
        act_id
    from loaded_prescriptions

    union

    select
        association_id,
        act_id
    from loaded_vital_signs

    union

    select
        association_id,
        act_id
    from removed

),

versions as (

    select
        touched.association_id,
        touched.act_id,
        acts.patient_pseudonym,
        cast(acts.start_at as date) as act_date

    from touched
    left join acts
        on
            touched.association_id = acts.association_id
            and touched.act_id = acts.act_id

    union

    select
        association_id,
        act_id,
        patient_pseudonym,
        cast(start_at as date) as act_date

    from removed
    where dataset = 'acts'

),

final as (

    select
        {{ stable_id('visit', ['association_id', 'act_id']) }} as visit_occurrence_id,
        case
            when patient_pseudonym is not null then {{ stable_id('person', ['patient_pseudonym']) }}
        end as person_id,
        association_id,
        act_id,
        patient_pseudonym,
        act_date

    from versions

)

select * from final
