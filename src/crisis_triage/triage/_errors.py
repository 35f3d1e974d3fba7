"""Errors of the triage domain; the service maps each to one HTTP status and error code."""

from __future__ import annotations


class TriageError(Exception):
    """Base class; ``code`` is the stable machine-readable error code."""

    code = "triage_error"


class NotFoundError(TriageError):
    code = "not_found"


class InvalidTransitionError(TriageError):
    code = "invalid_transition"


class ConflictError(TriageError):
    """Someone else changed the case first (e.g. two specialists claiming at once)."""

    code = "conflict"


class PermissionDeniedError(TriageError):
    code = "forbidden"


class InvalidDispositionError(TriageError):
    code = "invalid_disposition"


class NoteRequiredError(TriageError):
    """A note was required (a note action, or the reason for an escalation) but none given."""

    code = "note_required"


class IdempotencyConflictError(TriageError):
    """An idempotency key was reused for a different message."""

    code = "idempotency_conflict"

    def __init__(self, message: str, *, index: int) -> None:
        super().__init__(message)
        self.index = index
