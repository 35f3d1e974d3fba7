"""Users, login tokens and platform API keys.

Passwords are hashed with argon2.  Tokens and API keys are long random strings of which only the
SHA-256 is stored (a lookup by hash needs no slow hash: the keys carry 256 bits of entropy).
User tokens start ``ctu_``, API keys ``ctk_``, so one ``Authorization: Bearer`` header serves both.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crisis_triage.storage import ApiKey, AuthToken, User, utcnow
from crisis_triage.triage._errors import AccountError
from crisis_triage.triage._states import Role

TOKEN_PREFIX = "ctu_"  # noqa: S105 (a prefix, not a secret)
API_KEY_PREFIX = "ctk_"
MIN_PASSWORD_LENGTH = 10
SCOPES = ("messages:write", "queue:read", "alerts:read", "metrics:read")
DEFAULT_SCOPES = ("messages:write",)

_hasher = PasswordHasher()
# Verified against when a username does not exist, so both paths cost the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def create_user(session: Session, username: str, password: str, role: Role) -> User:
    """Add a user (commits).  Raises AccountError for a taken name or a weak password."""
    username = username.strip()
    if not username or len(username) > 64:
        raise AccountError("a username has 1 to 64 characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    user = User(username=username, password_hash=_hasher.hash(password), role=role.value)
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AccountError(f"user {username!r} already exists") from None
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    return user


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


def resolve_token(session: Session, token: str, *, now: datetime | None = None) -> User | None:
    """The active user a live token belongs to, or None."""
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
    return user


def revoke_token(session: Session, token: str, *, now: datetime | None = None) -> None:
    row = session.scalar(select(AuthToken).where(AuthToken.token_hash == _sha256(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now or utcnow()
        session.commit()


def create_api_key(
    session: Session, name: str, scopes: Sequence[str] = DEFAULT_SCOPES
) -> tuple[str, ApiKey]:
    """A new API key (commits); the key itself is returned only here, never stored."""
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
    session.commit()
    return key, row


def resolve_api_key(session: Session, key: str) -> ApiKey | None:
    if not key.startswith(API_KEY_PREFIX):
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == _sha256(key)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def revoke_api_key(session: Session, key_id: int, *, now: datetime | None = None) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise AccountError(f"API key {key_id} does not exist")
    row.revoked_at = row.revoked_at or now or utcnow()
    session.commit()
    return row
