{% macro latest_version_columns() -%}
    {{- return(['extract_date', '_ingested_at', '_batch_id']) -}}
{%- endmacro %}

{% macro latest_version_order() -%}
    {{ latest_version_columns() | join(' desc, ') }} desc
{%- endmacro %}


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

    select {{ star_except(['batch_rank']) }} from ranked
    where (association_id, act_id, batch_rank) in (
        select
            latest_ranks.association_id,
            latest_ranks.act_id,
            latest_ranks.batch_rank
        from latest_ranks
    )
{%- endmacro %}


{% macro latest_child_rows(dataset, built_after) -%}
    {#- The child-extract floors bound the read (in_scope). Built after another staging table of acts,
        not beside it: on a full refresh each holds every act's key in a hash table, and four at once
        spill far more than one at a time (benchmarks/README.md, "Staging tables one at a time"). -#}
    {%- do ref('base_lake__child_extract_floors') -%}
    {%- do ref(built_after) -%}
    {%- set base = ref('base_lake__' ~ dataset) -%}
    source as (

        select * from {{ base }}
        where {{ in_scope(base) }}

    ),

    latest as (

        {{ rows_of_latest_batch('source') }}

    )
{%- endmacro %}
