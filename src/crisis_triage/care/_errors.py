"""Errors of the care domain (the service maps them like the triage domain's)."""

from __future__ import annotations

from crisis_triage.triage import TriageError


class CareInputError(TriageError):
    """A care request that cannot be carried out as given (the message says why)."""

    code = "invalid_care_input"
