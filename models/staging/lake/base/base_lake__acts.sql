{#- The lake's `acts`, decrypted once into the warehouse (base_lake_table, macros/_macros.yml). -#}
{{ base_lake_table(keyed_on_acts=true) }}  -- noqa: AM04
