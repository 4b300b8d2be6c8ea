"""The national-scale benchmark (`./lakehouse benchmark`, or `python -m tools.benchmark`), outside
the runtime package."""
