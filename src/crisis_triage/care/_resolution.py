"""Resolving a case in the care domain: the triage state machine's resolve, and, for a crisis
or a case that needs follow-up, the site's follow-up schedule in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from crisis_triage.care._common import case_patient
from crisis_triage.care._follow_ups import FOLLOW_UP_DISPOSITIONS, schedule_follow_ups
from crisis_triage.care._risk import RiskLevel, add_risk_formulation, check_formulation
from crisis_triage.governance import AuditActor
from crisis_triage.storage import Case, User, utcnow
from crisis_triage.triage import Action, Actor, Disposition, TriagePolicy, apply_action


@dataclass(frozen=True)
class RiskInput:
    """A risk formulation recorded with the resolution."""

    level: RiskLevel
    factors: tuple[str, ...] = field(default=())
    plan: str | None = None


def resolve_case(
    session: Session,
    policy: TriagePolicy,
    case_id: int,
    actor: Actor,
    *,
    disposition: Disposition,
    crisis_types: tuple[str, ...] = (),
    note: str | None = None,
    risk: RiskInput | None = None,
    now: datetime | None = None,
) -> Case:
    """Resolve the case (``triage.apply_action``) and schedule its follow-ups; commits.

    The API and the dashboard both resolve through here, so that no crisis is closed without
    its follow-ups: both are written in one transaction, or neither is.
    """
    now = now or utcnow()
    if risk is not None:  # refuse a bad checklist before anything changes
        check_formulation(policy, risk.factors, risk.plan)
    case = apply_action(
        session,
        case_id,
        Action.RESOLVE,
        actor,
        note=note,
        disposition=disposition,
        crisis_types=crisis_types,
        now=now,
    )
    who = _audit_actor(session, actor)
    if risk is not None:
        add_risk_formulation(
            session,
            policy,
            case_id,
            level=risk.level,
            factors=risk.factors,
            plan=risk.plan,
            actor=who,
            allow_resolved=True,
            now=now,
        )
    if disposition in FOLLOW_UP_DISPOSITIONS:
        schedule_follow_ups(
            session,
            policy,
            patient_id=case_patient(session, case_id),
            case_id=case_id,
            actor=who,
            now=now,
        )
    session.commit()
    return case


def _audit_actor(session: Session, actor: Actor) -> AuditActor:
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    return AuditActor.for_user(user) if user is not None else AuditActor.system()
