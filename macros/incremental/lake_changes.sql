{#-
    Incremental builds downstream of the lake (see docs/architecture.md, "Incremental build"). A build
    records the lake files it decrypts into the base tables (base_lake__file_loads, with the build's
    stamp) and the keys of the base rows it deletes (purged or superseded files: base_lake__removed_rows);
    base_lake__builds_completed gets one row when a whole build has succeeded. What changed since then is
    therefore: base rows of files loaded after the last completed build, and rows removed after it
    (base_lake__changed_acts). A failed or partial build does not move the watermark: the next build
    redoes its work (every incremental model replaces its scope).
-#}


{% macro lake_load_stamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}


{% macro last_completed_build() %}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(
        database=target.get('database'), schema='build_state', identifier='base_lake__builds_completed'
    ) -%}
    {%- if relation is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select
            {{ timestamp_text('built_through') }},
            cast(first_act_date as string),
            cast(last_act_date as string),
            geography_fingerprint,
            association_fingerprint
        from {{ relation }}
        order by built_through desc
        limit 1
    {%- endset -%}
    {%- set result = run_query(query) -%}
    {%- if result.rows | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set row = result.rows[0] -%}
    {{ return({
        'built_through': row[0],
        'first_act_date': row[1],
        'last_act_date': row[2],
        'geography_fingerprint': row[3],
        'association_fingerprint': row[4],
    }) }}
{% endmacro %}


{% macro base_lake_remove_uncommitted(dataset) -%}
    {%- set removed = ref('base_lake__removed_rows') -%}
    {#- The plugin's list of the files in this table and no longer committed. Most days it is empty:
        then the table (every row's file) is not scanned for one. -#}
    {%- set removed_files = source('lake', dataset ~ '__removed_files') -%}
    {%- set count_removed -%}
        select count(*) from {{ removed_files }}
    {%- endset -%}
    {%- if is_incremental() and execute and run_query(count_removed).rows[0][0] > 0 -%}
        {%- set keep_removed -%}
        insert into {{ removed }}
        select
            '{{ dataset }}' as dataset,
            association_id,
            act_id,
            {% if dataset == 'acts' -%}
            patient_pseudonym,
            cast(start_at as timestamp) as start_at,
            {%- else -%}
            cast(null as string) as patient_pseudonym,
            cast(null as timestamp) as start_at,
            {%- endif %}
            _lake_file,
            {{ lake_load_stamp() }} as _removed_at
        from {{ this }}
        where _lake_file in (select _lake_file from {{ removed_files }})
        {%- endset -%}
        {%- set removed_select = 'select _lake_file from ' ~ removed_files -%}
        {#- The plugin takes the files a table holds from file_loads (not a scan of the table). -#}
        {{ statements([
            keep_removed,
            delete_rows_in(this, ['_lake_file'], removed_select),
            delete_rows_in(ref('base_lake__file_loads'), ['_lake_file'], removed_select, bound="dataset = '" ~ dataset ~ "'"),
        ]) }}
    {%- endif -%}
{%- endmacro %}


{#- The base tables' delete+insert by batch on Spark, whose strategy appends: the batches of the files
    this build loads go first (on DuckDB the strategy deletes them). -#}
{% macro base_lake_replace_batches(dataset) -%}
    {%- if target.type == 'spark' and is_incremental() -%}
        {{ delete_rows_in(this, ['_batch_id'], 'select distinct _batch_id from ' ~ source('lake', dataset ~ '__unloaded')) }}
    {%- endif -%}
{%- endmacro %}


{#- Delete the rows of `relation` whose `key_columns` are among those `keys_select` gives, or (keep) are
    not among them; dispatched: Delta has no DELETE with a subquery. -#}
{% macro delete_rows_in(relation, key_columns, keys_select, bound='true', keep=false) -%}
    {{ return(adapter.dispatch('delete_rows_in')(relation, key_columns, keys_select, bound, keep)) }}
{%- endmacro %}

{% macro default__delete_rows_in(relation, key_columns, keys_select, bound='true', keep=false) -%}
    delete from {{ relation }}
    where ({{ key_columns | join(', ') }}) {{ 'not in' if keep else 'in' }} ({{ keys_select }}) and {{ bound }}
{%- endmacro %}


{#- Several statements as one hook: DuckDB runs them as one string, dbt-spark's session one at a time
    (run here; the hook is then empty). -#}
{% macro statements(sqls) -%}
    {%- if target.type != 'spark' -%}
        {{ return(sqls | join(';\n')) }}
    {%- endif -%}
    {%- for sql in sqls -%}
        {%- do run_query(sql) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}


{% macro timestamp_text(column) -%}
    {{ return(adapter.dispatch('timestamp_text')(column)) }}
{%- endmacro %}

{% macro default__timestamp_text(column) -%}
    strftime({{ column }}, '%Y-%m-%d %H:%M:%S.%f')
{%- endmacro %}

{% macro spark__timestamp_text(column) -%}
    date_format({{ column }}, 'yyyy-MM-dd HH:mm:ss.SSSSSS')
{%- endmacro %}


{% macro advance_build_watermark(results) -%}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set watermark = model_relation('base_lake__builds_completed') -%}
    {%- set required = {} -%}
    {%- for node in scoped_models() -%}
        {%- do required.update({node.unique_id: true}) -%}
    {%- endfor -%}
    {#- Their model ancestors: a scope read from stale bookkeeping is no scope. -#}
    {%- set ephemeral = {} -%}
    {%- set ephemeral_seen = {} -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.config.materialized == 'ephemeral' -%}
        {%- do ephemeral.update({node.unique_id: true}) -%}
    {%- endfor -%}
    {%- set todo = required.keys() | list -%}
    {%- for _ in range(100000) if todo -%}
        {%- for parent in graph.nodes[todo.pop()].depends_on.nodes if parent.startswith('model.') -%}
            {%- if parent not in required and parent not in ephemeral -%}
                {%- do required.update({parent: true}) -%}
                {%- do todo.append(parent) -%}
            {%- elif parent in ephemeral and parent not in ephemeral_seen -%}
                {#- Compiled into its children, it has no result of its own: its parents count. -#}
                {%- do ephemeral_seen.update({parent: true}) -%}
                {%- do todo.append(parent) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set succeeded = [] -%}
    {%- set failed = [] -%}
    {%- for result in results -%}
        {%- if result.node.unique_id in required and result.status == 'success' -%}
            {%- do succeeded.append(result.node.unique_id) -%}
        {%- elif result.status in ('error', 'fail', 'skipped')
            and (result.node.unique_id in required
                 or result.node.depends_on.nodes | select('in', required) | list) -%}
            {%- do failed.append(result.node.unique_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set missing = required.keys() | reject('in', succeeded) | list -%}
    {%- if missing or failed or adapter.get_relation(
        database=watermark.database, schema=watermark.schema, identifier=watermark.identifier
    ) is none -%}
        {%- if failed or missing -%}
            {%- set behind = (failed or missing) | sort -%}
            {{ log("The build watermark stays: " ~ (behind | length) ~ " model(s) or test(s) of the scoped"
                ~ " models not built, failed or skipped (" ~ behind[0] ~ (", ..." if behind | length > 1 else "")
                ~ "); the next build rebuilds the same changes.", info=true) }}
        {%- endif -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set grid = model_relation('int_surveillance_grid_by_week') -%}
    {%- set advance -%}
    insert into {{ watermark }}
    select
        {{ lake_load_stamp() }} as built_through,
        min(first_act_date) as first_act_date,
        max(last_act_date) as last_act_date,
        {{ surveillance_grid_fingerprints('grid') }}
    from {{ grid }} as grid
    {%- endset -%}
    {#- The removed versions' keys (an objector's pseudonym, act and day) are also in the changed acts,
        which any analyst's `lakehouse query` reads: they go with the removed rows, not at the next build. -#}
    {%- set removed_acts -%}
        select association_id, act_id, patient_pseudonym
        from {{ model_relation('base_lake__removed_rows') }}
        where dataset = 'acts' and _removed_at <= {{ lake_load_stamp() }}
    {%- endset -%}
    {{ statements([
        advance,
        delete_rows_in(
            model_relation('base_lake__changed_acts'), ['association_id', 'act_id', 'patient_pseudonym'], removed_acts
        ),
        'delete from ' ~ model_relation('base_lake__removed_rows') ~ ' where _removed_at <= ' ~ lake_load_stamp(),
    ]) }}
{%- endmacro %}


{% macro base_lake_record_file_loads(dataset) -%}
    {%- set files = dataset ~ ('__committed_files' if flags.FULL_REFRESH else '__unloaded_files') -%}
    insert into {{ ref('base_lake__file_loads') }}
    select
        '{{ dataset }}' as dataset,
        _lake_file,
        {{ lake_load_stamp() }} as loaded_at
    from {{ source('lake', files) }}
{%- endmacro %}


{#- The act keys of a base table's rows from files loaded after `changed_since` (the last completed
    build; every row when none), with the child rows' extract date (null for the acts). -#}
{% macro base_rows_loaded_since(dataset, changed_since) -%}
    select
        association_id,
        act_id,
        {{ 'cast(null as date)' if dataset == 'acts' else 'extract_date' }} as child_extract_date

    from {{ ref('base_lake__' ~ dataset) }}
    {% if changed_since is not none -%}
    where _lake_file in (
        select _lake_file from {{ ref('base_lake__file_loads') }}
        where
            dataset = '{{ dataset }}'
            and loaded_at > cast('{{ changed_since }}' as timestamp)
    )
    {%- endif %}
{%- endmacro %}


{% macro keep_replaced_rows() -%}
    {%- if is_incremental() -%}
        create or replace table {{ replaced_rows_relation() }} as
        select * from {{ this }}
        where ({{ scope_key_columns(model) | join(', ') }}) in ({{ scope_select(model.config.scope) }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro drop_replaced_rows() -%}
    drop table if exists {{ replaced_rows_relation() }}
{%- endmacro %}

{% macro replaced_rows_relation() -%}
    {{- return(api.Relation.create(
        database=target.get('database'), schema='build_state', identifier=this.identifier ~ '__replaced', type='table'
    )) -}}
{%- endmacro %}


{% macro _changed_period_bound(column, scope='acts', type='date', grain='day') -%}
    {%- if not execute -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- if type == 'timestamp_s' and target.type == 'spark' -%}
        {#- DuckDB's second-precision timestamp, as the lake's start_at is landed: Spark has one kind
            without zone (the session's timestamp). -#}
        {%- set type = 'timestamp' -%}
    {%- endif -%}
    {%- if scope not in ('acts', 'weeks') -%}
        {{ exceptions.raise_compiler_error("_changed_period_bound: scope is 'acts' or 'weeks', not " ~ scope) }}
    {%- endif -%}
    {%- set counted = model_relation(scope_source('act' if scope == 'acts' else 'week')) -%}
    {#- Not built yet (`dbt compile` or `docs generate` of a new warehouse): nothing to bound by. -#}
    {%- if counted is none or adapter.get_relation(
        database=counted.database, schema=counted.schema, identifier=counted.identifier
    ) is none -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- set day = 'act_date' if scope == 'acts' else 'week_start_date' -%}
    {%- set whole_weeks = grain == 'week' or scope == 'weeks' -%}
    {#- From the first day (Monday) to the day after the last (the Monday after). An act of unknown day
        (only a child row of it is in the lake) has no row in the act-dated tables: it is not counted;
        an unknown week drops the bound. -#}
    {%- set query -%}
        select
            {% if whole_weeks -%}
            cast(cast(date_trunc('week', min({{ day }})) as date) as string),
            cast(cast(date_trunc('week', max({{ day }})) + interval 7 day as date) as string),
            {%- else -%}
            cast(cast(min({{ day }}) as date) as string),
            cast(cast(max({{ day }}) + 1 as date) as string),
            {%- endif %}
            {% if scope == 'acts' -%} count(act_date), 0 {%- else -%} count(*), count(*) - count(week_start_date) {%- endif %}
        from {{ counted }}
    {%- endset -%}
    {%- set first_day, day_after, changed, undated = run_query(query).rows[0] -%}
    {%- if changed == 0 -%}
        {{- return('false') -}}
    {%- elif undated > 0 -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- set bound -%}
        ({{ column }} >= cast('{{ first_day }}' as {{ type }}) and {{ column }} < cast('{{ day_after }}' as {{ type }}))
    {%- endset -%}
    {{- return(bound) -}}
{%- endmacro %}


{% macro changed_child_extract_bound(column='extract_date') -%}
    {%- if not execute -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- set changed_acts = model_relation('base_lake__changed_acts') -%}
    {%- set floors = model_relation('base_lake__child_extract_floors') -%}
    {#- Not built yet (`dbt compile` of a warehouse older than the floors): nothing to bound by. -#}
    {%- for needed in [changed_acts, floors] -%}
        {%- if needed is none or adapter.get_relation(
            database=needed.database, schema=needed.schema, identifier=needed.identifier
        ) is none -%}
            {{- return('true') -}}
        {%- endif -%}
    {%- endfor -%}
    {%- set query -%}
        with changed as (
            select
                association_id,
                act_id,
                min(act_date) - {{ var('child_rows_days_before_act') }} as by_act,
                min(child_extract_date) as by_child
            from {{ changed_acts }}
            group by all
        ),

        floors as (
            select association_id, act_id, min(floor_date) as by_floor
            from {{ floors }}
            where (association_id, act_id) in (select association_id, act_id from changed)
            group by all
        )

        select
            cast(min(least(by_act, by_child, by_floor)) as string),
            count(*),
            count(least(by_act, by_child, by_floor))
        from changed
        left join floors using (association_id, act_id)
    {%- endset -%}
    {%- set bounds = run_query(query).rows[0] -%}
    {%- set first_day, changed, bounded = bounds -%}
    {%- if changed == 0 -%}
        {{- return('false') -}}
    {%- elif bounded < changed -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- set bound -%}
        {{ column }} >= cast('{{ first_day }}' as date)
    {%- endset -%}
    {{- return(bound) -}}
{%- endmacro %}


{% macro surveillance_grid_fingerprints(acts) -%}
    md5(coalesce({{ sorted_distinct_string_agg("department_code || ':' || region_code", "','") }}, ''))
        as geography_fingerprint,
    md5(coalesce({{ sorted_distinct_string_agg('association_id', "','") }}, ''))
        as association_fingerprint
{%- endmacro %}
