{#- The lake's `doctors`, decrypted once into the warehouse (base_lake_table, macros/_macros.yml). -#}
{{ base_lake_table() }}  -- noqa: AM04
