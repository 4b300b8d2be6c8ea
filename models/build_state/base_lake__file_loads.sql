{#-
    The lake files each build decrypted into the act-keyed base tables, with the build's stamp: written
    by the base models' post-hook (base_lake_record_file_loads), read by base_lake__changed_acts (rows of
    files loaded after the last completed build). Kept apart from the base tables, in the build_state
    schema, so that the data tables hold only data (two builds of the same lake give identical base,
    staging and CDM tables). This model only creates the empty table.
-#}
{{ config(materialized='incremental', incremental_strategy='append') }}

select
    cast(null as string) as dataset,
    cast(null as string) as _lake_file,
    cast(null as timestamp) as loaded_at
where false
