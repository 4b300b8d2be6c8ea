{#-
    The acts whose child rows (diagnoses, prescription lines, vital signs) may have been extracted
    earlier than their act's days tell, so that the daily build's bound on the child tables
    (changed_child_extract_bound) goes back further for them. A child row is recorded during its act
    and extracted with it or later, and ingest dates an act at most `child_rows_days_before_act` day
    after its extract: so a child row's extract date is normally at least its act's first day minus that.
    Two exceptions, kept here as the earliest extract date to look from (one row each, kept for good):
      - child rows extracted before that, or before their act is in the lake at all (an orphan whose
        act was quarantined, or comes later): their extract date;
      - a removed version of an act (a purge, a rewrite): its child rows were bounded by its day, which
        the remaining versions may no longer show: that day minus the margin.
    Anomalies only, so small: read with the changed acts' keys.
-#}
{{ config(materialized='incremental', incremental_strategy='append') }}

with

changed as (

    select
        association_id,
        act_id,
        min(act_date) as first_act_date,
        min(child_extract_date) as first_child_extract_date

    from {{ ref('base_lake__changed_acts') }}
    group by association_id, act_id

),

removed_versions as (

    select * from {{ ref('base_lake__removed_rows') }}
    where dataset = 'acts'

),

early_child_rows as (

    select
        association_id,
        act_id,
        first_child_extract_date as floor_date

    from changed
    where
        first_child_extract_date is not null
        and (
            first_act_date is null
            or first_child_extract_date < first_act_date - {{ var('child_rows_days_before_act') }}
        )

),

removed_act_days as (

    select
        association_id,
        act_id,
        cast(start_at as date) - {{ var('child_rows_days_before_act') }} as floor_date

    from removed_versions

),

floors as (

    select * from early_child_rows

    union

    select * from removed_act_days

)

select * from floors
{% if is_incremental() -%}
    except
    select
        association_id,
        act_id,
        floor_date
    from {{ this }}
{%- endif %}
