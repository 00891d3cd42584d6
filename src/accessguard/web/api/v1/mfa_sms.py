"""The signed-in customer's phone for sign-in codes: add, confirm, change, remove.

No answer ever carries a code, and none carries the number in full: a stolen session must not
learn the phone number to aim a SIM swap at.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Depends, Response
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from accessguard.bootstrap import Services
from accessguard.domain.model import ClientInfo
from accessguard.domain.sessions import Authenticated
from accessguard.domain.sms_codes import SentCode
from accessguard.web.api.v1.routing import router_with_shared_paths
from accessguard.web.api.v1.schemas import (
    Body,
    ErrorOut,
    MfaCode,
    OptionalMfaCode,
    OptionalPassword,
    Password,
    _sound_text,
)
from accessguard.web.client import client_info
from accessguard.web.deps import current, services

router = router_with_shared_paths(
    prefix="/me/mfa/sms",
    tags=["two-factor"],
    responses={502: {"model": ErrorOut}},  # sms_delivery_failed
)

_NO_NUL = Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})  # documents _sound_text's NUL rule
# Lenient: the domain tolerates spaces, dashes, dots and brackets and names what is wrong.
Phone = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=64),
    _NO_NUL,
    AfterValidator(_sound_text),
]


class StartBody(Body):
    phone: Phone
    # Needed only to change a number that is active already (a 422 on each says when, empty or
    # left out), and the password to add one a while after signing in.
    password: OptionalPassword | None = None
    code: OptionalMfaCode | None = None


class ConfirmBody(Body):
    code: MfaCode


class RemoveBody(Body):
    password: Password
    code: MfaCode


class CodeSentOut(BaseModel):
    status: Literal["code_sent"] = "code_sent"
    to: str  # masked: +•••••••••89
    expires_at: datetime
    resend_after: int  # seconds until another code may be asked for


def code_sent(sent: SentCode) -> CodeSentOut:
    return CodeSentOut(to=sent.to, expires_at=sent.expires_at, resend_after=sent.resend_after)


@router.post("", status_code=202, response_model=CodeSentOut)
def start(
    body: StartBody,
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> CodeSentOut:
    sent = svc.sms.start(auth, body.phone, client, password=body.password, code=body.code)
    return code_sent(sent)


@router.post("/code", status_code=202, response_model=CodeSentOut)
def send_current_code(
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> CodeSentOut:
    return code_sent(svc.sms.send_current_code(auth, client))


@router.post("/confirm", status_code=204)
def confirm(
    body: ConfirmBody,
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    svc.sms.confirm(auth, body.code, client)
    svc.dispatcher_wake()
    return Response(status_code=204)


@router.delete("", status_code=204)
def remove(
    body: RemoveBody,
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    svc.sms.remove(auth, body.password, body.code, client)
    svc.dispatcher_wake()
    return Response(status_code=204)
