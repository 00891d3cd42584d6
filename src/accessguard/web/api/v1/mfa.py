"""Second factors of the signed-in customer: the authenticator app (TOTP)."""

from __future__ import annotations

import io

import segno
from fastapi import Depends, Response
from pydantic import BaseModel, Field

from accessguard.bootstrap import Services
from accessguard.domain.model import ClientInfo
from accessguard.domain.sessions import Authenticated
from accessguard.web.api.v1.routing import router_with_shared_paths
from accessguard.web.api.v1.schemas import Body, MfaCode, OptionalPassword, Password
from accessguard.web.client import client_info
from accessguard.web.deps import current, services

router = router_with_shared_paths(prefix="/me/mfa", tags=["two-factor"])


class TotpEnrolmentOut(BaseModel):
    secret: str
    otpauth_uri: str
    qr_svg: str = Field(
        description="The otpauth URI as a QR code: an SVG document to inline as it is (only "
        "svg, title, g and path elements; no script, no links, no external resources)."
    )


class CodeBody(Body):
    code: MfaCode


class RemoveTotpBody(Body):
    password: Password
    code: MfaCode


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


class StartTotpBody(Body):
    # Needed only when the session signed in more than ACCESSGUARD_REAUTH_SECONDS ago; empty
    # is the same as left out, so that the use case says when it is needed and why.
    password: OptionalPassword | None = None


@router.post("/totp", response_model=TotpEnrolmentOut)
def start_totp(
    body: StartTotpBody | None = None,
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> TotpEnrolmentOut:
    password = body.password if body is not None else None
    enrolment = svc.totp.start_enrolment(auth, client, password=password)
    return TotpEnrolmentOut(
        secret=enrolment.secret,
        otpauth_uri=enrolment.otpauth_uri,
        qr_svg=qr_svg(enrolment.otpauth_uri),
    )


@router.post("/totp/confirm", response_model=RecoveryCodesOut)
def confirm_totp(
    body: CodeBody,
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> RecoveryCodesOut:
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
