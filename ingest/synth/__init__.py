"""Synthetic source extracts of a French network of urgent-care GP associations.

Deterministic, vectorised and epidemiologically plausible: see `generate_extracts`.
"""

from ingest.synth.generate import ENTITIES, FileSummary, GenerationSummary, generate_extracts
from ingest.synth.invalid import CLASSES_BY_ENTITY, InvalidClass
from ingest.synth.network import N_NETWORK, Association, network

__all__ = [
    "CLASSES_BY_ENTITY",
    "ENTITIES",
    "N_NETWORK",
    "Association",
    "FileSummary",
    "GenerationSummary",
    "InvalidClass",
    "generate_extracts",
    "network",
]
