"""The dashboard's queue, case and supervisor pages through FastAPI's TestClient: what they
show, the case actions and dispositions, and the audit calls they make."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from web_helpers import (
    SECRET_TEXT,
    Audits,
    log_in,
    post_form,
    send,
)

# Fixtures from web_helpers, imported by name so that pytest finds them here.
from web_helpers import audits as audits
from web_helpers import db as db
from web_helpers import platform as platform
from web_helpers import users as users
from web_helpers import web as web

from crisis_triage.storage import Case, utcnow
from crisis_triage.triage import PURGED_TEXT
from crisis_triage.triage._retention import purge_message_text

# --- queue ----------------------------------------------------------------------------------


def test_queue_lists_crises_first_with_a_label_and_a_preview(
    web: TestClient, platform: dict[str, str], audits: Audits
) -> None:
    routine = send(web, platform, "Can I move my appointment to Tuesday?", "p-2")
    crisis = send(web, platform, SECRET_TEXT, "p-3")
    log_in(web, "sam")
    html = web.get("/queue").text
    rows = re.findall(r'data-case="(\d+)" data-tier="(\d)"', html)
    assert rows == [(str(crisis), "0"), (str(routine), "2")]
    assert "Crisis</span>" in html and "Routine</span>" in html  # a word, not colour alone
    assert SECRET_TEXT in html and "p-3" in html
    assert "<title>(1) Queue" in html
    reads = [a for a in audits() if a["action"] == "message.read"]
    assert sorted(a["case_id"] for a in reads) == [routine, crisis]
    assert {(a["actor_kind"], a["actor_name"]) for a in reads} == {("user", "sam")}
    assert {a["patient_id"] for a in reads} == {"p-2", "p-3"}


def test_queue_rows_refresh_only_when_something_changed(
    web: TestClient, platform: dict[str, str], audits: Audits
) -> None:
    first = send(web, platform, "hello there")
    log_in(web, "sam")

    def read_cases() -> list[int]:
        # The user's reads (ingest's patient-window reads are the system's, audited apart).
        return [
            a["case_id"]
            for a in audits()
            if a["action"] == "message.read" and a["actor_kind"] == "user"
        ]

    web.get("/queue")  # the page shows (and audits) the first message
    reply = web.get("/queue/rows")
    signature = reply.headers["x-queue-signature"]
    assert web.get(f"/queue/rows?signature={signature}").status_code == 204
    assert read_cases() == [first]
    crisis = send(web, platform, SECRET_TEXT)
    reply = web.get(f"/queue/rows?signature={signature}")
    assert reply.status_code == 200
    assert reply.headers["x-queue-crises"] == "1"
    assert f'data-case="{crisis}"' in reply.text
    # The refresh audits only the preview this page had not shown before; the server keeps
    # track, whatever the page claims.
    assert read_cases() == [first, crisis]
    web.get("/queue/rows")
    assert len(read_cases()) == 2
    web.get("/queue")  # a new page load shows (and audits) everything again
    assert sorted(read_cases()[2:]) == [first, crisis]


def test_queue_rows_tell_the_script_to_log_in_again(web: TestClient) -> None:
    reply = web.get("/queue/rows", follow_redirects=False)
    assert reply.status_code == 401
    assert reply.headers["x-login"].startswith("/login")


def test_claim_next_opens_the_top_case(web: TestClient, platform: dict[str, str]) -> None:
    send(web, platform, "hello")
    crisis = send(web, platform, SECRET_TEXT)
    log_in(web, "sam")
    reply = post_form(web, "/queue", "/queue/claim", {})
    assert reply.headers["location"] == f"/cases/{crisis}"
    empty = post_form(web, "/queue", "/queue/claim", {})
    assert empty.headers["location"] == f"/cases/{crisis - 1}"
    third = post_form(web, "/queue", "/queue/claim", {})
    assert third.headers["location"] == "/queue?done=empty"


# --- case page ------------------------------------------------------------------------------


def test_case_page_highlights_terms_explains_and_shows_the_patient(
    web: TestClient, platform: dict[str, str], audits: Audits
) -> None:
    earlier = send(web, platform, "my prescription ran out", "p-5")
    case_id = send(web, platform, SECRET_TEXT, "p-5")
    send(web, platform, "a different patient entirely", "p-6")
    log_in(web, "sam")
    html = web.get(f"/cases/{case_id}").text
    assert "<mark>overdose</mark>" in html
    assert "threshold 50.0%" in html and "flagged as a possible crisis" in html
    assert "“overdose”" in html and "+1.50" in html  # the top n-gram and its push
    assert "my prescription ran out" in html
    assert "a different patient entirely" not in html
    assert f'href="/cases/{earlier}"' in html
    read = sorted(
        (a["case_id"], a["message_id"], a["patient_id"])
        for a in audits()
        if a["action"] == "message.read" and a["actor_kind"] == "user"
    )
    assert [r[0] for r in read] == [earlier, case_id]
    assert {r[2] for r in read} == {"p-5"}


def test_case_page_offers_only_the_actions_the_state_machine_allows(
    web: TestClient, platform: dict[str, str]
) -> None:
    case_id = send(web, platform, SECRET_TEXT)
    log_in(web, "sam")
    html = web.get(f"/cases/{case_id}").text
    assert f'action="/cases/{case_id}/claim"' in html
    assert f'action="/cases/{case_id}/resolve"' not in html
    post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
    html = web.get(f"/cases/{case_id}").text
    assert f'action="/cases/{case_id}/claim"' not in html
    assert f'action="/cases/{case_id}/resolve"' in html
    assert 'value="confirmed_crisis"' in html and 'value="missed_crisis"' not in html
    log_in(web, "tess")  # another specialist: the case is sam's
    html = web.get(f"/cases/{case_id}").text
    assert f'action="/cases/{case_id}/resolve"' not in html
    assert "being worked by sam" in html


def test_claim_acknowledge_resolve_as_a_crisis(
    web: TestClient, platform: dict[str, str], db: Session, audits: Audits
) -> None:
    case_id = send(web, platform, SECRET_TEXT)
    log_in(web, "sam")
    page = f"/cases/{case_id}"
    assert post_form(web, page, f"{page}/claim", {}).headers["location"] == f"{page}?done=claim"
    assert post_form(web, page, f"{page}/acknowledge", {}).status_code == 303
    reply = post_form(
        web,
        page,
        f"{page}/resolve",
        {"disposition": "confirmed_crisis", "crisis_types": ["OD", "SI"], "note": "called"},
    )
    assert reply.headers["location"] == "/queue?done=resolved"
    case = db.get(Case, case_id)
    assert case is not None
    db.refresh(case)
    assert (case.status, case.disposition, case.crisis_type, case.note) == (
        "resolved",
        "confirmed_crisis",
        "SI/OD",
        "called",
    )
    changes = [a for a in audits() if a["action"].startswith("case.")]
    # Each action audited once (by triage.apply_action), by the logged-in user.
    assert [a["action"] for a in changes] == ["case.claim", "case.acknowledge", "case.resolve"]
    assert {a["actor_name"] for a in changes} == {"sam"}
    assert changes[-1]["details"]["disposition"] == "confirmed_crisis"
    assert "Case resolved." in web.get("/queue?done=resolved").text


def test_not_a_crisis_and_missed_crisis_are_the_retraining_labels(
    web: TestClient, platform: dict[str, str], db: Session
) -> None:
    flagged = send(web, platform, SECRET_TEXT)
    unflagged = send(web, platform, "nobody would notice if I was gone")
    log_in(web, "sam")
    for case_id, disposition, types in (
        (flagged, "not_crisis", ["OD"]),  # the pre-ticked types are dropped for "not a crisis"
        (unflagged, "missed_crisis", ["SI"]),
    ):
        post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
        reply = post_form(
            web,
            f"/cases/{case_id}",
            f"/cases/{case_id}/resolve",
            {"disposition": disposition, "crisis_types": types},
        )
        assert reply.status_code == 303, reply.text
    from crisis_triage.triage import iter_labels

    labels = next(iter_labels(db))
    assert dict(zip(labels["disposition"], labels["crisis"], strict=True)) == {
        "not_crisis": 0,
        "missed_crisis": 1,
    }


def test_a_wrong_disposition_is_explained_on_the_page(
    web: TestClient, platform: dict[str, str]
) -> None:
    case_id = send(web, platform, "hello")
    log_in(web, "sam")
    post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
    reply = post_form(
        web,
        f"/cases/{case_id}",
        f"/cases/{case_id}/resolve",
        {"disposition": "confirmed_crisis", "crisis_types": ["SI"], "note": "kept"},
    )
    assert reply.status_code == 422
    assert "missed_crisis" in reply.text
    assert ">kept</textarea>" in reply.text  # what was typed is not lost


def test_acting_on_another_specialists_case_is_refused(
    web: TestClient, platform: dict[str, str]
) -> None:
    case_id = send(web, platform, SECRET_TEXT)
    log_in(web, "sam")
    post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
    log_in(web, "tess")
    reply = post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/acknowledge", {})
    assert reply.status_code == 403
    assert "claimed by another specialist" in reply.text


def test_escalate_then_only_a_supervisor_can_claim(
    web: TestClient, platform: dict[str, str]
) -> None:
    case_id = send(web, platform, SECRET_TEXT)
    log_in(web, "sam")
    reply = post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/escalate", {"note": "help"})
    assert reply.headers["location"] == "/queue?done=escalated"
    assert f'action="/cases/{case_id}/claim"' not in web.get(f"/cases/{case_id}").text
    log_in(web, "sue")
    assert f'action="/cases/{case_id}/claim"' in web.get(f"/cases/{case_id}").text


def test_unknown_case_is_a_404_page(web: TestClient) -> None:
    log_in(web, "sam")
    reply = web.get("/cases/999")
    assert reply.status_code == 404
    assert "does not exist" in reply.text


# --- supervisor -----------------------------------------------------------------------------


def test_supervisor_numbers_follow_the_work(web: TestClient, platform: dict[str, str]) -> None:
    case_id = send(web, platform, SECRET_TEXT)
    log_in(web, "sue")

    def card(html: str, card_id: str) -> str:
        match = re.search(rf'id="{card_id}">([^<]*)<', html)
        assert match, card_id
        return match.group(1)

    before = web.get("/supervisor").text
    assert card(before, "open-crises") == "1"
    assert card(before, "ppv") == "–"
    assert "<svg" in before and "<polyline" not in before
    post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
    post_form(
        web,
        f"/cases/{case_id}",
        f"/cases/{case_id}/resolve",
        {"disposition": "confirmed_crisis", "crisis_types": ["OD"]},
    )
    after = web.get("/supervisor").text
    assert card(after, "open-crises") == "0"
    assert card(after, "ppv") == "100%"
    assert card(after, "median-crisis") != "–"
    assert "line-crisis-dot" in after


def test_message_text_is_escaped_everywhere_it_is_shown(
    web: TestClient, platform: dict[str, str]
) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> overdose'
    case_id = send(web, platform, hostile, "p-<b>")
    send(web, platform, hostile + " again", "p-<b>")
    log_in(web, "sue")
    for page in ("/queue", f"/cases/{case_id}", "/supervisor"):
        html = web.get(page).text
        assert "<script>alert" not in html and "<img src=x" not in html, page
        assert "p-<b>" not in html, page
    assert "&lt;script&gt;" in web.get(f"/cases/{case_id}").text


def test_a_purged_message_says_so_instead_of_showing_text(
    web: TestClient, platform: dict[str, str], db: Session
) -> None:
    kept = send(web, platform, "please call me back about the bill", "p-8")
    purged = send(web, platform, SECRET_TEXT, "p-8")
    message_id = db.get(Case, purged).message_id  # type: ignore[union-attr]
    purge_message_text(db, [message_id], utcnow())
    db.commit()
    log_in(web, "sam")
    case_html = web.get(f"/cases/{purged}").text
    assert "purged under the retention policy" in case_html
    assert SECRET_TEXT not in case_html
    queue_html = web.get("/queue").text
    assert PURGED_TEXT in queue_html and SECRET_TEXT not in queue_html
    other_html = web.get(f"/cases/{kept}").text  # the patient's history lists it purged
    assert PURGED_TEXT in other_html
