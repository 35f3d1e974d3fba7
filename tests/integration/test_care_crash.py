"""The care scheduler killed with SIGKILL mid-round, then run again (a restart): no follow-up
lost or alerted twice, no caring contact lost or sent twice; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from crisis_triage.care import (
    create_follow_up,
    note_new_messages,
    run_care_round,
    set_caring_contacts,
)
from crisis_triage.governance import AuditActor
from crisis_triage.storage import (
    Alert,
    CaringContact,
    CaringContactTemplate,
    FollowUp,
    WebhookDelivery,
    make_session_factory,
)
from crisis_triage.triage import IncomingMessage, TriagePolicy, ingest

POLICY = TriagePolicy(webhook_urls=("http://hooks.test/a", "http://hooks.test/b"))
WHO = AuditActor(kind="cli", id=None, name="crash-test")
T0 = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=400)  # every contact and follow-up is due by then
PATIENTS = 12
FOLLOW_UPS_EACH = 2

# The child: small batches, so that the kill lands between and inside transactions.
CHILD = """
import sys
from datetime import datetime
from crisis_triage.care import send_due_caring_contacts, sweep_follow_ups
from crisis_triage.storage import make_engine, make_session_factory
from crisis_triage.triage import TriagePolicy
policy = TriagePolicy(webhook_urls=("http://hooks.test/a", "http://hooks.test/b"))
now = datetime.fromisoformat(sys.argv[2])
sessions = make_session_factory(make_engine(sys.argv[1]))
while True:
    with sessions() as session:
        sweep_follow_ups(session, policy, now=now, limit=5)
        send_due_caring_contacts(session, policy, now=now, limit=5)
"""


def _seed(engine: Engine) -> None:
    with make_session_factory(engine)() as session:
        session.add(CaringContactTemplate(language="en", text="Thinking of you.", approved_at=T0))
        for n in range(PATIENTS):
            patient = f"crash-{n}"
            incoming = IncomingMessage(
                idempotency_key=f"crash-{n}",
                patient_id=patient,
                sender="patient",
                channel="sms",
                sent_at=T0,
                text="thank you",
            )
            note_new_messages(
                session, [incoming], ingest(session, None, [incoming], POLICY), now=T0
            )
            set_caring_contacts(session, POLICY, patient, opt_in=True, actor=WHO, now=T0)
            for k in range(FOLLOW_UPS_EACH):
                due = T0 + timedelta(days=k + 1)
                create_follow_up(
                    session, POLICY, patient_id=patient, due_at=due, kind="call", actor=WHO, now=T0
                )


def _sent(engine: Engine) -> int:
    with make_session_factory(engine)() as session:
        count = session.scalar(
            select(func.count(CaringContact.id)).where(CaringContact.status == "sent")
        )
        return int(count or 0)


@pytest.mark.slow
def test_a_kill_9_mid_round_loses_nothing_and_sends_nothing_twice(
    engine: Engine, database_url: str
) -> None:
    _seed(engine)
    total = PATIENTS * 15
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url, LATER.isoformat()], env=env
    )
    try:
        deadline = time.monotonic() + 60
        while _sent(engine) == 0:
            assert child.poll() is None, "the scheduler process died by itself"
            assert time.monotonic() < deadline, "the scheduler sent nothing"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    sent_at_kill = _sent(engine)
    assert 0 < sent_at_kill < total  # killed mid-way
    with make_session_factory(engine)() as session:  # the restart
        while run_care_round(session, POLICY, now=LATER).caring_contacts_sent:
            pass
        assert run_care_round(session, POLICY, now=LATER).overdue == []
        statuses = Counter(session.scalars(select(CaringContact.status)))
        assert statuses == {"sent": total}
        per_contact = Counter(
            d.payload["caring_contact_id"]
            for d in session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.event == "patient.caring_contact")
            )
        )
        assert len(per_contact) == total and set(per_contact.values()) == {2}  # one per URL
        follow_ups = list(session.scalars(select(FollowUp.id)))
        assert len(follow_ups) == PATIENTS * FOLLOW_UPS_EACH
        alerted = Counter(
            a.payload["follow_up_id"]
            for a in session.scalars(select(Alert).where(Alert.kind == "follow_up"))
        )
        assert set(alerted) == set(follow_ups) and set(alerted.values()) == {1}
