{#-
    Where the change stamps of seed_when_changed.sql and if_inputs_changed.sql are kept: a comment on the
    table or view on DuckDB (read for all the relations at once from its catalog), a table property on
    Spark (`lakehouse.stamp`, read a relation at a time: Spark's catalog has no view of properties).
-#}

{% macro relation_stamps(relations) -%}
    {#- {rendered relation: its stamp, or none when it has none or does not exist}. -#}
    {{ return(adapter.dispatch('relation_stamps')(relations)) }}
{%- endmacro %}


{% macro duckdb__relation_stamps(relations) -%}
    {%- set wanted -%}
        {%- for r in relations -%}
            ('{{ r.database }}', '{{ r.schema }}', '{{ r.identifier }}'){{ ', ' if not loop.last }}
        {%- endfor -%}
    {%- endset -%}
    {%- set query -%}
        select database_name, schema_name, table_name, comment from duckdb_tables()
        where (database_name, schema_name, table_name) in ({{ wanted }})
        union all
        select database_name, schema_name, view_name, comment from duckdb_views()
        where (database_name, schema_name, view_name) in ({{ wanted }})
    {%- endset -%}
    {%- set found = {} -%}
    {%- for r in relations -%}
        {%- do found.update({r.render(): none}) -%}
    {%- endfor -%}
    {%- for row in run_query(query).rows -%}
        {%- do found.update({api.Relation.create(database=row[0], schema=row[1], identifier=row[2]).render(): row[3]}) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}


{% macro spark__relation_stamps(relations) -%}
    {%- set found = {} -%}
    {%- for r in relations -%}
        {%- do found.update({r.render(): none}) -%}
        {%- set existing = adapter.get_relation(database=r.database, schema=r.schema, identifier=r.identifier) -%}
        {%- if existing is not none -%}
            {%- for row in run_query('show tblproperties ' ~ existing.render()).rows -%}
                {%- if row[0] == 'lakehouse.stamp' -%}
                    {%- do found.update({r.render(): row[1]}) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}


{% macro _stamp_relation(relation, stamp) -%}
    {#- A model built without a stamp (empty) loses its previous one (a table rebuilt in place keeps its
        comment or properties); none leaves the relation as it is. -#}
    {%- if stamp is not none -%}
        {%- call statement('inputs_stamp') -%}
            {{ adapter.dispatch('stamp_relation_sql')(relation, stamp) }}
        {%- endcall -%}
        {%- do adapter.commit() -%}
    {%- endif -%}
{%- endmacro %}


{% macro duckdb__stamp_relation_sql(relation, stamp) -%}
    comment on {{ relation.type }} {{ relation }} is {{ "'" ~ stamp ~ "'" if stamp else 'null' }}
{%- endmacro %}


{% macro spark__stamp_relation_sql(relation, stamp) -%}
    {%- if stamp -%}
        alter {{ relation.type }} {{ relation }} set tblproperties ('lakehouse.stamp' = '{{ stamp }}')
    {%- else -%}
        alter {{ relation.type }} {{ relation }} unset tblproperties if exists ('lakehouse.stamp')
    {%- endif -%}
{%- endmacro %}
