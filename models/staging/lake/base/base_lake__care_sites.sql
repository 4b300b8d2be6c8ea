{#- The lake's `care_sites`, decrypted once into the warehouse (base_lake_table, macros/_macros.yml). -#}
{{ base_lake_table() }}  -- noqa: AM04
