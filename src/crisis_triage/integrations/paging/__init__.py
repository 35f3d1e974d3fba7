"""Paging on-call staff: Slack and Microsoft Teams incoming webhooks, PagerDuty Events API v2
and SMTP e-mail, configured per alert topic by an admin.

Pages are queued by ``triage`` (``queue_pages``, from ``raise_alert``; ``queue_resolve_pages``
when a case is resolved) as outbox rows, once per case per channel; the service's outbox
worker sends them with ``send_page`` and records each attempt.  Payloads carry ids, codes, the
risk and a case link: never message text or patient identifiers.  See docs/paging.md.
"""

from crisis_triage.integrations.paging._channels import (
    ChannelTarget,
    ChannelView,
    PagingChannelError,
    add_channel,
    channel_target,
    check_target,
    list_channels,
    queue_test_page,
    remove_channel,
)
from crisis_triage.integrations.paging._render import (
    case_link,
    email_message,
    pagerduty_body,
    pagerduty_dedup_key,
    slack_body,
    teams_body,
)
from crisis_triage.integrations.paging._send import (
    PAGERDUTY_EVENTS_URL,
    PageOutcome,
    PagingConfig,
    SmtpConfig,
    page_data,
    send_page,
)

__all__ = [
    "PAGERDUTY_EVENTS_URL",
    "ChannelTarget",
    "ChannelView",
    "PageOutcome",
    "PagingChannelError",
    "PagingConfig",
    "SmtpConfig",
    "add_channel",
    "case_link",
    "channel_target",
    "check_target",
    "email_message",
    "list_channels",
    "page_data",
    "pagerduty_body",
    "pagerduty_dedup_key",
    "queue_test_page",
    "remove_channel",
    "send_page",
    "slack_body",
    "teams_body",
]
