"""Outpatient health-data lakehouse: ingest of urgent-care GP extracts into a pseudonymised, encrypted lake."""
