"""Developing and evaluating prediction models inside the perimeter: task files, per-project extracts
(development set with labels, test set without), an evaluation that lets only aggregates out, a bounded
label oracle, and an in-house baseline. The AI team's path: docs/ai-evaluation.md."""
