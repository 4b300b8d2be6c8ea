{#-
    The statements of complementary suppression (suppression.sql) that the engines spell differently.
    DuckDB: temporary tables, UPDATE in place, the linear attacker as a function the dbt-duckdb plugin
    registers (ingest/disclosure/repair.py). Spark (Delta tables): the work tables are tables of
    build_state, dropped at the end; an update rewrites the table (the new rows into a work table, then
    INSERT OVERWRITE); the certificates and the information loss replace the scope's rows (MERGE); the
    linear attacker runs as a script transform (TRANSFORM ... USING, ingest/disclosure/spark_repair.py)
    on each ISO week's cells, since dbt-spark runs in its own process where nothing registers a Python
    function on its session.
-#}

{% macro disclosure_work_table(name) -%}
    {{ return(adapter.dispatch('disclosure_work_table')(name)) }}
{%- endmacro %}

{% macro default__disclosure_work_table(name) -%}
    {{ return(name) }}
{%- endmacro %}

{% macro spark__disclosure_work_table(name) -%}
    {{ return('build_state.' ~ name) }}
{%- endmacro %}


{#- The head of the statement that (re)creates a work table from the query that follows it. -#}
{% macro disclosure_create_work_table(name) -%}
    {{ return(adapter.dispatch('disclosure_create_work_table')(name)) }}
{%- endmacro %}

{% macro default__disclosure_create_work_table(name) -%}
    create or replace temp table {{ name }} as
{%- endmacro %}

{% macro spark__disclosure_create_work_table(name) -%}
    {%- do run_query('create schema if not exists build_state') -%}
    {%- do run_query('drop table if exists ' ~ disclosure_work_table(name)) -%}
    create table {{ disclosure_work_table(name) }} as
{%- endmacro %}


{% macro disclosure_drop_work_tables(relation) -%}
    {{ return(adapter.dispatch('disclosure_drop_work_tables')(relation)) }}
{%- endmacro %}

{% macro default__disclosure_drop_work_tables(relation) -%}
    {% call statement('disclosure_cleanup') %}
        drop table if exists disclosure_members;
        drop table if exists disclosure_picks;
        drop table if exists disclosure_touched;
        drop table if exists disclosure_audit_picks
    {% endcall %}
{%- endmacro %}

{% macro spark__disclosure_drop_work_tables(relation) -%}
    {%- for name in [
        'disclosure_members', 'disclosure_picks', 'disclosure_touched', 'disclosure_audit_picks',
        'disclosure_audit_output', _disclosure_rewrite_name(relation),
    ] -%}
        {%- do run_query('drop table if exists ' ~ disclosure_work_table(name)) -%}
    {%- endfor -%}
{%- endmacro %}


{#-
    The linear attacker's audit and repair of every audit unit's cells: the ids of the cells whose state it
    changes (hidden as well, or given back), into the work table disclosure_audit_picks.
-#}
{% macro disclosure_audit_repair_picks(relation, attacker_cell, attacker_group, scope_where, protection_k) -%}
    {{ return(adapter.dispatch('disclosure_audit_repair_picks')(
        relation, attacker_cell, attacker_group, scope_where, protection_k
    )) }}
{%- endmacro %}

{% macro default__disclosure_audit_repair_picks(relation, attacker_cell, attacker_group, scope_where, protection_k) -%}
    {%- set registered = run_query(
        "select count(*) from duckdb_functions() where function_name = 'disclosure_audit_repair'"
    ).columns[0].values()[0] -%}
    {%- if registered == 0 -%}
        {{ exceptions.raise_compiler_error(
            "Complementary suppression of " ~ relation ~ ": the linear attacker's function "
            ~ "`disclosure_audit_repair` is not on this connection; add the dbt-duckdb plugin "
            ~ "`ingest.disclosure.repair` to the profile's `plugins` (profiles.yml). Nothing was published."
        ) }}
    {%- endif -%}
    {% call statement('disclosure_audit') %}
        create or replace temp table disclosure_audit_picks as
        select unnest(disclosure_audit_repair({{ protection_k }}, list(cell))) as cell_id
        from ({{ disclosure_cells_by_audit_unit(relation, attacker_cell, attacker_group, scope_where) }}) as cells_to_audit
        group by audit_unit
    {% endcall %}
{%- endmacro %}

{#- Each unit's cells, every field of the attacker's struct as JSON (whatever fields it has), to the
    script, which answers per unit the cells whose state changes and the certificate of the cells once
    changed (`change`, `certificate` rows: ingest/disclosure/spark_repair.py). All the cells of a unit go to one
    script (DISTRIBUTE BY). -#}
{% macro spark__disclosure_audit_repair_picks(relation, attacker_cell, attacker_group, scope_where, protection_k) -%}
    {%- set python = env_var('LAKEHOUSE_SPARK_PYTHON', '') -%}
    {%- if not python -%}
        {{ exceptions.raise_compiler_error(
            "Complementary suppression of " ~ relation ~ ": the linear attacker runs in the project's Python, "
            ~ "which LAKEHOUSE_SPARK_PYTHON names: run `lakehouse build --target spark`, which sets it. "
            ~ "Nothing was published."
        ) }}
    {%- endif -%}
    {%- if "'" in python or '"' in python -%}
        {{ exceptions.raise_compiler_error("LAKEHOUSE_SPARK_PYTHON holds a quote: " ~ python) }}
    {%- endif -%}
    {% call statement('disclosure_audit') %}
        {{ disclosure_create_work_table('disclosure_audit_output') }}
        select
            transform(audit_unit, cell_json)
                using '"{{ python }}" -m ingest.disclosure.spark_repair {{ protection_k }}'
                as (kind string, audit_unit string, value string, attacker_version string)
        from (
            select
                cast(audit_unit as string) as audit_unit,
                to_json(cell, map('ignoreNullFields', 'false')) as cell_json
            from ({{ disclosure_cells_by_audit_unit(relation, attacker_cell, attacker_group, scope_where) }}) as cells_to_audit
            distribute by audit_unit
        ) as cells_by_unit
    {% endcall %}
    {% call statement('disclosure_audit_picks') %}
        {{ disclosure_create_work_table('disclosure_audit_picks') }}
        select value as cell_id
        from {{ disclosure_work_table('disclosure_audit_output') }}
        where kind = 'change'
    {% endcall %}
{%- endmacro %}


{#- The certificates on Spark: those the script gave for the cells it left, in place of the scope's
    units' (an incremental build's weeks; every unit on a full build), as on DuckDB. -#}
{% macro spark__disclosure_write_certificates(relation, attacker_cell, attacker_group, scope_where, protection_k) %}
    {%- set certificates = disclosure_work_table(relation.identifier ~ '__disclosure_certificates') -%}
    {%- set given -%}
        select
            audit_unit,
            value as cells_sha256,
            {{ protection_k }} as disclosure_k,
            attacker_version
        from {{ disclosure_work_table('disclosure_audit_output') }}
        where kind = 'certificate'
    {%- endset -%}
    {% call statement('disclosure_certificates') %}
        {{ _spark_replace_scope_rows(certificates, given, ['audit_unit'],
            'select distinct cast(' ~ attacker_group ~ ' as string) from ' ~ relation ~ ' where ' ~ scope_where) }}
    {% endcall %}
{% endmacro %}

{#- `rows` in place of the table's rows whose `key_columns` `keys_select` gives (a Delta table: one MERGE
    deletes them), the table made by the first build. -#}
{% macro _spark_replace_scope_rows(table, rows, key_columns, keys_select) -%}
    {%- do run_query('create schema if not exists build_state') -%}
    {%- do run_query('create table if not exists ' ~ table ~ ' as select * from (' ~ rows ~ ') as none where false') -%}
    {%- do run_query(delete_rows_in(table, key_columns, keys_select)) -%}
    insert into {{ table }} {{ rows }}
{%- endmacro %}


{#- The information loss per ISO week (suppression.sql, `stats_relation`). -#}
{% macro disclosure_write_stats(stats_relation, relation, count_column, scope_where) -%}
    {{ return(adapter.dispatch('disclosure_write_stats')(stats_relation, relation, count_column, scope_where)) }}
{%- endmacro %}

{% macro default__disclosure_write_stats(stats_relation, relation, count_column, scope_where) -%}
    {% call statement('disclosure_stats') %}
        create table if not exists {{ stats_relation }} (
            period_start date,
            family varchar,
            geo_level varchar,
            period_type varchar,
            is_all_ages boolean,
            cell_total bigint,
            suppressed_cell_total bigint,
            complementary_cell_total bigint,
            count_total bigint,
            suppressed_count_total bigint
        );
        delete from {{ stats_relation }} where {{ scope_where }};
        insert into {{ stats_relation }}
        {{ _disclosure_stats_select(relation, count_column, scope_where) }}
    {% endcall %}
{%- endmacro %}

{#- The scope's weeks (its rows hold one period_start each) go by a MERGE: Delta deletes by no subquery. -#}
{% macro spark__disclosure_write_stats(stats_relation, relation, count_column, scope_where) -%}
    {%- set stats = disclosure_work_table(stats_relation.identifier) -%}
    {% call statement('disclosure_stats') %}
        {{ _spark_replace_scope_rows(stats, _disclosure_stats_select(relation, count_column, scope_where),
            ['period_start'], 'select distinct period_start from ' ~ stats ~ ' where ' ~ scope_where) }}
    {% endcall %}
{%- endmacro %}

{% macro _disclosure_stats_select(relation, count_column, scope_where) -%}
    select
        cast(date_trunc('week', period_start) as date) as period_start,
        family,
        geo_level,
        period_type,
        coalesce(age_class, 'all') = 'all' as is_all_ages,
        count(*) as cell_total,
        count(*) filter (where is_suppressed) as suppressed_cell_total,
        count(*) filter (where suppression_reason = 'complementary') as complementary_cell_total,
        sum({{ count_column }}) as count_total,
        coalesce(sum({{ count_column }}) filter (where is_suppressed), 0) as suppressed_count_total
    from {{ relation }}
    where {{ scope_where }}
    group by all
{%- endmacro %}


{#- Every suppressed count (and contributor count) set to NULL: the post-hook's last statement. -#}
{% macro disclosure_null_suppressed(relation, count_column, scope_where) -%}
    {{ return(adapter.dispatch('disclosure_null_suppressed')(relation, count_column, scope_where)) }}
{%- endmacro %}

{% macro default__disclosure_null_suppressed(relation, count_column, scope_where) -%}
    update {{ relation }}
    set
        {{ count_column }} = null,
        contributor_count = null
    where
        is_suppressed
        and ({{ scope_where }})
{%- endmacro %}

{% macro spark__disclosure_null_suppressed(relation, count_column, scope_where) -%}
    {%- set hidden = 'is_suppressed and (' ~ scope_where ~ ')' -%}
    {%- do _spark_disclosure_rewrite(relation, {
        count_column: 'case when ' ~ hidden ~ ' then null else ' ~ count_column ~ ' end',
        'contributor_count': 'case when ' ~ hidden ~ ' then null else contributor_count end',
    }) -%}
    {%- do run_query('drop table if exists ' ~ disclosure_work_table(_disclosure_rewrite_name(relation))) -%}
    refresh table {{ relation }}
{%- endmacro %}


{#- The picked cells beside each row of the table being rewritten (`picked.disclosure_picked_id`). -#}
{% macro _spark_picked_join(picks, id_column) -%}
    {{ return(
        'left join (select distinct cell_id as disclosure_picked_id from ' ~ picks ~ ') as picked'
        ~ ' on rewritten.' ~ id_column ~ ' = picked.disclosure_picked_id'
    ) }}
{%- endmacro %}


{% macro spark__disclosure_hide_picked(relation, picks, id_column, scope_where) -%}
    {%- set picked = 'picked.disclosure_picked_id is not null and (' ~ scope_where ~ ')' -%}
    {%- do _spark_disclosure_rewrite(relation, {
        'is_suppressed': 'case when ' ~ picked ~ ' then true else is_suppressed end',
        'suppression_reason': 'case when ' ~ picked ~ " then 'complementary' else suppression_reason end",
    }, join=_spark_picked_join(picks, id_column)) -%}
    refresh table {{ relation }}
{%- endmacro %}


{#- The linear attacker's changes (suppression.sql, default__disclosure_apply_audit): each picked cell
    flips, never a primary one. -#}
{% macro spark__disclosure_apply_audit(relation, picks, id_column, scope_where) -%}
    {%- set picked = 'picked.disclosure_picked_id is not null and (' ~ scope_where ~ ')'
        ~ " and (not is_suppressed or suppression_reason = 'complementary')" -%}
    {%- do _spark_disclosure_rewrite(relation, {
        'is_suppressed': 'case when ' ~ picked ~ ' then not is_suppressed else is_suppressed end',
        'suppression_reason': 'case when ' ~ picked ~ ' then (case when is_suppressed then null'
            ~ " else 'complementary' end) else suppression_reason end",
    }, join=_spark_picked_join(picks, id_column)) -%}
    refresh table {{ relation }}
{%- endmacro %}


{% macro _disclosure_rewrite_name(relation) -%}
    {{ return(relation.identifier ~ '__disclosure_rewrite') }}
{%- endmacro %}

{#- An UPDATE on a Spark table that has none (plain Parquet): the rows with `assignments` ({column: SQL})
    applied into a work table, then written over the table (Spark does not overwrite a table it reads
    in the same statement). The columns keep their order. -#}
{% macro _spark_disclosure_rewrite(relation, assignments, join='') -%}
    {%- set rewrite = disclosure_work_table(_disclosure_rewrite_name(relation)) -%}
    {%- set columns = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- if column.name in assignments -%}
            {%- do columns.append(assignments[column.name] ~ ' as ' ~ column.name) -%}
        {%- else -%}
            {%- do columns.append('rewritten.' ~ column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {% call statement('disclosure_rewrite') %}
        {{ disclosure_create_work_table(_disclosure_rewrite_name(relation)) }}
        select {{ columns | join(', ') }}
        from {{ relation }} as rewritten
        {{ join }}
    {% endcall %}
    {% call statement('disclosure_rewrite_back') %}
        insert overwrite table {{ relation }} select * from {{ rewrite }}
    {% endcall %}
{%- endmacro %}


{#- A struct from `fields`, a list of (name, SQL expression) pairs, in that order (here, not in
    macros/cross_engine: the disclosure macros are used on their own by tests/disclosure_fixtures). -#}
{% macro struct_of(fields) -%}
    {{ return(adapter.dispatch('struct_of')(fields)) }}
{%- endmacro %}

{% macro default__struct_of(fields) -%}
    struct_pack(
        {%- for name, expression in fields %}
        "{{ name }}" := {{ expression }}{{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro spark__struct_of(fields) -%}
    named_struct(
        {%- for name, expression in fields %}
        '{{ name }}', {{ expression }}{{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}
