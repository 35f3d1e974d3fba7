"""The `crisis-triage` command line; each command module registers itself on import."""

from crisis_triage.cli import _admin as _admin  # users, apikeys
from crisis_triage.cli import _reports as _reports  # report, export
from crisis_triage.cli import _serve as _serve  # serve, db
from crisis_triage.cli._app import app, main

__all__ = ["app", "main"]
