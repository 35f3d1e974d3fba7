"""One case: the message with matched terms highlighted, why it scored as it did, the
patient's recent messages and earlier cases, and the actions (claim, acknowledge, escalate,
release, resolve with a disposition) and timestamped notes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from crisis_triage.accounts import usernames
from crisis_triage.care import RiskInput, RiskLevel, resolve_case
from crisis_triage.governance import record_audit
from crisis_triage.lexicon import CATEGORIES
from crisis_triage.service import SessionDep, StateDep
from crisis_triage.triage import (
    Action,
    CaseStatus,
    ConflictError,
    Disposition,
    InvalidDispositionError,
    InvalidTransitionError,
    NoteRequiredError,
    NotFoundError,
    PermissionDeniedError,
    Tier,
    TriageError,
    apply_action,
    case_events,
    check_permission,
    final_scoring,
    get_case,
    highlight_spans,
    next_status,
    patient_history,
    stored_reasons,
    waiting_escalations,
)
from crisis_triage.web._render import render
from crisis_triage.web._security import SpecialistForm, SpecialistPage, WebUser

router = APIRouter(include_in_schema=False)

CaseId = Annotated[int, Path(ge=1, le=2**62)]
_NOTE = Annotated[str, Form(max_length=4000)]
_DONE = {
    "claim": "You claimed this case.",
    "acknowledge": "Acknowledged.",
    "release": "Released back to the queue.",
    "escalate": "Escalated to a supervisor.",
    "note": "Note added.",
}
DISPOSITION_LABELS = {
    Disposition.CONFIRMED_CRISIS: "Confirmed crisis",
    Disposition.NOT_CRISIS: "Not a crisis",
    Disposition.MISSED_CRISIS: "Missed crisis",
    Disposition.NEEDS_FOLLOW_UP: "Needs follow-up",
}
EVENT_WORDS = {
    "create": "Arrived",
    "claim": "Claimed",
    "acknowledge": "Acknowledged",
    "escalate": "Escalated",
    "release": "Released",
    "resolve": "Resolved",
    "note": "Note",
}
CASE_ACTIONS = (Action.CLAIM, Action.ACKNOWLEDGE, Action.ESCALATE, Action.RELEASE, Action.RESOLVE)
CRISIS_DISPOSITIONS = (Disposition.CONFIRMED_CRISIS, Disposition.MISSED_CRISIS)
# Reason kinds shown as phrases with a push (v2 says "phrase", v1 and older rows "ngram") and,
# after the tables, as plain lines.
PHRASES = ("phrase", "ngram")
PLAIN_LINES = ("evidence", "note")
_STATUS_OF_ERROR = {
    NotFoundError: 404,
    PermissionDeniedError: 403,
    InvalidTransitionError: 409,
    ConflictError: 409,
    InvalidDispositionError: 422,
    NoteRequiredError: 422,
}


def risk_sentence(text: str, reasons: list[Any]) -> str | None:
    """The sentence the detector found to carry the most risk (None if it named none or the
    span does not fit the stored text, e.g. after the text was purged)."""
    for reason in reasons:
        if reason.kind == "sentence" and reason.span is not None:
            start, end = reason.span
            if 0 <= start < end <= len(text):
                return text[start:end]
    return None


def dispositions_for(flagged: bool | None) -> list[Disposition]:
    """The dispositions that fit the case: a crisis is ``confirmed`` only when the detector
    flagged the message, ``missed`` only when it did not."""
    crisis = Disposition.CONFIRMED_CRISIS if flagged else Disposition.MISSED_CRISIS
    return [crisis, Disposition.NOT_CRISIS, Disposition.NEEDS_FOLLOW_UP]


@dataclass(frozen=True)
class Contributor:
    case_id: int
    drop: float


def _window_raised(own: float | None, window: float | None) -> bool:
    return window is not None and window > (own or 0.0)


def window_contributors(stored: list[dict[str, Any]] | None) -> list[Contributor]:
    """The earlier cases that raised this one's patient window, largest first (malformed
    entries are skipped: the page must show whatever it can)."""
    out = []
    for entry in stored or []:
        case_id, drop = entry.get("case_id"), entry.get("drop")
        if isinstance(case_id, int) and isinstance(drop, int | float):
            out.append(Contributor(case_id, float(drop)))
    return sorted(out, key=lambda c: -c.drop)


def _allowed(
    action: Action, status: CaseStatus, user: WebUser, claimed_by: int | None, escalated: bool
) -> bool:
    """Whether the state machine lets this user take ``action`` now (the domain's own rules)."""
    try:
        next_status(status, action, escalated_before=escalated)
        check_permission(action, status, role=user.role, user_id=user.id, claimed_by=claimed_by)
    except TriageError:
        return False
    return True


def _case_page(
    request: Request,
    session: SessionDep,
    user: WebUser,
    case_id: int,
    *,
    error: str | None = None,
    status: int = 200,
    form: dict[str, object] | None = None,
) -> Response:
    try:
        case, message = get_case(session, case_id)
    except NotFoundError:
        return render(
            request,
            "error.html.j2",
            {"heading": "No such case", "message": f"Case {case_id} does not exist."},
            user=user,
            status=404,
            title="Not found",
        )
    events = case_events(session, case_id)
    history = patient_history(session, message.patient_id, exclude_case_id=case.id, limit=10)
    reasons = stored_reasons(message)
    terms = [r.term for r in reasons if r.term and (r.kind == "lexicon" and r.counts)]
    terms += [r.term for r in reasons if r.term and r.kind in PHRASES and (r.weight or 0) > 0]
    names = usernames(
        session, [case.claimed_by, case.resolved_by, *(e.actor_user_id for e in events)]
    )
    actor = user.audit_actor()
    for shown in [(case.id, message.id), *((h.case_id, h.message_id) for h in history)]:
        record_audit(
            session,
            "message.read",
            actor=actor,
            patient_id=message.patient_id,
            case_id=shown[0],
            message_id=shown[1],
            details={"view": "case" if shown[0] == case.id else "patient_history"},
        )
    notes = sum(1 for e in events if e.note)
    if notes:
        record_audit(
            session,
            "note.read",
            actor=actor,
            patient_id=message.patient_id,
            case_id=case.id,
            message_id=message.id,
            details={"view": "case", "notes": notes},
        )
    session.commit()
    status_now = CaseStatus(case.status)
    escalation = None
    if status_now is CaseStatus.ESCALATED:
        escalation = next(iter(waiting_escalations(session, case_ids=[case.id])), None)
    allowed = {
        action.value
        for action in (
            Action.CLAIM,
            Action.ACKNOWLEDGE,
            Action.ESCALATE,
            Action.RELEASE,
            Action.RESOLVE,
            Action.NOTE,
        )
        if _allowed(action, status_now, user, case.claimed_by, case.escalated_at is not None)
    }
    return render(
        request,
        "case.html.j2",
        {
            "case": case,
            "message": message,
            "tier": Tier(case.tier),
            "final_scoring": final_scoring(
                message.score_tier, message.semantic_due_at, message.semantic_error
            ),
            "status": status_now,
            "escalation": escalation,
            "pieces": highlight_spans(message.text, terms),
            "reasons": reasons,
            "phrase_kinds": PHRASES,
            "plain_kinds": PLAIN_LINES,
            "risk_sentence": risk_sentence(message.text, reasons),
            "events": events,
            "history": history,
            "names": names,
            "allowed": allowed,
            "dispositions": dispositions_for(message.flagged),
            "disposition_labels": DISPOSITION_LABELS,
            "event_words": EVENT_WORDS,
            "categories": CATEGORIES,
            "notice": _DONE.get(request.query_params.get("done", "")),
            "error": error,
            "form": form or {},
            "checked_types": (form or {}).get("crisis_types", tuple(message.categories)),
            "window_raised": _window_raised(message.probability, message.window_probability),
            "risk_levels": list(RiskLevel),
            "risk_factors": request.app.state.service.policy.risk_factors,
            "contributors": window_contributors(message.window_contributors),
        },
        user=user,
        status=status,
        title=f"Case {case.id}",
    )


@router.get("/cases/{case_id}")
def case_page(
    case_id: CaseId, request: Request, session: SessionDep, user: SpecialistPage
) -> Response:
    return _case_page(request, session, user, case_id)


def _failed(
    request: Request,
    session: SessionDep,
    user: WebUser,
    case_id: int,
    exc: TriageError,
    form: dict[str, object] | None = None,
) -> Response:
    session.rollback()
    status = next((s for cls, s in _STATUS_OF_ERROR.items() if isinstance(exc, cls)), 400)
    return _case_page(request, session, user, case_id, error=str(exc), status=status, form=form)


@router.post("/cases/{case_id}/resolve")
def resolve(
    case_id: CaseId,
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: SpecialistForm,
    disposition: Annotated[str, Form(max_length=32)] = "",
    crisis_types: Annotated[list[str] | None, Form(max_length=8)] = None,
    note: _NOTE = "",
    risk_level: Annotated[str, Form(max_length=16)] = "",
    risk_factors: Annotated[list[str] | None, Form(max_length=30)] = None,
    risk_plan: _NOTE = "",
) -> Response:
    types = tuple(crisis_types or ())
    form: dict[str, object] = {"disposition": disposition, "crisis_types": types, "note": note}
    try:
        chosen = Disposition(disposition)
    except ValueError:
        error = InvalidDispositionError("choose a disposition")
        return _failed(request, session, user, case_id, error, form)
    if chosen not in CRISIS_DISPOSITIONS:
        types = ()  # the form pre-ticks the detector's categories; they only go with a crisis
    try:  # commits; audited as case.resolve (and follow_up.schedule)
        resolve_case(
            session,
            state.policy,
            case_id,
            user.actor(),
            note=note.strip() or None,
            disposition=chosen,
            crisis_types=types,
            risk=_risk_input(risk_level, risk_factors, risk_plan),
        )
    except TriageError as exc:
        return _failed(request, session, user, case_id, exc, form)
    return RedirectResponse("/queue?done=resolved", status_code=303)


def _risk_input(level: str, factors: list[str] | None, plan: str) -> RiskInput | None:
    """The resolve form's optional risk formulation (no level chosen: none recorded)."""
    if level not in {lv.value for lv in RiskLevel}:
        return None
    return RiskInput(RiskLevel(level), tuple(factors or ()), plan.strip() or None)


@router.post("/cases/{case_id}/{action}")
def act(
    case_id: CaseId,
    action: Annotated[str, Path(pattern="^(claim|acknowledge|escalate|release|note)$")],
    request: Request,
    session: SessionDep,
    user: SpecialistForm,
    note: _NOTE = "",
) -> Response:
    step = Action(action)
    try:
        apply_action(session, case_id, step, user.actor(), note=note.strip() or None)
    except TriageError as exc:
        return _failed(request, session, user, case_id, exc, {f"{step.value}_note": note})
    session.commit()  # apply_action audited it as case.<action>
    if step in (Action.RELEASE, Action.ESCALATE):
        done = "released" if step is Action.RELEASE else "escalated"
        return RedirectResponse(f"/queue?done={done}", status_code=303)
    return RedirectResponse(f"/cases/{case_id}?done={step.value}", status_code=303)
