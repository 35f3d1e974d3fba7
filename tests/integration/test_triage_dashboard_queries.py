"""The triage queries behind the dashboard, on SQLite and PostgreSQL: patient history, the
supervisor's numbers, user administration, runtime settings and sliding login sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from service_fakes import FakeScorer
from service_helpers import Factory
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.accounts import (
    AccountError,
    create_api_key,
    issue_token,
    list_api_keys,
    revoke_api_key,
    start_session,
    update_user,
    use_session,
)
from crisis_triage.storage import Alert, AuthToken, User, WebhookDelivery
from crisis_triage.triage import (
    Action,
    Actor,
    CaseStatus,
    Disposition,
    IncomingMessage,
    NotFoundError,
    Role,
    SettingError,
    TriagePolicy,
    apply_action,
    clear_override,
    effective_policy,
    escalate_overdue,
    ingest,
    message_previews,
    oversight,
    patient_history,
    save_overrides,
)

NOW = datetime.now(UTC).replace(microsecond=0)


def _ingest(session: Session, *texts: tuple[str, str], at: datetime = NOW) -> list[int]:
    """Messages ``(patient, text)`` sent one minute apart from ``at``; returns case ids."""
    items = [
        IncomingMessage(
            f"k-{at.timestamp()}-{i}", patient, "patient", "sms", at + timedelta(minutes=i), text
        )
        for i, (patient, text) in enumerate(texts)
    ]
    results = ingest(
        session, FakeScorer(), items, TriagePolicy(), now=at + timedelta(minutes=len(items))
    )
    return [r.case_id for r in results]


def test_patient_history_is_the_same_patients_messages_newest_first(session: Session) -> None:
    first, second, _other, third = _ingest(
        session, ("p1", "one"), ("p1", "two"), ("p2", "other"), ("p1", "three overdose")
    )
    history = patient_history(session, "p1", exclude_case_id=third)
    assert [(h.case_id, h.text) for h in history] == [(second, "two"), (first, "one")]
    assert patient_history(session, "p1", limit=1)[0].case_id == third
    assert patient_history(session, "nobody") == []


def test_previews_are_one_line_and_cut(session: Session) -> None:
    [case] = _ingest(session, ("p1", "first line\n\nsecond   line " + "x" * 300))
    preview = message_previews(session, [case], length=40)[case]
    assert preview.startswith("first line second line x")
    assert len(preview) == 40 and preview.endswith("…")
    assert message_previews(session, []) == {}


def test_oversight_counts_open_crises_workload_alerts_unscored_and_failures(
    session: Session,
) -> None:
    factory = Factory(session)
    sam = Actor(factory.user(Role.SPECIALIST, name="sam")[0], Role.SPECIALIST)
    factory.user(Role.SPECIALIST, name="idle")
    old_crisis, new_crisis, routine = _ingest(
        session,
        ("p1", "an overdose"),
        ("p2", "I want to end it"),
        ("p3", "hello"),
        at=NOW - timedelta(minutes=30),
    )
    unscored = ingest(
        session, None, [IncomingMessage("u-1", "p4", "patient", "sms", NOW, "hi")], TriagePolicy()
    )[0].case_id
    apply_action(session, new_crisis, Action.CLAIM, sam)
    apply_action(session, routine, Action.CLAIM, sam)
    apply_action(session, routine, Action.RESOLVE, sam, disposition=Disposition.NOT_CRISIS)
    session.add(
        WebhookDelivery(
            event="alert.crisis",
            url="https://hook.example/",
            status="failed",
            attempts=8,
            last_error="HTTP 500",
            last_attempt_at=NOW,
        )
    )
    session.add(WebhookDelivery(event="alert.crisis", url="https://hook.example/", attempts=2))
    session.commit()

    seen = oversight(session, now=NOW, days=3)
    assert [c.case_id for c in seen.open_crises] == [old_crisis, new_crisis]  # oldest first
    assert seen.open_crises[0].age_minutes == pytest.approx(30, abs=0.1)
    assert seen.open_crises[1].claimed_by == "sam"
    workload = {w.username: (w.holding, w.resolved_today) for w in seen.workload}
    assert workload == {"sam": (1, 1), "idle": (0, 0)}
    today = seen.alert_load[-1]
    assert (today.day, today.alerts, today.active_users, today.per_user) == (NOW.date(), 2, 1, 2.0)
    assert [a.alerts for a in seen.alert_load[:-1]] == [0, 0]
    assert (seen.unscored_open, seen.unscored_today) == (1, 1)
    assert (seen.failed_deliveries, seen.retrying_deliveries) == (1, 1)
    assert seen.recent_failures[0].last_error == "HTTP 500"
    assert unscored not in [c.case_id for c in seen.open_crises]
    # Operator alerts (the unscored message raised one) are not alert fatigue for clinicians.
    assert session.scalar(select(Alert.id).where(Alert.kind == "operator")) is not None


def test_update_user_changes_role_and_ends_their_logins(session: Session) -> None:
    factory = Factory(session)
    user_id, _token = factory.user(Role.SPECIALIST, name="sam")
    factory.user(Role.ADMIN, name="ada")
    user, changes = update_user(session, user_id, role=Role.SUPERVISOR)
    session.commit()
    assert changes == {"role": "specialist->supervisor"}
    assert user.role == "supervisor"
    tokens = session.scalars(select(AuthToken).where(AuthToken.user_id == user_id)).all()
    assert tokens and all(t.revoked_at is not None for t in tokens)
    assert update_user(session, user_id, role=Role.SUPERVISOR)[1] == {}  # nothing to change
    with pytest.raises(NotFoundError):
        update_user(session, 9999, is_active=False)


def test_the_last_active_admin_stays(session: Session) -> None:
    factory = Factory(session)
    ada = factory.user(Role.ADMIN, name="ada")[0]
    with pytest.raises(AccountError, match="last active admin"):
        update_user(session, ada, is_active=False)
    bob = factory.user(Role.ADMIN, name="bob")[0]
    update_user(session, ada, role=Role.SPECIALIST)
    session.commit()
    with pytest.raises(AccountError, match="last active admin"):
        update_user(session, bob, role=Role.SUPERVISOR)


def test_api_keys_list_active_ones_first(session: Session) -> None:
    _key, old = create_api_key(session, "old")
    _key, new = create_api_key(session, "new")
    revoke_api_key(session, old.id)
    assert [k.name for k in list_api_keys(session)] == ["new", "old"]
    assert [k.name for k in list_api_keys(session, include_revoked=False)] == ["new"]
    assert new.revoked_at is None


def test_runtime_overrides_win_over_the_environment(session: Session) -> None:
    base = TriagePolicy(escalation_minutes=15, auto_reply_text="env text")
    changed = save_overrides(
        session, {"escalation_minutes": "5", "auto_reply_text": " "}, user_id=None
    )
    session.commit()
    assert changed == {"escalation_minutes": (None, 5.0), "auto_reply_text": (None, None)}
    policy = effective_policy(session, base)
    assert (policy.escalation_minutes, policy.auto_reply_text) == (5.0, None)
    assert clear_override(session, "escalation_minutes") is True
    assert clear_override(session, "escalation_minutes") is False
    session.commit()
    assert effective_policy(session, base).escalation_minutes == 15


def test_values_equal_to_the_default_are_not_stored(session: Session) -> None:
    changed = save_overrides(
        session,
        {"escalation_minutes": "15", "auto_reply_text": "env text"},
        user_id=None,
        defaults={"escalation_minutes": 15.0, "auto_reply_text": "env text"},
    )
    assert changed == {}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"escalation_minutes": "soon"}, "number of minutes"),
        ({"escalation_minutes": "0"}, "more than 0"),
        ({"escalation_minutes": "nan"}, "more than 0"),
        ({"escalation_minutes": "100000"}, "at most 1440"),
        ({"auto_reply_text": "x" * 1001}, "at most 1000 characters"),
        ({"webhook_urls": "[]"}, "cannot be changed at runtime"),
    ],
)
def test_bad_setting_values_store_nothing(
    session: Session, values: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingError, match=message):
        save_overrides(session, {"auto_reply_text": "fine", **values}, user_id=None)
    session.rollback()
    assert effective_policy(session, TriagePolicy()).auto_reply_text is None


def test_overridden_escalation_minutes_drive_escalation(session: Session) -> None:
    [case_id] = _ingest(session, ("p1", "an overdose"), at=NOW - timedelta(minutes=7))
    base = TriagePolicy(escalation_minutes=15)
    assert escalate_overdue(session, effective_policy(session, base), now=NOW) == []
    save_overrides(session, {"escalation_minutes": "5"}, user_id=None)
    session.commit()
    assert escalate_overdue(session, effective_policy(session, base), now=NOW) == [case_id]


def test_the_service_worker_picks_up_overrides_saved_elsewhere(
    client: TestClient, session: Session
) -> None:
    state = client.app.state.service  # type: ignore[attr-defined]
    assert state.policy.escalation_minutes == 15
    save_overrides(session, {"escalation_minutes": "3"}, user_id=None)
    session.commit()
    client.app.state.worker.run_once()  # type: ignore[attr-defined]
    assert state.policy.escalation_minutes == 3


def test_sessions_slide_with_use_up_to_a_maximum(session: Session) -> None:
    user = User(username="sam", password_hash="x", role="specialist")
    session.add(user)
    session.commit()
    idle, most = timedelta(minutes=30), timedelta(hours=2)
    token = start_session(session, user, idle=idle, now=NOW)
    row = session.scalar(select(AuthToken).where(AuthToken.user_id == user.id))
    assert row is not None and row.kind == "session"
    later = NOW + timedelta(minutes=20)
    # A check that is not use (the queue refreshing itself) leaves the expiry alone.
    assert use_session(session, token, idle=idle, max_age=most, extend=False, now=later) == user
    session.refresh(row)
    assert row.expires_at == NOW + idle
    assert use_session(session, token, idle=idle, max_age=most, now=later) == user
    session.refresh(row)
    assert row.expires_at == later + idle  # used: 30 more minutes from now
    # Idle past the (extended) expiry: gone.
    assert use_session(session, token, idle=idle, max_age=most, now=later + idle) is None
    # Kept busy, it still ends max_age after login.
    token = start_session(session, user, idle=idle, now=NOW)
    at = NOW
    while at < NOW + most - timedelta(minutes=10):
        at += timedelta(minutes=10)
        assert use_session(session, token, idle=idle, max_age=most, now=at) == user
    assert use_session(session, token, idle=idle, max_age=most, now=NOW + most) is None


def test_only_session_tokens_open_a_session(session: Session) -> None:
    user = User(username="sam", password_hash="x", role="specialist")
    session.add(user)
    session.commit()
    api_token, _row = issue_token(session, user, ttl=timedelta(hours=1))
    assert (
        use_session(session, api_token, idle=timedelta(minutes=30), max_age=timedelta(hours=1))
        is None
    )
    assert (
        use_session(session, "ctu_nothing", idle=timedelta(minutes=30), max_age=timedelta(hours=1))
        is None
    )


def test_case_status_enum_is_what_history_reports(session: Session) -> None:
    [case_id] = _ingest(session, ("p1", "hello"))
    [item] = patient_history(session, "p1")
    assert (item.case_id, item.status) == (case_id, CaseStatus.OPEN)


def test_a_starting_service_uses_the_stored_overrides(database_url: str, session: Session) -> None:
    from service_helpers import settings_for

    from crisis_triage.service import create_app

    save_overrides(session, {"auto_reply_text": "Call 988 if you are in danger."}, user_id=None)
    session.commit()
    app = create_app(settings_for(database_url), scorer=FakeScorer())
    assert app.state.service.policy.auto_reply_text is None  # nothing read at build time
    with TestClient(app):
        assert app.state.service.policy.auto_reply_text == "Call 988 if you are in danger."
