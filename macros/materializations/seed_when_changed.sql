{#-
    Seeds loaded again only when they changed. dbt reloads every seed on every build (parsing each CSV in
    Python, then truncating and copying it in): on a daily build that is 29 nodes of work for files that
    change a few times a year. Each load stamps its table with a hash of the file's content and the
    seed's config (a table comment); a build whose seed still matches its stamp leaves the table as it
    is. A --full-refresh, a missing table, a changed file or config (the table replaced, so a column added,
    removed or retyped is taken), or a file dbt checksums by path only (over 1 MB) loads it as dbt does
    (its own materialisation, below).
-#}
{% materialization seed, adapter='duckdb' %}
    {%- set stamp = seed_stamp(model) -%}
    {%- set existing = adapter.get_relation(database=database, schema=schema, identifier=model['alias']) -%}
    {%- if stamp and existing is not none and existing.is_table and not should_full_refresh()
        and seed_loaded_stamp(existing) == stamp -%}
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
        {%- call statement('seed_stamp') -%}
            comment on table {{ this.incorporate(type='table') }} is '{{ stamp }}'
        {%- endcall -%}
        {%- do adapter.commit() -%}
    {%- endif -%}
    {{ return(loaded) }}
{%- endmaterialization %}


{% macro seed_stamp(seed) -%}
    {#- Empty (always load) when dbt's checksum is not of the content. -#}
    {%- if seed.checksum.name != 'sha256' -%}
        {{ return('') }}
    {%- endif -%}
    {{ return('seed:' ~ local_md5(seed.checksum.checksum ~ tojson(seed.config))) }}
{%- endmacro %}


{% macro seed_loaded_stamp(relation) -%}
    {%- set found = run_query(
        "select comment from duckdb_tables() where database_name = '" ~ relation.database
        ~ "' and schema_name = '" ~ relation.schema ~ "' and table_name = '" ~ relation.identifier ~ "'"
    ) -%}
    {{ return(found.columns[0].values()[0] if found.rows | length == 1 else none) }}
{%- endmacro %}
