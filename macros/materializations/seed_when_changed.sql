{#-
    Seeds loaded again only when they changed. dbt reloads every seed on every build (parsing each CSV in
    Python, then truncating and copying it in): on a daily build that is 29 nodes of work for files that
    change a few times a year. Each load stamps its table with a hash of the file's content and the
    seed's config; a build whose seed still matches its stamp leaves the table as it
    is. A --full-refresh, a missing table, a changed file or config (the table replaced, so a column added,
    removed or retyped is taken), or a file dbt checksums by path only (over 1 MB) loads it as dbt does
    (its own materialisation, below). The stamp is a table comment on DuckDB, a table property on Spark
    (stamps.sql); both engines load seeds with dbt's default materialisation.
-#}
{% materialization seed, adapter='duckdb' %}
    {{ return(_seed_when_changed()) }}
{%- endmaterialization %}


{% materialization seed, adapter='spark' %}
    {{ return(_seed_when_changed()) }}
{%- endmaterialization %}


{% macro _seed_when_changed() -%}
    {%- set stamp = seed_stamp(model) -%}
    {%- set existing = adapter.get_relation(database=database, schema=schema, identifier=model['alias']) -%}
    {%- if stamp and existing is not none and existing.is_table and not should_full_refresh()
        and relation_stamps([existing])[existing.render()] == stamp -%}
        {#- dbt's seed runner reads the rows loaded from this result: none. -#}
        {%- do store_result('agate_table', response='OK', agate_table=run_query('select 1 as unchanged where false')) -%}
        {%- call noop_statement('main', 'UNCHANGED', 'UNCHANGED', 0) -%}
            -- {{ existing }} already holds this file: not loaded again
        {%- endcall -%}
        {{ return({'relations': [existing]}) }}
    {%- endif -%}
    {%- if stamp and existing is not none and existing.is_table and not should_full_refresh() -%}
        {#- A changed file or config is loaded as a new table: dbt would truncate the old one and insert
            into its columns, which fails when a column was added or removed (a warehouse built before
            the seed changed could not build again) and keeps the old types. -#}
        {%- do adapter.drop_relation(existing) -%}
    {%- endif -%}
    {%- set loaded = dbt.materialization_seed_default() -%}
    {%- if stamp -%}
        {%- do _stamp_relation(this.incorporate(type='table'), stamp) -%}
    {%- endif -%}
    {{ return(loaded) }}
{%- endmacro %}


{% macro seed_stamp(seed) -%}
    {#- Empty (always load) when dbt's checksum is not of the content. -#}
    {%- if seed.checksum.name != 'sha256' -%}
        {{ return('') }}
    {%- endif -%}
    {{ return('seed:' ~ local_md5(seed.checksum.checksum ~ tojson(seed.config))) }}
{%- endmacro %}
