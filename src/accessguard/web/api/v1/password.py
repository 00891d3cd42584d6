"""Forgotten passwords: ask for a link, then use it once."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from accessguard.bootstrap import Services
from accessguard.domain.model import ClientInfo
from accessguard.web.api.v1.schemas import EmailBody, ResetBody, Status
from accessguard.web.client import client_info
from accessguard.web.deps import services

router = APIRouter(prefix="/password", tags=["password"])


@router.post("/forgot", status_code=202, response_model=Status)
def forgot(
    body: EmailBody, svc: Services = Depends(services), client: ClientInfo = Depends(client_info)
) -> Status:
    svc.passwords.forgot(body.email, client)
    svc.dispatcher_wake()
    return Status(status="reset_sent")


@router.post("/reset", status_code=204)
def reset(
    body: ResetBody, svc: Services = Depends(services), client: ClientInfo = Depends(client_info)
) -> Response:
    svc.passwords.reset(body.token, body.new_password, client)
    svc.dispatcher_wake()
    return Response(status_code=204)
