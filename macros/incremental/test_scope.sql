{#-
    Bounded generic tests on incremental builds. Overrides dbt's get_where_subquery, through which every
    generic test reads the model it tests. On an incremental build (var test_scope = 'changed', the
    default, and no --full-refresh), the tests of the scoped models read only the rows of
    the acts or persons this build replaced (base_lake__changed_acts), copied once per model by its
    materialisation (scoped_incremental): a daily build tests the day's rows, not ten years of them. Rows
    outside the scope were tested when they were built and have not changed since (every incremental
    model replaces exactly its scope). A relationships test still looks its parents up in the whole
    parent table. `--vars '{test_scope: all}'`, and every --full-refresh, test every row. The marts'
    tests, disclosure tests included, read the ISO weeks the build recomputed (var
    disclosure_test_scope, below). A test's own `where` config still applies. The subquery has no alias
    (DuckDB does not need one), so tests that alias their model (`from {{ model }} as checked`) still
    compile.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scope = _incremental_test_scope(relation) -%}
    {%- set tested = relation -%}
    {%- if scope is not string -%}
        {#- A big row-level table: the copy of the rows this build replaced. -#}
        {%- set tested = scope -%}
    {%- elif scope -%}
        {%- set where = '(' ~ scope ~ ')' ~ (' and (' ~ where ~ ')' if where else '') -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ tested }} where {{ where }})
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(tested) -%}
    {%- endif -%}
{%- endmacro %}


{% macro _incremental_test_scope(relation) -%}
    {%- if var('test_scope', 'changed') != 'changed' or flags.FULL_REFRESH or not execute
        or relation.identifier is not defined -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ relation.identifier) -%}
    {%- if node is none or node.config.materialized != 'scoped_incremental' -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set grain = node.config.scope -%}
    {%- if grain in ('act_week', 'week') -%}
        {%- if var('disclosure_test_scope', 'changed_weeks') != 'changed_weeks' -%}
            {{- return('') -}}
        {%- endif -%}
        {#- The literal bounds let the scan skip the row groups of other weeks. -#}
        {{- return(
            '(' ~ scope_key_columns(node) | join(', ') ~ ') in (' ~ scope_select(grain) ~ ') and '
            ~ scope_bound(node)
        ) -}}
    {%- endif -%}
    {%- set wanted = changed_rows_relation(relation.identifier) -%}
    {%- set copy = adapter.get_relation(
        database=wanted.database, schema=wanted.schema, identifier=wanted.identifier
    ) -%}
    {%- if copy is not none -%}
        {{- return(copy) -}}
    {%- endif -%}
    {{- return('(' ~ scope_key_columns(node) | join(', ') ~ ') in (' ~ scope_select(grain) ~ ')') -}}
{%- endmacro %}
