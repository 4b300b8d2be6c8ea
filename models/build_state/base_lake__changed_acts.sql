{#-
    The acts whose derived rows must be rebuilt by this build: every act key with a base row (the act, a
    diagnosis, a prescription line, vital signs) from a file decrypted since the last completed build
    (base_lake__file_loads), or a row
    removed since then (base_lake__removed_rows). A correction, a late child row and a purge all land
    here; a duplicate batch does not (ingest drops it). One row per act key and version (patient, day)
    it has or had: the persons to rebuild are the patients of every version (a correction may move an
    act to another patient) and the weeks to rebuild every version's week (or move it to another day).
    With each act, the earliest extract date of its child rows among those files: with the act's days,
    it bounds the child tables' reads (base_lake__child_extract_floors).
    Before the first completed build, or on a full refresh, every act is changed. It reads the watermark
    (last_completed_build), hence its dependency on it: a selection of what it feeds builds the
    watermark's table, without which no build can complete and every act stays changed.
-#}
{%- set last_build = last_completed_build() -%}
{%- set changed_since = none if (last_build is none or flags.FULL_REFRESH) else last_build.built_through -%}
{{ config(materialized='table') }}

-- depends_on: {{ ref('base_lake__file_loads') }}
-- depends_on: {{ ref('base_lake__builds_completed') }}

with

acts as (

    select * from {{ ref('base_lake__acts') }}

),

removed as (

    select * from {{ ref('base_lake__removed_rows') }}

),

loaded_acts as (

    {{ base_rows_loaded_since('acts', changed_since) }}

),

loaded_diagnoses as (

    {{ base_rows_loaded_since('diagnoses', changed_since) }}

),

loaded_prescriptions as (

    {{ base_rows_loaded_since('prescriptions', changed_since) }}

),

loaded_vital_signs as (

    {{ base_rows_loaded_since('vital_signs', changed_since) }}

),

touched as (

    select * from loaded_acts

    union all

    select * from loaded_diagnoses

    union all

    select * from loaded_prescriptions

    union all

    select * from loaded_vital_signs

    union all

    select
        association_id,
        act_id,
        cast(null as date) as child_extract_date
    from removed

),

touched_acts as (

    select
        association_id,
        act_id,
        min(child_extract_date) as child_extract_date

    from touched
    group by association_id, act_id

),

versions as (

    select
        touched_acts.association_id,
        touched_acts.act_id,
        acts.patient_pseudonym,
        cast(acts.start_at as date) as act_date,
        touched_acts.child_extract_date

    from touched_acts
    left join acts
        on
            touched_acts.association_id = acts.association_id
            and touched_acts.act_id = acts.act_id

    union

    select
        removed.association_id,
        removed.act_id,
        removed.patient_pseudonym,
        cast(removed.start_at as date) as act_date,
        touched_acts.child_extract_date

    from removed
    inner join touched_acts
        on
            removed.association_id = touched_acts.association_id
            and removed.act_id = touched_acts.act_id
    where removed.dataset = 'acts'

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
        act_date,
        child_extract_date

    from versions

)

select * from final
