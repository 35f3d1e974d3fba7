"""The case state machine, permissions, dispositions and queue order, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crisis_triage.triage import (
    TRANSITIONS,
    Action,
    CaseStatus,
    Disposition,
    InvalidDispositionError,
    InvalidTransitionError,
    PermissionDeniedError,
    Role,
    Tier,
    check_disposition,
    check_permission,
    next_status,
    queue_sort_key,
    tier_for,
)

S = CaseStatus


@pytest.mark.parametrize(
    ("status", "action", "expected"),
    [
        (S.OPEN, Action.CLAIM, S.CLAIMED),
        (S.ESCALATED, Action.CLAIM, S.CLAIMED),
        (S.CLAIMED, Action.ACKNOWLEDGE, S.ACKNOWLEDGED),
        (S.CLAIMED, Action.RELEASE, S.OPEN),
        (S.ACKNOWLEDGED, Action.RELEASE, S.OPEN),
        (S.OPEN, Action.ESCALATE, S.ESCALATED),
        (S.CLAIMED, Action.ESCALATE, S.ESCALATED),
        (S.ACKNOWLEDGED, Action.ESCALATE, S.ESCALATED),
        (S.CLAIMED, Action.RESOLVE, S.RESOLVED),
        (S.ACKNOWLEDGED, Action.RESOLVE, S.RESOLVED),
    ],
)
def test_allowed_transitions(status: CaseStatus, action: Action, expected: CaseStatus) -> None:
    assert next_status(status, action) is expected


def test_every_other_transition_is_refused() -> None:
    allowed = {(s, a) for a, table in TRANSITIONS.items() for s in table}
    refused = [(s, a) for s in CaseStatus for a in Action if (s, a) not in allowed]
    assert (S.RESOLVED, Action.CLAIM) in refused
    assert (S.OPEN, Action.RESOLVE) in refused  # claim first
    assert (S.OPEN, Action.ACKNOWLEDGE) in refused
    assert (S.CLAIMED, Action.CLAIM) in refused  # never two claims
    assert (S.ESCALATED, Action.ESCALATE) in refused
    for status, action in refused:
        with pytest.raises(InvalidTransitionError):
            next_status(status, action)


def test_a_released_escalated_case_goes_back_to_escalated() -> None:
    assert next_status(S.CLAIMED, Action.RELEASE, escalated_before=True) is S.ESCALATED


def test_resolved_is_final() -> None:
    for action in Action:
        with pytest.raises(InvalidTransitionError):
            next_status(S.RESOLVED, action)


def test_a_claimed_case_belongs_to_its_claimer() -> None:
    check_permission(Action.RESOLVE, S.CLAIMED, role=Role.SPECIALIST, user_id=1, claimed_by=1)
    with pytest.raises(PermissionDeniedError):
        check_permission(Action.RESOLVE, S.CLAIMED, role=Role.SPECIALIST, user_id=2, claimed_by=1)
    check_permission(Action.RESOLVE, S.CLAIMED, role=Role.SUPERVISOR, user_id=2, claimed_by=1)


def test_escalated_cases_wait_for_a_supervisor() -> None:
    with pytest.raises(PermissionDeniedError):
        check_permission(
            Action.CLAIM, S.ESCALATED, role=Role.SPECIALIST, user_id=1, claimed_by=None
        )
    check_permission(Action.CLAIM, S.ESCALATED, role=Role.SUPERVISOR, user_id=1, claimed_by=None)
    check_permission(Action.CLAIM, S.ESCALATED, role=Role.ADMIN, user_id=1, claimed_by=None)


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.at_least(Role.SUPERVISOR) and Role.SUPERVISOR.at_least(Role.SPECIALIST)
    assert not Role.SPECIALIST.at_least(Role.SUPERVISOR)


@pytest.mark.parametrize(
    ("disposition", "types", "flagged", "stored"),
    [
        (Disposition.CONFIRMED_CRISIS, ("NSSI", "SI"), True, "SI/NSSI"),
        (Disposition.MISSED_CRISIS, ("DV",), False, "DV"),
        (Disposition.MISSED_CRISIS, ("OD",), None, "OD"),
        (Disposition.NOT_CRISIS, (), True, None),
        (Disposition.NEEDS_FOLLOW_UP, (), False, None),
    ],
)
def test_valid_dispositions(
    disposition: Disposition, types: tuple[str, ...], flagged: bool | None, stored: str | None
) -> None:
    assert check_disposition(disposition, types, flagged=flagged) == stored


@pytest.mark.parametrize(
    ("disposition", "types", "flagged"),
    [
        (Disposition.CONFIRMED_CRISIS, (), True),  # needs a type
        (Disposition.CONFIRMED_CRISIS, ("SI",), False),  # not flagged: it was missed
        (Disposition.MISSED_CRISIS, ("SI",), True),  # flagged: it was confirmed
        (Disposition.NOT_CRISIS, ("SI",), True),  # takes no type
        (Disposition.CONFIRMED_CRISIS, ("XX",), True),  # unknown type
        (Disposition.CONFIRMED_CRISIS, ("SI", "SI"), True),  # repeated
    ],
)
def test_invalid_dispositions(
    disposition: Disposition, types: tuple[str, ...], flagged: bool | None
) -> None:
    with pytest.raises(InvalidDispositionError):
        check_disposition(disposition, types, flagged=flagged)


def test_tiers() -> None:
    assert tier_for(scored=True, flagged=True) is Tier.CRISIS
    assert tier_for(scored=False, flagged=None) is Tier.REVIEW_NOW
    assert tier_for(scored=True, flagged=False) is Tier.ROUTINE
    # Only part of the message was scored: a person reads it, unless that part is a crisis.
    assert tier_for(scored=True, flagged=False, partly=True) is Tier.REVIEW_NOW
    assert tier_for(scored=True, flagged=True, partly=True) is Tier.CRISIS


def test_queue_order_crises_by_risk_then_waiting_then_unscored_then_oldest() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    cases = {
        "routine-old": (Tier.ROUTINE, 0.0, t0, 1),
        "routine-new": (Tier.ROUTINE, 0.0, t0 + timedelta(hours=1), 2),
        "unscored": (Tier.REVIEW_NOW, 0.0, t0 + timedelta(hours=2), 3),
        "crisis-low-old": (Tier.CRISIS, 0.6, t0, 4),
        "crisis-high": (Tier.CRISIS, 0.9, t0 + timedelta(hours=3), 5),
        "crisis-low-new": (Tier.CRISIS, 0.6, t0 + timedelta(minutes=5), 6),
    }
    order = sorted(cases, key=lambda name: queue_sort_key(*cases[name]))
    assert order == [
        "crisis-high",
        "crisis-low-old",
        "crisis-low-new",
        "unscored",
        "routine-old",
        "routine-new",
    ]
