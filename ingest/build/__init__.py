"""The dbt build's Python side: the dbt-duckdb plugin, dbt's output, the warehouse lock."""
