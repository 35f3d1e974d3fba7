"""Paging channels as an admin manages them: add, list, remove, send a test page.

A channel's target (webhook URL, PagerDuty routing key, e-mail addresses) is a secret: it is
checked here, stored encrypted, and never shown back, logged or put in an error message; a
listing shows a hint (the host, the key's last four characters, the address domains).
Every change is audited.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import getaddresses
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.governance import AuditActor, record_audit
from crisis_triage.storage import PagingChannel, WebhookDelivery, utcnow
from crisis_triage.triage import NotFoundError, PagingKind, PagingTopic, TriageError, page_url

_ROUTING_KEY = re.compile(r"[A-Za-z0-9]{20,64}")
_LOOPBACK_HOSTS = {"localhost"}


class PagingChannelError(TriageError):
    """A channel that cannot be stored as given (the message never quotes the target)."""

    code = "invalid_paging_channel"


@dataclass(frozen=True)
class ChannelView:
    """A channel as shown to an admin: everything but the target itself."""

    id: int
    name: str
    kind: str
    topics: tuple[str, ...]
    target_hint: str
    created_at: datetime
    removed_at: datetime | None


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(target: str) -> str:
    parts = urlsplit(target)
    host = parts.hostname or ""
    if not host or parts.scheme not in ("https", "http"):
        raise PagingChannelError("the webhook URL must be an http(s) URL with a host")
    if parts.scheme == "http" and not _is_loopback(host):
        raise PagingChannelError("the webhook URL must use https (http only to this machine)")
    return target


def _addresses(target: str) -> list[str]:
    found = [address for _name, address in getaddresses([target]) if address]
    if not found or any(a.count("@") != 1 or " " in a for a in found):
        raise PagingChannelError("give one or more e-mail addresses, separated by commas")
    return found


def check_target(kind: PagingKind, target: str) -> str:
    """The target as it will be stored, or PagingChannelError."""
    target = target.strip()
    if kind in (PagingKind.SLACK, PagingKind.TEAMS):
        return _check_url(target)
    if kind is PagingKind.PAGERDUTY:
        if not _ROUTING_KEY.fullmatch(target):
            raise PagingChannelError("a PagerDuty routing key is 20-64 letters and digits")
        return target
    return ", ".join(_addresses(target))


def recipients(target: str) -> list[str]:
    """An e-mail channel's addresses."""
    return _addresses(target)


def _hint(kind: str, target: str) -> str:
    if kind in (PagingKind.SLACK, PagingKind.TEAMS):
        return f"{urlsplit(target).hostname}/…"
    if kind == PagingKind.PAGERDUTY:
        return f"…{target[-4:]}"
    domains = sorted({a.rpartition("@")[2] for a in _addresses(target)})
    return f"{len(_addresses(target))} address(es) @ {', '.join(domains)}"


def _view(channel: PagingChannel) -> ChannelView:
    return ChannelView(
        id=channel.id,
        name=channel.name,
        kind=channel.kind,
        topics=tuple(channel.topics),
        target_hint=_hint(channel.kind, channel.target),
        created_at=channel.created_at,
        removed_at=channel.removed_at,
    )


def _topics(topics: Sequence[str]) -> list[str]:
    known = {t.value for t in PagingTopic}
    chosen = sorted(set(topics))
    unknown = [t for t in chosen if t not in known]
    if unknown or not chosen:
        raise PagingChannelError(
            f"topics must be one or more of {', '.join(sorted(known))} (got {unknown or 'none'})"
        )
    return chosen


def add_channel(
    session: Session,
    *,
    name: str,
    kind: str,
    target: str,
    topics: Sequence[str],
    actor: AuditActor,
) -> ChannelView:
    """Store a new channel (flushed and audited; the caller commits)."""
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise PagingChannelError("a channel name is 1-64 characters")
    try:
        paging_kind = PagingKind(kind)
    except ValueError:
        kinds = ", ".join(k.value for k in PagingKind)
        raise PagingChannelError(f"kind must be one of {kinds}") from None
    stored_target = check_target(paging_kind, target)
    chosen = _topics(topics)
    taken = session.scalar(
        select(PagingChannel.id).where(
            PagingChannel.name == name, PagingChannel.removed_at.is_(None)
        )
    )
    if taken is not None:
        raise PagingChannelError(f"a channel named {name!r} exists already")
    channel = PagingChannel(
        name=name,
        kind=paging_kind.value,
        target=stored_target,
        topics=chosen,
        created_at=utcnow(),
        created_by=actor.id if actor.kind == "user" else None,
    )
    session.add(channel)
    session.flush()
    record_audit(
        session,
        "paging.channel_add",
        actor=actor,
        details={"channel_id": channel.id, "kind": channel.kind, "topics": ",".join(chosen)},
    )
    return _view(channel)


def list_channels(session: Session, *, include_removed: bool = False) -> list[ChannelView]:
    stmt = select(PagingChannel).order_by(PagingChannel.id)
    if not include_removed:
        stmt = stmt.where(PagingChannel.removed_at.is_(None))
    return [_view(c) for c in session.scalars(stmt)]


def _active(session: Session, channel_id: int) -> PagingChannel:
    channel = session.get(PagingChannel, channel_id)
    if channel is None or channel.removed_at is not None:
        raise NotFoundError(f"paging channel {channel_id} does not exist")
    return channel


def remove_channel(session: Session, channel_id: int, *, actor: AuditActor) -> ChannelView:
    """Stop paging the channel (its row stays: its past deliveries point at it).  Pages
    already queued for it are not sent."""
    channel = _active(session, channel_id)
    channel.removed_at = utcnow()
    session.flush()
    record_audit(session, "paging.channel_remove", actor=actor, details={"channel_id": channel.id})
    return _view(channel)


def queue_test_page(
    session: Session, channel_id: int, *, actor: AuditActor, now: datetime | None = None
) -> int:
    """Queue a test page to the channel through the outbox; returns its delivery id."""
    now = now or utcnow()
    channel = _active(session, channel_id)
    test_id = secrets.token_hex(8)
    delivery = WebhookDelivery(
        channel_id=channel.id,
        dedup_key=f"test:{test_id}",
        event="page.trigger",
        url=page_url(channel.id),
        payload={
            "action": "trigger",
            "topic": "test",
            "test_id": test_id,
            "alert_id": None,
            "case_id": None,
            "summary": f"test page to {channel.name}",
            "created_at": now.isoformat(),
        },
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    record_audit(
        session,
        "paging.channel_test",
        actor=actor,
        details={"channel_id": channel.id, "delivery_id": delivery.id},
    )
    return delivery.id


@dataclass(frozen=True)
class ChannelTarget:
    """What the worker needs to send a page (the decrypted target: keep it out of logs)."""

    kind: str
    target: str
    active: bool


def channel_target(session: Session, channel_id: int) -> ChannelTarget | None:
    channel = session.get(PagingChannel, channel_id)
    if channel is None:
        return None
    return ChannelTarget(channel.kind, channel.target, channel.removed_at is None)
