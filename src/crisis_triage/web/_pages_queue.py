"""The queue page: open cases, crises on top, refreshed in place by ``/queue/rows``."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from crisis_triage.accounts import usernames
from crisis_triage.governance import record_audit
from crisis_triage.service import SessionDep, StateDep
from crisis_triage.triage import Tier, claim_next, list_queue, message_previews
from crisis_triage.web._ledger import PreviewLedger
from crisis_triage.web._render import render
from crisis_triage.web._security import SpecialistForm, SpecialistPage, SpecialistPoll, WebUser

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
_NOTICES = {
    "empty": "Nothing is waiting to be claimed.",
    "resolved": "Case resolved.",
    "released": "Case released back to the queue.",
    "escalated": "Case escalated to a supervisor.",
}


def _ledger(request: Request) -> PreviewLedger:
    ledger: PreviewLedger = request.app.state.preview_ledger
    return ledger


def _rows(
    request: Request, session: SessionDep, user: WebUser, *, refresh: bool
) -> tuple[dict[str, object], str]:
    """The table's context and a signature that changes whenever the table would.

    Previews are message text, so each one shown is audited: all of them on a page load, and on
    a refresh those this login's page had not shown before.
    """
    items, total = list_queue(session, limit=PAGE_SIZE)
    previews = message_previews(session, [i.message_id for i in items])
    names = usernames(session, [i.claimed_by for i in items])
    shown = [i.case_id for i in items]
    if refresh:
        audited = set(_ledger(request).new(user.csrf, shown))
    else:
        _ledger(request).start(user.csrf, shown)
        audited = set(shown)
    actor = user.audit_actor()
    for item in items:
        if item.case_id in audited:
            record_audit(
                session,
                "message.read",
                actor=actor,
                patient_id=item.patient_id,
                case_id=item.case_id,
                message_id=item.message_id,
                details={"view": "queue_preview"},
            )
    session.commit()
    signature = hashlib.sha256(
        ";".join(
            f"{i.case_id}:{i.status}:{i.claimed_by}:{i.tier}:{i.final_scoring}" for i in items
        ).encode()
    ).hexdigest()[:16]
    context: dict[str, object] = {
        "items": items,
        "total": total,
        "crises": sum(i.tier is Tier.CRISIS for i in items),
        "previews": previews,
        "names": names,
        "signature": signature,
    }
    return context, signature


@router.get("/queue")
def queue_page(
    request: Request, state: StateDep, session: SessionDep, user: SpecialistPage
) -> Response:
    context, _signature = _rows(request, session, user, refresh=False)
    notice = _NOTICES.get(request.query_params.get("done", ""))
    poll_ms = int(max(1.0, state.settings.sse_poll_seconds * 2) * 1000)
    return render(
        request,
        "queue.html.j2",
        {**context, "notice": notice, "poll_ms": poll_ms},
        user=user,
        title="Queue",
    )


@router.get("/queue/rows")
def queue_rows(
    request: Request,
    session: SessionDep,
    user: SpecialistPoll,
    signature: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The table body alone, for the page's live refresh (204 when nothing changed).

    Refreshing does not keep the login alive: a queue left open logs out after the idle time.
    """
    context, current = _rows(request, session, user, refresh=True)
    headers = {
        "X-Queue-Signature": current,
        "X-Queue-Total": str(context["total"]),
        "X-Queue-Crises": str(context["crises"]),
    }
    if signature == current:
        return Response(status_code=204, headers=headers)
    response = render(request, "_queue_rows.html.j2", context, user=user)
    response.headers.update(headers)
    return response


@router.post("/queue/claim")
def claim_top(session: SessionDep, user: SpecialistForm) -> Response:
    case = claim_next(session, user.actor())  # commits; audited as case.claim
    if case is None:
        return RedirectResponse("/queue?done=empty", status_code=303)
    return RedirectResponse(f"/cases/{case.id}", status_code=303)
