"""The clinician dashboard: server-rendered pages on top of the JSON API (``create_app``)."""

from crisis_triage.web._app import create_app

__all__ = ["create_app"]
