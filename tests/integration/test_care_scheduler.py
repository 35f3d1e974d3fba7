"""The care scheduler under a controllable clock, on SQLite and PostgreSQL: overdue follow-ups
alerted once and escalated once, caring contacts sent exactly once through the outbox, again
after a restart (a new engine); nothing of a note or plan in alerts or deliveries."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from crisis_triage.care import (
    CARING_CONTACT_EVENT,
    FollowUpOutcome,
    care_measures,
    complete_follow_up,
    create_follow_up,
    list_follow_ups,
    note_new_messages,
    resolve_case,
    run_care_round,
    set_caring_contacts,
)
from crisis_triage.governance import AuditActor
from crisis_triage.storage import (
    Alert,
    CaringContact,
    CaringContactTemplate,
    Case,
    FollowUp,
    User,
    WebhookDelivery,
    make_engine,
    make_session_factory,
)
from crisis_triage.triage import (
    Action,
    Actor,
    Disposition,
    IncomingMessage,
    Role,
    TriagePolicy,
    apply_action,
    ingest,
)

POLICY = TriagePolicy(escalation_minutes=15, webhook_urls=("http://hooks.test/care",))
CLINICIAN = AuditActor(kind="cli", id=None, name="test-clinician")
T0 = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)


def _patient_writes(session: Session, patient: str, text: str, at: datetime) -> None:
    incoming = IncomingMessage(
        idempotency_key=f"k-{secrets.token_hex(6)}",
        patient_id=patient,
        sender="patient",
        channel="sms",
        sent_at=at,
        text=text,
    )
    results = ingest(session, None, [incoming], POLICY)
    note_new_messages(session, [incoming], results, now=at)


def _alerts(session: Session, follow_up_id: int) -> list[str]:
    rows = session.scalars(select(Alert).order_by(Alert.id))
    return [a.kind for a in rows if a.payload.get("follow_up_id") == follow_up_id]


def test_an_overdue_follow_up_is_alerted_once_then_escalated_once_across_a_restart(
    engine: Engine, database_url: str
) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session:
        _patient_writes(session, "p-sched", "hello", T0 - timedelta(hours=1))
        due = T0 + timedelta(hours=1)
        item = create_follow_up(
            session, POLICY, patient_id="p-sched", due_at=due, kind="call", actor=CLINICIAN, now=T0
        )
        assert item.status == "scheduled"
        assert run_care_round(session, POLICY, now=due - timedelta(seconds=1)).overdue == []
        assert run_care_round(session, POLICY, now=due).overdue == [item.id]
        assert run_care_round(session, POLICY, now=due + timedelta(minutes=1)).overdue == []
        assert _alerts(session, item.id) == ["follow_up"]
    restarted = make_engine(database_url)  # a new process: nothing held in memory survives
    with make_session_factory(restarted)() as session:
        early = run_care_round(session, POLICY, now=due + timedelta(minutes=14))
        assert early.overdue == [] and early.escalated == []
        late = run_care_round(session, POLICY, now=due + timedelta(minutes=15))
        assert late.escalated == [item.id]
        assert run_care_round(session, POLICY, now=due + timedelta(hours=5)).escalated == []
        assert _alerts(session, item.id) == ["follow_up", "escalation"]
        deliveries = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        events = [d.event for d in deliveries if d.payload.get("follow_up_id") == item.id]
        assert events == ["alert.follow_up", "alert.escalation"]
        [shown] = list_follow_ups(session, patient_id="p-sched", now=due + timedelta(hours=5))
        assert shown.status == "overdue" and shown.escalated_at is not None
    restarted.dispose()


def test_a_done_follow_up_is_never_alerted_and_its_note_is_in_no_alert(engine: Engine) -> None:
    note = f"called, they are with family {secrets.token_hex(5)}"
    with make_session_factory(engine)() as session:
        _patient_writes(session, "p-done", "hello", T0)
        item = create_follow_up(
            session,
            POLICY,
            patient_id="p-done",
            due_at=T0 + timedelta(hours=1),
            kind="call",
            actor=CLINICIAN,
            now=T0,
        )
        complete_follow_up(
            session, POLICY, item.id, outcome=FollowUpOutcome.REACHED, note=note, actor=CLINICIAN
        )
        late = run_care_round(session, POLICY, now=T0 + timedelta(days=2))
        assert late.overdue == [] and _alerts(session, item.id) == []
        stored = session.scalar(select(FollowUp.note).where(FollowUp.id == item.id))
        assert stored == note
        payloads = [str(p) for p in session.scalars(select(WebhookDelivery.payload))]
        payloads += [str(a.payload) + a.summary for a in session.scalars(select(Alert))]
        assert not any(note in p for p in payloads)


def test_a_patient_writing_again_links_the_new_case_to_the_open_follow_up(engine: Engine) -> None:
    with make_session_factory(engine)() as session:
        _patient_writes(session, "p-link", "hello", T0)
        item = create_follow_up(
            session,
            POLICY,
            patient_id="p-link",
            due_at=T0 + timedelta(days=1),
            kind="call",
            actor=CLINICIAN,
            now=T0,
        )
        _patient_writes(session, "p-link", "I am feeling worse again", T0 + timedelta(hours=2))
        [shown] = list_follow_ups(session, patient_id="p-link", now=T0 + timedelta(hours=3))
        assert shown.id == item.id and shown.reply_case_id is not None


def _approve_template(session: Session, language: str, text: str) -> None:
    session.add(CaringContactTemplate(language=language, text=text, approved_at=T0))
    session.commit()


def test_caring_contacts_go_out_exactly_once_and_stop_cancels_the_rest(
    engine: Engine, database_url: str
) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session:
        _patient_writes(session, "p-cc", "thank you", T0)
        status = set_caring_contacts(
            session, POLICY, "p-cc", opt_in=True, language="es", actor=CLINICIAN, now=T0
        )
        assert status.scheduled == 15
        week_two = T0 + timedelta(days=15)
        # No approved Spanish template yet: nothing goes out, nothing is lost.
        _approve_template(session, "en", "Thinking of you. - the clinic team")
        assert run_care_round(session, POLICY, now=week_two).caring_contacts_sent == 0
        _approve_template(session, "es", "Pensamos en usted. - el equipo")
        assert run_care_round(session, POLICY, now=week_two).caring_contacts_sent == 2
        assert run_care_round(session, POLICY, now=week_two).caring_contacts_sent == 0
    restarted = make_engine(database_url)
    with make_session_factory(restarted)() as session:
        assert run_care_round(session, POLICY, now=week_two).caring_contacts_sent == 0
        sent = session.scalars(
            select(WebhookDelivery.payload).where(WebhookDelivery.event == CARING_CONTACT_EVENT)
        ).all()
        assert [p["language"] for p in sent] == ["es", "es"]
        assert {p["channel"] for p in sent} == {"sms"}
        _patient_writes(session, "p-cc", "ALTO", week_two + timedelta(hours=1))
        counts = dict(
            session.execute(
                select(CaringContact.status, func.count())
                .where(CaringContact.patient_id == "p-cc")
                .group_by(CaringContact.status)
            ).all()
        )
        assert counts == {"sent": 2, "cancelled": 13}
        later = run_care_round(session, POLICY, now=T0 + timedelta(days=400))
        assert later.caring_contacts_sent == 0
    restarted.dispose()


def test_the_measures_count_in_time_late_overdue_and_hours_to_first_follow_up(
    engine: Engine,
) -> None:
    with make_session_factory(engine)() as session:
        _patient_writes(session, "p-m", "I am not doing well", T0 - timedelta(minutes=30))
        user = User(username="mia", password_hash="x", role="specialist")
        session.add(user)
        session.commit()
        actor = Actor(user_id=user.id, role=Role.SPECIALIST)
        case_id = session.scalar(select(Case.id))
        apply_action(session, case_id, Action.CLAIM, actor, now=T0)
        session.commit()
        resolve_case(
            session, POLICY, case_id, actor, disposition=Disposition.NEEDS_FOLLOW_UP, now=T0
        )
        [first, *_rest] = list_follow_ups(session, patient_id="p-m", now=T0)
        complete_follow_up(
            session,
            POLICY,
            first.id,
            outcome=FollowUpOutcome.REACHED,
            note=None,
            actor=CLINICIAN,
            now=T0 + timedelta(hours=2),
        )
        _approve_template(session, "en", "Thinking of you.")
        set_caring_contacts(session, POLICY, "p-m", opt_in=True, actor=CLINICIAN, now=T0)
        run_care_round(session, POLICY, now=T0 + timedelta(days=8))  # week 1 sent; 72h overdue
        _patient_writes(session, "p-m", "stop", T0 + timedelta(days=8, hours=1))
        measures = care_measures(session, days=30, now=T0 + timedelta(days=8, hours=2))
    assert (measures.follow_ups_due, measures.follow_ups_done_in_time) == (3, 1)  # 24h, 72h, 7d
    assert measures.completion_within_target == round(1 / 3, 4)
    assert measures.overdue_now == 2
    assert measures.resolutions_followed == 1
    assert measures.median_hours_to_first_follow_up == 2.0
    assert measures.caring_contacts_sent == 1
    assert measures.caring_delivery_rate is None  # queued, not yet delivered
    assert (measures.caring_opted_in, measures.caring_opted_out) == (1, 1)
    assert measures.caring_opt_out_rate == 1.0
