"""The `crisis-triage` command line."""

from crisis_triage.cli import _evaluate  # noqa: F401  (registers evaluate, compare, benchmark)
from crisis_triage.cli._app import app, main

__all__ = ["app", "main"]
