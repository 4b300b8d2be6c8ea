{#-
    One row per completed build: the stamp up to which the lake's changes are built everywhere, and the
    surveillance grid as that build left it. The row is written at the end of the build
    (advance_build_watermark, on-run-end), and only when every scoped model, what it is built from and
    their tests succeeded in that build: a failed model or test, or a selection that leaves one out,
    keeps the watermark where it was, and the next build redoes the work. Read by
    base_lake__changed_acts and int_surveillance_weeks_changed through last_completed_build().
-#}
{{ config(materialized='incremental', incremental_strategy='append') }}

select
    cast(null as timestamp) as built_through,
    cast(null as date) as first_act_date,
    cast(null as date) as last_act_date,
    cast(null as string) as geography_fingerprint,
    cast(null as string) as association_fingerprint
where false
