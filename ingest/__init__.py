"""Outpatient health-data lakehouse: pseudonymised, encrypted ingest of urgent-care GP extracts."""
