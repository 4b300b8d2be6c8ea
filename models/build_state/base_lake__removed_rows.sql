{#-
    Keys of the act-keyed base rows a build deleted because their file is no longer committed (purge,
    objection, rewrite): written by the base models' pre-hook (base_lake_remove_uncommitted), read by
    base_lake__changed_acts so that the acts, persons and weeks built from them are rebuilt, and emptied
    when the watermark moves (advance_build_watermark), once a build has propagated them. This model only
    creates the empty table.
-#}
{{ config(materialized='incremental', incremental_strategy='append') }}

select
    cast(null as string) as dataset,
    cast(null as string) as association_id,
    cast(null as string) as act_id,
    cast(null as string) as patient_pseudonym,
    cast(null as timestamp) as start_at,
    cast(null as string) as _lake_file,
    cast(null as timestamp) as _removed_at
where false
