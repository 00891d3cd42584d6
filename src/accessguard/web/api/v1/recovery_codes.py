"""A new set of recovery codes for the signed-in customer; the old set stops working."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from accessguard.bootstrap import Services
from accessguard.domain.model import ClientInfo
from accessguard.domain.sessions import Authenticated
from accessguard.web.api.v1.mfa import RecoveryCodesOut
from accessguard.web.api.v1.schemas import Body, ErrorOut, OptionalMfaCode, Password
from accessguard.web.client import client_info
from accessguard.web.deps import current, services

router = APIRouter(prefix="/me/recovery-codes", tags=["two-factor"])


class RegenerateBody(Body):
    password: Password
    # Needed while an authenticator app is set up, unless this session proved it: signed in
    # with it or a recovery code, or set it up (a 422 on `code` says when, empty or left out).
    code: OptionalMfaCode | None = None


@router.post("", response_model=RecoveryCodesOut, responses={409: {"model": ErrorOut}})
def regenerate(
    body: RegenerateBody,
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> RecoveryCodesOut:
    codes = svc.new_recovery_codes.make(auth, body.password, client, code=body.code)
    svc.dispatcher_wake()
    return RecoveryCodesOut(recovery_codes=codes)
