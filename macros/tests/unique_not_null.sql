{#- A key column: a value in every row, no value twice, in one scan and one dbt node (a unique and a
    not_null cost a node each, and dbt's per-node work dominates a daily build). The failures: each value
    held by more than one row, and the NULL key with its row count. -#}
{% test unique_not_null(model, column_name) %}
    select
        {{ column_name }},
        count(*) as row_count

    from {{ model }}
    group by {{ column_name }}
    having count(*) > 1 or {{ column_name }} is null
{% endtest %}
