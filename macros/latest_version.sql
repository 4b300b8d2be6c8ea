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
    The rows of each act's latest batch in `source` (a relation or CTE of a child dataset: the batch
    carries the act's whole list, which a correction replaces), as a query. The batches are ranked by
    version (latest_version_columns: a few thousand rows), and the rows kept by a semi-join on each
    act's highest rank: it keeps the source's row order (extract order, what the daily build's bound on
    the child tables skips row groups by), where a window partitioned by act would shuffle the rows,
    and the per-act maximum is a plain integer (a varchar arg_max over every act ran out of memory at
    ten years).
-#}
{% macro rows_of_latest_batch(source) -%}
    with

    batches as (

        select
            _batch_id,
            row_number() over (order by {{ latest_version_columns() | join(', ') }}) as batch_rank
        from (select distinct {{ latest_version_columns() | join(', ') }} from {{ source }})

    ),

    ranked as (

        select
            versions.*,
            batches.batch_rank
        from {{ source }} as versions
        inner join batches
            on versions._batch_id = batches._batch_id

    ),

    latest_ranks as (

        select
            association_id,
            act_id,
            max(batch_rank) as batch_rank
        from ranked
        group by association_id, act_id

    )

    select * exclude (batch_rank) from ranked
    where (association_id, act_id, batch_rank) in (
        select
            latest_ranks.association_id,
            latest_ranks.act_id,
            latest_ranks.batch_rank
        from latest_ranks
    )
{%- endmacro %}
