"""Dashboard login sessions: a ``session`` token in a cookie, expiring when left idle.

The token is an ordinary login token (``issue_token(kind="session")``) whose expiry slides: each
use moves it to ``idle`` from now, never past ``max_age`` after login.  Validity is always
decided by ``resolve_token``, so revocation and deactivated users work as for API tokens.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.storage import AuthToken, User, utcnow
from crisis_triage.triage._accounts import issue_token, resolve_token

SESSION_KIND = "session"
# Extending the expiry is a write: do it at most this often per session.
_EXTEND_EVERY = timedelta(minutes=1)


def start_session(
    session: Session, user: User, *, idle: timedelta, now: datetime | None = None
) -> str:
    """A new session token for ``user`` (commits); it expires after ``idle`` without use."""
    token, _row = issue_token(session, user, ttl=idle, kind=SESSION_KIND, now=now)
    return token


def use_session(
    session: Session,
    token: str,
    *,
    idle: timedelta,
    max_age: timedelta,
    extend: bool = True,
    now: datetime | None = None,
) -> User | None:
    """The user of a live session token, extending its idle expiry (commits); else None.

    ``extend=False`` checks without counting as use (a page refreshing itself is not a person
    at the keyboard).  Only tokens of kind ``session`` count: an API login token in a cookie
    is refused.
    """
    now = now or utcnow()
    user = resolve_token(session, token, now=now)
    if user is None:
        return None
    digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
    row = session.scalar(select(AuthToken).where(AuthToken.token_hash == digest))
    if row is None or row.kind != SESSION_KIND:
        return None
    wanted = min(now + idle, row.created_at + max_age)
    if extend and wanted - row.expires_at >= _EXTEND_EVERY:
        row.expires_at = wanted
        session.commit()
    return user
