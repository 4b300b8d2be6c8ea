{#-
    Which version of a landed record wins, in one place for every staging model: the latest extract date,
    then the latest ingestion (a corrected re-send of the same day), then the batch id, so that duplicate
    batches (same rows, other file) resolve the same way on every build.
-#}
{% macro latest_version_columns() -%}
    {{- return(['extract_date', '_ingested_at', '_batch_id']) -}}
{%- endmacro %}

{% macro latest_version_order() -%}
    {{ latest_version_columns() | join(' desc, ') }} desc
{%- endmacro %}


{#-
    The latest batch of each act in `source` (a relation or CTE of a child dataset, whose batch carries
    the act's whole list, which a correction replaces), as a select of (association_id, act_id,
    _batch_id). A model keeps its rows with a semi-join, which keeps the source's row order (extract
    order, what the daily build's bound on the child tables skips row groups by), where a window
    partitioned by act would shuffle the rows.
-#}
{% macro latest_batch_of_each_act(source) -%}
    select
        association_id,
        act_id,
        arg_max(_batch_id, ({{ latest_version_columns() | join(', ') }})) as _batch_id
    from {{ source }}
    group by association_id, act_id
{%- endmacro %}
