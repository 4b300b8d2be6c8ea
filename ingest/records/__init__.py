"""What happens to an extract's records, with no lake I/O: read, validate against the contract,
pseudonymise, transform to the landed schema, strip objectors' lines."""
