{#-
    A week-grained scoped model computed a range of ISO weeks per statement (config
    `weeks_per_statement`, e.g. disclosure_controlled_cells): the weeks a build recomputes (all of them
    on a full refresh) are cut into ranges of at most that many weeks, and the materialisation
    (scoped_incremental) runs the model's query once per range, the current range written to a one-row
    table, build_state.<model>__week_chunks, which the query reads (in_current_week_chunk). Correct only
    for models whose rows of different ISO weeks are computed independently.
-#}

{% macro week_chunks_relation(model_relation) -%}
    {{- return(api.Relation.create(
        database=model_relation.database, schema='build_state',
        identifier=model_relation.identifier ~ '__week_chunks', type='table'
    )) -}}
{%- endmacro %}


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
                floor((row_number() over (order by week_start_date) - 1) / {{ per_statement }}) as chunk
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


{% macro in_current_week_chunk(model_relation, column) -%}
    {%- set chunk = week_chunks_relation(model_relation) -%}
    {{ column }} between (select first_week_start from {{ chunk }}) and (select last_week_start from {{ chunk }})
{%- endmacro %}
