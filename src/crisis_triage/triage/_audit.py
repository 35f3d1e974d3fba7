"""The audit trail: who read message text or changed something, what, when and from where.

INTERFACE STUB (session 2): the signature below is final; the hash-chained, append-only
storage behind it is being built.  Code that shows message text or notes to a person, or
changes a case, user, key or setting, calls ``record_audit`` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy.orm import Session

# The client address of the current request (set by the service's middleware).
audit_origin: ContextVar[str | None] = ContextVar("crisis_triage_audit_origin", default=None)

AuditValue = str | int | float | bool | None


@dataclass(frozen=True)
class AuditActor:
    """Who did it: a user, a platform API key, the command line, or the system itself."""

    kind: str  # "user" | "api_key" | "cli" | "system"
    id: int | None
    name: str

    @classmethod
    def system(cls) -> AuditActor:
        return cls(kind="system", id=None, name="system")

    @classmethod
    def cli(cls, name: str = "cli") -> AuditActor:
        return cls(kind="cli", id=None, name=name)


def record_audit(
    session: Session,
    action: str,
    *,
    actor: AuditActor | None,
    outcome: str = "ok",
    patient_id: str | None = None,
    case_id: int | None = None,
    message_id: int | None = None,
    details: Mapping[str, AuditValue] | None = None,
) -> None:
    """Append one audit entry in the caller's transaction (the caller commits).

    ``action`` is a dotted name: ``message.read``, ``case.<action>``, ``auth.login``,
    ``auth.login_failed``, ``user.create``, ``user.update``, ``apikey.create``,
    ``apikey.revoke``, ``keys.rotate``, ``settings.update``, ``retention.purge``,
    ``patient.export``, ``patient.erase``, ``audit.export``.  ``details`` holds ids, codes and
    counts only, never message text.  The origin comes from ``audit_origin``.
    """
    del session, action, actor, outcome, patient_id, case_id, message_id, details
