{#-
    The lake on Spark: the views dbt-duckdb's plugin makes on DuckDB (ingest/build/dbt_plugin.py), made
    at the start of a Spark run from the file `lakehouse build --target spark` writes beforehand
    (ingest/build/spark_target.py): one JSON line per view, over exactly the files committed manifests
    name, read through the project's KMS client: Spark's global temporary views (`global_temp.*`), which
    live as long as the build's session. Nothing on DuckDB.
-#}
{% macro spark_lake_views() -%}
    {%- if target.type != 'spark' or not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- if not flags.FULL_REFRESH -%}
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
    {{ return(dbt_spark.materialization_table_spark()) }}
{%- endmaterialization %}


{% macro base_lake_strategy() -%}
    {#- The base tables' strategy: Spark's parquet tables have no delete+insert (full builds only, above). -#}
    {{- return('append' if target.type == 'spark' else 'delete+insert') -}}
{%- endmacro %}
