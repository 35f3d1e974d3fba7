"""Errors of the accounts domain; a ``TriageError`` so the service maps it like the others."""

from __future__ import annotations

from crisis_triage.triage import TriageError


class AccountError(TriageError):
    code = "account_error"
