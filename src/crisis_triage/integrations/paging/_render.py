"""Each paging service's documented payload for one page, built from the outbox row's data.

The data holds ids, the topic, the summary, the risk and the categories (see
``triage._paging``): no message text and no patient identifier; the case link is the way in.

- Slack incoming webhook: ``{"text", "blocks"}`` (``text`` is the notification fallback).
- Microsoft Teams (Workflows "post to a channel when a webhook request is received", and the
  older connectors): a ``message`` with one Adaptive Card attachment.
- PagerDuty Events API v2: ``{"routing_key", "event_action", "dedup_key", "payload", ...}``;
  ``dedup_key`` is the case, so a resolve closes the incident its trigger opened.
- E-mail: a plain-text ``EmailMessage``, its Message-ID fixed per outbox row.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

SOURCE = "crisis-triage"
_TITLES = {
    "crisis": "Possible crisis flagged",
    "escalation": "Crisis unacknowledged: escalated",
    "unscored": "Messages queued unscored",
    "operator": "Operator alert",
    "test": "Test page",
    "resolved": "Case resolved",
}
# PagerDuty's severities: critical, error, warning, info.
_SEVERITY = {"crisis": "critical", "escalation": "critical", "unscored": "error"}


def case_link(base_url: str, case_id: int | None) -> str | None:
    """The dashboard's page for the case (None without a case or a configured base URL)."""
    if case_id is None or not base_url:
        return None
    return f"{base_url.rstrip('/')}/cases/{case_id}"


def title(data: dict[str, Any]) -> str:
    return _TITLES.get(str(data.get("topic")), "Alert")


def _facts(data: dict[str, Any]) -> list[tuple[str, str]]:
    facts = [("Topic", str(data.get("topic")))]
    if data.get("case_id") is not None:
        facts.append(("Case", str(data["case_id"])))
    if data.get("risk") is not None:
        facts.append(("Risk", f"{float(data['risk']):.2f}"))
    if data.get("categories"):
        facts.append(("Categories", ", ".join(map(str, data["categories"]))))
    return facts


def slack_body(data: dict[str, Any], link: str | None) -> dict[str, Any]:
    heading = f"{title(data)}: {data['summary']}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(data)[:150]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": str(data["summary"])},
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in _facts(data)],
        },
    ]
    if link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the case"},
                        "url": link,
                    }
                ],
            }
        )
    return {"text": f"{heading} {link}" if link else heading, "blocks": blocks}


def teams_body(data: dict[str, Any], link: str | None) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": title(data), "weight": "Bolder", "size": "Medium"},
            {"type": "TextBlock", "text": str(data["summary"]), "wrap": True},
            {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _facts(data)]},
        ],
    }
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the case", "url": link}]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def pagerduty_dedup_key(data: dict[str, Any]) -> str:
    """One incident per case (per alert when there is no case)."""
    if data.get("case_id") is not None:
        return f"crisis-triage-case-{data['case_id']}"
    if data.get("topic") == "test":
        return f"crisis-triage-test-{data.get('test_id')}"
    return f"crisis-triage-alert-{data.get('alert_id')}"


def pagerduty_body(data: dict[str, Any], link: str | None, routing_key: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": data["action"],
        "dedup_key": pagerduty_dedup_key(data),
    }
    if data["action"] == "resolve":
        return body
    body["payload"] = {
        "summary": f"{title(data)}: {data['summary']}"[:1024],
        "source": SOURCE,
        "severity": _SEVERITY.get(str(data.get("topic")), "warning"),
        "timestamp": data.get("created_at"),
        "component": "triage-queue",
        "class": str(data.get("topic")),
        "custom_details": dict(_facts(data)),
    }
    body["client"] = SOURCE
    if link:
        body["client_url"] = link
        body["links"] = [{"href": link, "text": "Open the case"}]
    return body


def email_message(
    data: dict[str, Any], link: str | None, *, sender: str, recipients: list[str], delivery: int
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[crisis-triage] {title(data)}: {data['summary']}"[:200]
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    # The same id on every retry of this outbox row: mail systems can drop a repeat.
    domain = sender.rpartition("@")[2].strip("> ") or SOURCE
    message["Message-ID"] = f"<{SOURCE}-page-{delivery}@{domain}>"
    lines = [str(data["summary"]), ""]
    lines += [f"{k}: {v}" for k, v in _facts(data)]
    if link:
        lines += ["", f"Open the case: {link}"]
    lines += ["", "Patient details and message text are only in crisis-triage."]
    message.set_content("\n".join(lines))
    return message
