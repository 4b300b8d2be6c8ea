{#- The lake's `acts`, decrypted once into the warehouse (base_lake_table, macros/_macros.yml). -#}
{#- Its start_at is the landed timestamp_s (ingest/lake/landed_schema.py): the literal type of the
    bounds its readers filter it by (in_scope). -#}
{{ config(scope_bound={'column': 'start_at', 'type': 'timestamp_s'}) }}
{{ base_lake_table(keyed_on_acts=true) }}  -- noqa: AM04
