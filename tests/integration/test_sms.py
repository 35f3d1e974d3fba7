"""Inbound SMS through Twilio's webhook, with signatures computed by the twilio library, and
the admin-managed sender table; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from phi import phi_text
from service_fakes import FakeScorer
from service_helpers import Factory, settings_for
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator
from typer.testing import CliRunner

from crisis_triage.cli import app as cli_app
from crisis_triage.integrations import (
    UNKNOWN_SENDER,
    UNKNOWN_SENDER_PREFIX,
)
from crisis_triage.service import create_app
from crisis_triage.storage import AuditEntry, Message, SmsSender
from crisis_triage.triage import Role

AUTH_TOKEN = "twilio-test-auth-token"
URL = "http://testserver/v1/channels/sms/twilio"
AUTO_REPLY = "If you are in danger now, call or text 988."
MAPPED_PHONE = phi_text("+15550100001")
UNKNOWN_PHONE = phi_text("+15550100002")
CRISIS_SMS_TEXT = "I took an overdose of my pills"
ROUTINE_SMS_TEXT = "Running ten minutes late for my appointment"
_sids = count(1)


@pytest.fixture
def sms_client(database_url: str) -> Iterator[TestClient]:
    settings = settings_for(database_url, twilio_auth_token=AUTH_TOKEN, auto_reply_text=AUTO_REPLY)
    with TestClient(create_app(settings, scorer=FakeScorer()), raise_server_exceptions=False) as c:
        yield c


def _form(phone: str, body: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": f"SM{next(_sids):032d}",
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": "+15550109999",
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


def _signed(form: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(URL, form)}


def _post(client: TestClient, form: dict[str, str], headers: dict[str, str]) -> Any:
    return client.post("/v1/channels/sms/twilio", data=form, headers=headers)


def _messages(session: Session) -> list[Message]:
    session.expire_all()
    return list(session.scalars(select(Message).order_by(Message.id)))


def test_a_mapped_number_becomes_its_patient_and_a_crisis_gets_the_auto_reply(
    sms_client: TestClient, factory: Factory, session: Session
) -> None:
    admin = factory.headers(Role.ADMIN)
    mapping = {"phone": "+1 (555) 010-0001", "patient_id": "p-sms-1"}
    added = sms_client.post("/v1/channels/sms/senders", headers=admin, json=mapping)
    assert added.status_code == 201, added.text
    form = _form(MAPPED_PHONE, CRISIS_SMS_TEXT)
    reply = _post(sms_client, form, _signed(form))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/xml")
    assert f"<Response><Message>{AUTO_REPLY}</Message></Response>" in reply.text
    [stored] = _messages(session)
    assert (stored.patient_id, stored.channel, stored.sender) == ("p-sms-1", "sms", "patient")
    assert stored.text == CRISIS_SMS_TEXT and stored.flagged
    queue = sms_client.get("/v1/queue", headers=factory.headers()).json()["items"]
    assert [(i["patient_id"], i["priority"]) for i in queue] == [("p-sms-1", "crisis")]
    # The number itself is stored nowhere: only its keyed hash.
    with session.get_bind().connect() as connection:
        for table in ("sms_senders", "messages", "audit_log", "alerts"):
            dump = str(connection.execute(text(f"SELECT * FROM {table}")).all())  # noqa: S608
            assert "5550100001" not in dump, table


def test_an_unknown_number_is_still_queued_under_a_pseudonym(
    sms_client: TestClient, factory: Factory, session: Session
) -> None:
    first = _form(UNKNOWN_PHONE, ROUTINE_SMS_TEXT)
    reply = _post(sms_client, first, _signed(first))
    assert reply.status_code == 200
    assert "<Message>" not in reply.text  # not flagged: no auto-reply
    again = _form(UNKNOWN_PHONE, CRISIS_SMS_TEXT)
    assert _post(sms_client, again, _signed(again)).status_code == 200
    stored = _messages(session)
    assert len(stored) == 2
    assert stored[0].patient_id == stored[1].patient_id  # one pseudonym per number
    assert stored[0].patient_id.startswith(UNKNOWN_SENDER_PREFIX)
    assert {m.sender for m in stored} == {UNKNOWN_SENDER}
    queue = sms_client.get("/v1/queue", headers=factory.headers()).json()
    assert queue["total"] == 2


def test_a_picture_without_text_and_a_repeat_are_stored_once_each(
    sms_client: TestClient, session: Session
) -> None:
    picture = _form(UNKNOWN_PHONE, "", NumMedia="1")
    assert _post(sms_client, picture, _signed(picture)).status_code == 200
    assert _post(sms_client, picture, _signed(picture)).status_code == 200  # Twilio retried
    [stored] = _messages(session)
    assert stored.text == "(an SMS with no text, 1 media item(s))"


def test_a_forged_signature_is_refused_and_stores_nothing(
    sms_client: TestClient, session: Session
) -> None:
    form = _form(MAPPED_PHONE, CRISIS_SMS_TEXT)
    tampered = form | {"Body": ROUTINE_SMS_TEXT}
    attempts = {
        "no signature": {},
        "made with another token": _signed(form, "not-the-auth-token"),
        "for other fields": _signed(tampered),
        "garbage": {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
    }
    for name, headers in attempts.items():
        reply = _post(sms_client, form, headers)
        assert reply.status_code == 403, name
        assert reply.json()["error"]["code"] == "bad_signature"
        assert "overdose" not in reply.text and "5550100001" not in reply.text
    assert _messages(session) == []


def test_without_an_auth_token_the_webhook_is_closed(client: TestClient, session: Session) -> None:
    form = _form(MAPPED_PHONE, CRISIS_SMS_TEXT)
    reply = _post(client, form, _signed(form))
    assert reply.status_code == 503 and reply.json()["error"]["code"] == "not_configured"
    assert _messages(session) == []


def test_the_webhook_takes_twilios_form_only(sms_client: TestClient, session: Session) -> None:
    form = _form(MAPPED_PHONE, CRISIS_SMS_TEXT)
    reply = sms_client.post("/v1/channels/sms/twilio", json=form, headers=_signed(form))
    assert reply.status_code == 415
    for bad in ({"MessageSid": "SM\x00bad"}, {"From": ""}):
        signed_but_bad = form | bad
        reply = _post(sms_client, signed_but_bad, _signed(signed_but_bad))
        assert reply.status_code == 422, reply.text
    assert _messages(session) == []


def test_admins_manage_the_sender_table(
    sms_client: TestClient, factory: Factory, session: Session
) -> None:
    admin = factory.headers(Role.ADMIN)
    mapping = {"phone": MAPPED_PHONE, "patient_id": "p-sms-2"}
    specialist = factory.headers(Role.SPECIALIST)
    assert (
        sms_client.post("/v1/channels/sms/senders", headers=specialist, json=mapping).status_code
        == 403
    )
    added = sms_client.post("/v1/channels/sms/senders", headers=admin, json=mapping).json()
    same_number = {"phone": "0015550100001", "patient_id": "p-other"}
    again = sms_client.post("/v1/channels/sms/senders", headers=admin, json=same_number)
    assert again.status_code == 409
    bad = sms_client.post(
        "/v1/channels/sms/senders", headers=admin, json={"phone": "555-0100", "patient_id": "p"}
    )
    assert bad.status_code == 422 and "555-0100" not in bad.text
    listed = sms_client.get("/v1/channels/sms/senders?patient_id=p-sms-2", headers=admin).json()
    assert [(r["id"], r["patient_id"]) for r in listed] == [(added["id"], "p-sms-2")]
    assert "phone" not in listed[0]
    gone = sms_client.delete(f"/v1/channels/sms/senders/{added['id']}", headers=admin)
    assert gone.status_code == 204
    assert (
        sms_client.delete(f"/v1/channels/sms/senders/{added['id']}", headers=admin).status_code
        == 404
    )
    # Unmapped again: the next SMS arrives under the unknown sender's pseudonym.
    form = _form(MAPPED_PHONE, ROUTINE_SMS_TEXT)
    assert _post(sms_client, form, _signed(form)).status_code == 200
    assert _messages(session)[0].patient_id.startswith(UNKNOWN_SENDER_PREFIX)
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("sms_sender.%"))
    ).all()
    assert sorted(actions) == ["sms_sender.create", "sms_sender.remove"]


def test_the_cli_manages_senders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'sms.db'}")
    runner = CliRunner()
    assert runner.invoke(cli_app, ["db", "upgrade"]).exit_code == 0
    added = runner.invoke(
        cli_app, ["sms", "senders", "add", "p-cli", "--phone-stdin"], input=f"{MAPPED_PHONE}\n"
    )
    assert added.exit_code == 0, added.output
    assert "5550100001" not in added.output
    duplicate = runner.invoke(
        cli_app, ["sms", "senders", "add", "p-x", "--phone-stdin"], input=f"{MAPPED_PHONE}\n"
    )
    assert duplicate.exit_code == 1 and "already mapped" in duplicate.output
    listed = runner.invoke(cli_app, ["sms", "senders", "list"])
    assert "p-cli" in listed.output and "5550100001" not in listed.output
    # The service finds what the command line stored (the same keys make the same hash).
    url = f"sqlite:///{tmp_path / 'sms.db'}"
    settings = settings_for(url, twilio_auth_token=AUTH_TOKEN)
    with TestClient(create_app(settings, scorer=FakeScorer())) as client:
        form = _form(MAPPED_PHONE, ROUTINE_SMS_TEXT)
        assert _post(client, form, _signed(form)).status_code == 200
        session = client.app.state.service.sessions()
        with session:
            assert [m.patient_id for m in _messages(session)] == ["p-cli"]
    sender_id = listed.output.split("\t", 1)[0]
    removed = runner.invoke(cli_app, ["sms", "senders", "remove", sender_id])
    assert removed.exit_code == 0, removed.output
    assert runner.invoke(cli_app, ["sms", "senders", "remove", sender_id]).exit_code == 1


def test_sender_rows_hold_a_hash(
    sms_client: TestClient, factory: Factory, session: Session
) -> None:
    admin = factory.headers(Role.ADMIN)
    mapping = {"phone": MAPPED_PHONE, "patient_id": "p-hash"}
    assert (
        sms_client.post("/v1/channels/sms/senders", headers=admin, json=mapping).status_code == 201
    )
    session.expire_all()
    [row] = session.scalars(select(SmsSender)).all()
    assert len(row.phone_hash) == 64 and int(row.phone_hash, 16) >= 0
    assert session.scalar(select(func.count()).select_from(SmsSender)) == 1


def test_erasing_a_patient_removes_their_number_mapping(
    sms_client: TestClient, factory: Factory, session: Session
) -> None:
    admin = factory.headers(Role.ADMIN)
    mapping = {"phone": MAPPED_PHONE, "patient_id": "p-erase-sms"}
    assert (
        sms_client.post("/v1/channels/sms/senders", headers=admin, json=mapping).status_code == 201
    )
    form = _form(MAPPED_PHONE, ROUTINE_SMS_TEXT)
    assert _post(sms_client, form, _signed(form)).status_code == 200
    erased = sms_client.delete("/v1/patients/p-erase-sms?force=true", headers=admin)
    assert erased.status_code == 200, erased.text
    assert erased.json()["sms_senders"] == 1
    session.expire_all()
    assert session.scalars(select(SmsSender)).all() == []


def test_behind_a_proxy_the_configured_public_url_is_what_is_signed(
    database_url: str, session: Session
) -> None:
    public = "https://triage.example.org/v1/channels/sms/twilio"
    settings = settings_for(database_url, twilio_auth_token=AUTH_TOKEN, twilio_webhook_url=public)
    form = _form(UNKNOWN_PHONE, ROUTINE_SMS_TEXT)
    validator = RequestValidator(AUTH_TOKEN)
    with TestClient(create_app(settings, scorer=FakeScorer())) as client:
        internal = {"X-Twilio-Signature": validator.compute_signature(URL, form)}
        assert _post(client, form, internal).status_code == 403
        signed = {"X-Twilio-Signature": validator.compute_signature(public, form)}
        assert _post(client, form, signed).status_code == 200
    assert len(_messages(session)) == 1


def test_stop_by_sms_opts_the_patient_out_of_caring_contacts(
    sms_client: TestClient, factory: Factory
) -> None:
    admin, me = factory.headers(Role.ADMIN), factory.headers()
    mapping = {"phone": MAPPED_PHONE, "patient_id": "p-sms-stop"}
    assert (
        sms_client.post("/v1/channels/sms/senders", headers=admin, json=mapping).status_code == 201
    )
    first = _form(MAPPED_PHONE, ROUTINE_SMS_TEXT)
    _post(sms_client, first, _signed(first))
    contacts = "/v1/patients/p-sms-stop/caring-contacts"
    assert sms_client.put(contacts, json={"opt_in": True}, headers=me).json()["scheduled"] == 15
    stop = _form(MAPPED_PHONE, "STOP")
    assert _post(sms_client, stop, _signed(stop)).status_code == 200
    status = sms_client.get(contacts, headers=me).json()
    assert status["opted_in"] is False and status["scheduled"] == 0
