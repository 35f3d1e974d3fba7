"""Sending one page: an HTTPS POST of the service's payload, or an e-mail over SMTP.

Called by the service's outbox worker for a leased row with a ``channel_id``; the outbox
records the outcome, retries with backoff and gives up after the configured attempts.  Errors
are reported by type and status code only: a target (a secret) or a server's reply never
reaches a log or the outbox row.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from crisis_triage.governance import sensitive
from crisis_triage.integrations.paging._channels import ChannelTarget, recipients
from crisis_triage.integrations.paging._render import (
    case_link,
    email_message,
    pagerduty_body,
    slack_body,
    teams_body,
)
from crisis_triage.triage import PagingKind

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str = "crisis-triage@localhost"
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class PagingConfig:
    """How pages are sent (the service builds this from its settings)."""

    dashboard_url: str = ""  # the case link's base; empty: pages carry no link
    pagerduty_events_url: str = PAGERDUTY_EVENTS_URL
    smtp: SmtpConfig | None = None


@dataclass(frozen=True)
class PageOutcome:
    succeeded: bool
    status_code: int | None
    error: str | None


def page_data(body: bytes) -> tuple[int, dict[str, Any]]:
    """The outbox envelope's delivery id and data."""
    envelope = json.loads(body)
    return int(envelope["id"]), dict(envelope["data"])


def _post(client: httpx.Client, url: str, body: dict[str, Any]) -> PageOutcome:
    try:
        reply = client.post(url, json=body)
    except httpx.HTTPError as exc:
        return PageOutcome(False, None, type(exc).__name__)
    if 200 <= reply.status_code < 300:
        return PageOutcome(True, reply.status_code, None)
    return PageOutcome(False, reply.status_code, f"HTTP {reply.status_code}")


def _mail(config: SmtpConfig | None, message: Any) -> PageOutcome:
    if config is None:
        return PageOutcome(False, None, "smtp_not_configured")
    context = ssl.create_default_context()
    try:
        if config.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=context)
            if config.username:
                smtp.login(config.username, config.password or "")
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        return PageOutcome(False, exc.smtp_code, f"SMTP {exc.smtp_code}")
    except (smtplib.SMTPException, OSError) as exc:
        return PageOutcome(False, None, type(exc).__name__)
    return PageOutcome(True, 250, None)


def send_page(
    client: httpx.Client,
    config: PagingConfig,
    channel: ChannelTarget,
    body: bytes,
) -> PageOutcome:
    """Send the outbox row ``body`` to ``channel``; never raises for a failed send.

    The target is marked sensitive while it is in use: a library that logs the URL it posts to
    (httpx does, at INFO) logs ``[redacted]`` in its place."""
    if not channel.active:
        return PageOutcome(False, None, "channel_removed")
    with sensitive(channel.target, config.smtp.password if config.smtp else None):
        return _send(client, config, channel, body)


def _send(
    client: httpx.Client, config: PagingConfig, channel: ChannelTarget, body: bytes
) -> PageOutcome:
    delivery_id, data = page_data(body)
    link = case_link(config.dashboard_url, data.get("case_id"))
    kind = PagingKind(channel.kind)
    if kind is PagingKind.SLACK:
        return _post(client, channel.target, slack_body(data, link))
    if kind is PagingKind.TEAMS:
        return _post(client, channel.target, teams_body(data, link))
    if kind is PagingKind.PAGERDUTY:
        return _post(
            client, config.pagerduty_events_url, pagerduty_body(data, link, channel.target)
        )
    sender = config.smtp.sender if config.smtp else ""
    message = email_message(
        data, link, sender=sender, recipients=recipients(channel.target), delivery=delivery_id
    )
    return _mail(config.smtp, message)
