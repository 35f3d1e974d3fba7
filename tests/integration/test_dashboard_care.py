"""The care pages: resolving a crisis on the case page fills the Follow-ups view, one is
completed there; the patient page shows the timeline, the 90-day risk chart, the safety plan
(saved in versions, printable in English and Spanish) and caring contacts; reads are audited."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from web_helpers import SECRET_TEXT, Audits, log_in, post_form, send

# Fixtures from web_helpers, imported by name so that pytest finds them here.
from web_helpers import audits as audits
from web_helpers import db as db
from web_helpers import platform as platform
from web_helpers import users as users
from web_helpers import web as web

from crisis_triage.storage import RiskFormulation


def _resolve_on_the_page(web: TestClient, case_id: int) -> None:
    post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
    reply = post_form(
        web,
        f"/cases/{case_id}",
        f"/cases/{case_id}/resolve",
        {"disposition": "confirmed_crisis", "crisis_types": ["OD"]},
    )
    assert reply.status_code == 303  # type: ignore[attr-defined]


def test_a_crisis_resolved_on_the_dashboard_shows_follow_ups_and_one_is_completed(
    web: TestClient, platform: dict[str, str], audits: Audits
) -> None:
    case_id = send(web, platform, SECRET_TEXT, patient="p-dash")
    log_in(web, "sam")
    _resolve_on_the_page(web, case_id)
    page = web.get("/follow-ups")
    assert page.status_code == 200
    rows = re.findall(r'data-follow-up="(\d+)" data-status="(\w+)"', page.text)
    assert [status for _id, status in rows] == ["scheduled"] * 4
    assert 'id="no-overdue"' in page.text and "p-dash" in page.text
    first = rows[0][0]
    done = post_form(
        web,
        "/follow-ups",
        f"/follow-ups/{first}/complete",
        {"outcome": "reached", "note": "spoke with her, safe", "back": "/follow-ups"},
    )
    assert done.status_code == 303  # type: ignore[attr-defined]
    after = web.get("/follow-ups").text
    assert "Follow-up recorded" not in after  # the notice shows only after the redirect
    assert len(re.findall(r'data-follow-up="\d+"', after)) == 3
    assert "spoke with her" not in web.get("/patients/p-dash").text  # notes are not shown
    actions = [a["action"] for a in audits()]
    assert "follow_up.schedule" in actions and "follow_up.complete" in actions


def test_the_patient_page_keeps_plan_versions_prints_them_and_opts_in(
    web: TestClient, platform: dict[str, str], audits: Audits
) -> None:
    send(web, platform, "thanks for calling me back", patient="p-page")
    case_id = send(web, platform, SECRET_TEXT, patient="p-page")
    log_in(web, "sam")
    page = web.get("/patients/p-page")
    assert page.status_code == 200
    assert 'aria-labelledby="risk-chart-title risk-chart-desc"' in page.text
    assert "<polyline" in page.text or "<circle" in page.text  # today's risk is plotted
    assert f"/cases/{case_id}" in page.text and 'data-kind="message"' in page.text
    for reasons in ("my kids", "my kids\nmy garden"):
        saved = post_form(
            web,
            "/patients/p-page",
            "/patients/p-page/safety-plan",
            {"reasons_for_living": reasons, "warning_signs": "not sleeping", "language": "es"},
        )
        assert saved.status_code == 303  # type: ignore[attr-defined]
    page = web.get("/patients/p-page").text
    assert "version 2" in page and "Safety plan version 1" in page
    printed = web.get("/patients/p-page/safety-plan/print")
    assert "Mi plan de seguridad" in printed.text and "my garden" in printed.text
    assert 'lang="es"' in printed.text
    english = web.get("/patients/p-page/safety-plan/print?lang=en").text
    assert "My safety plan" in english and "Step 1: Warning signs" in english
    opted = post_form(
        web, "/patients/p-page", "/patients/p-page/caring-contacts", {"opt_in": "yes"}
    )
    assert opted.status_code == 303  # type: ignore[attr-defined]
    assert "15 scheduled" in web.get("/patients/p-page").text
    reads = [a for a in audits() if a["action"] == "safety_plan.read"]
    assert reads and all(a["actor_name"] == "sam" for a in reads)


def test_unknown_patients_and_plans_are_404_pages(web: TestClient) -> None:
    log_in(web, "sam")
    assert web.get("/patients/nobody").status_code == 404
    assert web.get("/patients/nobody/safety-plan/print").status_code == 404


def test_the_supervisor_page_shows_the_care_measures(
    web: TestClient, platform: dict[str, str]
) -> None:
    case_id = send(web, platform, SECRET_TEXT, patient="p-sup")
    log_in(web, "sue")
    _resolve_on_the_page(web, case_id)
    page = web.get("/supervisor").text
    assert "After the crisis" in page
    assert re.search(r'id="care-overdue">0<', page)
    assert re.search(r'id="care-first">–<', page)


def test_a_risk_formulation_is_recorded_with_the_resolution_on_the_case_page(
    web: TestClient, platform: dict[str, str], db: Session
) -> None:
    case_id = send(web, platform, SECRET_TEXT, patient="p-form")
    log_in(web, "sam")
    page = web.get(f"/cases/{case_id}").text
    post_form(web, f"/cases/{case_id}", f"/cases/{case_id}/claim", {})
    assert 'name="risk_factors" value="means_at_hand"' in web.get(f"/cases/{case_id}").text
    assert 'id="risk-level"' not in page  # only once it can be resolved
    reply = post_form(
        web,
        f"/cases/{case_id}",
        f"/cases/{case_id}/resolve",
        {
            "disposition": "confirmed_crisis",
            "crisis_types": ["OD"],
            "risk_level": "imminent",
            "risk_factors": ["means_at_hand", "intent"],
            "risk_plan": "mobile crisis team today",
        },
    )
    assert reply.status_code == 303  # type: ignore[attr-defined]
    db.expire_all()
    [row] = db.scalars(select(RiskFormulation).where(RiskFormulation.case_id == case_id)).all()
    assert (row.level, row.factors, row.plan) == (
        "imminent",
        ["intent", "means_at_hand"],
        "mobile crisis team today",
    )
    assert "Risk formulated: imminent" in web.get("/patients/p-form").text


def test_the_supervisor_page_states_the_early_warning_rule(web: TestClient) -> None:
    log_in(web, "sue")
    page = web.get("/supervisor").text
    assert 'id="rising-rule"' in page and "none of their cases is open" in page
