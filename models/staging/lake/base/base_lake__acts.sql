{#-
    The only read of the encrypted landing zone for `acts`: plain full scans, decrypted into the encrypted
    warehouse. DuckDB 1.5.5 fails ("Computed AES tag differs") on encrypted Parquet as soon as a filter,
    join filter or top-N is pushed into the scan, so every other model reads this table.
    Incremental: a build reads only the files not decrypted yet (the plugin's `__unloaded` view); a
    rewritten batch (purge, key retirement) replaces its rows (delete+insert on the batch), and the
    pre-hook deletes the rows of files no longer committed, keeping their keys in base_lake__removed_rows
    so that the models built from them are rebuilt; the post-hook records the files this build decrypted
    (base_lake__file_loads, for base_lake__changed_acts). `--full-refresh` reads everything again.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='_batch_id',
    on_schema_change='append_new_columns',
    pre_hook="{{ base_lake_remove_uncommitted('acts') }}",
    post_hook="{{ base_lake_record_file_loads('acts') }}",
) }}

-- depends_on: {{ ref('base_lake__removed_rows') }}
-- depends_on: {{ ref('base_lake__file_loads') }}
-- The columns are the landed schema (ingest/landed_schema.py), taken whole on purpose.
{% if is_incremental() -%}
    select * from {{ source('lake', 'acts__unloaded') }}  -- noqa: AM04
{%- else -%}
    select * from {{ source('lake', 'acts') }}  -- noqa: AM04
{%- endif %}
