"""Support tools: recovery cases with the signals a reviewer weighs, and the decision.
Role `support` in a session that passed a second factor; see domain/recovery_review.py."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel

from accessguard.bootstrap import Services
from accessguard.domain.model import ClientInfo
from accessguard.domain.recovery_cases import CaseStatus, RecoveryCase
from accessguard.domain.recovery_review import CaseReview
from accessguard.domain.sessions import Authenticated
from accessguard.web.api.v1.recovery import Note
from accessguard.web.api.v1.schemas import Body
from accessguard.web.client import client_info
from accessguard.web.deps import current, services

router = APIRouter(prefix="/admin", tags=["support"])


class DecisionBody(Body):
    note: Note  # what support checked, or why it turns the request down


class SignInOut(BaseModel):
    at: datetime
    ip: str
    country: str | None


class SecurityChangeOut(BaseModel):
    at: datetime
    kind: str
    ip: str


class EarlierCaseOut(BaseModel):
    id: str
    reference: str
    status: str
    created_at: datetime
    closed_at: datetime | None


class SignalsOut(BaseModel):
    known_device: bool
    country: str | None
    usual_country: bool | None
    usual_countries: list[str]
    last_sign_in: SignInOut | None
    recent_security_changes: list[SecurityChangeOut]
    earlier_cases: list[EarlierCaseOut]


class CaseOut(BaseModel):
    id: str
    reference: str
    status: str
    account_id: str
    email: str
    details: str
    created_at: datetime
    ip: str
    user_agent: str
    decided_by: str | None
    decided_by_email: str | None  # the reviewer's address; "" if that account is gone
    decided_at: datetime | None
    note: str | None
    effective_at: datetime | None
    closed_at: datetime | None
    signals: SignalsOut


def _earlier(case: RecoveryCase) -> EarlierCaseOut:
    return EarlierCaseOut(
        id=case.id,
        reference=case.reference,
        status=case.status.value,
        created_at=case.created_at,
        closed_at=case.closed_at,
    )


def case_out(review: CaseReview) -> CaseOut:
    case, signals = review.case, review.signals
    last = signals.last_sign_in
    return CaseOut(
        id=case.id,
        reference=case.reference,
        status=case.status.value,
        account_id=case.account_id,
        email=review.email,
        details=case.details,
        created_at=case.created_at,
        ip=case.ip,
        user_agent=case.user_agent,
        decided_by=case.decided_by,
        decided_by_email=review.decided_by_email,
        decided_at=case.decided_at,
        note=case.note,
        effective_at=case.effective_at,
        closed_at=case.closed_at,
        signals=SignalsOut(
            known_device=signals.known_device,
            country=signals.country,
            usual_country=signals.usual_country,
            usual_countries=list(signals.usual_countries),
            last_sign_in=SignInOut(at=last.at, ip=last.ip, country=last.country) if last else None,
            recent_security_changes=[
                SecurityChangeOut(at=e.at, kind=e.kind, ip=e.ip) for e in signals.security_changes
            ],
            earlier_cases=[_earlier(c) for c in signals.earlier_cases],
        ),
    )


@router.get("/recovery/requests", response_model=list[CaseOut])
def list_cases(
    status: CaseStatus | None = Query(None),
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
) -> list[CaseOut]:
    return [case_out(review) for review in svc.recovery_review.cases(auth, status)]


@router.post("/recovery/requests/{case_id}/approve", status_code=204)
def approve(
    body: DecisionBody,
    case_id: str = Path(max_length=64),
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    svc.recovery_review.approve(auth, case_id, body.note, client)
    svc.dispatcher_wake()
    return Response(status_code=204)


@router.post("/recovery/requests/{case_id}/reject", status_code=204)
def reject(
    body: DecisionBody,
    case_id: str = Path(max_length=64),
    auth: Authenticated = Depends(current),
    svc: Services = Depends(services),
    client: ClientInfo = Depends(client_info),
) -> Response:
    svc.recovery_review.reject(auth, case_id, body.note, client)
    svc.dispatcher_wake()
    return Response(status_code=204)
