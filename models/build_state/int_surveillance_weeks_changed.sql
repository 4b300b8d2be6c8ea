{#-
    The ISO weeks (by their Monday) whose surveillance cells the marts must recompute in this build.
    Cells and their complementary suppression never cross an ISO week (every margin group lies within
    one: see epidemiology_cell_margins), so recomputing whole weeks gives the cells a full build gives.
    A week is changed when:
      - a version of a changed act (base_lake__changed_acts) falls in it: a new, late, corrected or
        purged act, or one whose diagnoses, prescriptions or vital signs changed;
      - it is at, or between, the first or last day with acts as the last completed build saw them and
        as they are now (the dense grid runs from the first to the last day: new days, or a purge of the
        first or last ones, change the grid);
      - every week, when the grid's other dimensions changed (a new département or association: the
        dense grid gets zero cells for them in every week), on a full refresh, or before the first
        completed build.
-#}
{%- set last_build = last_completed_build() -%}
{%- set rebuild_all = last_build is none or flags.FULL_REFRESH or last_build.first_act_date is none -%}
{%- set previous = {} -%}
{%- for name, type in [
    ('first_act_date', 'date'), ('last_act_date', 'date'),
    ('geography_fingerprint', 'string'), ('association_fingerprint', 'string'),
] -%}
    {%- do previous.update({name: 'cast(null as ' ~ type ~ ')' if rebuild_all
        else "cast('" ~ last_build[name] ~ "' as " ~ type ~ ")"}) -%}
{%- endfor -%}
{{ config(materialized='table') }}

with

grid as (

    select * from {{ ref('int_surveillance_grid_by_week') }}

),

changed_acts as (

    select * from {{ ref('base_lake__changed_acts') }}

),

current_grid as (

    select
        min(first_act_date) as first_act_date,
        max(last_act_date) as last_act_date,
        {{ surveillance_grid_fingerprints('grid') }}

    from grid

),

previous_grid as (

    select
        {{ previous.first_act_date }} as first_act_date,
        {{ previous.last_act_date }} as last_act_date,
        {{ previous.geography_fingerprint }} as geography_fingerprint,
        {{ previous.association_fingerprint }} as association_fingerprint

),

bounds as (

    select
        current_grid.first_act_date,
        current_grid.last_act_date,
        previous_grid.first_act_date as previous_first_act_date,
        previous_grid.last_act_date as previous_last_act_date,
        {{ 'true' if rebuild_all else 'false' }}
        or current_grid.geography_fingerprint != previous_grid.geography_fingerprint
        or current_grid.association_fingerprint != previous_grid.association_fingerprint as is_grid_changed

    from current_grid
    cross join previous_grid

),

moved_ends as (

    -- The first and the last day with acts, now and as the last completed build saw them.
    select
        first_act_date as current_day,
        previous_first_act_date as previous_day
    from bounds

    union all

    select
        last_act_date as current_day,
        previous_last_act_date as previous_day
    from bounds

),

candidate_days as (

    -- Every version's day of the changed acts.
    select act_date as changed_day
    from changed_acts

    union all

    -- From the earlier to the later of the two first days, and of the two last days, when they moved.
    select cast(day_range.range as date) as changed_day
    from moved_ends
    {{ join_days_between(
        'least(moved_ends.current_day, moved_ends.previous_day)',
        'greatest(moved_ends.current_day, moved_ends.previous_day)',
        'day_range',
    ) }}
    where moved_ends.current_day is distinct from moved_ends.previous_day

    union all

    -- Every day, when the grid's other dimensions changed (or on a full rebuild).
    select cast(day_range.range as date) as changed_day
    from bounds
    {{ join_days_between('bounds.first_act_date', 'bounds.last_act_date', 'day_range') }}
    where bounds.is_grid_changed

),

final as (

    select distinct cast(date_trunc('week', changed_day) as date) as week_start_date
    from candidate_days
    where changed_day is not null

)

select * from final
