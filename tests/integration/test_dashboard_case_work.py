"""Working a case beyond the state machine: escalating with a reason (and the supervisor
picking it up), timestamped notes on open cases, unscored messages said in words, and reasons
whose terms hold apostrophes shown as rows."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from service_fakes import FakeScorer, RaisingScorer
from service_helpers import Factory, settings_for
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from web_helpers import SECRET_TEXT, Audits, log_in, post_form, send

# Fixtures from web_helpers, imported by name so that pytest finds them here.
from web_helpers import audits as audits
from web_helpers import db as db
from web_helpers import platform as platform
from web_helpers import users as users
from web_helpers import web as web

from crisis_triage.detector import Explanation
from crisis_triage.lexicon import LexiconHit
from crisis_triage.storage import (
    Case,
    CaseEvent,
    Message,
    make_engine,
    make_session_factory,
    utcnow,
)
from crisis_triage.triage import TriagePolicy, escalate_overdue
from crisis_triage.web import create_app

WAITING = "Escalated — waiting for a supervisor"
NOTE = "called, no answer, retry 15:00"


def _escalate(web: TestClient, case_id: int, reason: str) -> object:
    return post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/escalate", {"note": reason})


def test_escalating_asks_for_a_reason(web: TestClient, platform: dict[str, str]) -> None:
    case_id = send(web, platform, SECRET_TEXT)
    log_in(web, "sam")
    page = web.get(f"/cases/{case_id}").text
    assert 'id="escalate-reason"' in page and "required" in page
    reply = _escalate(web, case_id, "   ")
    assert reply.status_code == 422  # type: ignore[attr-defined]
    assert "Say why the case needs a supervisor" in reply.text  # type: ignore[attr-defined]
    assert WAITING not in web.get(f"/cases/{case_id}").text


def test_an_escalated_case_reads_as_waiting_and_a_supervisor_claims_it(
    web: TestClient, platform: dict[str, str], audits: Audits
) -> None:
    case_id = send(web, platform, SECRET_TEXT, "p-7")
    log_in(web, "sam")
    post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
    reason = "patient mentions a plan; I am not trained for this"
    assert _escalate(web, case_id, reason).headers["location"] == "/queue?done=escalated"  # type: ignore[attr-defined]
    page = web.get(f"/cases/{case_id}").text
    assert WAITING in page and reason in page and "by sam" in page
    assert "Claim the case to resolve it" not in page
    assert f'action="/cases/{case_id}/claim"' not in page  # the specialist cannot claim it
    assert WAITING in web.get("/queue").text

    log_in(web, "sue")
    board = web.get("/supervisor").text
    assert board.index("<h2") == board.index('<h2 id="esc-h"')  # on top of the page
    waiting = board[board.index('id="esc-h"') : board.index('id="today-h"')]
    assert f"Case {case_id}" in waiting and reason in waiting and "sam" in waiting
    assert f'action="/cases/{case_id}/claim"' in waiting
    reads = [a for a in audits() if a["action"] == "note.read"]
    assert reads[-1]["case_id"] == case_id and reads[-1]["details"]["view"] == "supervisor"
    assert reads[-1]["patient_id"] == "p-7"
    claimed = post_form(web, "/supervisor", f"/cases/{case_id}/claim", {})
    assert claimed.headers["location"] == f"/cases/{case_id}?done=claim"  # type: ignore[attr-defined]
    assert f"Case {case_id}" not in web.get("/supervisor").text.split('id="today-h"')[0]


def test_the_system_escalation_gives_its_own_reason(
    web: TestClient, platform: dict[str, str], db: Session
) -> None:
    case_id = send(web, platform, SECRET_TEXT)
    policy = TriagePolicy(escalation_minutes=0)
    assert escalate_overdue(db, policy, now=utcnow()) == [case_id]
    log_in(web, "sue")
    board = web.get("/supervisor").text
    assert "the system" in board and "crisis unacknowledged after 0 min" in board


def test_a_note_on_a_claimed_case_is_timestamped_encrypted_and_audited(
    web: TestClient, platform: dict[str, str], audits: Audits, db: Session
) -> None:
    case_id = send(web, platform, SECRET_TEXT)
    log_in(web, "sam")
    post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
    reply = post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/note", {"note": NOTE})
    assert reply.headers["location"] == f"/cases/{case_id}?done=note"  # type: ignore[attr-defined]
    page = web.get(f"/cases/{case_id}?done=note").text
    assert "Note added." in page
    history = page[page.index('id="hist-h"') : page.index("</ol>", page.index('id="hist-h"'))]
    assert re.search(r"<time>\d{4}-\d\d-\d\d \d\d:\d\d UTC</time> <strong>Note</strong>", history)
    assert NOTE in history and "by sam" in history
    assert 'id="case-note"' in page  # still claimed: more notes can follow
    (stored,) = db.execute(
        text("SELECT note FROM case_events WHERE action = 'note' AND case_id = :c"), {"c": case_id}
    ).one()
    assert NOTE not in str(stored)  # encrypted at rest
    db.expire_all()
    assert db.scalars(select(CaseEvent.note).where(CaseEvent.action == "note")).one() == NOTE
    written = [a for a in audits() if a["action"] == "case.note"]
    assert written[0]["details"] == {"from": "claimed", "to": "claimed", "note_length": len(NOTE)}
    reads = [a for a in audits() if a["action"] == "note.read"]
    assert reads and reads[-1]["details"] == {"view": "case", "notes": 1}
    assert NOTE not in str(audits())


def test_notes_need_text_and_the_case_must_be_yours_and_unresolved(
    web: TestClient, platform: dict[str, str]
) -> None:
    case_id = send(web, platform, SECRET_TEXT)
    log_in(web, "sam")
    empty = post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/note", {"note": " "})
    assert empty.status_code == 422  # type: ignore[attr-defined]
    post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
    log_in(web, "tess")
    assert 'id="case-note"' not in web.get(f"/cases/{case_id}").text
    other = post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/note", {"note": NOTE})
    assert other.status_code == 403  # type: ignore[attr-defined]


def test_notes_over_the_api(web: TestClient, platform: dict[str, str], db: Session) -> None:
    case_id = send(web, platform, SECRET_TEXT)
    me = Factory(db).headers()
    added = web.post(f"/v1/cases/{case_id}/notes", headers=me, json={"note": NOTE})
    assert added.status_code == 201, added.text
    assert added.json()["status"] == "open"
    empty = web.post(f"/v1/cases/{case_id}/notes", headers=me, json={"note": ""})
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "note_required"
    no_reason = web.post(f"/v1/cases/{case_id}/escalate", headers=me)
    assert no_reason.status_code == 422
    events = web.get(f"/v1/cases/{case_id}", headers=me).json()["events"]
    assert [(e["action"], e["note"]) for e in events] == [("create", None), ("note", NOTE)]


@contextmanager
def _dashboard(sqlite_url: str, scorer: Any) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The dashboard with ``scorer``, and a platform API key's headers to send messages with."""
    app = create_app(settings_for(sqlite_url), scorer=scorer)
    with TestClient(app, raise_server_exceptions=False) as client:
        engine = make_engine(sqlite_url)
        with make_session_factory(engine)() as session:
            key = Factory(session).api_key("messages:write")
        engine.dispose()
        yield client, key


def test_an_unscored_message_says_so_in_words(sqlite_url: str, users: dict[str, int]) -> None:
    with _dashboard(sqlite_url, RaisingScorer()) as (client, key):
        case_id = send(client, key, "hello, a question about my refill")
        log_in(client, "sam")
        queue = client.get("/queue").text
        row = queue[queue.index(f'data-case="{case_id}"') :]
        row = row[: row.index("</tr>")]
        assert "not scored: review by a person" in row and not re.search(r"risk \d", row)
        page = client.get(f"/cases/{case_id}").text
        assert "Not scored: review by a person." in page
        assert "Risk <strong>" not in page and "0%" not in page
        assert "Model fake-1 (it gave no score)." in page  # the model that was asked


class ApostropheScorer(FakeScorer):
    """Reasons whose matched terms and phrases hold apostrophes, as real messages' do."""

    def explain(self, texts: Sequence[str]) -> list[Explanation]:
        hits = (
            LexiconHit("si-not-live", "SI", "can't go on", 2, 13),
            LexiconHit("si-die", "SI", "won't wake up", 20, 33, "neg_not", "negated"),
        )
        grams = (("i'm", 0.52), ("can't go", 0.31))
        return [Explanation(0.9, True, 0.5, ("SI",), hits, grams) for _ in texts]


def test_reasons_with_apostrophes_are_rows_not_raw_text(
    sqlite_url: str, users: dict[str, int]
) -> None:
    with _dashboard(sqlite_url, ApostropheScorer()) as (client, key):
        case_id = send(client, key, "I can't go on, I hope I won't wake up")
        page = log_in(client, "sam").get(f"/cases/{case_id}").text
    why = page[page.index('id="why-h"') : page.index('id="hist-h"')]
    assert '<li><span class="chip">SI</span> “can&#39;t go on”</li>' in why
    assert '“won&#39;t wake up” <span class="muted">did not count' in why
    assert '<tr><td>“i&#39;m”</td><td class="num">+0.52</td>' in why
    assert '<tr><td>“can&#39;t go”</td><td class="num">+0.31</td>' in why
    assert "lexicon SI:" not in why and "ngram &#39;" not in why  # no reason left as raw text
    assert '<p class="muted">' not in why


def _why(client: TestClient, case_id: int) -> str:
    page = client.get(f"/cases/{case_id}").text
    return page[page.index('id="why-h"') : page.index('id="hist-h"')]


def _set_message(sqlite_url: str, case_id: int, **values: object) -> None:
    """Rewrite the stored message of ``case_id`` (through the column types: encrypted)."""
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        message_id = session.scalar(select(Case.message_id).where(Case.id == case_id))
        session.execute(update(Message).where(Message.id == message_id).values(**values))
        session.commit()
    engine.dispose()


def test_the_case_page_reads_the_reasons_stored_as_data(
    sqlite_url: str, users: dict[str, int]
) -> None:
    """Rows come from the items stored at scoring time, not from taking the strings apart; a
    row stored before the items were (NULL) is read from its strings."""
    with _dashboard(sqlite_url, ApostropheScorer()) as (client, key):
        new, old = (send(client, key, f"I can't go on {n}") for n in ("new", "old"))
        log_in(client, "sam")
        # The strings no longer say what the items say: the page follows the items.
        _set_message(sqlite_url, new, reasons=["something else entirely"])
        why = _why(client, new)
        assert '<li><span class="chip">SI</span> “can&#39;t go on”</li>' in why
        assert '<tr><td>“i&#39;m”</td><td class="num">+0.52</td>' in why
        assert "something else entirely" not in why
        # Stored before migration 0014: no items, the strings are taken apart as before.
        _set_message(sqlite_url, old, reason_items=None)
        why = _why(client, old)
        assert '<li><span class="chip">SI</span> “can&#39;t go on”</li>' in why
        assert '“won&#39;t wake up” <span class="muted">did not count' in why
        assert '<tr><td>“can&#39;t go”</td><td class="num">+0.31</td>' in why
        assert '<p class="muted">' not in why


class PhraseScorer(FakeScorer):
    """Detector v2's explanation: phrases, the risk sentence and the evidence."""

    def explain(self, texts: Sequence[str]) -> list[Explanation]:
        hit = LexiconHit("si-im-done", "SI", "i'm done", 0, 8, annotations=(("p1", "past"),))
        return [
            Explanation(
                0.9,
                True,
                0.5,
                ("SI",),
                (hit,),
                (("i'm done", 1.25), ("don't", -0.4)),
                sentence=(0, 13),
                tier="fast",
                evidence={"ngrams": 1.5, "static": 0.25},
                notes=("scored by the fast tier",),
            )
            for _ in texts
        ]


def test_phrases_of_detector_v2_are_rows_and_the_evidence_a_line(
    sqlite_url: str, users: dict[str, int]
) -> None:
    with _dashboard(sqlite_url, PhraseScorer()) as (client, key):
        case_id = send(client, key, "I'm done, ok? don't call")
        log_in(client, "sam")
        page = client.get(f"/cases/{case_id}").text
    why = page[page.index('id="why-h"') : page.index('id="hist-h"')]
    assert '“i&#39;m done” <span class="muted">[past: p1]</span>' in why
    assert '<tr><td>“i&#39;m done”</td><td class="num">+1.25</td>' in why
    assert '<tr><td>“don&#39;t”</td><td class="num">-0.40</td>' in why
    assert "“I&#39;m done, ok?”" in why  # the risk sentence
    assert '<p class="muted">evidence (log-odds before weighing): word patterns +1.50' in why
    assert '<p class="muted">scored by the fast tier</p>' in why
    assert "phrase &#39;" not in why and "risk sentence: characters" not in why
    assert "<mark>I&#39;m done</mark>" in page
