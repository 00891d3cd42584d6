"""The signed-in customer's own account: profile, sessions, history, password, and the
lost-device request opened for it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request, Response

from accessguard.bootstrap import Services
from accessguard.domain.history import outcome_of, step_of
from accessguard.domain.model import ClientInfo
from accessguard.domain.sessions import Authenticated
from accessguard.web.api.v1.answers import json_answer
from accessguard.web.api.v1.schemas import (
    ChangePasswordBody,
    HistoryEntry,
    MeOut,
    MfaOut,
    RecoveryRequestOut,
    SessionInfo,
)
from accessguard.web.client import client_info
from accessguard.web.cookies import session_token
from accessguard.web.deps import current, services

router = APIRouter(prefix="/me", tags=["account"])


@router.get("", response_model=MeOut)
async def me(request: Request) -> Response:
    # The busiest read of the API, kept lean on purpose (measured in docs/performance.md):
    # the session check and the second factors in one query awaited on the event loop, so
    # not through Depends(current); no dependencies to solve; and the body serialised once.
    svc: Services = request.app.state.services
    auth, factors, recovery = await svc.sessions.authenticate_with_factors(
        session_token(request, svc.settings)
    )
    account = auth.account
    case = None
    if recovery is not None:
        case = RecoveryRequestOut(
            reference=recovery.reference,
            state=recovery.status.value,
            opened_at=recovery.created_at,
            takes_effect_at=recovery.effective_at,
            ip=recovery.ip,
            country=recovery.country,
            user_agent=recovery.user_agent,
            cancellable=recovery.cancellable(svc.clock.now()),
        )
    body = MeOut(
        id=account.id,
        email=account.email,
        email_verified=account.email_verified,
        created_at=account.created_at,
        mfa=MfaOut(
            totp=factors.totp, sms=factors.sms, recovery_codes_left=factors.recovery_codes_left
        ),
        security_hold_until=account.security_hold_until,
        recovery_request=case,
    )
    return json_answer(body)


@router.get("/sessions", response_model=list[SessionInfo])
def sessions(
    auth: Authenticated = Depends(current), svc: Services = Depends(services)
) -> list[SessionInfo]:
    return [
        SessionInfo(
            id=s.id,
            created_at=s.created_at,
            last_seen_at=s.last_seen_at,
            ip=s.ip,
            user_agent=s.user_agent,
            current=s.id == auth.session.id,
        )
        for s in svc.sessions.list(auth.account.id)
    ]


@router.delete("/sessions/{session_id}", status_code=204)
def revoke_session(
    session_id: str = Path(max_length=64),
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    svc.sessions.revoke(auth, session_id, client)
    return Response(status_code=204)


@router.get("/login-history", response_model=list[HistoryEntry])
def login_history(
    auth: Authenticated = Depends(current), svc: Services = Depends(services)
) -> list[HistoryEntry]:
    return [
        HistoryEntry(
            at=e.at, ip=e.ip, user_agent=e.user_agent, outcome=outcome_of(e), step=step_of(e)
        )
        for e in svc.history.sign_ins(auth.account.id)
    ]


@router.post("/password", status_code=204)
def change_password(
    body: ChangePasswordBody,
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    svc.passwords.change(auth, body.current_password, body.new_password, client)
    svc.dispatcher_wake()
    return Response(status_code=204)


@router.post("/recovery-request/cancel", status_code=204)
def cancel_recovery_request(
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    svc.recovery.cancel_own(auth, client)
    svc.dispatcher_wake()
    return Response(status_code=204)
