"""Registration and email verification."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from accessguard.bootstrap import Services
from accessguard.domain.model import ClientInfo
from accessguard.web.api.v1.schemas import EmailBody, RegistrationBody, Status, TokenBody
from accessguard.web.client import client_info
from accessguard.web.deps import services

router = APIRouter(tags=["accounts"])


@router.post("/accounts", status_code=202, response_model=Status)
def register(
    body: RegistrationBody,
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Status:
    svc.accounts.register(body.email, body.password, client)
    svc.dispatcher_wake()
    return Status(status="verification_sent")


@router.post("/accounts/verify-email", response_model=Status)
def verify_email(
    body: TokenBody, svc: Services = Depends(services), client: ClientInfo = Depends(client_info)
) -> Status:
    svc.accounts.verify_email(body.token, client)
    return Status(status="verified")


@router.post("/accounts/verify-email/resend", status_code=202, response_model=Status)
def resend(
    body: EmailBody, svc: Services = Depends(services), client: ClientInfo = Depends(client_info)
) -> Status:
    svc.accounts.resend_verification(body.email, client)
    svc.dispatcher_wake()
    return Status(status="verification_sent")
