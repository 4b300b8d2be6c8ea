"""OMOP CDM v5.4 tooling: the curated vocabulary seeds and the dbt YAML generated from the CDM spec."""
