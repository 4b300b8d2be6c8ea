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
        {{- return(scope_filter(node)) -}}
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
