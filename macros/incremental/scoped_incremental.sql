{% materialization scoped_incremental, default -%}
    {%- set existing = load_cached_relation(this) -%}
    {%- set target = this.incorporate(type='table') -%}
    {%- set full = existing is none or not existing.is_table or should_full_refresh() -%}
    {%- set intermediate = make_intermediate_relation(target) -%}
    {%- set backup = make_backup_relation(target, 'table') -%}
    {%- set changed = changed_rows_relation(this.identifier) -%}
    {%- set chunks = scope_week_chunks() -%}
    {{ drop_relation_if_exists(load_cached_relation(intermediate)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup)) }}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if full -%}
        {#- Every row, into a new table swapped in at the end (a failed build keeps the old one). -#}
        {%- do _scoped_write(intermediate, chunks) -%}
        {%- if existing is not none -%}
            {%- do adapter.rename_relation(existing, backup) -%}
        {%- endif -%}
        {%- do adapter.rename_relation(intermediate, target) -%}
        {%- do drop_relation_if_exists(backup) -%}
        {%- do drop_relation_if_exists(load_cached_relation(changed)) -%}
    {%- else -%}
        {#- The scope's rows out, then the model's rows for the scope in: what was purged is not
            inserted again. The new rows are staged in build_state.<model>__changed_rows, which the
            model's tests read (test_scope.sql), and dropped if no test reads it. -#}
        {%- call statement('delete_scope') -%}
            {{ scoped_delete_sql(target, scope_key_columns(model), scope_select(model.config.scope), scope_bound(model)) }}
        {%- endcall -%}
        {%- do drop_relation_if_exists(load_cached_relation(changed)) -%}
        {%- do _scoped_write(changed, chunks) -%}
        {%- set dest_columns = process_schema_changes(
            incremental_validate_on_schema_change(config.get('on_schema_change'), default='ignore'),
            changed, existing
        ) or adapter.get_columns_in_relation(existing) -%}
        {%- call statement('main') -%}
            {{ get_insert_into_sql(target, changed, dest_columns) }}
        {%- endcall -%}
        {%- if scope_keeps_changed_rows(model) -%}
            {#- Created by a statement: tell dbt's relation cache, which the tests look in. -#}
            {%- do adapter.cache_added(changed) -%}
        {%- else -%}
            {%- do drop_relation_if_exists(changed) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if chunks -%}
        {%- do drop_relation_if_exists(week_chunks_relation(target)) -%}
    {%- endif -%}
    {%- if full -%}
        {#- The main statement dbt reports (the rows were written above). -#}
        {%- call statement('main') -%}
            select 1
        {%- endcall -%}
    {%- endif -%}

    {%- do persist_docs(target, model) -%}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {%- do adapter.commit() -%}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target]}) }}
{%- endmaterialization %}


{% macro _scoped_write(relation, chunks) -%}
    {%- for chunk in (chunks or [none]) -%}
        {%- if chunk is not none -%}
            {%- do run_query(write_week_chunk_sql(this, chunk)) -%}
        {%- endif -%}
        {%- if loop.first -%}
            {%- call statement('write_' ~ loop.index) -%}
                {{ get_create_table_as_sql(False, relation, sql) }}
            {%- endcall -%}
        {%- else -%}
            {%- call statement('write_' ~ loop.index) -%}
                insert into {{ relation }} {{ sql }}
            {%- endcall -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}


{% macro scoped_delete_sql(relation, key_columns, scope_select, bound) -%}
    {{ return(adapter.dispatch('scoped_delete_sql')(relation, key_columns, scope_select, bound)) }}
{%- endmacro %}

{% macro default__scoped_delete_sql(relation, key_columns, scope_select, bound) -%}
    delete from {{ relation }}
    where ({{ key_columns | join(', ') }}) in ({{ scope_select }}) and {{ bound }}
{%- endmacro %}


{% macro is_incremental() -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
    {{ return(
        relation is not none and relation.type == 'table'
        and model.config.materialized in ('incremental', 'scoped_incremental')
        and not should_full_refresh()
    ) }}
{%- endmacro %}
