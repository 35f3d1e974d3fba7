"""The dashboard says when a score is preliminary (semantic check pending) and when the final
scoring failed, and stops saying it once the final score is in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from service_fakes import TwoTierScorer
from service_helpers import settings_for
from web_helpers import SECRET_TEXT, log_in, send

# Fixtures from web_helpers, imported by name so that pytest finds them here.
from web_helpers import db as db
from web_helpers import platform as platform
from web_helpers import users as users

from crisis_triage.storage import utcnow
from crisis_triage.web import create_app

PENDING = "preliminary score (semantic check pending)"
FAILED = "final scoring failed; fast-tier score shown"


@pytest.fixture
def two_tier() -> TwoTierScorer:
    return TwoTierScorer()


@pytest.fixture
def dashboard(
    sqlite_url: str, users: dict[str, int], two_tier: TwoTierScorer
) -> Iterator[TestClient]:
    app = create_app(settings_for(sqlite_url), scorer=two_tier)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_a_fast_score_shows_as_preliminary_until_the_final_one(
    dashboard: TestClient, platform: dict[str, str]
) -> None:
    case_id = send(dashboard, platform, SECRET_TEXT)
    log_in(dashboard, "sam")
    assert PENDING in dashboard.get("/queue").text
    assert PENDING in dashboard.get(f"/cases/{case_id}").text.lower()

    dashboard.app.state.semantic_worker.run_once()  # type: ignore[attr-defined]

    assert PENDING not in dashboard.get("/queue").text
    case_page = dashboard.get(f"/cases/{case_id}").text.lower()
    assert PENDING not in case_page and FAILED not in case_page


def test_a_failed_final_scoring_is_shown_on_the_queue_and_the_case(
    dashboard: TestClient, platform: dict[str, str], two_tier: TwoTierScorer
) -> None:
    two_tier.fail_final = 100
    case_id = send(dashboard, platform, SECRET_TEXT)
    worker = dashboard.app.state.semantic_worker  # type: ignore[attr-defined]
    later = utcnow()
    for _ in range(dashboard.app.state.service.policy.semantic_max_attempts):  # type: ignore[attr-defined]
        worker.run_once(now=later)
        later += timedelta(hours=1)
    log_in(dashboard, "sam")
    assert FAILED in dashboard.get("/queue").text
    assert FAILED in dashboard.get(f"/cases/{case_id}").text.lower()
