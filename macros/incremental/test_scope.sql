{#-
    Bounded generic tests on incremental builds. Overrides dbt's get_where_subquery, through which every
    generic test reads the model it tests. On an incremental build (var test_scope = 'changed', the
    default, and no --full-refresh), the tests of the big row-level tables below read only the rows of
    the acts or persons this build replaced (base_lake__changed_acts), copied once per model by its
    post-hook (keep_changed_rows): a daily build tests the day's rows, not ten years of them. Rows
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


{#- The big row-level tables, and the key that scopes each on an incremental build. -#}
{% macro row_scope_kinds() -%}
    {{- return({
        'stg_lake__acts': 'act',
        'stg_lake__diagnoses': 'act',
        'stg_lake__prescriptions': 'act',
        'stg_lake__vital_signs': 'act',
        'int_acts_typed_as_visits': 'visit',
        'int_diagnoses_mapped_to_standard': 'visit',
        'int_surveillance_acts_classified': 'visit',
        'int_surveillance_act_syndromes': 'visit',
        'visit_occurrence': 'visit',
        'condition_occurrence': 'visit',
        'drug_exposure': 'visit',
        'measurement': 'visit',
        'observation': 'visit',
        'int_persons_derived_from_acts': 'person',
        'person': 'person',
        'observation_period': 'person',
        'death': 'person',
    }) -}}
{%- endmacro %}


{#- The rows of a big row-level table that the changed acts touch, as a filter on that table. -#}
{% macro _row_scope_predicate(kind) -%}
    {%- set changed = api.Relation.create(
        database=target.database, schema='staging', identifier='base_lake__changed_acts'
    ) -%}
    {%- if kind == 'act' -%}
        {{- return('(association_id, act_id) in (select association_id, act_id from ' ~ changed ~ ')') -}}
    {%- elif kind == 'visit' -%}
        {{- return('visit_occurrence_id in (select visit_occurrence_id from ' ~ changed ~ ')') -}}
    {%- else -%}
        {{- return('person_id in (select person_id from ' ~ changed ~ ')') -}}
    {%- endif -%}
{%- endmacro %}


{% macro changed_rows_relation(identifier) -%}
    {{- return(api.Relation.create(
        database=target.database, schema='build_state', identifier=identifier ~ '__changed_rows', type='table'
    )) -}}
{%- endmacro %}


{#-
    Post-hook of the staging, intermediate and CDM models (a no-op but for the big row-level tables): on
    an incremental build, copy the rows this build replaced to build_state.<model>__changed_rows, which
    the model's tests then read. Tests filtering the big table itself each scanned its key column over
    the whole history (random 64-bit ids: no row group can be skipped), ~380 tests a day: the part of
    the daily build that grew with the years. The rows come from the temporary table dbt-duckdb's
    incremental materialisation built them in and appended (still there during the post-hooks, on this
    connection): exactly the rows the model just inserted, its scope. Were it not found, the scope is
    filtered out of the table (a scan of every column: 17 s for `measurement` at ten years).
    On a full build the copy is dropped (the tests read every row).
-#}
{% macro keep_changed_rows() -%}
    {%- set kind = row_scope_kinds().get(this.identifier) -%}
    {%- if kind is none or not execute -%}
        {{- return('select 1') -}}
    {%- endif -%}
    {%- set copy = changed_rows_relation(this.identifier) -%}
    {#- Not on a first build (every row changed, the model was just created: is_incremental() is true
        in its post-hook), where a copy would double the tables for nothing. -#}
    {%- if is_incremental() and last_completed_build() is not none and var('test_scope', 'changed') == 'changed' -%}
        {#- Created by a hook, not a materialisation: tell dbt's relation cache, which tests look in. -#}
        {%- do adapter.cache_added(copy) -%}
        {%- set appended = run_query(
            "select table_name from duckdb_tables() where temporary and starts_with(table_name, '"
            ~ this.identifier ~ "__dbt_tmp') order by table_name desc"
        ).rows -%}
        create or replace table {{ copy }} as
        {% if appended | length == 1 -%}
            select * from temp.main."{{ appended[0][0] }}"
        {%- else -%}
            select * from {{ this }} where {{ _row_scope_predicate(kind) }}
        {%- endif -%}
    {%- else -%}
        {%- do adapter.cache_dropped(copy) -%}
        drop table if exists {{ copy }}
    {%- endif -%}
{%- endmacro %}


{#-
    The scope of a tested relation on an incremental build: '' (test every row), a filter (the marts'
    ISO weeks; a big table without its copy), or the relation of a big table's changed rows. The
    published marts' tests (disclosure tests included) are restricted when var disclosure_test_scope is
    'changed_weeks' (the default; 'all' tests every row): then they read the ISO weeks this build
    recomputed, which is sound because no margin group crosses an ISO week and the other weeks are the
    rows tested when they were built.
-#}
{% macro _incremental_test_scope(relation) -%}
    {%- set scopes = row_scope_kinds() -%}
    {%- set week_columns = {
        'disclosure_controlled_cells': 'period_start',
        'syndromic_indicators_by_day': 'act_date',
        'activity_by_association_day': 'act_date',
        'syndromic_indicators_by_week': 'week_start_date',
        'care_pathway_by_syndrome_week': 'week_start_date',
        'death_certificates_by_week': 'week_start_date',
    } -%}
    {%- if var('disclosure_test_scope', 'changed_weeks') == 'changed_weeks' -%}
        {%- for name in week_columns -%}
            {%- do scopes.update({name: 'week'}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set kind = scopes.get(relation.identifier) if relation.identifier is defined else none -%}
    {%- if kind is none or var('test_scope', 'changed') != 'changed' or flags.FULL_REFRESH -%}
        {{- return('') -}}
    {%- endif -%}
    {%- if kind == 'week' -%}
        {%- set weeks = api.Relation.create(
            database=target.database, schema='intermediate', identifier='int_surveillance_weeks_changed'
        ) -%}
        {#- The literal bounds let the scan skip the row groups of other weeks. -#}
        {{- return(
            "cast(date_trunc('week', " ~ week_columns[relation.identifier] ~ ") as date) in "
            ~ "(select week_start_date from " ~ weeks ~ ") and "
            ~ period_bound_of_changes(week_columns[relation.identifier], scope='weeks')
        ) -}}
    {%- endif -%}
    {%- set wanted = changed_rows_relation(relation.identifier) -%}
    {%- set copy = adapter.get_relation(
        database=wanted.database, schema=wanted.schema, identifier=wanted.identifier
    ) -%}
    {{- return(copy if copy is not none else _row_scope_predicate(kind)) -}}
{%- endmacro %}
