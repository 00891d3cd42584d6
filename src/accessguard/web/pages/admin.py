"""/admin/recovery: the support page for lost-device recovery cases, on the same use cases as
/api/v1/admin. Anyone but support staff in a session that passed a second factor gets the
catalogue's error page; a decision is a form POST answered with a redirect back."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from accessguard.bootstrap import Services
from accessguard.domain.errors import AccessError, NotAuthenticated
from accessguard.domain.model import ClientInfo
from accessguard.domain.recovery_cases import NOTE_MAX, CaseStatus
from accessguard.domain.recovery_review import require_reviewer
from accessguard.domain.sessions import Authenticated
from accessguard.web.api.v1.admin import DecisionBody
from accessguard.web.client import client_info
from accessguard.web.deps import services
from accessguard.web.pages import field_words
from accessguard.web.pages.accounts import duration, validated
from accessguard.web.pages.common import FormText, check_csrf, render, signed_in

router = APIRouter(include_in_schema=False)

# Only these fixed texts can appear, whatever ?done= says: nothing from the URL is echoed.
NOTICES = {
    "approved": "Approved. The customer was emailed; the factors go after the waiting period "
    "unless the customer cancels.",
    "rejected": "Rejected. The customer was emailed that nothing changed.",
}


# The audit's names for the security changes support sees (domain/recovery_review.py), in words.
CHANGE_WORDS = {
    "email_verified": "Email address confirmed",
    "password_changed": "Password changed",
    "password_reset": "Password reset by emailed link",
    "password_reset_requested": "Password reset link asked for",
    "totp_enabled": "Authenticator app added",
    "totp_removed": "Authenticator app removed",
    "sms_enabled": "Phone number for SMS codes added",
    "phone_changed": "Phone number for SMS codes changed",
    "sms_removed": "Phone number for SMS codes removed",
    "recovery_codes_regenerated": "New recovery codes made",
    "recovery_code_used": "Recovery code used",
    "unlock": "Lockout lifted by an operator",
}


def change_words(kind: str) -> str:
    return CHANGE_WORDS.get(kind) or kind.replace("_", " ").capitalize()


def _status(value: str) -> CaseStatus | None:
    try:
        return CaseStatus(value)
    except ValueError:
        return None  # an unknown filter shows every case


def _reviewer(request: Request) -> Authenticated:
    auth = signed_in(request)
    if auth is None:
        raise NotAuthenticated()
    require_reviewer(auth)
    return auth


def _refused(request: Request, error: AccessError) -> Response:
    return render(request, "error.html", error=error, auth=signed_in(request))


def _cases_page(
    request: Request,
    svc: Services,
    auth: Authenticated,
    *,
    status: CaseStatus | None = None,
    notice: str = "",
    error: AccessError | None = None,
    error_case: str | None = None,
    note: str = "",
) -> Response:
    reviews = svc.recovery_review.cases(auth, status)
    context = {
        "reviews": reviews,
        "status": status.value if status else "",
        "statuses": [s.value for s in CaseStatus],
        "notice": NOTICES.get(notice),
        "error_case": error_case if any(r.case.id == error_case for r in reviews) else None,
        "wait": duration(svc.rules.recovery_wait_seconds),
        "note_max": NOTE_MAX,
        "own_id": auth.account.id,
        "change_words": change_words,
        "field_errors": field_words.field_errors(error),
        "note": note,  # as typed, back in the refused case's form
    }
    return render(request, "pages/admin_recovery.html", context, error=error, auth=auth)


@router.get("/admin/recovery")
def cases_page(
    request: Request,
    status: str = Query("", max_length=20),
    done: str = Query("", max_length=20),
    svc: Services = Depends(services),
) -> Response:
    try:
        auth = _reviewer(request)
    except AccessError as error:
        return _refused(request, error)
    return _cases_page(request, svc, auth, status=_status(status), notice=done)


def _decide(
    request: Request,
    svc: Services,
    client: ClientInfo,
    case_id: str,
    note: str,
    csrf_token: str,
    decision: str,
) -> Response:
    try:
        auth = _reviewer(request)
    except AccessError as error:
        return _refused(request, error)
    review = svc.recovery_review
    try:
        check_csrf(request, csrf_token)
        body = validated(DecisionBody, note=note)
        decide = review.approve if decision == "approved" else review.reject
        case = decide(auth, case_id, body.note, client)
    except AccessError as error:
        return _cases_page(request, svc, auth, error=error, error_case=case_id, note=note)
    svc.dispatcher_wake()
    return RedirectResponse(f"/admin/recovery?done={decision}#case-{case.id}", status_code=303)


@router.post("/admin/recovery/{case_id}/approve")
def approve_submit(
    request: Request,
    case_id: str = Path(max_length=64),
    note: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    return _decide(request, svc, client, case_id, note, csrf_token, "approved")


@router.post("/admin/recovery/{case_id}/reject")
def reject_submit(
    request: Request,
    case_id: str = Path(max_length=64),
    note: FormText = "",
    csrf_token: FormText = "",
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    return _decide(request, svc, client, case_id, note, csrf_token, "rejected")
