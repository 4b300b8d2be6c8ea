{#-
    A week-grained scoped model computed a range of ISO weeks per statement (config
    `weeks_per_statement`, e.g. disclosure_controlled_cells): the weeks a build recomputes (all of them
    on a full refresh) are cut into ranges of at most that many weeks, and the materialisation
    (scoped_incremental) runs the model's query once per range, the current range written to a one-row
    table, build_state.<model>__week_chunks, which the query reads (in_current_week_chunk). Correct only
    for models whose rows of different ISO weeks are computed independently.
-#}

{#- The chunk table of a model (in build_state: nothing but published tables in the marts' schema). -#}
{% macro week_chunks_relation(model_relation) -%}
    {{- return(api.Relation.create(
        database=model_relation.database, schema='build_state',
        identifier=model_relation.identifier ~ '__week_chunks', type='table'
    )) -}}
{%- endmacro %}


{#-
    The ranges [first Monday, last Monday] of the weeks of this build's scope, in order, at most
    `weeks_per_statement` weeks each (a daily build with a late correction years back is two weeks, one
    range, however far apart they are); [[none, none]] when no week is recomputed (the query then reads
    nothing); none when the model declares no `weeks_per_statement`.
-#}
{% macro scope_week_chunks() -%}
    {%- set per_statement = config.get('weeks_per_statement') -%}
    {%- if not per_statement or not execute -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set query -%}
        with weeks as (
            select distinct week_start_date from ({{ scope_select(model.config.scope) }}) as scope (week_start_date)
        ),

        numbered as (
            select
                week_start_date,
                (row_number() over (order by week_start_date) - 1) // {{ per_statement }} as chunk
            from weeks
        )

        select min(week_start_date), max(week_start_date) from numbered group by chunk order by chunk
    {%- endset -%}
    {%- set chunks = [] -%}
    {%- for row in run_query(query).rows -%}
        {%- do chunks.append([row[0], row[1]]) -%}
    {%- endfor -%}
    {{- return(chunks or [[none, none]]) -}}
{%- endmacro %}


{% macro write_week_chunk_sql(model_relation, chunk) -%}
    create or replace table {{ week_chunks_relation(model_relation) }} as
    select
        cast({{ "'" ~ chunk[0] ~ "'" if chunk[0] else 'null' }} as date) as first_week_start,
        cast({{ "'" ~ chunk[1] ~ "'" if chunk[1] else 'null' }} as date) as last_week_start
{%- endmacro %}


{#- Filter of the model's query: `column` (an ISO week's Monday) within the current range. -#}
{% macro in_current_week_chunk(model_relation, column) -%}
    {%- set chunk = week_chunks_relation(model_relation) -%}
    {{ column }} between (select first_week_start from {{ chunk }}) and (select last_week_start from {{ chunk }})
{%- endmacro %}
