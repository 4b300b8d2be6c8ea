"""The lake's format and the services every stage shares: object storage, encryption, keys and the key
store's binding to the lake, manifests, the landed Parquet schema, the audit trail."""
