"""The landing stage: input files to encrypted, pseudonymised Parquet committed in the lake."""
