{#-
    The data tests that passed, with the stamp of their inputs (macros/materializations/
    test_if_inputs_changed.sql): one row per test, its last pass. Written by the test materialisation;
    this model only creates the empty table (emptied by a --full-refresh, after which every test runs).
-#}
{{ config(materialized='incremental', incremental_strategy='append') }}

select
    cast(null as string) as unique_id,
    cast(null as string) as stamp,
    cast(null as timestamp) as passed_at
where false
