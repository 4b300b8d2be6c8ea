{#-
    The only read of the encrypted landing zone for `doctors`: a plain full scan, decrypted once into the
    encrypted warehouse. DuckDB 1.5.5 fails ("Computed AES tag differs") on encrypted Parquet as soon as
    a filter, join filter or top-N is pushed into the scan, so every other model reads this table.
-#}
-- The columns are the landed schema (ingest/landed_schema.py), taken whole on purpose.
select * from {{ source('lake', 'doctors') }}  -- noqa: AM04
