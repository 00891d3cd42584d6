"""Lost-device recovery, the customer's side: open a request (202 with a reference, always),
and cancel one with the token from the owner's email."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from accessguard.bootstrap import Services
from accessguard.domain.model import ClientInfo
from accessguard.domain.recovery_cases import (
    DETAILS_MAX,
    FILLED_TEXT_PATTERN,
    NOTE_MAX,
    text_problem,
)
from accessguard.web import cookies
from accessguard.web.api.v1.schemas import Body, Email, Password, Token, TokenBody, _sound_text
from accessguard.web.client import client_info
from accessguard.web.deps import services

router = APIRouter(prefix="/recovery", tags=["recovery"])


def _details(value: str) -> str:
    problem = text_problem(value, limit=DETAILS_MAX, required=True)
    if problem is not None:
        raise ValueError(problem)
    return value


def _note(value: str) -> str:
    problem = text_problem(value, limit=NOTE_MAX, required=True)
    if problem is not None:
        raise ValueError(problem)
    return value


# The patterns tell clients (and fuzzers) the rule that the validators apply in words.
Details = Annotated[
    str,
    StringConstraints(strict=True, max_length=DETAILS_MAX),
    Field(json_schema_extra={"pattern": FILLED_TEXT_PATTERN, "minLength": 1}),
    AfterValidator(_sound_text),
    AfterValidator(_details),
]
Note = Annotated[
    str,
    StringConstraints(strict=True, max_length=NOTE_MAX),
    Field(json_schema_extra={"pattern": FILLED_TEXT_PATTERN, "minLength": 1}),
    AfterValidator(_sound_text),
    AfterValidator(_note),
]


class RecoveryRequestBody(Body):
    email: Email
    password: Password
    details: Details
    device_token: Token | None = None


class ReferenceOut(BaseModel):
    reference: str


@router.post("/requests", status_code=202, response_model=ReferenceOut)
def open_request(
    body: RecoveryRequestBody,
    request: Request,
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> ReferenceOut:
    device_token = cookies.device_token(request, svc.settings, body.device_token)
    reference = svc.recovery.open(body.email, body.password, body.details, device_token, client)
    svc.dispatcher_wake()
    return ReferenceOut(reference=reference)


@router.post("/requests/cancel", status_code=204)
def cancel_request(
    body: TokenBody, svc: Services = Depends(services), client: ClientInfo = Depends(client_info)
) -> Response:
    svc.recovery.cancel(body.token, client)
    svc.dispatcher_wake()
    return Response(status_code=204)
