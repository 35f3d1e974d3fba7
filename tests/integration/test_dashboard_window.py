"""The case page names the model that scored, the language, and the earlier messages of the
patient that raised a case's priority (with links to their cases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from service_fakes import message
from service_helpers import settings_for
from test_ingest_language_window import FRENCH, SAVING, TONIGHT, WindowScorer

# Fixtures from web_helpers, imported by name so that pytest finds them here.
from web_helpers import db as db
from web_helpers import log_in
from web_helpers import platform as platform
from web_helpers import users as users

from crisis_triage.web import create_app


def _post(client: TestClient, headers: dict[str, str], minutes_ago: float, **fields: str) -> int:
    sent_at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()
    reply = client.post("/v1/messages", json=message(sent_at=sent_at, **fields), headers=headers)
    assert reply.status_code == 201, reply.text
    return int(reply.json()["case_id"])


def test_the_case_page_names_the_model_the_language_and_the_earlier_messages(
    sqlite_url: str, users: dict[str, int], platform: dict[str, str]
) -> None:
    app = create_app(settings_for(sqlite_url), scorer=WindowScorer())
    with TestClient(app, raise_server_exceptions=False) as web:
        first = _post(web, platform, 60, text=SAVING)
        last = _post(web, platform, 1, text=TONIGHT)
        french = _post(web, platform, 1, text=FRENCH, patient_id="patient-fr")
        log_in(web, "sam")
        page = web.get(f"/cases/{last}").text
        assert "Earlier messages that raised this one's priority" in page
        assert f'href="/cases/{first}"' in page
        assert "raised the risk by 89.0%" in page
        assert "Model window-fake@0123456789ab" in page and "Language en" in page
        unscored = web.get(f"/cases/{french}").text
        assert "language the model does not cover (detected: fr)" in unscored
        plain = web.get(f"/cases/{first}").text
        assert "Earlier messages that raised" not in plain
