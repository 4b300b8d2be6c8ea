{#-
    Data tests whose inputs did not change since they passed are not run again. A test reads its
    parents; when every parent is stamped (a seed loaded by seed_when_changed, a model built by
    table_if_inputs_changed / view_if_inputs_changed: the vocabulary chain), the test is stamped with a
    hash of its compiled SQL, its config and its parents' stamps. A test that passed is recorded with
    that stamp in build_state.data_test_passes; a later build that finds the same stamp there reports the
    pass without running the query, and logs "skipped: inputs unchanged since pass at <time>" (its
    adapter response says SKIPPED). A test on anything else (the lake's tables, a source), a changed
    input or test definition, a --full-refresh, stored failures, a test that failed or warned (never
    recorded) runs as dbt runs it (dbt's own materialisation).
-#}
{% materialization test, adapter='duckdb' %}
    {%- set passes = _data_test_passes_relation() -%}
    {%- set stamp = _test_stamp(model, passes) -%}
    {%- if stamp -%}
        {%- set found -%}
            select passed_at from {{ passes }}
            where unique_id = '{{ model.unique_id }}' and stamp = '{{ stamp }}'
        {%- endset -%}
        {%- set passed = run_query(found) -%}
        {%- if passed.rows | length > 0 -%}
            {%- set note = 'skipped: inputs unchanged since pass at ' ~ passed.rows[0][0] -%}
            {%- do log(model.name ~ ' ' ~ note, info=true) -%}
            {%- call noop_statement('main', 'SKIPPED: ' ~ note, 'SKIPPED', 0,
                res=run_query('select 0 as failures, false as should_warn, false as should_error')) -%}
                -- {{ note }}
            {%- endcall -%}
            {{ return({'relations': []}) }}
        {%- endif -%}
    {%- endif -%}
    {%- set result = dbt.materialization_test_default() -%}
    {%- if stamp -%}
        {%- set outcome = load_result('main').table.rows[0] -%}
        {%- if not outcome['should_warn'] and not outcome['should_error'] -%}
            {%- call statement('data_test_pass') -%}
                delete from {{ passes }} where unique_id = '{{ model.unique_id }}';
                insert into {{ passes }} (unique_id, stamp, passed_at)
                values ('{{ model.unique_id }}', '{{ stamp }}', {{ dbt.current_timestamp() }})
            {%- endcall -%}
            {%- do adapter.commit() -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(result) }}
{%- endmaterialization %}


{% macro _data_test_passes_relation() -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.data_test_passes') if execute else none -%}
    {%- if node is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(
        database=node.database, schema=node.schema, identifier=node.alias or node.name
    )) }}
{%- endmacro %}


{% macro _test_stamp(node, passes) -%}
    {#- The test's stamp, or '' when it must run (see above). -#}
    {%- if not execute or passes is none or should_full_refresh() or should_store_failures() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set parents = node.depends_on.nodes -%}
    {%- if not parents -%}
        {{ return('') }}
    {%- endif -%}
    {%- set relations = [] -%}
    {%- for parent in parents -%}
        {%- set found = graph.nodes.get(parent) -%}
        {%- if found is none or found.resource_type not in ('seed', 'model') -%}
            {{ return('') }}
        {%- endif -%}
        {%- do relations.append(api.Relation.create(
            database=found.database, schema=found.schema, identifier=found.alias or found.name
        )) -%}
    {%- endfor -%}
    {%- set stamps = relation_stamps(relations) -%}
    {%- set parts = [sql, tojson(node.config)] -%}
    {%- for relation in relations -%}
        {%- set parent_stamp = stamps[relation.render()] -%}
        {%- if not parent_stamp or not (parent_stamp.startswith('seed:') or parent_stamp.startswith('inputs:')) -%}
            {{ return('') }}
        {%- endif -%}
        {%- do parts.append(relation.render() ~ '=' ~ parent_stamp) -%}
    {%- endfor -%}
    {{ return('test:' ~ local_md5(parts | join('\n'))) }}
{%- endmacro %}
