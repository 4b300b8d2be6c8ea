{#-
    Every one of `columns` holds a value in every row: one scan and one dbt node for all of them, where a
    not_null per column costs a node (dbt's per-node work dominates a daily build) and a scan each. The
    failures name the columns: one row per column with nulls (column_name, null_rows).
-#}
{% test not_null_columns(model, columns) %}
with

null_counts as (

    select
        {%- for column in columns %}
        sum(case when {{ column }} is null then 1 else 0 end) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

)

{% for column in columns -%}
select
    '{{ column }}' as column_name,
    {{ column }} as null_rows
from null_counts
where {{ column }} > 0
{{ 'union all' if not loop.last }}
{% endfor %}
{% endtest %}
