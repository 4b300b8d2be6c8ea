{#-
    Which version of a landed record wins, in one place for every staging model: the latest extract date,
    then the latest ingestion (a corrected re-send of the same day), then the batch id, so that duplicate
    batches (same rows, other file) resolve the same way on every build.
-#}
{% macro latest_version_order() -%}
    extract_date desc, _ingested_at desc, _batch_id desc
{%- endmacro %}
