{#-
    The lake on Spark: the views dbt-duckdb's plugin makes on DuckDB (ingest/build/dbt_plugin.py), made
    at the start of a Spark run from the file `lakehouse build --target spark` writes beforehand
    (ingest/build/spark_target.py): one JSON line per view, over exactly the files committed manifests
    name, read through the project's KMS client: Spark's global temporary views (`global_temp.*`), which
    live as long as the build's session. Nothing on DuckDB.
-#}
{% macro spark_lake_views() -%}
    {#- compile, docs, show: nothing reads the lake. -#}
    {%- if target.type != 'spark' or not execute or flags.WHICH not in ('build', 'run', 'seed', 'test') -%}
        {{ return('') }}
    {%- endif -%}
    {%- if flags.WHICH in ('build', 'run') and not flags.FULL_REFRESH -%}
        {{ exceptions.raise_compiler_error(
            "Builds on Spark are full builds for now (docs/spark.md): run with --full-refresh "
            ~ "(`lakehouse build --target spark` does)"
        ) }}
    {%- endif -%}
    {%- set listing = env_var('LAKEHOUSE_SPARK_LAKE_VIEWS', '') -%}
    {%- if not listing -%}
        {{ exceptions.raise_compiler_error(
            "The spark target reads the lake through views listed in LAKEHOUSE_SPARK_LAKE_VIEWS: run "
            ~ "`lakehouse build --target spark`, which writes them from the lake's manifests"
        ) }}
    {%- endif -%}
    {%- set statements = run_query("select sql from json.`" ~ listing ~ "`") -%}
    {%- for statement in statements.rows -%}
        {%- do run_query(statement[0]) -%}
    {%- endfor -%}
    {{ log("Spark lake views ready: " ~ (statements.rows | length) ~ " statements", info=true) }}
    {{ return('') }}
{%- endmacro %}


{#- Full builds only on Spark for now: a scoped model is a table rebuilt whole. Its incremental form (the
    scope's rows deleted, then inserted) needs a table format with DELETE/MERGE (Delta Lake), see
    docs/spark.md. -#}
{% materialization scoped_incremental, adapter='spark' -%}
    {%- if not should_full_refresh() -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": incremental builds are not implemented on Spark yet; build with --full-refresh"
            ~ " (`lakehouse build --target spark` does)"
        ) }}
    {%- endif -%}
    {{ return(dbt.materialization_table_spark()) }}
{%- endmaterialization %}


{#- Whether scoped_incremental writes a model of `weeks_per_statement` a range of weeks at a time (the
    chunk table in_scope reads): on Spark the table above is written by one statement. -#}
{% macro scope_writes_week_chunks() -%}
    {{ return(adapter.dispatch('scope_writes_week_chunks')()) }}
{%- endmacro %}

{% macro default__scope_writes_week_chunks() -%}
    {{ return(true) }}
{%- endmacro %}

{% macro spark__scope_writes_week_chunks() -%}
    {{ return(false) }}
{%- endmacro %}


{% macro base_lake_strategy() -%}
    {#- The base tables' strategy: Spark's parquet tables have no delete+insert (full builds only, above). -#}
    {{- return('append' if target.type == 'spark' else 'delete+insert') -}}
{%- endmacro %}


{#- The CDM's contracts on Spark: the columns the model's SQL gives, by name and type, against its YAML,
    whose types are DuckDB's names (dbt-spark would cast to them: Spark has no varchar without a length). -#}
{% macro spark__get_assert_columns_equivalent(sql) -%}
    {#- Integers compare as one family: dbt-spark types a seed's integers bigint where dbt-duckdb says
        integer, so an id read from a seed is wider on Spark (the values are equal). -#}
    {%- set spark_names = {
        'varchar': 'string', 'timestamp': 'timestamp_ntz',
        'integer': 'integer', 'int': 'integer', 'bigint': 'integer', 'smallint': 'integer', 'tinyint': 'integer',
    } -%}
    {%- set built = {} -%}
    {%- for column in get_column_schema_from_query(get_empty_subquery_sql(sql)) -%}
        {%- set dtype = column.dtype | lower -%}
        {%- do built.update({column.name: spark_names.get(dtype, dtype)}) -%}
    {%- endfor -%}
    {%- set wrong = [] -%}
    {%- for name, column in model.columns.items() -%}
        {%- set declared = (column.data_type or '') | lower -%}
        {%- set declared = spark_names.get(declared, declared) -%}
        {%- if built.get(name) != declared -%}
            {%- do wrong.append(name ~ ': declared ' ~ declared ~ ', built ' ~ built.get(name, 'none')) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if wrong or built | length != model.columns | length -%}
        {{ exceptions.raise_compiler_error(
            "Contract of " ~ model.name ~ " on Spark: " ~ (wrong | join('; ') or 'other columns: ' ~ (built.keys() | list))
        ) }}
    {%- endif -%}
{%- endmacro %}


{#- NOT NULL and other constraints: dbt-spark sets them on Delta tables only, but decides by a file format
    that defaults to delta; the Spark build's tables are Parquet, which has none (the contract's columns
    and types are checked above; the values by the DuckDB build's tests). -#}
{% macro spark__persist_constraints(relation, model) -%}
{%- endmacro %}
