"""Users, login tokens and platform API keys; every login, logout and change is audited.

Passwords are hashed with argon2.  ``LOCKOUT_THRESHOLD`` failed logins for one account within
``LOCKOUT_MINUTES`` lock it for ``LOCKOUT_MINUTES`` (even the right password is refused
meanwhile).  Tokens and API keys are long random strings of which only the SHA-256 is stored
(a lookup by hash needs no slow hash: the keys carry 256 bits of entropy).  User tokens start
``ctu_``, API keys ``ctk_``, so one ``Authorization: Bearer`` header serves both.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crisis_triage.accounts._errors import AccountError
from crisis_triage.governance import AuditActor, AuditValue, record_audit
from crisis_triage.storage import ApiKey, AuthToken, User, lock_for_write, utcnow
from crisis_triage.triage import Role

log = logging.getLogger(__name__)

TOKEN_PREFIX = "ctu_"  # noqa: S105 (a prefix, not a secret)
API_KEY_PREFIX = "ctk_"
MIN_PASSWORD_LENGTH = 10
SCOPES = ("messages:write", "queue:read", "alerts:read", "metrics:read", "care:read", "care:write")
DEFAULT_SCOPES = ("messages:write",)
LOCKOUT_THRESHOLD = 5
LOCKOUT_MINUTES = 15

_hasher = PasswordHasher()
# Verified against when a username does not exist, so both paths cost the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def create_user(
    session: Session, username: str, password: str, role: Role, *, actor: AuditActor | None = None
) -> User:
    """Add a user (commits; audited as ``user.create`` by ``actor``).

    Raises AccountError for a taken name or a weak password.
    """
    username = username.strip()
    if not username or len(username) > 64:
        raise AccountError("a username has 1 to 64 characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    user = User(username=username, password_hash=_hasher.hash(password), role=role.value)
    session.add(user)
    try:
        session.flush()
        details = {"user_id": user.id, "role": role.value}
        record_audit(session, "user.create", actor=actor, details=details)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AccountError(f"user {username!r} already exists") from None
    return user


def reset_password(
    session: Session,
    user: User,
    password: str,
    *,
    actor: AuditActor | None = None,
    now: datetime | None = None,
) -> None:
    """Give ``user`` a new password (commits; audited as ``user.password_reset``).

    Also lifts a lockout and ends the user's open sessions, so whoever knew the old password
    is logged out.  Raises AccountError for a weak password.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    now = now or utcnow()
    user.password_hash = _hasher.hash(password)
    user.failed_logins, user.first_failed_login_at, user.locked_until = 0, None, None
    session.execute(
        update(AuthToken)
        .where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    record_audit(session, "user.password_reset", actor=actor, details={"user_id": user.id})
    session.commit()


def authenticate(
    session: Session, username: str, password: str, *, now: datetime | None = None
) -> User | None:
    """The active user with these credentials, or None.  Commits: every attempt is audited
    (``auth.login``, ``auth.login_failed``, ``auth.lockout``) and counts towards the lockout.

    The password hash is checked on every path, for unknown and locked accounts too, so the
    answer takes the same time whichever way it goes.
    """
    now = now or utcnow()
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        correct = True
    except (VerificationError, InvalidHashError):
        correct = False
    if user is None:
        # Not the name itself: people type their password into the username field.
        details: dict[str, AuditValue] = {
            "reason": "unknown_user",
            "username_sha256": _sha256(username)[:16],
        }
        record_audit(session, "auth.login_failed", actor=None, outcome="denied", details=details)
        session.commit()
        return None
    user = _locked_row(session, user)
    actor = AuditActor.for_user(user)
    reason = None
    if user.locked_until is not None and user.locked_until > now:
        reason = "locked"
    elif not correct:
        reason = "wrong_password"
        _count_failure(session, user, actor, now)
    elif not user.is_active:
        reason = "inactive"
    if reason is not None:
        record_audit(
            session,
            "auth.login_failed",
            actor=actor,
            outcome="denied",
            details={"reason": reason},
        )
        session.commit()
        return None
    user.failed_logins, user.first_failed_login_at, user.locked_until = 0, None, None
    record_audit(session, "auth.login", actor=actor)
    session.commit()
    return user


def _locked_row(session: Session, user: User) -> User:
    """``user`` re-read under a row lock, so concurrent failures are all counted."""
    lock_for_write(session)
    query = select(User).where(User.id == user.id).with_for_update()
    locked = session.scalars(query.execution_options(populate_existing=True)).one()
    return locked


def _count_failure(session: Session, user: User, actor: AuditActor, now: datetime) -> None:
    window = timedelta(minutes=LOCKOUT_MINUTES)
    first = user.first_failed_login_at
    if first is None or now - first >= window:
        user.failed_logins, user.first_failed_login_at = 1, now
    else:
        user.failed_logins += 1
    if user.failed_logins >= LOCKOUT_THRESHOLD:
        user.locked_until = now + window
        details = {"failures": user.failed_logins, "minutes": LOCKOUT_MINUTES}
        record_audit(session, "auth.lockout", actor=actor, outcome="denied", details=details)
        log.warning("user %d locked out for %d minutes", user.id, LOCKOUT_MINUTES)
        user.failed_logins, user.first_failed_login_at = 0, None


def issue_token(
    session: Session, user: User, *, ttl: timedelta, kind: str = "api", now: datetime | None = None
) -> tuple[str, AuthToken]:
    """A new bearer token for ``user`` (commits); the token itself is returned only here."""
    now = now or utcnow()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = AuthToken(
        token_hash=_sha256(token), user_id=user.id, kind=kind, created_at=now, expires_at=now + ttl
    )
    session.add(row)
    session.commit()
    return token, row


def live_token(
    session: Session, token: str, *, now: datetime | None = None
) -> tuple[AuthToken, User] | None:
    """The token's row and its active user, if the token is live (not revoked or expired)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    now = now or utcnow()
    row = session.execute(
        select(AuthToken, User)
        .join(User, User.id == AuthToken.user_id)
        .where(AuthToken.token_hash == _sha256(token))
    ).first()
    if row is None:
        return None
    auth, user = row
    if auth.revoked_at is not None or auth.expires_at <= now or not user.is_active:
        return None
    return auth, user


def resolve_token(session: Session, token: str, *, now: datetime | None = None) -> User | None:
    """The active user a live token belongs to, or None."""
    found = live_token(session, token, now=now)
    return found[1] if found else None


def revoke_token(session: Session, token: str, *, now: datetime | None = None) -> None:
    """Log out: the token stops working at once (commits; audited as ``auth.logout``)."""
    row = session.scalar(select(AuthToken).where(AuthToken.token_hash == _sha256(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now or utcnow()
        user = session.get(User, row.user_id)
        actor = AuditActor.for_user(user) if user is not None else None
        details: dict[str, AuditValue] = {"token_id": row.id, "kind": row.kind}
        record_audit(session, "auth.logout", actor=actor, details=details)
        session.commit()


def create_api_key(
    session: Session,
    name: str,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    *,
    actor: AuditActor | None = None,
) -> tuple[str, ApiKey]:
    """A new API key (commits; audited as ``apikey.create`` by ``actor``); the key itself is
    returned only here, never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("an API key name has 1 to 100 characters")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise AccountError(
            f"unknown or missing scope(s) {unknown}; choose from {', '.join(SCOPES)}"
        )
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, prefix=key[:12], key_hash=_sha256(key), scopes=sorted(set(scopes)))
    session.add(row)
    session.flush()
    details: dict[str, AuditValue] = {"api_key_id": row.id, "scopes": ",".join(row.scopes)}
    record_audit(session, "apikey.create", actor=actor, details=details)
    session.commit()
    return key, row


def resolve_api_key(session: Session, key: str) -> ApiKey | None:
    if not key.startswith(API_KEY_PREFIX):
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == _sha256(key)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def revoke_api_key(
    session: Session,
    key_id: int,
    *,
    now: datetime | None = None,
    actor: AuditActor | None = None,
) -> ApiKey:
    """Revoke the key at once (commits; audited as ``apikey.revoke`` by ``actor``)."""
    row = session.get(ApiKey, key_id)
    if row is None:
        raise AccountError(f"API key {key_id} does not exist")
    row.revoked_at = row.revoked_at or now or utcnow()
    record_audit(session, "apikey.revoke", actor=actor, details={"api_key_id": key_id})
    session.commit()
    return row
