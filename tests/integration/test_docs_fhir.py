"""The FHIR page's examples are valid R4 and do what the page says; the README's
CapabilityStatement is the one the service serves."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class
from service_fakes import FakeScorer
from service_helpers import Factory, empty_tables, settings_for

from crisis_triage.service import create_app
from crisis_triage.storage import make_engine, make_session_factory

ROOT = Path(__file__).resolve().parents[2]
FHIR_PAGE = ROOT / "docs" / "fhir.md"
README = ROOT / "README.md"
FHIR = {"Content-Type": "application/fhir+json"}
# Elements of the CapabilityStatement that belong to the running service, not to the code.
_PER_DEPLOYMENT = ("date", "software", "implementation")


def _json_blocks(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def _named_example(name: str) -> dict[str, Any]:
    """The JSON block that follows the line "`<name>`:" on the FHIR page."""
    text = FHIR_PAGE.read_text(encoding="utf-8")
    match = re.search(rf"`{re.escape(name)}`:\n\n```json\n(.*?)```", text, re.S)
    assert match, f"no {name} example on the page"
    parsed: dict[str, Any] = json.loads(match.group(1))
    return parsed


@pytest.fixture
def docs_client(sqlite_url: str) -> Iterator[tuple[TestClient, Factory]]:
    engine = make_engine(sqlite_url)
    empty_tables(engine)
    app = create_app(settings_for(sqlite_url), scorer=FakeScorer())
    with TestClient(app) as client, make_session_factory(engine)() as session:
        yield client, Factory(session)
    engine.dispose()


def test_every_resource_on_the_page_is_valid() -> None:
    resources = [b for b in _json_blocks(FHIR_PAGE) if "resourceType" in b]
    assert {r["resourceType"] for r in resources} >= {
        "Communication",
        "Bundle",
        "RiskAssessment",
        "Flag",
        "OperationOutcome",
    }
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_the_examples_do_what_the_page_says(docs_client: tuple[TestClient, Factory]) -> None:
    client, factory = docs_client
    key = factory.api_key("messages:write", "queue:read")
    sent = client.post(
        "/fhir/r4/Communication", headers=key | FHIR, json=_named_example("communication.json")
    )
    assert sent.status_code == 201, sent.text
    batch = client.post("/fhir/r4", headers=key | FHIR, json=_named_example("bundle.json"))
    assert batch.status_code == 200, batch.text
    shown = next(b for b in _json_blocks(FHIR_PAGE) if b.get("type") == "batch-response")
    got = batch.json()
    assert [e["response"]["status"] for e in got["entry"]] == [
        e["response"]["status"] for e in shown["entry"]
    ]
    assert got["entry"][1]["response"]["outcome"] == shown["entry"][1]["response"]["outcome"]


def test_the_readme_shows_the_served_capability_statement(
    docs_client: tuple[TestClient, Factory],
) -> None:
    client, _factory = docs_client
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- capability-statement -->\n```json\n(.*?)```", text, re.S)
    assert match, "the README lost its CapabilityStatement"
    shown = json.loads(match.group(1))
    served = client.get("/fhir/r4/metadata").json()
    for name in _PER_DEPLOYMENT:
        shown.pop(name), served.pop(name)
    assert shown == served
