{#-
    The scopes a scoped_incremental model may declare (config `scope`), each the set of keys a daily build
    rebuilds, read from the build's bookkeeping:
      act       association_id, act_id of every changed act (base_lake__changed_acts)
      visit     visit_occurrence_id of every changed act
      person    person_id of every version's patient of every changed act
      act_week  the ISO weeks (Mondays) of every version of the changed acts, of the model's `scope_column`
      week      the ISO weeks the surveillance marts recompute (int_surveillance_weeks_changed), of the
                model's `scope_column`
    `scope_bound` (act and visit grains) names the column the model is stored in order of, with its
    `type` (date unless given), its `grain` ('week': whole ISO weeks) or `by: child_extract` (a child
    table in extract order): a literal filter every row of the scope satisfies, which lets a delete or a
    read skip the row groups of other periods (see _changed_period_bound).
-#}

{% macro scope_source(grain) -%}
    {{- return('int_surveillance_weeks_changed' if grain == 'week' else 'base_lake__changed_acts') -}}
{%- endmacro %}


{% macro model_relation(name) -%}
    {#- A unit test's context has no graph. -#}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ name) if execute and graph.nodes is defined else none -%}
    {%- if node is none -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return(api.Relation.create(
        database=node.database, schema=node.schema, identifier=node.alias or node.name, type='table'
    )) -}}
{%- endmacro %}


{% macro scoped_models() -%}
    {%- set found = [] -%}
    {%- for node in graph.nodes.values() if execute -%}
        {%- if node.resource_type == 'model' and node.config.materialized == 'scoped_incremental' -%}
            {%- do found.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(found) -}}
{%- endmacro %}


{% macro scope_select(grain, source=none) -%}
    {%- set source = source if source is not none else model_relation(scope_source(grain)) -%}
    {%- if grain == 'act' -%}
        select distinct association_id, act_id from {{ source }}
    {%- elif grain == 'visit' -%}
        select distinct visit_occurrence_id from {{ source }}
    {%- elif grain == 'person' -%}
        select distinct person_id from {{ source }} where person_id is not null
    {%- elif grain == 'act_week' -%}
        select distinct cast(date_trunc('week', act_date) as date) from {{ source }} where act_date is not null
    {%- elif grain == 'week' -%}
        select week_start_date from {{ source }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("scope: one of act, visit, person, act_week, week; not " ~ grain) }}
    {%- endif -%}
{%- endmacro %}


{% macro scope_key_columns_of(grain, scope_column=none) -%}
    {%- if grain == 'act' -%}
        {{- return(['association_id', 'act_id']) -}}
    {%- elif grain == 'visit' -%}
        {{- return(['visit_occurrence_id']) -}}
    {%- elif grain == 'person' -%}
        {{- return(['person_id']) -}}
    {%- endif -%}
    {{- return(["cast(date_trunc('week', " ~ (scope_column or 'week_start_date') ~ ") as date)"]) -}}
{%- endmacro %}

{% macro scope_key_columns(node) -%}
    {{- return(scope_key_columns_of(node.config.scope, node.config.get('scope_column'))) -}}
{%- endmacro %}


{% macro scope_bound(node, column=none, type=none) -%}
    {%- set grain = node.config.scope -%}
    {%- if grain in ('act_week', 'week') -%}
        {{- return(_changed_period_bound(
            column or node.config.get('scope_column') or 'week_start_date',
            scope='weeks' if grain == 'week' else 'acts', grain='week'
        )) -}}
    {%- endif -%}
    {%- set bound = node.config.get('scope_bound') -%}
    {%- if not bound or grain == 'person' -%}
        {{- return('true') -}}
    {%- elif bound.get('by') == 'child_extract' -%}
        {{- return(changed_child_extract_bound(column or bound.column)) -}}
    {%- endif -%}
    {{- return(_changed_period_bound(
        column or bound.column, type=type or bound.get('type', 'date'), grain=bound.get('grain', 'day')
    )) -}}
{%- endmacro %}


{% macro scope_owner() -%}
    {#- An ephemeral model is compiled in its own context, not its consumer's: its reads follow the
        declaration of the one table it is compiled into, found down a chain of ephemeral models
        (int_cells_acts_in_scope -> int_cells_acts -> disclosure_controlled_cells). -#}
    {%- if model.config.materialized != 'ephemeral' or not execute -%}
        {{- return(model) -}}
    {%- endif -%}
    {%- set owners = {} -%}
    {%- set seen = {model.unique_id: true} -%}
    {%- set todo = [model.unique_id] -%}
    {%- for _ in range(10000) if todo -%}
        {%- set parent = todo.pop() -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'model' and parent in node.depends_on.nodes -%}
            {%- if node.config.materialized == 'ephemeral' and node.unique_id not in seen -%}
                {%- do seen.update({node.unique_id: true}) -%}
                {%- do todo.append(node.unique_id) -%}
            {%- elif node.config.materialized != 'ephemeral' -%}
                {%- do owners.update({node.unique_id: node}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set owners = owners.values() | list -%}
    {%- if owners | length != 1 or owners[0].config.materialized != 'scoped_incremental' -%}
        {{ exceptions.raise_compiler_error(
            "in_scope: the ephemeral model " ~ model.name ~ " must be compiled into exactly one"
            ~ " scoped_incremental model, not " ~ (owners | map(attribute='name') | join(', ') or 'none')
        ) }}
    {%- endif -%}
    {{- return(owners[0]) -}}
{%- endmacro %}


{% macro scope_is_incremental(owner) -%}
    {%- if owner.unique_id == model.unique_id -%}
        {{- return(is_incremental()) -}}
    {%- endif -%}
    {%- set relation = adapter.get_relation(owner.database, owner.schema, owner.alias or owner.name) -%}
    {{- return(relation is not none and relation.type == 'table' and not should_full_refresh()) -}}
{%- endmacro %}


{% macro _declared_grain() -%}
    {#- Parsing, the model's config() is not in model.config yet: its declaration is read from its code
        (an ephemeral model declares none: its owner's is only known once the graph is). -#}
    {%- set declared = modules.re.search("scope\\s*=\\s*'(\\w+)'", model.raw_code) -%}
    {{- return(declared.group(1) if declared else none) -}}
{%- endmacro %}


{% macro _scope_source_relation(grain) -%}
    {#- The bookkeeping a grain's scope is read from, by ref(): the model depends on it (recorded at
        parse time), so that it is compiled after it is rebuilt (the literal bounds are read then). An
        ephemeral model, whose owner is known only once the graph is, depends on every grain's. -#}
    {%- if grain is none -%}
        {%- for any_grain in ['act', 'week'] -%}
            {%- do ref(scope_source(any_grain)) -%}
        {%- endfor -%}
        {{- return(none) -}}
    {%- endif -%}
    {{- return(ref(scope_source(grain))) -}}
{%- endmacro %}


{% macro in_scope(relation, column=none, grain=none) -%}
    {%- set owner = scope_owner() -%}
    {%- set grain = grain or (owner.config.scope if execute else _declared_grain()) -%}
    {%- set source = _scope_source_relation(grain) -%}
    {%- if not execute -%}
        {{- return('true') -}}
    {%- endif -%}
    {#- An input named by a string is a CTE of the model (a calendar it generates): unscoped. A unit
        test's context has no graph. -#}
    {%- set input = graph.nodes.get('model.' ~ project_name ~ '.' ~ relation.identifier)
        if relation is not string and graph.nodes is defined else none -%}
    {%- set input_grain = input.config.get('scope') if input is not none else none -%}
    {#- The week grains' key: the input's week (its own declaration's column, or the one named). -#}
    {%- set week_column = column or (input.config.get('scope_column') if input_grain in ('act_week', 'week') else none)
        or owner.config.get('scope_column') or 'week_start_date' -%}
    {#- A week-grained owner computed a range of weeks per statement (weeks_per_statement): the range
        the materialisation runs now, on a full build too. -#}
    {%- set chunk = in_current_week_chunk(model_relation(owner.name), scope_key_columns_of(grain, week_column)[0])
        if grain in ('act_week', 'week') and owner.config.get('weeks_per_statement') and scope_writes_week_chunks()
        else none -%}
    {%- if not scope_is_incremental(owner) -%}
        {{- return(chunk or 'true') -}}
    {%- endif -%}
    {%- if grain in ('act', 'visit') and input_grain in ('act', 'visit') -%}
        {#- The changed acts are the changed visits: the input's own keys and bound. -#}
        {%- set keys = scope_key_columns_of(input_grain) -%}
        {%- set bound = scope_bound(input) -%}
        {%- set grain = input_grain -%}
    {%- elif grain == 'act' and input_grain is none -%}
        {#- An unscoped input of the model's own shape (a base table of the lake): the model's keys and
            bound, the literals of the type the input declares for that column (a column cast to the
            literal's type is compared row by row). -#}
        {%- set keys = scope_key_columns_of(grain) -%}
        {%- set bound = scope_bound(owner, type=_declared_type(input, (owner.config.get('scope_bound') or {}).get('column'))) -%}
    {%- elif grain in ('visit', 'person') -%}
        {%- set keys = scope_key_columns_of(grain) -%}
        {%- set bound = none -%}
    {%- else -%}
        {%- set keys = scope_key_columns_of(grain, week_column) -%}
        {%- set bound = _changed_period_bound(
            week_column, scope='weeks' if grain == 'week' else 'acts', grain='week',
            type=_declared_type(input, week_column) or 'date'
        ) -%}
    {%- endif -%}
    {%- set filter -%}
        ({{ keys | join(', ') }}) in ({{ scope_select(grain, source) }}){% if bound %} and {{ bound }}{% endif %}{% if chunk %} and {{ chunk }}{% endif %}
    {%- endset -%}
    {{- return(filter) -}}
{%- endmacro %}


{% macro in_own_scope() -%}
    {#- The model's own rows of its scope, as the materialisation deleted and inserted them (its
        post-hooks' filter); `true` on a full build. -#}
    {%- set source = _scope_source_relation(model.config.get('scope') or _declared_grain()) -%}
    {%- if not execute or not is_incremental() -%}
        {{- return('true') -}}
    {%- endif -%}
    {{- return(scope_filter(model)) -}}
{%- endmacro %}


{% macro scope_filter(node) -%}
    {#- The rows of a scoped model's table in this build's scope: what its delete removes and its
        week-grained tests read. -#}
    {{- return(
        '(' ~ scope_key_columns(node) | join(', ') ~ ') in (' ~ scope_select(node.config.scope) ~ ') and '
        ~ scope_bound(node)
    ) -}}
{%- endmacro %}


{% macro _declared_type(node, column) -%}
    {%- set bound = (node.config.get('scope_bound') or {}) if node is not none else {} -%}
    {{- return(bound.get('type', 'date') if column and bound.get('column') == column else none) -}}
{%- endmacro %}


{% macro scope_keeps_changed_rows(node) -%}
    {{- return(
        node.config.scope in ('act', 'visit', 'person')
        and last_completed_build() is not none
        and var('test_scope', 'changed') == 'changed'
    ) -}}
{%- endmacro %}

{% macro changed_rows_relation(identifier) -%}
    {{- return(api.Relation.create(
        database=target.get('database'), schema='build_state', identifier=identifier ~ '__changed_rows', type='table'
    )) -}}
{%- endmacro %}
