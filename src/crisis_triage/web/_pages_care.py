"""After the crisis on the dashboard: the Follow-ups view (due and overdue, completed with an
outcome), the patient page (timeline, 90-day daily-highest-risk chart, safety plan, caring
contacts) and the printable safety plan (English or Spanish).  The same domain functions as
the API (``crisis_triage.care``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from crisis_triage.care import (
    PLAN_LANGUAGES,
    SECTIONS,
    FollowUpOutcome,
    FollowUpStatus,
    SafetyPlanVersion,
    caring_contacts_status,
    complete_follow_up,
    list_follow_ups,
    patient_timeline,
    read_safety_plan,
    save_safety_plan,
    set_caring_contacts,
)
from crisis_triage.service import SessionDep, StateDep
from crisis_triage.storage import utcnow
from crisis_triage.triage import NotFoundError, TriageError
from crisis_triage.web._care_text import OUTCOME_LABELS, SECTION_TITLES, plan_words
from crisis_triage.web._charts import line_chart
from crisis_triage.web._render import render
from crisis_triage.web._security import SpecialistForm, SpecialistPage, WebUser

router = APIRouter(include_in_schema=False)
PatientId = Annotated[str, Path(min_length=1, max_length=128)]
FollowUpId = Annotated[int, Path(ge=1, le=2**62)]
_ITEMS = Annotated[str, Form(max_length=12_000)]


def local(value: datetime | None, zone: ZoneInfo) -> str:
    """A UTC time as the site reads it: "Mon 7 Dec 2026, 09:00 EST"."""
    if value is None:
        return "–"
    shown = value.astimezone(zone)
    return f"{shown:%a} {shown.day} {shown:%b %Y, %H:%M %Z}"


@router.get("/follow-ups")
def follow_ups_page(
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: SpecialistPage,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    now = utcnow()
    zone = ZoneInfo(state.policy.site_timezone)
    overdue = list_follow_ups(session, status=FollowUpStatus.OVERDUE, now=now)
    upcoming = list_follow_ups(session, status=FollowUpStatus.SCHEDULED, now=now, limit=100)
    return render(
        request,
        "follow_ups.html.j2",
        {
            "overdue": overdue,
            "upcoming": upcoming,
            "outcomes": list(FollowUpOutcome),
            "outcome_labels": OUTCOME_LABELS,
            "local": lambda v: local(v, zone),
            "zone": state.policy.site_timezone,
            "done": done == "1",
        },
        user=user,
        title="Follow-ups",
    )


@router.post("/follow-ups/{follow_up_id}/complete")
def complete(
    follow_up_id: FollowUpId,
    state: StateDep,
    session: SessionDep,
    user: SpecialistForm,
    outcome: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    back: Annotated[str, Form(max_length=200)] = "/follow-ups",
) -> Response:
    target = back if back.startswith("/") and not back.startswith("//") else "/follow-ups"
    try:
        chosen = FollowUpOutcome(outcome)
    except ValueError:
        return RedirectResponse(f"{target}?error=outcome", status_code=303)
    try:
        complete_follow_up(
            session,
            state.policy,
            follow_up_id,
            outcome=chosen,
            note=note.strip() or None,
            actor=user.audit_actor(),
        )
    except TriageError as exc:  # done meanwhile, or gone
        session.rollback()
        return RedirectResponse(f"{target}?error={exc.code}", status_code=303)
    return RedirectResponse(f"{target}?done=1", status_code=303)


def _not_found(request: Request, user: WebUser, heading: str, message: str) -> Response:
    context = {"heading": heading, "message": message}
    return render(request, "error.html.j2", context, user=user, status=404, title="Not found")


def _plan(session: SessionDep, patient_id: str, user: WebUser) -> SafetyPlanVersion | None:
    try:  # audited as safety_plan.read
        return read_safety_plan(session, patient_id, actor=user.audit_actor())
    except NotFoundError:
        return None


@router.get("/patients/{patient_id}")
def patient_page(
    patient_id: PatientId,
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: SpecialistPage,
    error: str | None = None,
) -> Response:
    now = utcnow()
    zone = ZoneInfo(state.policy.site_timezone)
    timeline = patient_timeline(session, patient_id, now=now)
    if not timeline.entries:
        return _not_found(request, user, "No such patient", "No messages are stored for them.")
    chart = line_chart(
        [d.strftime("%d %b") for d, _ in timeline.daily_risk],
        [("Daily highest risk", "line-crisis", [v for _, v in timeline.daily_risk])],
        unit="",
    )
    context: dict[str, Any] = {
        "patient_id": patient_id,
        "timeline": timeline,
        "chart": chart,
        "plan": _plan(session, patient_id, user),
        "sections": [(name, SECTION_TITLES["en"][name]) for name in SECTIONS],
        "languages": PLAN_LANGUAGES,
        "contacts": caring_contacts_status(session, patient_id),
        "follow_ups": list_follow_ups(session, patient_id=patient_id, now=now, limit=50),
        "outcomes": list(FollowUpOutcome),
        "outcome_labels": OUTCOME_LABELS,
        "local": lambda v: local(v, zone),
        "zone": state.policy.site_timezone,
        "error": error,
    }
    return render(request, "patient.html.j2", context, user=user, title=f"Patient {patient_id}")


@router.post("/patients/{patient_id}/safety-plan")
def save_plan(
    patient_id: PatientId,
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: SpecialistForm,
    warning_signs: _ITEMS = "",
    internal_coping_strategies: _ITEMS = "",
    people_and_places_that_distract: _ITEMS = "",
    people_to_ask_for_help: _ITEMS = "",
    professionals_and_crisis_lines: _ITEMS = "",
    making_the_environment_safe: _ITEMS = "",
    reasons_for_living: _ITEMS = "",
    lethal_means_counselling_done: Annotated[str, Form(max_length=8)] = "",
    language: Annotated[str, Form(max_length=8)] = "en",
) -> Response:
    """Each textarea holds one item per line."""
    raw = {
        "warning_signs": warning_signs,
        "internal_coping_strategies": internal_coping_strategies,
        "people_and_places_that_distract": people_and_places_that_distract,
        "people_to_ask_for_help": people_to_ask_for_help,
        "professionals_and_crisis_lines": professionals_and_crisis_lines,
        "making_the_environment_safe": making_the_environment_safe,
        "reasons_for_living": reasons_for_living,
    }
    sections = {name: text.splitlines() for name, text in raw.items()}
    counselled = {"yes": True, "no": False}.get(lethal_means_counselling_done)
    try:
        save_safety_plan(
            session,
            patient_id,
            sections,
            actor=user.audit_actor(),
            language=language,
            lethal_means_counselling_done=counselled,
        )
    except TriageError as exc:
        session.rollback()
        return patient_page(patient_id, request, state, session, user, error=str(exc))
    return RedirectResponse(f"/patients/{patient_id}?saved=plan#safety-plan", status_code=303)


@router.post("/patients/{patient_id}/caring-contacts")
def caring_contacts(
    patient_id: PatientId,
    state: StateDep,
    session: SessionDep,
    user: SpecialistForm,
    opt_in: Annotated[str, Form(max_length=8)] = "",
    language: Annotated[str, Form(max_length=8)] = "en",
) -> Response:
    set_caring_contacts(
        session,
        state.policy,
        patient_id,
        opt_in=opt_in == "yes",
        language=language,
        actor=user.audit_actor(),
    )
    return RedirectResponse(f"/patients/{patient_id}#caring-contacts", status_code=303)


@router.get("/patients/{patient_id}/safety-plan/print")
def print_plan(
    patient_id: PatientId,
    request: Request,
    session: SessionDep,
    user: SpecialistPage,
    lang: Annotated[str | None, Query(pattern="^(en|es)$")] = None,
) -> Response:
    """A plain page to print and give to the patient, in their language (the plan's own
    unless ``lang`` says otherwise)."""
    plan = _plan(session, patient_id, user)
    if plan is None:
        return _not_found(request, user, "No safety plan", "Write one on the patient's page first.")
    language = lang or plan.language
    return render(
        request,
        "safety_plan_print.html.j2",
        {
            "plan": plan,
            "language": language,
            "words": plan_words(language),
            "sections": [(n, SECTION_TITLES[language][n]) for n in SECTIONS],
        },
        user=None,
        title=plan_words(language)["title"],
    )
