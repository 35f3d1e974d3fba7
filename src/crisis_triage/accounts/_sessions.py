"""Dashboard login sessions: a ``session`` token in a cookie, expiring when left idle.

The token is an ordinary login token (``issue_token(kind="session")``) whose expiry slides: each
use moves it to ``idle`` from now, never past ``max_age`` after login.  Validity is always
decided by ``live_token``, as for API tokens, so revocation and deactivated users work the
same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crisis_triage.accounts._credentials import issue_token, live_token
from crisis_triage.storage import User, utcnow

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
    found = live_token(session, token, now=now)
    if found is None or found[0].kind != SESSION_KIND:
        return None
    row, user = found
    wanted = min(now + idle, row.created_at + max_age)
    if extend and wanted - row.expires_at >= _EXTEND_EVERY:
        row.expires_at = wanted
        session.commit()
    return user
