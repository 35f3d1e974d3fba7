"""What the service and the accounts functions write to the audit log, and from where."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Literal

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from service_fakes import message
from service_helpers import PASSWORD, Factory, empty_tables
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.accounts import (
    LOCKOUT_MINUTES,
    LOCKOUT_THRESHOLD,
    _credentials,
    authenticate,
    create_api_key,
    create_user,
    revoke_api_key,
)
from crisis_triage.governance import AuditActor, verify_chain
from crisis_triage.storage import AuditEntry, User, make_engine, make_session_factory, utcnow
from crisis_triage.triage import Role


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its real cost takes most of a second here: these tests count attempts."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(_credentials, "_hasher", cheap)
    monkeypatch.setattr(_credentials, "_DUMMY_HASH", cheap.hash("not-a-real-password"))


@pytest.fixture
def sqlite_session(sqlite_url: str) -> Iterator[Session]:
    """For the lockout arithmetic, which does not depend on the database."""
    engine = make_engine(sqlite_url)
    empty_tables(engine)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def _entries(session: Session, prefix: str = "") -> list[AuditEntry]:
    session.expire_all()
    query = select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id)
    return list(session.scalars(query))


def test_reading_a_case_and_acting_on_it_are_audited_with_who_and_where(
    client: TestClient, factory: Factory, platform: dict[str, str], session: Session
) -> None:
    body = message(text="I took an overdose", patient_id="patient-42")
    case_id = client.post("/v1/messages", json=body, headers=platform).json()["case_id"]
    user_id, token = factory.user(Role.SPECIALIST, name="sam")
    me = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/v1/cases/{case_id}", headers=me).status_code == 200
    assert client.post(f"/v1/cases/{case_id}/claim", headers=me).status_code == 200
    note = {"note": "called the patient"}
    assert client.post(f"/v1/cases/{case_id}/acknowledge", headers=me, json=note).status_code == 200

    read, claim, ack = _entries(session, "message.") + _entries(session, "case.")
    assert (read.action, claim.action, ack.action) == (
        "message.read",
        "case.claim",
        "case.acknowledge",
    )
    for entry in (read, claim, ack):
        assert (entry.actor_kind, entry.actor_id, entry.actor_name) == ("user", user_id, "sam")
        assert entry.patient_id == "patient-42" and entry.case_id == case_id
        assert entry.origin == "testclient"  # the TestClient's client address
        assert entry.outcome == "ok"
    assert claim.details == {"from": "open", "to": "claimed"}
    assert ack.details == {"from": "claimed", "to": "acknowledged", "note_length": 18}
    assert verify_chain(session).ok


def test_a_refused_read_is_not_recorded_as_a_read(
    client: TestClient, factory: Factory, platform: dict[str, str], session: Session
) -> None:
    case_id = client.post("/v1/messages", json=message(), headers=platform).json()["case_id"]
    assert client.get(f"/v1/cases/{case_id}", headers=platform).status_code == 403
    assert _entries(session, "message.read") == []


def test_logins_logouts_and_failures_are_audited(client: TestClient, session: Session) -> None:
    create_user(session, "sam", PASSWORD, Role.SPECIALIST, actor=AuditActor.cli("cli:root"))
    assert (
        client.post(
            "/v1/auth/token", json={"username": "sam", "password": "nope nope!"}
        ).status_code
        == 401
    )
    assert (
        client.post("/v1/auth/token", json={"username": "who", "password": PASSWORD}).status_code
        == 401
    )
    token = client.post("/v1/auth/token", json={"username": "sam", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.post("/v1/auth/logout", headers=headers).status_code == 204

    created, wrong, unknown, login, logout = _entries(session)
    assert (created.action, created.actor_kind, created.actor_name) == (
        "user.create",
        "cli",
        "cli:root",
    )
    assert wrong.action == "auth.login_failed" and wrong.outcome == "denied"
    assert wrong.actor_name == "sam" and wrong.details == {"reason": "wrong_password"}
    assert unknown.actor_kind == "anonymous" and unknown.details is not None
    assert unknown.details["reason"] == "unknown_user"
    assert "who" not in str(unknown.details)  # the attempted name is only hashed
    assert (login.action, login.outcome, login.origin) == ("auth.login", "ok", "testclient")
    assert logout.action == "auth.logout" and logout.actor_name == "sam"


def test_api_key_creation_and_revocation_are_audited(session: Session) -> None:
    admin = AuditActor(kind="user", id=1, name="ana")
    _key, row = create_api_key(session, "platform", ("messages:write",), actor=admin)
    revoke_api_key(session, row.id, actor=admin)
    created, revoked = _entries(session, "apikey.")
    assert created.details == {"api_key_id": row.id, "scopes": "messages:write"}
    assert revoked.details == {"api_key_id": row.id} and revoked.actor_name == "ana"


def test_five_failures_lock_the_account_even_for_the_right_password(session: Session) -> None:
    create_user(session, "sam", PASSWORD, Role.SPECIALIST)
    start = utcnow()
    for i in range(LOCKOUT_THRESHOLD):
        assert (
            authenticate(session, "sam", "wrong password", now=start + timedelta(seconds=i)) is None
        )
    locked_at = start + timedelta(minutes=1)
    assert authenticate(session, "sam", PASSWORD, now=locked_at) is None
    assert [e.details["reason"] for e in _entries(session, "auth.login_failed") if e.details][
        -1
    ] == "locked"
    [lockout] = _entries(session, "auth.lockout")
    assert lockout.outcome == "denied" and lockout.details == {
        "failures": LOCKOUT_THRESHOLD,
        "minutes": LOCKOUT_MINUTES,
    }
    later = start + timedelta(seconds=LOCKOUT_THRESHOLD, minutes=LOCKOUT_MINUTES, microseconds=1)
    user = authenticate(session, "sam", PASSWORD, now=later)
    assert user is not None and user.failed_logins == 0 and user.locked_until is None


def test_failures_spread_beyond_the_window_do_not_lock(sqlite_session: Session) -> None:
    create_user(sqlite_session, "sam", PASSWORD, Role.SPECIALIST)
    start = utcnow()
    spacing = timedelta(minutes=LOCKOUT_MINUTES / (LOCKOUT_THRESHOLD - 1) + 1)
    for i in range(LOCKOUT_THRESHOLD):
        assert (
            authenticate(sqlite_session, "sam", "wrong password", now=start + i * spacing) is None
        )
    assert _entries(sqlite_session, "auth.lockout") == []
    assert authenticate(sqlite_session, "sam", PASSWORD, now=start + LOCKOUT_THRESHOLD * spacing)


def test_a_success_resets_the_failure_count(sqlite_session: Session) -> None:
    create_user(sqlite_session, "sam", PASSWORD, Role.SPECIALIST)
    start = utcnow()
    for i in range(LOCKOUT_THRESHOLD - 1):
        authenticate(sqlite_session, "sam", "wrong password", now=start + timedelta(seconds=i))
    assert authenticate(sqlite_session, "sam", PASSWORD, now=start + timedelta(seconds=10))
    authenticate(sqlite_session, "sam", "wrong password", now=start + timedelta(seconds=11))
    user = sqlite_session.scalar(select(User).where(User.username == "sam"))
    assert user is not None and user.failed_logins == 1 and user.locked_until is None


def test_an_inactive_user_cannot_log_in_and_it_is_audited(sqlite_session: Session) -> None:
    user = create_user(sqlite_session, "sam", PASSWORD, Role.SPECIALIST)
    user.is_active = False
    sqlite_session.commit()
    assert authenticate(sqlite_session, "sam", PASSWORD) is None
    [failed] = _entries(sqlite_session, "auth.login_failed")
    assert failed.details == {"reason": "inactive"}


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


def test_the_password_hash_is_checked_on_every_path(
    sqlite_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown, locked and inactive accounts cost the same argon2 check as a real one, so the
    time of the answer tells nothing."""
    create_user(sqlite_session, "sam", PASSWORD, Role.SPECIALIST)
    hasher = CountingHasher()
    monkeypatch.setattr(_credentials, "_hasher", hasher)
    start = utcnow()
    attempts = [("nobody", PASSWORD)] + [("sam", "wrong password")] * LOCKOUT_THRESHOLD
    attempts.append(("sam", PASSWORD))  # locked by now
    for i, (name, password) in enumerate(attempts):
        assert (
            authenticate(sqlite_session, name, password, now=start + timedelta(seconds=i)) is None
        )
    assert hasher.verified == len(attempts)


def test_a_locked_account_gets_the_same_reply_over_http(
    client: TestClient, session: Session
) -> None:
    create_user(session, "sam", PASSWORD, Role.SPECIALIST)
    for _ in range(LOCKOUT_THRESHOLD):
        client.post("/v1/auth/token", json={"username": "sam", "password": "wrong password"})
    reply = client.post("/v1/auth/token", json={"username": "sam", "password": PASSWORD})
    assert reply.status_code == 401
    assert reply.json()["error"]["message"] == "wrong username or password"


@pytest.mark.postgres
def test_concurrent_failures_on_postgres_are_all_counted(postgres_url: str) -> None:
    engine = make_engine(postgres_url, pool_size=LOCKOUT_THRESHOLD)
    empty_tables(engine)
    sessions = make_session_factory(engine)
    try:
        with sessions() as session:
            create_user(session, "sam", PASSWORD, Role.SPECIALIST)

        def fail(_: int) -> None:
            with sessions() as session:
                assert authenticate(session, "sam", "wrong password") is None

        with ThreadPoolExecutor(LOCKOUT_THRESHOLD) as pool:
            list(pool.map(fail, range(LOCKOUT_THRESHOLD)))
        with sessions() as session:
            user = session.scalar(select(User).where(User.username == "sam"))
            assert user is not None and user.locked_until is not None
            assert len(_entries(session, "auth.lockout")) == 1
            assert verify_chain(session).ok
    finally:
        engine.dispose()


class _CountingHasher(PasswordHasher):
    """Counts the password checks: the work that makes a login slow, whichever way it goes."""

    checks = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        type(self).checks += 1
        return super().verify(hash, password)


def test_every_login_answer_costs_one_password_check(
    monkeypatch: pytest.MonkeyPatch, sqlite_session: Session
) -> None:
    """Login timing does not tell an attacker which usernames exist: an unknown user, a wrong
    password, a locked or inactive account and a success each run the same argon2 check once,
    against a dummy hash with the real one's parameters."""
    hasher = _CountingHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(_credentials, "_hasher", hasher)
    monkeypatch.setattr(_credentials, "_DUMMY_HASH", hasher.hash("not-a-real-password"))
    create_user(sqlite_session, "known", "a long enough password", Role.SPECIALIST)
    attempts = [("nobody", "a long enough password"), ("known", "wrong password!!")]
    attempts += [("known", "a long enough password")]
    for username, password in attempts:
        before = _CountingHasher.checks
        authenticate(sqlite_session, username, password)
        assert _CountingHasher.checks == before + 1, username
    for _ in range(LOCKOUT_THRESHOLD):
        authenticate(sqlite_session, "known", "wrong password!!")
    before = _CountingHasher.checks
    assert authenticate(sqlite_session, "known", "a long enough password") is None  # locked
    assert _CountingHasher.checks == before + 1
