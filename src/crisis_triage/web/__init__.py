"""The clinician dashboard: server-rendered pages on top of the JSON API (``create_app``)."""

from crisis_triage.web._app import DASHBOARD_PATH, create_app

__all__ = ["DASHBOARD_PATH", "create_app"]
