"""Governance of the landed data: objections, retention purge, key rotation, study extracts."""
