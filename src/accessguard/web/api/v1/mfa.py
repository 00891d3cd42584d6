"""Second factors of the signed-in customer: the authenticator app (TOTP)."""

from __future__ import annotations

import io
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Response
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from accessguard.bootstrap import Services
from accessguard.domain.model import ClientInfo
from accessguard.domain.sessions import Authenticated
from accessguard.web.api.v1.schemas import Body, Password, _sound_text
from accessguard.web.client import client_info
from accessguard.web.deps import current, services


class SharedPathRoute(APIRoute):
    """Starlette answers a wrong method with the `Allow` of the first route on the path only;
    POST and DELETE /me/mfa/totp are two routes, so each lists the methods of both."""

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


router = APIRouter(prefix="/me/mfa", tags=["two-factor"], route_class=SharedPathRoute)

# Lenient on purpose: "123 456" as typed is fine; anything else is a wrong code (401), not a
# malformed request.
Code = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=32),
    Field(json_schema_extra={"pattern": "^[^\\u0000]*$"}),  # documents _sound_text's NUL rule
    AfterValidator(_sound_text),
]


class TotpEnrolmentOut(BaseModel):
    secret: str
    otpauth_uri: str
    qr_svg: str = Field(
        description="The otpauth URI as a QR code: an SVG document to inline as it is (only "
        "svg, title, g and path elements; no script, no links, no external resources)."
    )


class CodeBody(Body):
    code: Code


class RemoveTotpBody(Body):
    password: Password
    code: Code


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]


def qr_svg(uri: str) -> str:
    """The URI as a QR code, drawn here: the seed never leaves for a chart service."""
    out = io.BytesIO()
    segno.make_qr(uri).save(  # make_qr: never a Micro QR, which authenticator apps cannot read
        out,
        kind="svg",
        scale=4,
        light="#fff",  # a quiet zone that stays light on dark pages, so phones can scan it
        title="QR code for your authenticator app",
        xmldecl=False,
        nl=False,
    )
    return out.getvalue().decode()


@router.post("/totp", response_model=TotpEnrolmentOut)
def start_totp(
    response: Response,
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
) -> TotpEnrolmentOut:
    response.headers["Cache-Control"] = "no-store"
    enrolment = svc.totp.start_enrolment(auth)
    return TotpEnrolmentOut(
        secret=enrolment.secret,
        otpauth_uri=enrolment.otpauth_uri,
        qr_svg=qr_svg(enrolment.otpauth_uri),
    )


@router.post("/totp/confirm", response_model=RecoveryCodesOut)
def confirm_totp(
    body: CodeBody,
    response: Response,
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> RecoveryCodesOut:
    response.headers["Cache-Control"] = "no-store"
    codes = svc.totp.confirm(auth, body.code, client)
    svc.dispatcher_wake()
    return RecoveryCodesOut(recovery_codes=codes)


@router.delete("/totp", status_code=204)
def remove_totp(
    body: RemoveTotpBody,
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    svc.totp.remove(auth, body.password, body.code, client)
    svc.dispatcher_wake()
    return Response(status_code=204)
