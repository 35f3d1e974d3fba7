"""The whole service as people use it: the JSON API plus the dashboard pages."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from crisis_triage.service import Settings
from crisis_triage.service import create_app as create_api


def create_app(settings: Settings | None = None, **api_options: Any) -> FastAPI:
    """The API from ``crisis_triage.service.create_app`` with the dashboard mounted on it.

    ``api_options`` (``scorer``, ``webhook_transport``) are passed to the API factory.
    """
    return create_api(settings, **api_options)
