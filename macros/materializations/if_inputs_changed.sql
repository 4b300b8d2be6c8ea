{#-
    Tables and views rebuilt only when what they are made of changed. dbt rebuilds every table and view
    on every build: on a daily build that is the vocabulary chain (seeds -> stg_vocabulary__* views ->
    the CDM vocabulary tables and the concept mappings), rebuilt for files that change a few times a
    year. A model materialised as `table_if_inputs_changed` or `view_if_inputs_changed` whose every
    parent carries a stamp (a seed loaded by seed_when_changed, or a model built here) is stamped in
    turn with a hash of its compiled SQL, its config, its columns and its parents' stamps (a comment on
    the table or view); a build that finds the same stamp leaves it as it is. A --full-refresh, a
    missing relation, a parent without a stamp (anything read from the lake, any other
    materialisation), a changed seed or a changed model builds it as dbt does (dbt-duckdb's own
    materialisation), and so does a model without parents (it may read files the graph does not know
    of). Python models cannot be wrapped (dbt runs their code only from the materialisation itself).
    On Spark the same, around dbt-spark's table and view materialisations (stamps: stamps.sql).
-#}
{% materialization table_if_inputs_changed, adapter='duckdb' %}
    {{ return(_build_if_inputs_changed('table', dbt.materialization_table_duckdb)) }}
{%- endmaterialization %}


{% materialization view_if_inputs_changed, adapter='duckdb' %}
    {{ return(_build_if_inputs_changed('view', dbt.materialization_view_default)) }}
{%- endmaterialization %}


{% materialization table_if_inputs_changed, adapter='spark' %}
    {{ return(_build_if_inputs_changed('table', dbt.materialization_table_spark)) }}
{%- endmaterialization %}


{% materialization view_if_inputs_changed, adapter='spark' %}
    {{ return(_build_if_inputs_changed('view', dbt.materialization_view_spark)) }}
{%- endmaterialization %}


{% macro _build_if_inputs_changed(relation_type, build) -%}
    {%- set relation = this.incorporate(type=relation_type) -%}
    {%- set stamp = inputs_stamp(model) -%}
    {%- if stamp.new and stamp.new == stamp.current -%}
        {{ return(_unchanged_relation(relation)) }}
    {%- endif -%}
    {%- set built = build() -%}
    {%- do _stamp_relation(relation, stamp.new) -%}
    {{ return(built) }}
{%- endmacro %}


{% macro inputs_stamp(node) -%}
    {#- {'new': the model's stamp, 'current': its relation's}. The new stamp is empty (build as dbt does,
        and the relation loses its stamp) unless the model has parents and every parent is stamped. -#}
    {%- set parents = node.depends_on.nodes -%}
    {%- if not execute -%}
        {{ return({'new': none, 'current': none}) }}
    {%- elif not parents or should_full_refresh() -%}
        {{ return({'new': '', 'current': none}) }}
    {%- endif -%}
    {%- set relations = [] -%}
    {%- for parent in parents -%}
        {%- set found = graph.nodes.get(parent) -%}
        {%- if found is none or found.resource_type not in ('seed', 'model') -%}
            {{ return({'new': '', 'current': none}) }}
        {%- endif -%}
        {%- do relations.append(api.Relation.create(
            database=found.database, schema=found.schema, identifier=found.alias or found.name
        )) -%}
    {%- endfor -%}
    {%- set stamps = relation_stamps(relations + [this]) -%}
    {%- set parts = [sql, tojson(node.config), tojson(node.columns)] -%}
    {%- for relation in relations -%}
        {%- set parent_stamp = stamps[relation.render()] -%}
        {%- if not parent_stamp or not (parent_stamp.startswith('seed:') or parent_stamp.startswith('inputs:')) -%}
            {{ return({'new': '', 'current': stamps[this.render()]}) }}
        {%- endif -%}
        {%- do parts.append(relation.render() ~ '=' ~ parent_stamp) -%}
    {%- endfor -%}
    {{ return({'new': 'inputs:' ~ local_md5(parts | join('\n')), 'current': stamps[this.render()]}) }}
{%- endmacro %}


{% macro _unchanged_relation(relation) -%}
    {%- call noop_statement('main', 'UNCHANGED', 'UNCHANGED', 0) -%}
        -- {{ relation }} was built from the same SQL and the same inputs: not built again
    {%- endcall -%}
    {{ return({'relations': [relation]}) }}
{%- endmacro %}
