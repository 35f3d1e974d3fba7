"""The `crisis-triage` command line."""

from crisis_triage.cli import _lexicon as _lexicon  # registers `crisis-triage lexicon`
from crisis_triage.cli._app import app, main

__all__ = ["app", "main"]
