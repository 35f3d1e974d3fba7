"""The case state machine, roles and dispositions: pure rules, no database.

A case is ``open`` when its message arrives.  A specialist ``claim``s it (nobody else can then act
on it), ``acknowledge``s it (a human has read it) and ``resolve``s it with a disposition.  Anyone
working the case may ``escalate`` it to a supervisor (the system does so by itself when a crisis
waits too long); an escalated case can be claimed by supervisors and admins only.  ``release``
gives a claimed case back to the queue.  A ``note`` (on any unresolved case) changes nothing but
the history.  Every transition is stored with its time and actor.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from crisis_triage.lexicon import CATEGORIES
from crisis_triage.triage._errors import (
    InvalidDispositionError,
    InvalidTransitionError,
    PermissionDeniedError,
)


class CaseStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class Action(StrEnum):
    CREATE = "create"
    CLAIM = "claim"
    RELEASE = "release"
    ACKNOWLEDGE = "acknowledge"
    ESCALATE = "escalate"
    RESOLVE = "resolve"
    NOTE = "note"


class Role(StrEnum):
    """Who a user is; each role can do everything the roles below it can."""

    SPECIALIST = "specialist"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


class Disposition(StrEnum):
    """How a specialist closes a case; these are the labels exported for retraining."""

    CONFIRMED_CRISIS = "confirmed_crisis"
    NOT_CRISIS = "not_crisis"
    MISSED_CRISIS = "missed_crisis"
    NEEDS_FOLLOW_UP = "needs_follow_up"


class Tier(IntEnum):
    """Queue tiers, most urgent first: flagged crises, unscored messages, everything else."""

    CRISIS = 0
    REVIEW_NOW = 1
    ROUTINE = 2


_OPEN_STATES = (CaseStatus.OPEN, CaseStatus.CLAIMED, CaseStatus.ACKNOWLEDGED, CaseStatus.ESCALATED)
_WORKED = (CaseStatus.CLAIMED, CaseStatus.ACKNOWLEDGED)

TRANSITIONS: dict[Action, dict[CaseStatus, CaseStatus]] = {
    Action.CLAIM: {CaseStatus.OPEN: CaseStatus.CLAIMED, CaseStatus.ESCALATED: CaseStatus.CLAIMED},
    Action.RELEASE: {s: CaseStatus.OPEN for s in _WORKED},
    Action.ACKNOWLEDGE: {CaseStatus.CLAIMED: CaseStatus.ACKNOWLEDGED},
    Action.ESCALATE: {
        CaseStatus.OPEN: CaseStatus.ESCALATED,
        CaseStatus.CLAIMED: CaseStatus.ESCALATED,
        CaseStatus.ACKNOWLEDGED: CaseStatus.ESCALATED,
    },
    Action.RESOLVE: {s: CaseStatus.RESOLVED for s in _WORKED},
    Action.NOTE: {s: s for s in _OPEN_STATES},
}

UNRESOLVED = _OPEN_STATES


def next_status(
    status: CaseStatus, action: Action, *, escalated_before: bool = False
) -> CaseStatus:
    """The status after ``action``, or InvalidTransitionError.

    A released case goes back where it came from: ``escalated`` if it had been escalated.
    """
    target = TRANSITIONS.get(action, {}).get(status)
    if target is None:
        allowed = sorted(TRANSITIONS.get(action, {}))
        raise InvalidTransitionError(
            f"cannot {action} a case that is {status}"
            + (f" (only when {', '.join(allowed)})" if allowed else "")
        )
    if action is Action.RELEASE and escalated_before:
        return CaseStatus.ESCALATED
    return target


def check_permission(
    action: Action,
    status: CaseStatus,
    *,
    role: Role,
    user_id: int,
    claimed_by: int | None,
) -> None:
    """Raise PermissionDeniedError unless this user may take ``action`` on the case now.

    Claimed cases belong to their claimer; supervisors and admins may act on anyone's case.
    Escalated cases wait for a supervisor.
    """
    supervisor = role.at_least(Role.SUPERVISOR)
    if action is Action.CLAIM and status is CaseStatus.ESCALATED and not supervisor:
        raise PermissionDeniedError(
            "an escalated case can be claimed by a supervisor or admin only"
        )
    if status in _WORKED and claimed_by is not None and claimed_by != user_id and not supervisor:
        raise PermissionDeniedError("this case is claimed by another specialist")


def tier_for(*, scored: bool, flagged: bool | None, partly: bool = False) -> Tier:
    """``partly``: the model read only part of the message, so unless what it read is already a
    crisis a person reads it now, as an unscored one."""
    if not scored:
        return Tier.REVIEW_NOW
    if flagged:
        return Tier.CRISIS
    return Tier.REVIEW_NOW if partly else Tier.ROUTINE


def check_disposition(
    disposition: Disposition, crisis_types: tuple[str, ...], *, flagged: bool | None
) -> str | None:
    """Validate a disposition against the case; returns the stored crisis type (``SI/NSSI``)."""
    unknown = [t for t in crisis_types if t not in CATEGORIES]
    if unknown:
        raise InvalidDispositionError(
            f"unknown crisis type(s) {unknown}; use {', '.join(CATEGORIES)}"
        )
    if len(set(crisis_types)) != len(crisis_types):
        raise InvalidDispositionError("crisis types repeat")
    is_crisis = disposition in (Disposition.CONFIRMED_CRISIS, Disposition.MISSED_CRISIS)
    if is_crisis and not crisis_types:
        raise InvalidDispositionError(f"{disposition} needs at least one crisis type")
    if not is_crisis and crisis_types:
        raise InvalidDispositionError(f"{disposition} takes no crisis type")
    if disposition is Disposition.CONFIRMED_CRISIS and not flagged:
        raise InvalidDispositionError(
            "the detector did not flag this message: record a crisis as missed_crisis"
        )
    if disposition is Disposition.MISSED_CRISIS and flagged:
        raise InvalidDispositionError(
            "the detector flagged this message: record a crisis as confirmed_crisis"
        )
    if not crisis_types:
        return None
    return "/".join(sorted(crisis_types, key=CATEGORIES.index))
