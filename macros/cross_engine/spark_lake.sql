{#-
    The lake on Spark: the views dbt-duckdb's plugin makes on DuckDB (ingest/build/dbt_plugin.py), made
    at the start of a Spark run from the file `lakehouse build --target spark` writes beforehand
    (ingest/build/spark_target.py): a view per file committed manifests name, read through the project's
    KMS client, then per dataset the unions and file lists the base models read, from the files their
    table already holds (an incremental build reads the new ones only): Spark's global temporary views
    (`global_temp.*`), which live as long as the build's session. Nothing on DuckDB.
-#}
{% macro spark_lake_views() -%}
    {#- compile, docs, show: nothing reads the lake. -#}
    {%- if target.type != 'spark' or not execute or flags.WHICH not in ('build', 'run', 'seed', 'test') -%}
        {{ return('') }}
    {%- endif -%}
    {%- set listing = env_var('LAKEHOUSE_SPARK_LAKE_VIEWS', '') -%}
    {%- if not listing -%}
        {{ exceptions.raise_compiler_error(
            "The spark target reads the lake through views listed in LAKEHOUSE_SPARK_LAKE_VIEWS: run "
            ~ "`lakehouse build --target spark`, which writes them from the lake's manifests"
        ) }}
    {%- endif -%}
    {%- set lines = run_query(
        "select sql, dataset, columns, empty, view, file from json.`" ~ listing ~ "` order by n"
    ) -%}
    {%- set datasets = {} -%}
    {%- for sql, dataset, columns, empty, view, file in lines.rows -%}
        {%- if sql -%}
            {%- do run_query(sql) -%}
        {%- elif view -%}
            {%- do datasets[dataset].files.append([view, file]) -%}
        {%- else -%}
            {%- do datasets.update({dataset: {'columns': columns, 'empty': empty, 'files': []}}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for dataset, lake in datasets.items() -%}
        {%- set loaded = _spark_loaded_lake_files(dataset) -%}
        {%- set committed = [] -%}
        {%- set unloaded = [] -%}
        {%- for view, file in lake.files -%}
            {%- do committed.append(file) -%}
            {%- if file not in loaded -%}
                {%- do unloaded.append([view, file]) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set view = 'create or replace global temporary view ' ~ dataset -%}
        {%- do run_query(view ~ ' as ' ~ _spark_lake_union(lake, lake.files)) -%}
        {#- As DuckDB's plugin does: the files the base table does not hold yet (every file on a full
            build), and those it holds that are no longer committed (a purge, a rewrite). -#}
        {%- do run_query(view ~ '__unloaded as ' ~ _spark_lake_union(lake, unloaded)) -%}
        {%- do run_query(view ~ '__committed_files as ' ~ _spark_file_list(committed)) -%}
        {%- do run_query(view ~ '__unloaded_files as ' ~ _spark_file_list(unloaded | map('last') | list)) -%}
        {%- do run_query(view ~ '__removed_files as ' ~ _spark_file_list(loaded | reject('in', committed) | list)) -%}
    {%- endfor -%}
    {{ log("Spark lake views ready: " ~ (lines.rows | length) ~ " lines", info=true) }}
    {{ return('') }}
{%- endmacro %}


{% macro _spark_loaded_lake_files(dataset) -%}
    {#- The files the dataset's base table holds: none on a full build or before the first. -#}
    {%- set base = model_relation('base_lake__' ~ dataset) -%}
    {%- if flags.FULL_REFRESH or base is none or adapter.get_relation(
        database=base.database, schema=base.schema, identifier=base.identifier
    ) is none -%}
        {{ return([]) }}
    {%- endif -%}
    {{ return(run_query('select distinct _lake_file from ' ~ base).columns[0].values() | list) }}
{%- endmacro %}


{% macro _spark_lake_union(lake, files) -%}
    {%- if not files -%}
        {{ return(lake.empty) }}
    {%- endif -%}
    {%- set reads = [] -%}
    {%- for view, file in files -%}
        {%- do reads.append('select ' ~ lake.columns ~ ", " ~ _spark_file_literal(file) ~ ' as _lake_file from global_temp.' ~ view) -%}
    {%- endfor -%}
    {{ return(reads | join('\nunion all\n')) }}
{%- endmacro %}


{% macro _spark_file_list(files) -%}
    {%- if not files -%}
        {{ return('select cast(null as string) as _lake_file where false') }}
    {%- endif -%}
    {%- set literals = [] -%}
    {%- for file in files -%}
        {%- do literals.append('(' ~ _spark_file_literal(file) ~ ')') -%}
    {%- endfor -%}
    {{ return('select _lake_file from values ' ~ literals | join(', ') ~ ' as files (_lake_file)') }}
{%- endmacro %}


{% macro _spark_file_literal(file) -%}
    {%- if "'" in file or "\\" in file -%}
        {{ exceptions.raise_compiler_error("lake file `" ~ file ~ "` holds a quote or backslash: not put into Spark SQL") }}
    {%- endif -%}
    {{ return("'" ~ file ~ "'") }}
{%- endmacro %}


{#- A scoped model on Spark (Delta tables): a full build is dbt-spark's table; an incremental build
    deletes the scope (spark__scoped_delete_sql: one MERGE) and inserts the model's rows for it, through
    the same declaration, scope_select and scope_bound as DuckDB's (macros/incremental/scoped_incremental.sql). -#}
{% materialization scoped_incremental, adapter='spark' -%}
    {%- set existing = load_cached_relation(this) -%}
    {%- if existing is none or not existing.is_table or should_full_refresh() -%}
        {%- do drop_relation_if_exists(load_cached_relation(changed_rows_relation(this.identifier))) -%}
        {{ return(dbt.materialization_table_spark()) }}
    {%- endif -%}
    {%- set target = this.incorporate(type='table') -%}
    {%- set changed = changed_rows_relation(this.identifier) -%}
    {%- set chunks = scope_week_chunks() -%}
    {{ run_hooks(pre_hooks) }}
    {%- call statement('delete_scope') -%}
        {{ scoped_delete_sql(target, scope_key_columns(model), scope_select(model.config.scope), scope_bound(model)) }}
    {%- endcall -%}
    {%- do drop_relation_if_exists(load_cached_relation(changed)) -%}
    {%- do _scoped_write(changed, chunks) -%}
    {%- do process_schema_changes(
        incremental_validate_on_schema_change(config.get('on_schema_change'), default='ignore'), changed, existing
    ) -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='quoted') | join(', ') -%}
    {%- call statement('main') -%}
        insert into table {{ target }} select {{ columns }} from {{ changed }}
    {%- endcall -%}
    {%- if scope_keeps_changed_rows(model) -%}
        {%- do adapter.cache_added(changed) -%}
    {%- else -%}
        {%- do drop_relation_if_exists(changed) -%}
    {%- endif -%}
    {%- if chunks -%}
        {%- do drop_relation_if_exists(week_chunks_relation(target)) -%}
    {%- endif -%}
    {%- do persist_docs(target, model) -%}
    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target]}) }}
{%- endmaterialization %}


{#- Delta has no DELETE with a subquery: the rows whose keys the scope lists go by a MERGE. Its source's
    columns are renamed, so that the keys and the bound name the target's columns alone. -#}
{% macro spark__scoped_delete_sql(relation, key_columns, scope_select, bound) -%}
    {{ spark__delete_rows_in(relation, key_columns, scope_select, bound=bound) }}
{%- endmacro %}


{% macro spark__delete_rows_in(relation, key_columns, keys_select, bound='true', keep=false) -%}
    {%- set names = [] -%}
    {%- for column in key_columns -%}
        {%- do names.append('__key_' ~ loop.index) -%}
    {%- endfor -%}
    merge into {{ relation }}
    using (select * from ({{ keys_select }}) as __keys ({{ names | join(', ') }})) as __keys
    on {% for column in key_columns %}{{ column }} = __keys.{{ names[loop.index0] }} and {% endfor %}{{ bound }}
    {% if keep -%}
    when not matched by source then delete
    {%- else -%}
    when matched then delete
    {%- endif %}
{%- endmacro %}


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
    {#- The base tables' strategy: dbt-spark has no delete+insert; on Spark, base_lake_replace_batches
        deletes the batches first, then the new rows are appended. -#}
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


{#- NOT NULL and other constraints: dbt-spark sets them on Delta tables only, by a file format config that
    defaults to delta; not set on the Spark build's Delta tables yet (the contract's columns and types are
    checked above; the values by the DuckDB build's tests). -#}
{% macro spark__persist_constraints(relation, model) -%}
{%- endmacro %}
