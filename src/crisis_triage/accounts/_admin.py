"""User and API key administration for the dashboard's admin page (no HTTP here).

Creating users and keys goes through ``create_user`` / ``create_api_key``; this module lists
them and changes roles and active flags.  Changing a user also ends their open sessions, so a
demotion or deactivation takes effect at once.  Admins cannot lock themselves out: the last
active admin can be neither demoted nor deactivated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crisis_triage.accounts._errors import AccountError
from crisis_triage.storage import ApiKey, AuthToken, User, utcnow
from crisis_triage.triage import NotFoundError, Role


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    role: Role
    is_active: bool
    created_at: datetime


def list_users(session: Session) -> list[UserRow]:
    users = session.scalars(select(User).order_by(User.username))
    return [UserRow(u.id, u.username, Role(u.role), u.is_active, u.created_at) for u in users]


def list_api_keys(session: Session, *, include_revoked: bool = True) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(stmt))


def _active_admins(session: Session) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, User.is_active.is_(True))
    )
    return int(count or 0)


def update_user(
    session: Session,
    user_id: int,
    *,
    role: Role | None = None,
    is_active: bool | None = None,
    now: datetime | None = None,
) -> tuple[User, dict[str, str]]:
    """Change a user's role and/or active flag; flushes, the caller commits (and audits).

    Returns the user and ``{field: "old->new"}`` for what changed.  Ends the user's login
    tokens when anything changed.  Raises NotFoundError, or AccountError when this would leave
    no active admin.
    """
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} does not exist")
    changes: dict[str, str] = {}
    if role is not None and role.value != user.role:
        changes["role"] = f"{user.role}->{role.value}"
    if is_active is not None and is_active != user.is_active:
        changes["is_active"] = f"{user.is_active}->{is_active}".lower()
    if not changes:
        return user, changes
    loses_admin = user.role == Role.ADMIN.value and user.is_active
    loses_admin = loses_admin and (
        (role is not None and role is not Role.ADMIN) or is_active is False
    )
    if loses_admin and _active_admins(session) <= 1:
        raise AccountError("the last active admin cannot be demoted or deactivated")
    if role is not None:
        user.role = role.value
    if is_active is not None:
        user.is_active = is_active
    session.execute(
        update(AuthToken)
        .where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    session.flush()
    return user, changes


# How the first admin is made: the command line is the only way in before anyone can log in.
FIRST_ADMIN_COMMAND = "crisis-triage users add NAME --role admin"


def has_users(session: Session) -> bool:
    """Whether anyone can log in yet (on a first run nobody can: see FIRST_ADMIN_COMMAND)."""
    return session.scalar(select(User.id).limit(1)) is not None


def find_user(session: Session, username: str) -> User:
    """The user called ``username``; NotFoundError otherwise."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise NotFoundError(f"user {username.strip()!r} does not exist")
    return user


def usernames(session: Session, user_ids: list[int | None]) -> dict[int, str]:
    """Names of the given users (for showing who holds a case or did something)."""
    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all())
