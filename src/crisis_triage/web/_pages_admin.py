"""The admin page: users and roles, API keys, the active model's card, runtime settings."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from crisis_triage.accounts import (
    MIN_PASSWORD_LENGTH,
    SCOPES,
    AccountError,
    create_api_key,
    create_user,
    list_api_keys,
    list_users,
    reset_password,
    revoke_api_key,
    update_user,
)
from crisis_triage.governance import record_audit
from crisis_triage.service import SessionDep, StateDep
from crisis_triage.storage import User
from crisis_triage.triage import (
    RUNTIME_SETTINGS,
    NotFoundError,
    Role,
    SettingError,
    clear_override,
    load_overrides,
    save_overrides,
)
from crisis_triage.web._render import render
from crisis_triage.web._security import AdminForm, AdminPage, WebUser

router = APIRouter(include_in_schema=False)

Id = Annotated[int, Path(ge=1, le=2**62)]
_DONE = {
    "user_created": "User created.",
    "user_updated": "User updated; their open sessions were ended.",
    "password_reset": "Password reset; the user's open sessions were ended.",
    "key_revoked": "API key revoked.",
    "settings_saved": "Settings saved. Every service process uses them within seconds.",
    "settings_reset": "Setting reset to the environment's default.",
}
# Card entries worth a line of their own; the whole card is shown below them.
CARD_SUMMARY = ("model", "detector_version", "preset", "created", "file_sha256", "model_id")


def _card(state: StateDep) -> dict[str, Any]:
    scorer = state.scorer
    if scorer is None:
        return {"loaded": False, "problem": state.scorer_problem}
    card = dict(scorer.card_)
    # Wave-1 cards carry cross-validated metrics; v2 cards the full tier's out-of-fold ones.
    metrics = card.get("metrics_cv") or (card.get("metrics_out_of_fold") or {}).get("full") or {}
    lexicon = card.get("lexicon") or {}
    return {
        "loaded": True,
        "summary": [(k, card[k]) for k in CARD_SUMMARY if k in card],
        "threshold": scorer.threshold_,
        "lexicon": lexicon if isinstance(lexicon, dict) else {},
        "metrics": {
            k: v.get("value") for k, v in metrics.items() if isinstance(v, dict) and "value" in v
        },
        "warnings": card.get("warnings") or [],
        "json": json.dumps(card, indent=2, sort_keys=True, default=str),
    }


def _defaults(state: StateDep) -> dict[str, Any]:
    """The environment's values of the runtime settings."""
    return {
        "escalation_minutes": state.settings.escalation_minutes,
        "auto_reply_text": state.settings.auto_reply_text or None,
        "follow_up_schedule": state.settings.follow_up_schedule.split(","),
        "site_timezone": state.settings.site_timezone,
        "risk_factors": state.settings.risk_factors.split(","),
    }


def _settings_rows(state: StateDep, overrides: dict[str, Any]) -> list[dict[str, Any]]:
    defaults = _defaults(state)
    return [
        {
            "setting": setting,
            "default": defaults.get(key),
            "overridden": key in overrides,
            "value": overrides[key] if key in overrides else defaults.get(key),
        }
        for key, setting in RUNTIME_SETTINGS.items()
    ]


def _admin_page(
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: WebUser,
    *,
    error: str | None = None,
    status: int = 200,
    new_key: str | None = None,
) -> Response:
    return render(
        request,
        "admin.html.j2",
        {
            "users": list_users(session),
            "keys": list_api_keys(session),
            "roles": list(Role),
            "scopes": SCOPES,
            "card": _card(state),
            "settings_rows": _settings_rows(state, load_overrides(session)),
            "min_password": MIN_PASSWORD_LENGTH,
            "notice": _DONE.get(request.query_params.get("done", "")),
            "error": error,
            "new_key": new_key,
        },
        user=user,
        status=status,
        title="Admin",
    )


def _done(code: str) -> RedirectResponse:
    return RedirectResponse(f"/admin?done={code}", status_code=303)


@router.get("/admin")
def admin_page(request: Request, state: StateDep, session: SessionDep, user: AdminPage) -> Response:
    return _admin_page(request, state, session, user)


@router.post("/admin/users")
def add_user(
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: AdminForm,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    role: Annotated[str, Form(max_length=16)] = Role.SPECIALIST.value,
) -> Response:
    try:
        create_user(session, username, password, Role(role), actor=user.audit_actor())
    except (AccountError, ValueError) as exc:
        message = str(exc) if isinstance(exc, AccountError) else "choose a role"
        return _admin_page(request, state, session, user, error=message, status=400)
    return _done("user_created")  # create_user committed and audited it


@router.post("/admin/users/password")
def change_password(
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: AdminForm,
    user_id: Annotated[int, Form(ge=1, le=2**62)],
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    target = session.get(User, user_id)
    if target is None:
        return _admin_page(request, state, session, user, error="no such user", status=404)
    try:
        reset_password(session, target, password, actor=user.audit_actor())
    except AccountError as exc:
        session.rollback()
        return _admin_page(request, state, session, user, error=str(exc), status=400)
    return _done("password_reset")  # reset_password committed and audited it


@router.post("/admin/users/{user_id}")
def change_user(
    user_id: Id,
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: AdminForm,
    role: Annotated[str, Form(max_length=16)] = "",
    active: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    try:
        new_role = Role(role) if role else None
        is_active = {"yes": True, "no": False}.get(active)
        changed, changes = update_user(session, user_id, role=new_role, is_active=is_active)
    except (AccountError, NotFoundError, ValueError) as exc:
        session.rollback()
        message = str(exc) if not isinstance(exc, ValueError) else "choose a role"
        return _admin_page(request, state, session, user, error=message, status=400)
    if changes:
        record_audit(
            session,
            "user.update",
            actor=user.audit_actor(),
            details={"user_id": changed.id, **changes},
        )
    session.commit()
    return _done("user_updated")


@router.post("/admin/apikeys")
def add_api_key(
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: AdminForm,
    name: Annotated[str, Form(max_length=100)] = "",
    scopes: Annotated[list[str] | None, Form(max_length=8)] = None,
) -> Response:
    try:
        key, _row = create_api_key(session, name, scopes or [], actor=user.audit_actor())
    except AccountError as exc:
        return _admin_page(request, state, session, user, error=str(exc), status=400)
    # Committed and audited by create_api_key.  The key is shown once, on this page only
    # (never in a redirect URL, never stored).
    return _admin_page(request, state, session, user, new_key=key, status=201)


@router.post("/admin/apikeys/{key_id}/revoke")
def revoke_key(
    key_id: Id, request: Request, state: StateDep, session: SessionDep, user: AdminForm
) -> Response:
    try:
        revoke_api_key(session, key_id, actor=user.audit_actor())
    except AccountError as exc:
        return _admin_page(request, state, session, user, error=str(exc), status=404)
    state.api_keys.forget(key_id)
    return _done("key_revoked")  # revoke_api_key committed and audited it


@router.post("/admin/settings")
def save_settings(
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: AdminForm,
    escalation_minutes: Annotated[str, Form(max_length=32)] = "",
    auto_reply_text: Annotated[str, Form(max_length=2000)] = "",
    follow_up_schedule: Annotated[str | None, Form(max_length=200)] = None,
    site_timezone: Annotated[str | None, Form(max_length=64)] = None,
    risk_factors: Annotated[str | None, Form(max_length=1000)] = None,
) -> Response:
    values = {"escalation_minutes": escalation_minutes, "auto_reply_text": auto_reply_text}
    if follow_up_schedule is not None:
        values["follow_up_schedule"] = follow_up_schedule
    if site_timezone is not None:
        values["site_timezone"] = site_timezone
    if risk_factors is not None:
        values["risk_factors"] = risk_factors
    try:
        changed = save_overrides(session, values, user_id=user.id, defaults=_defaults(state))
    except SettingError as exc:
        session.rollback()
        return _admin_page(request, state, session, user, error=str(exc), status=422)
    for key in changed:
        # The reply text is shown to patients, not PHI; still, the audit gets names only.
        record_audit(session, "settings.update", actor=user.audit_actor(), details={"key": key})
    session.commit()
    state.refresh_policy()
    return _done("settings_saved")


@router.post("/admin/settings/{key}/reset")
def reset_setting(
    key: Annotated[str, Path(max_length=64)],
    request: Request,
    state: StateDep,
    session: SessionDep,
    user: AdminForm,
) -> Response:
    if key not in RUNTIME_SETTINGS:
        return _admin_page(request, state, session, user, error="no such setting", status=404)
    if clear_override(session, key):
        record_audit(
            session,
            "settings.update",
            actor=user.audit_actor(),
            details={"key": key, "reset": True},
        )
    session.commit()
    state.refresh_policy()
    return _done("settings_reset")
