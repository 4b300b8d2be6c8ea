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
    Every batch of `source` (a relation or CTE of a landed dataset) with its rank among them by version
    (latest_version_columns), 1 the oldest: a few thousand rows. The child staging models keep each
    act's latest batch (its whole list, which a correction replaces) by comparing these small integers
    in a semi-join, which keeps the source's row order (extract order, what the daily build's bound on
    the child tables skips row groups by) where a window partitioned by act would shuffle it, and whose
    per-act maximum is a plain integer (a varchar arg_max over every act ran out of memory at ten
    years).
-#}
{% macro batch_version_ranks(source) -%}
    select
        _batch_id,
        row_number() over (order by {{ latest_version_columns() | join(', ') }}) as batch_rank
    from (select distinct {{ latest_version_columns() | join(', ') }} from {{ source }})
{%- endmacro %}
