{% macro base_lake_table(keyed_on_acts=false) -%}
    {%- set dataset = model.name | replace('base_lake__', '') -%}
    {%- if keyed_on_acts -%}
        {{ config(
            materialized='incremental',
            incremental_strategy=base_lake_strategy(),
            unique_key='_batch_id',
            on_schema_change='append_new_columns',
            pre_hook=[
                "{{ base_lake_remove_uncommitted('" ~ dataset ~ "') }}",
                "{{ base_lake_replace_batches('" ~ dataset ~ "') }}",
            ],
            post_hook="{{ base_lake_record_file_loads('" ~ dataset ~ "') }}",
        ) }}
        {#- Written by the hooks. -#}
        {%- do ref('base_lake__removed_rows') -%}
        {%- do ref('base_lake__file_loads') -%}
    {%- else -%}
        {{ config(
            materialized='incremental',
            incremental_strategy=base_lake_strategy(),
            unique_key='_batch_id',
            on_schema_change='append_new_columns',
            pre_hook=[
                "{% if is_incremental() %}{{ delete_rows_in(this, ['_lake_file'], 'select _lake_file from ' ~ source('lake', '"
                    ~ dataset ~ "__committed_files'), keep=true) }}{% endif %}",
                "{{ base_lake_replace_batches('" ~ dataset ~ "') }}",
            ],
        ) }}
    {%- endif -%}
    {#- Both recorded at parse time, whichever the build reads. -#}
    {%- set unloaded = source('lake', dataset ~ '__unloaded') -%}
    {%- set every_file = source('lake', dataset) -%}
    {#- The columns are the landed schema (ingest/lake/landed_schema.py), taken whole on purpose. -#}
    select * from {{ unloaded if is_incremental() else every_file }}
{%- endmacro %}
