"""Risk formulations (with a resolution or on an open case; encrypted, audited, exported with
the dispositions) and caring-contact templates (admins approve), on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi.testclient import TestClient
from service_fakes import message
from service_helpers import Factory
from sqlalchemy import make_url, select
from sqlalchemy.orm import Session

from crisis_triage.storage import AuditEntry
from crisis_triage.triage import Role, iter_labels


def _crisis_case(client: TestClient, platform: dict[str, str], patient: str) -> int:
    reply = client.post(
        "/v1/messages",
        json=message(text="I want to hurt myself", patient_id=patient),
        headers=platform,
    )
    case_id: int = reply.json()["case_id"]
    return case_id


def test_a_formulation_recorded_with_the_resolution_is_read_back_audited_and_exported(
    client: TestClient,
    factory: Factory,
    platform: dict[str, str],
    session: Session,
    database_url: str,
) -> None:
    case_id = _crisis_case(client, platform, "p-risk")
    me = factory.headers()
    client.post(f"/v1/cases/{case_id}/claim", headers=me)
    plan = f"daily calls this week, sister holds the pills {secrets.token_hex(5)}"
    body = {
        "disposition": "confirmed_crisis",
        "crisis_types": ["SI"],
        "risk_formulation": {"level": "high", "factors": ["intent", "plan"], "plan": plan},
    }
    assert client.post(f"/v1/cases/{case_id}/resolve", json=body, headers=me).status_code == 200
    [formulation] = client.get(f"/v1/cases/{case_id}/risk-formulations", headers=me).json()
    assert formulation["level"] == "high"
    assert formulation["factors"] == ["plan", "intent"]  # in the checklist's order
    assert formulation["plan"] == plan
    reads = session.scalars(
        select(AuditEntry.action).where(AuditEntry.case_id == case_id).order_by(AuditEntry.id)
    ).all()
    assert reads[-3:] == ["risk_formulation.add", "follow_up.schedule", "risk_formulation.read"]
    [labels] = list(iter_labels(session))
    [row] = labels.to_dict("records")  # the one resolved case
    assert row["risk_level"] == "high" and row["risk_factors"] == "plan,intent"
    if database_url.startswith("sqlite"):
        path = Path(make_url(database_url).database or "")
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert plan.split()[-1].encode() not in raw
    # Resolved: a later formulation is refused; on an open case it is taken.
    late = client.post(f"/v1/cases/{case_id}/risk-formulations", json={"level": "low"}, headers=me)
    assert late.status_code == 409
    other = _crisis_case(client, platform, "p-risk")
    taken = client.post(
        f"/v1/cases/{other}/risk-formulations", json={"level": "moderate"}, headers=me
    )
    assert taken.status_code == 201 and taken.json()["plan"] is None


def test_an_unknown_factor_is_refused_and_the_case_stays_open(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    case_id = _crisis_case(client, platform, "p-factor")
    me = factory.headers()
    client.post(f"/v1/cases/{case_id}/claim", headers=me)
    body = {
        "disposition": "confirmed_crisis",
        "crisis_types": ["SI"],
        "risk_formulation": {"level": "imminent", "factors": ["astrology"]},
    }
    refused = client.post(f"/v1/cases/{case_id}/resolve", json=body, headers=me)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "invalid_care_input"
    assert client.get(f"/v1/cases/{case_id}", headers=me).json()["status"] == "claimed"
    assert client.get("/v1/follow-ups?patient_id=p-factor", headers=me).json() == []


def test_only_admins_add_and_approve_caring_contact_templates(
    client: TestClient, factory: Factory
) -> None:
    admin, specialist = factory.headers(Role.ADMIN), factory.headers()
    body = {"language": "es", "text": "Pensamos en usted.  Aquí estamos si nos necesita."}
    assert (
        client.post("/v1/caring-contact-templates", json=body, headers=specialist).status_code
        == 403
    )
    added = client.post("/v1/caring-contact-templates", json=body, headers=admin)
    assert added.status_code == 201 and added.json()["approved_at"] is None
    assert added.json()["text"] == "Pensamos en usted. Aquí estamos si nos necesita."
    template_id = added.json()["id"]
    review = f"/v1/caring-contact-templates/{template_id}/review"
    approved = client.post(review, json={"approve": True}, headers=admin).json()
    assert approved["approved_at"] is not None
    listed = client.get("/v1/caring-contact-templates", headers=specialist).json()
    assert [t["id"] for t in listed] == [template_id]
    retired = client.post(review, json={"approve": False}, headers=admin).json()
    assert retired["retired_at"] is not None
    french = client.post(
        "/v1/caring-contact-templates", json={"language": "fr", "text": "x"}, headers=admin
    )
    assert french.status_code == 422
