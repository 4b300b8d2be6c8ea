{#-
    A week-partitioned model computed a range of ISO weeks per statement (disclosure_controlled_cells).
    The weeks a build recomputes (all of them on a full refresh) are cut into groups of at most
    `weeks_per_chunk` weeks. A one-row table, build_state.<model>__week_chunks, holds the current
    range: the pre-hook writes the first, the model's query reads it (in_current_week_chunk), and the
    post-hook writes each next range and inserts the same query's rows for it, before complementary
    suppression and the drop of the table. Correct only for models whose rows of different ISO weeks
    are computed independently.
-#}

{#- The chunk table of a model (in build_state: nothing but published tables in the marts' schema). -#}
{% macro week_chunks_relation(model_relation) -%}
    {{- return(api.Relation.create(
        database=model_relation.database, schema='build_state',
        identifier=model_relation.identifier ~ '__week_chunks'
    )) -}}
{%- endmacro %}


{#-
    The weeks of `scope_select` in groups of at most weeks_per_chunk weeks, in order, each as the range
    [its first Monday, its last Monday]: a daily build with a late correction years back is two weeks,
    one range, however far apart they are.
-#}
{% macro week_chunks(scope_select, weeks_per_chunk) -%}
    {%- if not execute -%}
        {{- return([]) -}}
    {%- endif -%}
    {%- set ranges = run_query(
        'select min(week_start_date), max(week_start_date) from ('
        ~ ' select week_start_date, (row_number() over (order by week_start_date) - 1) // '
        ~ weeks_per_chunk ~ ' as chunk from (select distinct week_start_date from (' ~ scope_select ~ '))'
        ~ ') group by chunk order by chunk'
    ) -%}
    {%- set chunks = [] -%}
    {%- for row in ranges.rows -%}
        {%- do chunks.append([row[0], row[1]]) -%}
    {%- endfor -%}
    {{- return(chunks) -}}
{%- endmacro %}


{% macro _write_week_chunk(model_relation, chunk) -%}
    create or replace table {{ week_chunks_relation(model_relation) }} as
    select
        {{ "date '" ~ chunk[0] ~ "'" if chunk else 'cast(null as date)' }} as first_week_start,
        {{ "date '" ~ chunk[1] ~ "'" if chunk else 'cast(null as date)' }} as last_week_start
{%- endmacro %}


{#- Pre-hook: the first range (a row of nulls, which selects nothing, when no week is recomputed). -#}
{% macro start_week_chunks(model_relation, scope_select, weeks_per_chunk) -%}
    {%- set chunks = week_chunks(scope_select, weeks_per_chunk) -%}
    {{ _write_week_chunk(model_relation, chunks[0] if chunks else none) }}
{%- endmacro %}


{#- Filter of the model's query: `column` (an ISO week's Monday) within the current range. -#}
{% macro in_current_week_chunk(model_relation, column) -%}
    {%- set chunk = week_chunks_relation(model_relation) -%}
    {{ column }} between (select first_week_start from {{ chunk }}) and (select last_week_start from {{ chunk }})
{%- endmacro %}


{#-
    Post-hook: every range after the first, one statement each, the model's own compiled query
    (`model_sql`, the materialisation's `sql`) inserted into the model.
-#}
{% macro insert_remaining_week_chunks(model_relation, scope_select, weeks_per_chunk, model_sql) -%}
    {%- for chunk in week_chunks(scope_select, weeks_per_chunk)[1:] -%}
        {%- do run_query(_write_week_chunk(model_relation, chunk)) -%}
        {%- do run_query('insert into ' ~ model_relation ~ ' ' ~ model_sql) -%}
    {%- endfor -%}
    select 1
{%- endmacro %}
