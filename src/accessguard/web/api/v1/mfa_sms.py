"""The signed-in customer's phone for sign-in codes: add, confirm, change, remove.

No answer ever carries a code, and none carries the number in full: a stolen session must not
learn the phone number to aim a SIM swap at.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from accessguard.bootstrap import Services
from accessguard.domain.model import ClientInfo
from accessguard.domain.sessions import Authenticated
from accessguard.domain.sms_codes import SentCode
from accessguard.web.api.v1.schemas import Body, ErrorOut, Password, _sound_text
from accessguard.web.client import client_info
from accessguard.web.deps import current, services


class SharedPathRoute(APIRoute):
    """Starlette answers a wrong method with the `Allow` of the first route on the path only;
    POST and DELETE /me/mfa/sms are two routes, so each lists the methods of both."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            allowed = {
                method
                for route in router.routes
                if isinstance(route, APIRoute) and route.path == self.path
                for method in route.methods or ()
            }
            raise HTTPException(405, headers={"Allow": ", ".join(sorted(allowed))})
        await super().handle(scope, receive, send)


router = APIRouter(
    prefix="/me/mfa/sms",
    tags=["two-factor"],
    route_class=SharedPathRoute,
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
# "123 456" as typed is fine; anything else is a wrong code (401), not a malformed request.
Code = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=32),
    _NO_NUL,
    AfterValidator(_sound_text),
]


class StartBody(Body):
    phone: Phone
    # Needed only to change a number that is active already.
    password: Password | None = None
    code: Code | None = None


class ConfirmBody(Body):
    code: Code


class RemoveBody(Body):
    password: Password
    code: Code


class CodeSentOut(BaseModel):
    status: Literal["code_sent"] = "code_sent"
    to: str  # masked: +•••••••••89
    expires_at: datetime
    resend_after: int  # seconds until another code may be asked for


def _sent(sent: SentCode, response: Response) -> CodeSentOut:
    response.headers["Cache-Control"] = "no-store"
    return CodeSentOut(to=sent.to, expires_at=sent.expires_at, resend_after=sent.resend_after)


@router.post("", status_code=202, response_model=CodeSentOut)
def start(
    body: StartBody,
    response: Response,
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> CodeSentOut:
    sent = svc.sms.start(auth, body.phone, client, password=body.password, code=body.code)
    return _sent(sent, response)


@router.post("/code", status_code=202, response_model=CodeSentOut)
def send_current_code(
    response: Response,
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> CodeSentOut:
    return _sent(svc.sms.send_current_code(auth, client), response)


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
