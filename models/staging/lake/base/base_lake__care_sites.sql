{#-
    The only read of the encrypted landing zone for `care_sites`: plain full scans, decrypted into the encrypted
    warehouse. DuckDB 1.5.5 fails ("Computed AES tag differs") on encrypted Parquet as soon as a filter,
    join filter or top-N is pushed into the scan, so every other model reads this table.
    Incremental: a build reads only the files not decrypted yet (the plugin's `__unloaded` view); a
    rewritten batch (purge, key retirement) replaces its rows (delete+insert on the batch), and the
    pre-hook deletes the rows of files no longer committed. `--full-refresh` reads everything again.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='_batch_id',
    on_schema_change='append_new_columns',
    pre_hook="{% if is_incremental() %}delete from {{ this }} where _lake_file not in (select _lake_file from {{ source('lake', 'care_sites__committed_files') }}){% endif %}",
) }}

-- The columns are the landed schema (ingest/landed_schema.py), taken whole on purpose.
{% if is_incremental() -%}
    select * from {{ source('lake', 'care_sites__unloaded') }}  -- noqa: AM04
{%- else -%}
    select * from {{ source('lake', 'care_sites') }}  -- noqa: AM04
{%- endif %}
