{#-
    dbt-spark's seed rows, read by Spark from the seed's file. Its own macro binds the rows as parameters
    of one `insert ... values` per 10,000 rows, which the session method substitutes unquoted and
    unescaped (an apostrophe in a label broke the statement, an empty cell became the text 'None'), and
    which Spark took minutes to analyse for the 10,000 communes. Here Spark reads the CSV (every column
    as text, an empty cell as NULL) and casts each column to the type dbt's seed table has.
-#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set path = model.root_path ~ '/' ~ model.original_file_path -%}
    {%- set delimiter = model['config'].get('delimiter') or ',' -%}
    {%- call statement('seed_file') -%}
        create or replace temporary view dbt_seed_file
        using csv
        options (
            path 'file://{{ path }}',
            header 'true',
            delimiter '{{ delimiter | replace('\t', '\\t') }}',
            quote '"',
            escape '"',
            inferSchema 'false',
            enforceSchema 'false'
        )
    {%- endcall -%}
    {%- set sql -%}
        insert into {{ this.render() }}
        select
        {%- for col_name in agate_table.column_names %}
            cast(`{{ col_name }}` as {{ column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) }})
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
        from dbt_seed_file
    {%- endset -%}
    {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
    {%- do adapter.add_query('drop view if exists dbt_seed_file') -%}
    {{ return(sql) }}
{% endmacro %}
